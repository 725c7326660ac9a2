/**
 * A workflow graph survives SIGKILL: a worker runs a layered graph of 300 nodes (conditions, some
 * subtrees SKIPPED) with `executeWorkflow`; the test kills it at observed progress in the store,
 * starts a new one that calls `recover({ workflowId, resolveAgent })` and `executeWorkflow`, until
 * the graph is done. Every node ends as an uninterrupted run ends it, completed once, and no agent
 * ran before its dependencies had completed (it saw their committed outputs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/index.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import { compiledFixture } from '../support/fixtures.js';
import {
  PG_URL,
  describePostgres,
  dropTestSchemas,
  nextSchema,
  withUser,
} from '../repositories/pg-helpers.js';
import {
  GRAPH_KILL_POLICY,
  expectedStatuses,
  graphSpec,
  type NodeSpec,
} from './fixtures/graph-kill-worker.js';

const WORKER = join(import.meta.dirname, 'fixtures/graph-kill-worker.ts');
const NODES = graphSpec();
const KILLS = 6;
/** Each agent run takes this long. */
const AGENT_MS = '15';
/** Each run is killed once about this many more nodes are done (COMPLETED or SKIPPED) in the store. */
const STEP = Math.floor(NODES.length / (KILLS + 3));

interface Run {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; output: string }>;
}

function startWorker(args: string[]): Run {
  const child = spawn(process.execPath, [compiledFixture(WORKER), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('READY')) markReady();
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on('exit', (code) => {
      markReady();
      resolve({ code, output });
    }),
  );
  return { child, ready, exited };
}

/** The store read from outside the worker. */
interface Probe {
  /** How many nodes are done (COMPLETED or SKIPPED). */
  done(): Promise<number>;
  /** The ids of the tasks whose row says RUNNING. */
  running(): Promise<string[]>;
}

