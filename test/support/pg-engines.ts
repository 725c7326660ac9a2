import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import {
  createTestClock,
  createTestRegistry,
  sequentialIds,
  type TestRegistry,
  type TestRegistryOptions,
} from '../../src/testing/index.js';
import { nextSchema, PG_URL } from '../repositories/pg-helpers.js';
import { StoreIo } from './store-kit.js';

/** Engines on one PostgreSQL schema (see `enginesOnPostgres`). */
export interface PgEngines {
  schema: string;
  /** The simulated clock every engine runs on. */
  clock: ReturnType<typeof createTestClock>;
  /** Watches every engine's store calls: `io.advance(clock, ms)` moves time only when they are answered. */
  io: StoreIo;
  engines: TestRegistry[];
}

/**
 * `count` test registries (ids `e0-`, `e1-`, ...) on one fresh PostgreSQL schema, as engines of a
 * cluster: one simulated clock, a store of their own each (pool of 2), no control polling unless
 * `options` ask for it. Call inside `describePostgres`, with `afterAll(dropTestSchemas)`.
 */
export function enginesOnPostgres(count: number, options: TestRegistryOptions = {}): PgEngines {
  const schema = nextSchema();
  const clock = createTestClock();
  const io = new StoreIo();
  const engines = Array.from({ length: count }, (_, n) =>
    createTestRegistry({
      idGenerator: sequentialIds(`e${n}-`),
      controlPollMs: 0,
      ...options,
      clock,
      store: io.track(new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 })),
    }),
  );
  return { schema, clock, io, engines };
}
