/**
 * `symphony dead-letter list|redrive` (issue 14, Recovery strategies -> Dead letter), run as the
 * built CLI over a SQLite store that an engine in this process filled with failed tasks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultRetryPolicy,
  ServiceRegistry,
  systemClock,
  type Agent,
  type DeadLetterPage,
  type RedriveReport,
} from '../../src/index.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import { cli, readStore, tempDir } from './helpers.js';

const failing = (id: string, name: string, code?: string): Agent => ({
  id,
  async execute() {
    throw Object.assign(new Error(`${name} happened`), { name, ...(code === undefined ? {} : { code }) });
  },
});

interface Stored {
  db: string;
  /** Failed in workflow `live`: `a` at 1 000 ms (TypeError on agent-a), `b` at 2 000 ms (RATE_LIMITED on agent-b). */
  a: string;
  b: string;
  /** Failed at 3 000 ms in workflow `doomed`, which is cancelled. */
  x: string;
  /** Completed: not a dead letter. */
  ok: string;
  live: string;
}

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

/** A store with three dead letters and one completed task, failure times set by hand. */
async function stored(): Promise<Stored> {
  const { db, cleanup } = tempDir();
  cleanups.push(cleanup);
  const clock = { ...systemClock, at: 0, now: () => clock.at };
  const registry = new ServiceRegistry({
    store: new SqliteStore({ path: db }),
    clock,
    retry: { maxAttempts: 1 },
  });
  try {
    const tracker = registry.getWorkflowTracker();
    const manager = registry.getTaskManager();
    const executor = registry.getEnhancedExecutor();
    const live = await tracker.createWorkflow({ name: 'live' });
    const doomed = await tracker.createWorkflow({ name: 'doomed' });
    const run = async (name: string, agent: Agent, at: number, workflowId: string) => {
      clock.at = at;
      const task = await manager.createTask({ name, workflowId });
      await executor.executeTask(task.id, agent, workflowId);
      return task.id;
    };
    const a = await run('summarise', failing('agent-a', 'TypeError'), 1_000, live.id);
    const b = await run('translate', failing('agent-b', 'ProviderError', 'RATE_LIMITED'), 2_000, live.id);
    const x = await run('lost', failing('agent-a', 'TypeError'), 3_000, doomed.id);
    const ok = await run('fine', { id: 'agent-a', execute: async () => 'ok' }, 4_000, live.id);
    await tracker.cancelWorkflow(doomed.id);
    return { db, a, b, x, ok, live: live.id };
  } finally {
    await registry.stop();
  }
}

async function json<T>(args: string[]): Promise<{ code: number | null; value: T; stderr: string }> {
  const result = await cli([...args, '--json']);
  return { code: result.code, value: JSON.parse(result.stdout) as T, stderr: result.stderr };
}

const ids = (page: DeadLetterPage) => page.items.map((item) => item.taskId);

