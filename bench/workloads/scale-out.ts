/**
 * W7 (issue 13, "Speed"): the same tasks run by 1, 2 or 4 worker PROCESSES on one PostgreSQL
 * store, Symphony workers (`registry.startWorker`) against pg-boss fetch/complete loops.
 *
 * Untimed: the tasks are written first (Symphony: `createTask` + `executor.enqueueTasks`; pg-boss:
 * `boss.insert`), then the worker processes are spawned and each opens its connections and reports
 * READY. Timed: from GO, written to every process at once when all are ready, until the parent reads
 * from the store (Symphony's tasks table, pg-boss's job table, polled every POLL_MS) that every task
 * is completed. Then STOP; each process stops and reports its counts (untimed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import PgBoss from 'pg-boss';
import pg from 'pg';
import { ServiceRegistry } from '../../src/index.js';
import { PostgresStore } from '../../src/postgres.js';
import { createTasks } from '../contenders/symphony.js';
import { dropSchema, pgUrl, uniqueName } from '../services.js';
import type { Figures } from '../types.js';
import { CHILD_FLAGS } from './recovery.js';
import { IO_MS, SCALE_OUT_QUEUE, scaleOutAgentKey, type ScaleOutKind } from './scale-out-work.js';

const CHILD = fileURLToPath(new URL('./scale-out-child.ts', import.meta.url));

/** Tasks (and pg-boss fetch batch) each worker process runs at once: `maxConcurrency` / `batchSize`. */
export const W7_CONCURRENCY = 25;
/** A worker's wait after a claim that found nothing (Symphony `pollMs`, pg-boss's loop sleep). */
export const W7_WORKER_POLL_MS = 50;
/** How often the parent counts completed tasks in the store. */
const POLL_MS = 10;
/** Bounds for a child to come up and for a run to finish (a loaded machine is slow, never stuck). */
const READY_DEADLINE_MS = 120_000;
const RUN_DEADLINE_MS = 600_000;

export type ScaleOutEngine = 'symphony' | 'pg-boss';

/** One entrant of W7: an engine, a kind of task and a number of worker processes. */
export interface ScaleOutCase {
  id: string;
  engine: ScaleOutEngine;
  /** The contender id `--contenders` selects it by. */
  contender: 'symphony-postgres' | 'pg-boss';
  kind: ScaleOutKind;
  processes: number;
  label: string;
}

/** W7's size: 20,000 tasks of each kind. */
export function scaleOutTasks(scale: number, tasks?: number): number {
  return tasks ?? Math.max(1, Math.round(20_000 * scale));
}

const ENGINES: ReadonlyArray<[ScaleOutEngine, ScaleOutCase['contender'], string]> = [
  ['symphony', 'symphony-postgres', 'Symphony workers'],
  ['pg-boss', 'pg-boss', 'pg-boss loops'],
];

/** I/O tasks on 1, 2 and 4 processes, no-op tasks on 1 and 2, for both engines. */
export function scaleOutCases(): ScaleOutCase[] {
  const cases: ScaleOutCase[] = [];
  const counts: ReadonlyArray<[ScaleOutKind, number[]]> = [
    ['io', [1, 2, 4]],
    ['noop', [1, 2]],
  ];
  for (const [kind, list] of counts) {
    for (const processes of list) {
      for (const [engine, contender, name] of ENGINES) {
        cases.push({
          id: `w7-${engine}-${kind}-${processes}`,
          engine,
          contender,
          kind,
          processes,
          label: `${name}, ${kind === 'io' ? `${IO_MS} ms I/O` : 'no-op'}, ${processes} process${processes > 1 ? 'es' : ''}`,
        });
      }
    }
  }
  return cases;
}

export function scaleOutParams(tasks: number): string {
  return (
    `${tasks.toLocaleString('en-US')} tasks per run, PostgreSQL only; each worker process is \`node ${CHILD_FLAGS.join(' ')} --import tsx\` with one engine running ${W7_CONCURRENCY} tasks at once ` +
    `(Symphony: \`maxConcurrency\` and worker \`batchSize\` and \`prefetch\` ${W7_CONCURRENCY}, \`pollMs\` ${W7_WORKER_POLL_MS}; pg-boss: \`fetch\` of ${W7_CONCURRENCY}, run together, one \`complete\`, ${W7_WORKER_POLL_MS} ms sleep when empty); ` +
    `agents: await a ${IO_MS} ms setTimeout (I/O) or \`async () => null\` (no-op); ` +
    `tasks written before the timer (untimed, "setup ms"); timed from GO, sent once every process is ready, until the parent reads every task completed from the store (polled every ${POLL_MS} ms)`
  );
}

/** A spawned worker process and its stdout lines. */
interface Child {
  process: ChildProcess;
  ready: Promise<void>;
  report: Promise<{ completed: number; claims: number; errors: number }>;
  exited: Promise<number | null>;
}

