import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, ServiceRegistry, type Agent, type Store } from '../../src/index.js';
import { PostgresStore } from '../../src/postgres.js';
import { SqliteStore } from '../../src/sqlite.js';
import { taskWork } from '../agents.js';
import { dropSchema, pgUrl, uniqueName } from '../services.js';
import type { AgentKind, Contender } from '../types.js';

export type SymphonyStore = 'memory' | 'sqlite' | 'postgres';

/** A registry on a fresh store; `close` stops it and deletes the store (file or schema). */
export interface SymphonyEngine {
  registry: ServiceRegistry;
  /** The engine's store (to read rows back untimed). */
  store: Store;
  close(): Promise<void>;
}

/**
 * A new engine as the bench uses it: `new ServiceRegistry({ store, maxConcurrency, retry: {
 * maxAttempts: 1 } })`, the store always given (the registry's default is a SQLite file in the
 * working folder). Memory is a `MemoryStore`; SQLite is a temp file (WAL, synchronous NORMAL);
 * PostgreSQL gets a schema of its own, dropped by `close`. `seed` writes rows into the opened store
 * before the engine starts (W6's graph, as `addTaskToWorkflow` leaves it).
 */
export async function openSymphony(
  kind: SymphonyStore,
  maxConcurrency: number,
  seed?: (store: Store) => Promise<void>,
): Promise<SymphonyEngine> {
  let store: Store = new MemoryStore();
  let remove = async () => {};
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-bench-'));
    store = new SqliteStore({ path: join(dir, 'bench.db'), synchronous: 'NORMAL' });
    remove = async () => rmSync(dir, { recursive: true, force: true });
  } else if (kind === 'postgres') {
    const schema = uniqueName('symphony_bench');
    store = new PostgresStore({ connectionString: pgUrl(), schema });
    remove = () => dropSchema(schema);
  }
  if (seed) {
    try {
      await store.open();
      await seed(store);
    } catch (error) {
      await store.close();
      await remove();
      throw error;
    }
  }
  const registry = new ServiceRegistry({ store, maxConcurrency, retry: { maxAttempts: 1 } });
  await registry.start();
  return {
    registry,
    store,
    async close() {
      await registry.stop();
      await remove();
    },
  };
}

/** Creates `count` tasks through `taskManager.createTask`, 1,000 calls at a time (group commit). */
export async function createTasks(
  registry: ServiceRegistry,
  count: number,
  workflowId?: string,
): Promise<string[]> {
  const taskManager = registry.getTaskManager();
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const chunk: Promise<{ id: string }>[] = [];
    for (let i = start; i < Math.min(count, start + 1000); i += 1) {
      chunk.push(taskManager.createTask({ name: `task ${i}`, ...(workflowId ? { workflowId } : {}) }));
    }
    for (const task of await Promise.all(chunk)) ids.push(task.id);
  }
  return ids;
}

/** The task work as a Symphony agent. */
export function symphonyAgent(kind: AgentKind): Agent {
  const work = taskWork(kind);
  return { id: `bench-${kind}`, execute: () => work() };
}

const LABELS: Record<SymphonyStore, string> = {
  memory: 'Symphony (memory)',
  sqlite: 'Symphony (SQLite)',
  postgres: 'Symphony (PostgreSQL)',
};

/** Symphony on one kind of store: tasks created untimed, `executor.batchExecute` timed. */
export function symphony(kind: SymphonyStore): Contender {
  return {
    id: `symphony-${kind}`,
    label: LABELS[kind],
    durable: kind !== 'memory',
    timed: 'executor.batchExecute only (createTask untimed)',
    async prepare({ tasks, concurrency, agent }) {
      const engine = await openSymphony(kind, concurrency);
      try {
        const ids = await createTasks(engine.registry, tasks);
        const worker = symphonyAgent(agent);
        const pairs = ids.map((id) => [id, worker] as const);
        const executor = engine.registry.getEnhancedExecutor();
        return {
          async run() {
            const results = await executor.batchExecute(pairs, { maxConcurrent: concurrency });
            let completed = 0;
            for (const result of results) if (result.status === 'COMPLETED') completed += 1;
            return completed;
          },
          dispose: () => engine.close(),
        };
      } catch (error) {
        await engine.close();
        throw error;
      }
    },
  };
}
