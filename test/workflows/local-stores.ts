import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { MemoryStore, type Store } from '../../src/index.js';
import { SqliteStore } from '../../src/sqlite.js';

/**
 * The stores of this process for `describe.each`: memory, and SQLite in a temp folder of its own
 * (named after `prefix`), deleted after each test.
 */
export function localStores(prefix: string): Array<[string, () => Store]> {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return [
    ['memory', () => new MemoryStore()],
    [
      'SQLite',
      () => {
        const dir = mkdtempSync(join(tmpdir(), `symphony-${prefix}-`));
        dirs.push(dir);
        return new SqliteStore({ path: join(dir, 'store.db') });
      },
    ],
  ];
}
