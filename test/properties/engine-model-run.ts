import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { MemoryStore, type Store } from '../../src/index.js';
import { PostgresStore } from '../../src/postgres.js';
import { SqliteStore } from '../../src/sqlite.js';
import { createTestClock, sequentialIds } from '../../src/testing/index.js';
import { nextSchema, PG_URL, withAdmin, withUser } from '../repositories/pg-helpers.js';
import { StoreIo } from '../support/store-kit.js';
import { EngineModel } from './engine-model.js';
import { newRegistry, ROUNDS, scriptedAgent, WORKFLOWS, type Real } from './engine-model-real.js';
import { commandArbs } from './engine-model-steps.js';

/**
 * Issue 11: random interleavings of create, execute (a scripted agent: succeed, fail, fail for
 * good, hang, or hold until the test settles it), time passing (timeouts, retry delays), pause,
 * resume and cancel of tasks and workflows, retryTask, and crash-and-recover (a killed engine, or
 * one stopped with no grace, then a new engine with a new engineId recovering on the same data),
 * on a memory store, a SQLite file and a PostgreSQL schema. After every step the engine is let run
 * until it is quiet (every store call it started answered, none started for a few turns: no
 * counting of turns, so a slow store or a busy machine only makes it slower), then the stored rows,
 * read through the public API, agree with the reference model in ./engine-model.ts and the workflow
 * status oracle: statuses, attempts (within the attempt limit, each attempt number run once by the
 * agent), one completion record and the output of every COMPLETED task, the flags of every
 * workflow, the results of settled executions; calls the documented rules refuse reject with
 * INVALID_STATE and change nothing; the events the store holds are those each engine published, in
 * its order (issue 15). fast-check prints the seed and the shrunk command list of a
 * failing run; replay it with `{ seed, path }` in `params`.
 */

/** The data of one run: a store's worth, opened as often as engines need handles on it. */
export interface RunData {
  /** A new handle on the run's data (the same object for memory). */
  open(): Store;
  /** Deletes the run's data; every handle is closed by then. */
  dispose(): Promise<void>;
}

export type ModelBackend = 'memory' | 'sqlite' | 'postgres';

/** Fresh data for one run on `backend`: a memory store, a SQLite file, or a PostgreSQL schema. */
export function runData(backend: ModelBackend): RunData {
  switch (backend) {
    case 'memory': {
      const store = new MemoryStore();
      return { open: () => store, dispose: async () => {} };
    }
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'symphony-engine-model-'));
      const path = join(dir, 'run.db');
      return {
        open: () => new SqliteStore({ path }),
        dispose: async () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    case 'postgres': {
      const schema = nextSchema();
      const connectionString = withUser(PG_URL);
      return {
        open: () => new PostgresStore({ connectionString, schema }),
        // The name comes from nextSchema(), never from input.
        dispose: () =>
          withAdmin(async (client) => void (await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))),
      };
    }
  }
}

async function setup(data: RunData): Promise<{ model: EngineModel; real: Real }> {
  const io = new StoreIo();
  const store = io.track(data.open());
  const ids = sequentialIds();
  const clock = createTestClock(0);
  const holder: { real?: Real } = {};
  const agent = scriptedAgent(() => holder.real!);
  const published: Real['published'] = [];
  const registry = newRegistry({ store, ids, published }, clock, 0);
  const tracker = registry.getWorkflowTracker();
  const workflowIds: string[] = [];
  for (let i = 0; i < WORKFLOWS; i += 1)
    workflowIds.push((await tracker.createWorkflow({ name: `wf ${i}` })).id);
  const real: Real = {
    io,
    store,
    reopen: data.open,
    dropped: [],
    registry,
    clock,
    generation: 0,
    ids,
    agent,
    script: new Map(),
    held: new Map(),
    taskIds: [],
    workflowIds,
    executions: [],
    stopping: false,
    published,
  };
  holder.real = real;
  return { model: new EngineModel(WORKFLOWS), real };
}

/**
 * The engine model property on `backend`: `numRuns` random command lists of up to 40 steps, each
 * on fresh data, with a fixed seed unless `params` say otherwise.
 */
export async function checkEngineModel(
  backend: ModelBackend,
  numRuns: number,
  params: fc.Parameters<[Iterable<fc.AsyncCommand<EngineModel, Real>>]> = {},
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.commands(commandArbs, { maxCommands: 40, size: 'max' }), async (commands) => {
      const data = runData(backend);
      try {
        const { model, real } = await setup(data);
        try {
          await fc.asyncModelRun(() => ({ model, real }), commands);
        } finally {
          await real.io.stopNow(real.registry, real.clock, ROUNDS);
          for (const store of real.dropped) await store.close();
        }
      } finally {
        await data.dispose();
      }
    }),
    { seed: 20261203, numRuns, ...params },
  );
}
