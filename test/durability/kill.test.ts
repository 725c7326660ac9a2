import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import type { Store } from '../../src/index.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import {
  PG_URL,
  describePostgres,
  dropTestSchemas,
  nextSchema,
  withUser,
} from '../repositories/pg-helpers.js';

const WORKER = join(import.meta.dirname, '../fixtures/kill-worker.ts');
const TASKS = 2000;
const KILLS = 20;
/**
 * Each task's agent takes this long (16 at once): 2,000 tasks are at least 1.25 s of work, more
 * than the 20 runs between kills (20-170 ms each) usually leave, so the kills land mid-work.
 */
const AGENT_MS = '10';
/** The worker may still finish before every kill: at least this many must have landed. */
const MIN_KILLS = 15;

interface Run {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; output: string }>;
}

function startWorker(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], {
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

/** Kills the worker KILLS times at random moments, then lets it finish; returns the kill count. */
async function killRepeatedly(args: string[], random: () => number): Promise<number> {
  let kills = 0;
  while (kills < KILLS) {
    const run = startWorker(args);
    await run.ready;
    // A random moment within the run: startup has passed, work is under way.
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(random() * 150)));
    run.child.kill('SIGKILL');
    const { output } = await run.exited;
    if (output.includes('DONE')) break;
    kills += 1;
  }
  const last = startWorker(args);
  const { code, output } = await last.exited;
  expect(output, output).toContain('DONE');
  expect(code).toBe(0);
  return kills;
}

async function expectAllDoneOnce(store: Store, total = TASKS): Promise<void> {
  await store.open();
  try {
    const tasks = await store.tasks.find();
    expect(tasks).toHaveLength(total);
    const notDone = tasks.filter((task) => task.status !== 'COMPLETED');
    expect(notDone.map((task) => `${task.name}: ${task.status}`)).toEqual([]);
    for (const task of tasks) expect(task.outputData).toEqual({ doubled: Number(task.inputData.n) * 2 });
    const completions = await store.completions();
    const recorded = new Set(completions.map((record) => record.taskId));
    const unrecorded = tasks.filter((task) => !recorded.has(task.id));
    expect(
      unrecorded.map(
        (task) => `${task.name} attempts=${task.attempts} errors=${task.errors.map((e) => e.code).join(',')}`,
      ),
    ).toEqual([]);
    expect(completions).toHaveLength(total);
    expect(new Set(completions.map((record) => record.taskId)).size).toBe(total);
    // The kills landed mid-attempt: some attempts were recorded as interrupted and run again.
    const interrupted = tasks.filter((task) =>
      task.errors.some((error) => error.code === 'ATTEMPT_INTERRUPTED'),
    );
    expect(interrupted.length).toBeGreaterThan(0);
    const [workflow] = await store.workflows.find();
    expect(workflow?.status).toBe('COMPLETED');
  } finally {
    await store.close();
  }
}

/** The kills landed mid-attempt: some attempts were recorded as interrupted and run again. */
async function expectSomeInterrupted(store: Store): Promise<void> {
  await store.open();
  const tasks = await store.tasks.find();
  await store.close();
  const interrupted = tasks.filter((task) =>
    task.errors.some((error) => error.code === 'ATTEMPT_INTERRUPTED'),
  );
  expect(interrupted.length).toBeGreaterThan(0);
}

// A seeded generator, so a failing run can be repeated: the seed is in the test name.
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

describe('kill test (SIGKILL at random moments, restart, until done)', () => {
  it(`SQLite: ${TASKS} tasks survive up to ${KILLS} kills (at least ${MIN_KILLS}), each completed exactly once (seed ${seed})`, async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'symphony-kill-')), 'kill.db');
    const kills = await killRepeatedly([path, String(TASKS), AGENT_MS], mulberry32(seed));
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
    await expectAllDoneOnce(new SqliteStore({ path }));
    await expectSomeInterrupted(new SqliteStore({ path }));
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  }, 300_000);
});

describePostgres('kill test on PostgreSQL', () => {
  afterAll(() => dropTestSchemas());

  it(`PostgreSQL: ${TASKS} tasks survive up to ${KILLS} kills (at least ${MIN_KILLS}), each completed exactly once (seed ${seed})`, async () => {
    const schema = nextSchema();
    const url = withUser(PG_URL);
    const kills = await killRepeatedly([url, String(TASKS), AGENT_MS, schema], mulberry32(seed + 1));
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
    await expectAllDoneOnce(new PostgresStore({ connectionString: url, schema }));
    await expectSomeInterrupted(new PostgresStore({ connectionString: url, schema }));
  }, 300_000);
});

describe('graceful stop on SIGTERM', () => {
  it('starts no new work, releases attempts still running after the grace period, and loses nothing', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'symphony-term-')), 'term.db');
    // Agents take 1 s; the grace period is 200 ms, so the running attempts are released.
    const run = startWorker([path, '40', '1000']);
    await run.ready;
    await new Promise((resolve) => setTimeout(resolve, 300));
    run.child.kill('SIGTERM');
    const { code, output } = await run.exited;
    expect(output).toContain('STOPPED');
    expect(code).toBe(0);

    const store = new SqliteStore({ path });
    await store.open();
    const tasks = await store.tasks.find();
    await store.close();
    expect(tasks.filter((task) => task.status === 'RUNNING' || task.leaseOwner !== null)).toEqual([]);
    const released = tasks.filter((task) =>
      task.errors.some((error) => error.code === 'ATTEMPT_INTERRUPTED'),
    );
    expect(released.length).toBeGreaterThan(0);
    for (const task of released) {
      expect(task.status).toBe('PENDING');
      expect(task.attempts).toBe(1);
      expect(task.execution).not.toBeNull();
    }

    // The next engine picks the released work up and finishes everything.
    const rest = startWorker([path, '40', '1']);
    const last = await rest.exited;
    expect(last.output).toContain('DONE');
    await expectAllDoneOnce(new SqliteStore({ path }), 40);
  }, 60_000);
});
