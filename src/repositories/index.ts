export type { Query, Repository, Where } from './repository.js';
export type { CompletionRecord, Store, StoreBatch, StoreKind } from './store.js';
export { MemoryRepository } from './memory/memory-repository.js';
export { MemoryStore } from './memory/memory-store.js';
