export type { Query, Repository, Where } from './repository.js';
export type {
  CompletionRecord,
  ControlCommand,
  Store,
  StoreBatch,
  StoreOpenOptions,
  CommitResult,
  TaskFence,
  StoredCommand,
  CommandAck,
  EngineBeat,
  StoredBeat,
  Signal,
  SignalTake,
  StoredSignal,
  StoreKind,
} from './store.js';
export type { EventPage, EventQuery, EventRecord, EventRetention, StoredEventRecord } from './events.js';
export { MemoryRepository } from './memory/memory-repository.js';
export { MemoryStore } from './memory/memory-store.js';
export { SqliteStore } from './sqlite/sqlite-store.js';
export type { SqliteStoreOptions, SqliteSynchronous } from './sqlite/sqlite-connection.js';
export { PostgresStore } from './postgres/postgres-store.js';
export type { PostgresStoreOptions } from './postgres/postgres-connection.js';
export { DEFAULT_SQLITE_PATH, createStore, openStore, type StoreSpec } from './open-store.js';
