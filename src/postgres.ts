/** `symphony/postgres`: the PostgreSQL store; needs the optional dependency pg. */
export { PostgresStore } from './repositories/postgres/postgres-store.js';
export type { PostgresStoreOptions } from './repositories/postgres/postgres-connection.js';