describe('symphony dead-letter list', () => {
  it('prints the dead letters newest failure first, as a table and as JSON', async () => {
    const s = await stored();
    const listed = await json<DeadLetterPage>(['dead-letter', 'list', '--db', s.db]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(ids(listed.value)).toEqual([s.x, s.b, s.a]);
    expect(listed.value.nextCursor).toBeNull();
    expect(listed.value.items[1]).toMatchObject({ attempts: 1, lastError: { code: 'RATE_LIMITED' } });

    const text = await cli(['dead-letter', 'list', '--db', s.db]);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TASK\s+WORKFLOW\s+NAME\s+ATTEMPTS\s+FAILED AT\s+LAST ERROR$/);
    expect(lines[2]).toContain(s.b);
    expect(lines[2]).toContain('RATE_LIMITED: ProviderError happened');
    expect(lines[3]).toContain('TypeError: TypeError happened');
    expect(text.stdout).not.toContain(s.ok);
  });

  it('filters, and pages by the cursor each page prints', async () => {
    const s = await stored();
    const byWorkflow = await json<DeadLetterPage>([
      'dead-letter',
      'list',
      '--db',
      s.db,
      '--workflow',
      s.live,
    ]);
    expect(ids(byWorkflow.value)).toEqual([s.b, s.a]);
    const byError = await json<DeadLetterPage>(['dead-letter', 'list', '--db', s.db, '--error', 'TypeError']);
    expect(ids(byError.value)).toEqual([s.x, s.a]);
    const byAgent = await json<DeadLetterPage>(['dead-letter', 'list', '--db', s.db, '--agent', 'agent-b']);
    expect(ids(byAgent.value)).toEqual([s.b]);
    const since = await json<DeadLetterPage>([
      'dead-letter',
      'list',
      '--db',
      s.db,
      '--since',
      '2000',
      '--before',
      '1970-01-01T00:00:03Z',
    ]);
    expect(ids(since.value)).toEqual([s.b]);

    const first = await json<DeadLetterPage>(['dead-letter', 'list', '--db', s.db, '--limit', '2']);
    expect(ids(first.value)).toEqual([s.x, s.b]);
    const cursor = first.value.nextCursor!;
    const second = await json<DeadLetterPage>([
      'dead-letter',
      'list',
      '--db',
      s.db,
      '--limit',
      '2',
      '--after',
      cursor,
    ]);
    expect(ids(second.value)).toEqual([s.a]);
    expect(second.value.nextCursor).toBeNull();
    const text = await cli(['dead-letter', 'list', '--db', s.db, '--limit', '2']);
    expect(text.stdout).toContain(`--after ${cursor}`);
  });

  it('refuses a bad cursor (INVALID_ARGUMENT) and a bad limit with exit 2', async () => {
    const s = await stored();
    const cursor = await json<{ error: { code: string } }>([
      'dead-letter',
      'list',
      '--db',
      s.db,
      '--after',
      'nonsense',
    ]);
    expect(cursor.code).toBe(2);
    expect(cursor.value.error.code).toBe('INVALID_ARGUMENT');
    for (const limit of ['0', '-1', 'ten', '1001']) {
      const bad = await json<{ error: { code: string } }>([
        'dead-letter',
        'list',
        '--db',
        s.db,
        '--limit',
        limit,
      ]);
      expect(bad.code, limit).toBe(2);
      expect(bad.value.error.code).toBe('CLI_USAGE');
    }
    const since = await cli(['dead-letter', 'list', '--db', s.db, '--since', 'yesterday-ish']);
    expect(since.code).toBe(2);
  });
});

describe('symphony dead-letter redrive', () => {
  it('re-drives the tasks named, reports a refusal per task, and exits 2 when one was refused', async () => {
    const s = await stored();
    const dry = await json<RedriveReport>(['dead-letter', 'redrive', '--db', s.db, '--all', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(2);
    expect(dry.value).toMatchObject({ dryRun: true, redriven: 2, refused: 1 });
    const unchanged = await json<DeadLetterPage>(['dead-letter', 'list', '--db', s.db]);
    expect(ids(unchanged.value)).toEqual([s.x, s.b, s.a]);

    const done = await json<RedriveReport>(['dead-letter', 'redrive', s.a, s.x, '--db', s.db]);
    expect(done.code, done.stderr).toBe(2);
    expect(done.value.results).toEqual([
      { taskId: s.a, outcome: 'redriven' },
      {
        taskId: s.x,
        outcome: 'refused',
        error: { code: 'INVALID_STATE', message: expect.stringMatching(/cancelled/) },
      },
    ]);
    const task = await readStore(s.db, (store) => store.tasks.get(s.a));
    expect(task).toMatchObject({ status: 'PENDING', attempts: 1, execution: null });
    expect(task!.errors).toHaveLength(1);

    const text = await cli(['dead-letter', 'redrive', s.b, '--db', s.db]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`${s.b}  re-driven`);
    expect(text.stdout).toContain('1 task(s) re-driven, 0 refused');
  });

  it('with --all and filters re-drives what they select; with --submit enqueues each on the agent config that ran it', async () => {
    const s = await stored();
    const done = await json<RedriveReport>([
      'dead-letter',
      'redrive',
      '--all',
      '--error',
      'RATE_LIMITED',
      '--submit',
      '--db',
      s.db,
    ]);
    expect(done.code, done.stderr).toBe(0);
    expect(done.value.results).toEqual([{ taskId: s.b, outcome: 'redriven', agentKey: 'agent-b' }]);
    const task = await readStore(s.db, (store) => store.tasks.get(s.b));
    // A full attempt budget (the engine's policy), counted from the attempt it made.
    expect(task).toMatchObject({
      status: 'PENDING',
      execution: { agentKey: 'agent-b', attemptLimit: 1 + defaultRetryPolicy.maxAttempts },
    });
  });

  it('refuses no selection, ids with --all, and filters without --all (exit 2)', async () => {
    const s = await stored();
    for (const args of [
      [],
      [s.a, '--all'],
      ['--error', 'TypeError'],
      ['--all', '--submit', '--db', ':memory:'],
    ]) {
      const result = await cli(['dead-letter', 'redrive', '--db', s.db, ...args]);
      expect(result.code, args.join(' ')).toBe(2);
    }
  });
});
