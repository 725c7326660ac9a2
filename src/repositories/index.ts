export type { Query, Repository, RepositoryMap, Where } from './repository.js';
export { MemoryRepository } from './memory/memory-repository.js';