/** Waits until the store shows `target` nodes done and an attempt running; false if the run ended first. */
async function reach(probe: Probe, target: number, run: Run): Promise<boolean> {
  let ended = false;
  void run.exited.then(() => (ended = true));
  while (!ended) {
    if ((await probe.done()) >= target && (await probe.running()).length > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return false;
}

interface Kills {
  count: number;
  /** Tasks whose row still said RUNNING once a killed worker was gone: recovery must interrupt them. */
  leftRunning: Set<string>;
}

/** Kills the worker up to KILLS times, each once its run has made progress; then lets one finish. */
async function killRepeatedly(args: string[], probe: Probe, random: () => number): Promise<Kills> {
  const kills: Kills = { count: 0, leftRunning: new Set() };
  while (kills.count < KILLS) {
    const run = startWorker(args);
    await run.ready;
    const target = (await probe.done()) + Math.max(1, Math.round(STEP * (0.5 + random())));
    if (!(await reach(probe, target, run))) {
      const { code, output } = await run.exited;
      expect(output, output).toContain('DONE COMPLETED');
      expect(code).toBe(0);
      return kills;
    }
    run.child.kill('SIGKILL');
    await run.exited;
    kills.count += 1;
    for (const id of await probe.running()) kills.leftRunning.add(id);
  }
  const { code, output } = await startWorker(args).exited;
  expect(output, output).toContain('DONE COMPLETED');
  expect(code).toBe(0);
  return kills;
}

interface AgentRun {
  taskId: string;
  attempt: number;
  /** What the run saw of its dependencies, by key. */
  dependencies: Record<string, { executionId?: string; attempt?: number } | null>;
  /** Task ids whose `end` line came before this run's start. */
  endedBefore: ReadonlySet<string>;
}

/** The agent runs of the run log, in order, each with the runs that had ended before it started. */
function agentRuns(runLog: string): AgentRun[] {
  const text = existsSync(runLog) ? readFileSync(runLog, 'utf8') : '';
  const ended = new Set<string>();
  const runs: AgentRun[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [kind, taskId, attempt, ...rest] = line.split(' ');
    if (kind === 'end') ended.add(taskId!);
    else {
      runs.push({
        taskId: taskId!,
        attempt: Number(attempt),
        dependencies: JSON.parse(rest.join(' ')) as AgentRun['dependencies'],
        endedBefore: new Set(ended),
      });
    }
  }
  return runs;
}

async function expectGraphDone(store: Store, runLog: string, label: string, kills: Kills): Promise<void> {
  await store.open();
  try {
    const tasks = await store.tasks.find();
    const completions = await store.completions();
    const runs = agentRuns(runLog);
    const expected = expectedStatuses(NODES);
    const byKey = new Map(tasks.map((task) => [task.name, task]));
    const specOf = new Map<string, NodeSpec>(NODES.map((node) => [node.key, node]));
    const keyOf = new Map(tasks.map((task) => [task.id, task.name]));

    const runsOf = new Map<string, AgentRun[]>();
    for (const run of runs) runsOf.set(run.taskId, [...(runsOf.get(run.taskId) ?? []), run]);
    const completed = [...expected.values()].filter((status) => status === 'COMPLETED').length;
    const sameAttempt = [...runsOf.values()].filter(
      (list) => new Set(list.map((run) => run.attempt)).size !== list.length,
    ).length;
    const interruptedIds = new Set(
      tasks
        .filter((task) => task.errors.some((e) => e.code === 'ATTEMPT_INTERRUPTED'))
        .map((task) => task.id),
    );
    const interrupted = interruptedIds.size;
    console.log(
      `[graph kill test ${label}] ${kills.count} kills (${kills.leftRunning.size} attempts left RUNNING); ${runs.length} agent runs for ${completed} COMPLETED nodes ` +
        `(${NODES.length - completed} SKIPPED): ${runs.length - completed} duplicate runs, ` +
        `${sameAttempt} tasks re-ran an attempt number, ${interrupted} tasks with an interrupted attempt`,
    );

    // Every node ends as an uninterrupted run ends it.
    expect(tasks).toHaveLength(NODES.length);
    const wrong = NODES.filter((node) => byKey.get(node.key)?.status !== expected.get(node.key)).map(
      (node) => `${node.key}: ${byKey.get(node.key)?.status} (expected ${expected.get(node.key)})`,
    );
    expect(wrong).toEqual([]);

    // One completion record per COMPLETED task, naming the run whose output the row holds; none for SKIPPED.
    const recordsOf = new Map<string, number>();
    for (const record of completions) recordsOf.set(record.taskId, (recordsOf.get(record.taskId) ?? 0) + 1);
    const badRecords: string[] = [];
    for (const task of tasks) {
      const count = recordsOf.get(task.id) ?? 0;
      if (count !== (task.status === 'COMPLETED' ? 1 : 0))
        badRecords.push(`${task.name} ${task.status}: ${count} records`);
    }
    expect(badRecords).toEqual([]);
    const recordOf = new Map(completions.map((record) => [record.taskId, record]));
    const mismatched = tasks
      .filter((task) => task.status === 'COMPLETED')
      .filter((task) => {
        const output = task.outputData as { executionId?: string; attempt?: number } | null;
        const record = recordOf.get(task.id)!;
        return output?.executionId !== record.executionId || output.attempt !== record.attempt;
      })
      .map((task) => task.name);
    expect(mismatched).toEqual([]);

    // Agents ran only for COMPLETED nodes, each after every dependency had completed: it saw the
    // dependency's committed output (the run that its completion record names).
    const early: string[] = [];
    for (const run of runs) {
      const key = keyOf.get(run.taskId)!;
      if (expected.get(key) !== 'COMPLETED') early.push(`${key}: ran, but is ${expected.get(key)}`);
      for (const dependency of specOf.get(key)!.dependsOn) {
        const depTask = byKey.get(dependency)!;
        const seen = run.dependencies[dependency];
        const record = recordOf.get(depTask.id);
        if (!run.endedBefore.has(depTask.id))
          early.push(`${key} attempt ${run.attempt}: started before ${dependency} ended`);
        else if (!record || seen?.executionId !== record.executionId || seen.attempt !== record.attempt) {
          early.push(
            `${key} attempt ${run.attempt}: saw ${dependency} as ${JSON.stringify(seen)}, completed as ${JSON.stringify(record)}`,
          );
        }
      }
    }
    expect(early).toEqual([]);
    const neverRan = tasks
      .filter((task) => task.status === 'COMPLETED' && !runsOf.has(task.id))
      .map((t) => t.name);
    expect(neverRan).toEqual([]);
    const overRun = tasks
      .filter((task) => (runsOf.get(task.id)?.length ?? 0) > GRAPH_KILL_POLICY.maxAttempts)
      .map((task) => task.name);
    expect(overRun).toEqual([]);

    // Every attempt a kill left RUNNING in the store was recorded as interrupted (and run again).
    expect([...kills.leftRunning].filter((id) => !interruptedIds.has(id))).toEqual([]);
    const [workflow] = await store.workflows.find();
    expect(workflow?.status).toBe('COMPLETED');
  } finally {
    await store.close();
  }
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seed = Number(process.env.SYMPHONY_KILL_SEED ?? Date.now() % 100_000);
const DONE_SQL = `status IN ('COMPLETED', 'SKIPPED')`;
const RUNNING_SQL = `status = 'RUNNING'`;

describe('graph kill test (SIGKILL on observed progress, recover + executeWorkflow, until done)', () => {
  it(`SQLite: a ${NODES.length}-node graph survives at least 5 kills and ends as an uninterrupted run (seed ${seed})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-graph-kill-'));
    const path = join(dir, 'graph.db');
    const runLog = join(dir, 'runs.log');
    const { default: Database } = await import('better-sqlite3');
    const handle: { db: InstanceType<typeof Database> | null } = { db: null };
    const query = <T>(empty: T, read: (db: InstanceType<typeof Database>) => T): T => {
      if (!existsSync(path)) return empty;
      handle.db ??= new Database(path, { readonly: true, fileMustExist: true });
      try {
        return read(handle.db);
      } catch {
        return empty; // the worker has not made the tables yet
      }
    };
    const probe: Probe = {
      done: async () =>
        query(
          0,
          (db) => (db.prepare(`SELECT count(*) AS n FROM tasks WHERE ${DONE_SQL}`).get() as { n: number }).n,
        ),
      running: async () =>
        query<string[]>([], (db) =>
          (db.prepare(`SELECT id FROM tasks WHERE ${RUNNING_SQL}`).all() as { id: string }[]).map(
            (row) => row.id,
          ),
        ),
    };
    let kills: Kills = { count: 0, leftRunning: new Set() };
    try {
      kills = await killRepeatedly([path, AGENT_MS, runLog], probe, mulberry32(seed));
    } finally {
      handle.db?.close();
    }
    expect(kills.count).toBeGreaterThanOrEqual(5);
    await expectGraphDone(new SqliteStore({ path }), runLog, 'sqlite', kills);
  }, 60_000);
});

describePostgres('graph kill test on PostgreSQL', () => {
  afterAll(() => dropTestSchemas());

  it(`PostgreSQL: a ${NODES.length}-node graph survives at least 5 kills and ends as an uninterrupted run (seed ${seed})`, async () => {
    const schema = nextSchema();
    const url = withUser(PG_URL);
    const runLog = join(mkdtempSync(join(tmpdir(), 'symphony-graph-kill-pg-')), 'runs.log');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const rowsOf = async <T>(where: string, columns: string): Promise<T[]> => {
      try {
        return (
          await client.query<T & pg.QueryResultRow>(`SELECT ${columns} FROM "${schema}".tasks WHERE ${where}`)
        ).rows;
      } catch {
        return []; // the worker has not created the schema yet
      }
    };
    const probe: Probe = {
      done: async () => Number((await rowsOf<{ n: string }>(DONE_SQL, 'count(*) AS n'))[0]?.n ?? 0),
      running: async () => (await rowsOf<{ id: string }>(RUNNING_SQL, 'id')).map((row) => row.id),
    };
    let kills: Kills = { count: 0, leftRunning: new Set() };
    try {
      kills = await killRepeatedly([url, AGENT_MS, runLog, schema], probe, mulberry32(seed + 1));
    } finally {
      await client.end();
    }
    expect(kills.count).toBeGreaterThanOrEqual(5);
    await expectGraphDone(new PostgresStore({ connectionString: url, schema }), runLog, 'postgres', kills);
  }, 60_000);
});
