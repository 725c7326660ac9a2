/** `symphony/sqlite`: the SQLite store; needs the optional dependency better-sqlite3 (12.x). */
export { SqliteStore } from './repositories/sqlite/sqlite-store.js';
export type { SqliteStoreOptions, SqliteSynchronous } from './repositories/sqlite/sqlite-connection.js';
