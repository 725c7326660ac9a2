import { createStore } from '../../src/repositories/open-store.js';
import type { Store } from '../../src/repositories/store.js';

/**
 * Opens the store `db` names (a SQLite path or a PostgreSQL URL), runs `read`, closes it: to look at
 * what worker processes wrote, from outside them, without keeping a connection between looks.
 */
export async function withStore<T>(db: string, read: (store: Store) => Promise<T>): Promise<T> {
  const store = createStore(db);
  await store.open();
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}