function spawnChild(c: ScaleOutCase, schema: string): Child {
  const child = spawn(
    process.execPath,
    [
      ...CHILD_FLAGS,
      '--import',
      'tsx',
      CHILD,
      c.engine,
      c.kind,
      schema,
      String(W7_CONCURRENCY),
      String(W7_WORKER_POLL_MS),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  child.stdin!.on('error', () => {});
  let output = '';
  let errors = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('READY\n')) onReady();
  });
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const failure = () =>
    new Error(`A W7 ${c.engine} worker exited with ${child.exitCode}: ${(errors || output).slice(-2000)}`);
  const report = exited.then((code) => {
    const line = output.trim().split('\n').pop() ?? '';
    if (code !== 0 || !line.startsWith('{')) throw failure();
    return JSON.parse(line) as { completed: number; claims: number; errors: number };
  });
  report.catch(() => {});
  return {
    process: child,
    ready: Promise.race([
      ready,
      exited.then(() => {
        throw failure();
      }),
    ]),
    report,
    exited,
  };
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`W7: timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Writes the tasks of one run into a fresh schema (untimed); returns the SQL counting completed ones. */
async function writeTasks(c: ScaleOutCase, schema: string, tasks: number): Promise<string> {
  if (c.engine === 'symphony') {
    const registry = new ServiceRegistry({
      store: new PostgresStore({ connectionString: pgUrl(), schema }),
      maxConcurrency: W7_CONCURRENCY,
      retry: { maxAttempts: 1 },
    });
    try {
      await registry.start();
      const ids = await createTasks(registry, tasks);
      const executor = registry.getEnhancedExecutor();
      const agentKey = scaleOutAgentKey(c.kind);
      for (let start = 0; start < ids.length; start += 1000) {
        await executor.enqueueTasks(
          ids.slice(start, start + 1000).map((id) => [id, agentKey] as const),
          { retry: { maxAttempts: 1 } },
        );
      }
    } finally {
      await registry.stop();
    }
    return `SELECT count(*)::int AS n FROM "${schema}".tasks WHERE status = 'COMPLETED'`;
  }
  const boss = new PgBoss({ connectionString: pgUrl(), schema, supervise: false, schedule: false });
  boss.on('error', () => {});
  try {
    await boss.start();
    await boss.createQueue(SCALE_OUT_QUEUE);
    for (let start = 0; start < tasks; start += 1000) {
      const jobs = [];
      for (let i = start; i < Math.min(tasks, start + 1000); i += 1)
        jobs.push({ name: SCALE_OUT_QUEUE, data: { i } });
      await boss.insert(jobs);
    }
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
  return `SELECT count(*)::int AS n FROM "${schema}".job WHERE name = '${SCALE_OUT_QUEUE}' AND state = 'completed'`;
}

/** One W7 run of one case: figures as the other workloads report them, plus the processes' counts. */
export async function measureScaleOut(c: ScaleOutCase, tasks: number): Promise<Figures> {
  const schema = uniqueName(c.engine === 'symphony' ? 'symphony_bench_w7' : 'pgboss_bench_w7');
  const children: Child[] = [];
  const counter = new pg.Client({ connectionString: pgUrl() });
  try {
    const t0 = performance.now();
    const countSql = await writeTasks(c, schema, tasks);
    const setupMs = performance.now() - t0;
    await counter.connect();
    const count = async () => ((await counter.query(countSql)).rows[0] as { n: number }).n;

    const spawned = performance.now();
    for (let i = 0; i < c.processes; i += 1) children.push(spawnChild(c, schema));
    await withDeadline(
      Promise.all(children.map((child) => child.ready)),
      READY_DEADLINE_MS,
      'the worker processes to be ready',
    );
    const readyMs = performance.now() - spawned;

    const start = performance.now();
    for (const child of children) child.process.stdin!.write('GO\n');
    const failed = Promise.race(children.map((child) => child.report.then(() => {})));
    let completed = 0;
    const finished = (async () => {
      while ((completed = await count()) < tasks) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    })();
    await withDeadline(
      Promise.race([
        finished,
        failed.then(() => {
          throw new Error('W7: a worker process exited before STOP');
        }),
      ]),
      RUN_DEADLINE_MS,
      `${tasks} tasks completed (${completed} so far)`,
    );
    const ms = performance.now() - start;

    for (const child of children) child.process.stdin!.write('STOP\n');
    const reports = await withDeadline(
      Promise.all(children.map((child) => child.report)),
      READY_DEADLINE_MS,
      'the worker processes to stop',
    );
    const ran = reports.reduce((sum, r) => sum + r.completed, 0);
    return {
      ms,
      tasks,
      completed: await count(),
      tasksPerSec: tasks / (ms / 1000),
      setupMs,
      readyMs,
      processes: c.processes,
      ran,
      claims: reports.reduce((sum, r) => sum + r.claims, 0),
      workerErrors: reports.reduce((sum, r) => sum + r.errors, 0),
    };
  } finally {
    for (const child of children) {
      if (child.process.exitCode === null && child.process.signalCode === null) {
        child.process.kill('SIGKILL');
        await child.exited;
      }
    }
    await counter.end().catch(() => {});
    await dropSchema(schema);
  }
}
