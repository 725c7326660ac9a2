import { describe, expect, it } from 'vitest';
import { renderFrame } from '../../src/cli/progress/live-reporter.js';
import { formatEvent, PlainReporter } from '../../src/cli/progress/plain-reporter.js';
import { countByStatus, WorkflowWatcher, type WatchState } from '../../src/cli/progress/watcher.js';
import { createTestRegistry, flushEngine } from '../../src/testing/index.js';
import type { AgentConfig, Task, Workflow } from '../../src/index.js';
import { PLAIN_LINE } from './helpers.js';
import { sampleTask } from '../../src/testing/samples.js';
import { stepUntilSettled } from '../support/wait.js';

const AT = Date.UTC(2024, 4, 1, 12, 4, 5, 120);

const agent: AgentConfig = {
  id: 'agent-1',
  name: 'Summarizer',
  type: 'summarizer',
  description: '',
  capabilities: ['summarize'],
  maxConcurrency: 2,
  metadata: {},
  createdAt: 0,
  updatedAt: 0,
};

function task(fields: Partial<Task>): Task {
  return sampleTask('task-1', {
    name: 'summarize a.txt',
    workflowId: 'wf-1',
    createdAt: 0,
    updatedAt: 0,
    ...fields,
  });
}

const workflow: Workflow = {
  id: 'wf-1',
  name: 'Docs',
  description: '',
  status: 'RUNNING',
  paused: false,
  cancelled: false,
  metadata: {},
  createdAt: 0,
  updatedAt: 0,
};

const agents = new Map([[agent.id, agent]]);

describe('plain progress lines', () => {
  it('writes one line per state change with time, kind, id, status and name', () => {
    const running = task({
      status: 'RUNNING',
      attempts: 1,
      agentId: 'agent-1',
      startedAt: AT - 50,
      updatedAt: AT - 50,
    });
    const lines = [
      formatEvent(
        { kind: 'workflow', workflow: { ...workflow, updatedAt: AT - 51 }, from: 'PENDING' },
        agents,
      ),
      formatEvent({ kind: 'task', task: running, from: 'PENDING' }, agents),
      formatEvent(
        {
          kind: 'attempt-failed',
          task: running,
          error: { name: 'Error', message: 'busy', code: 'BUSY', attempt: 1, at: AT - 20, retryable: true },
          willRetry: true,
        },
        agents,
      ),
      formatEvent(
        {
          kind: 'task',
          task: { ...running, status: 'COMPLETED', attempts: 2, finishedAt: AT, updatedAt: AT },
          from: 'RUNNING',
        },
        agents,
      ),
    ];
    // Each line carries the time the store recorded for its change (issue 9), not when it was read.
    expect(lines).toEqual([
      '12:04:05.069 workflow wf-1 RUNNING "Docs"',
      '12:04:05.070 task task-1 RUNNING "summarize a.txt" attempt 1 on "Summarizer"',
      '12:04:05.100 task task-1 ATTEMPT_FAILED "summarize a.txt" attempt 1: BUSY: busy (will retry)',
      '12:04:05.120 task task-1 COMPLETED "summarize a.txt" after 2 attempts in 50 ms',
    ]);
    for (const line of lines) expect(line).toMatch(PLAIN_LINE);
  });

  it('stamps the lines one poll reads with the times the store recorded, in the order things happened', async () => {
    const kit = createTestRegistry({ start: AT });
    try {
      const workflowRow = await kit.workflowTracker.createWorkflow({ name: 'Timed' });
      const ids: string[] = [];
      for (const name of ['a', 'b', 'c']) {
        ids.push((await kit.taskManager.createTask({ name, workflowId: workflowRow.id })).id);
      }
      // Each attempt takes 10 ms of the simulated clock; the tasks run one after another, the last
      // created first.
      const agent = {
        id: 'ten-ms',
        execute: async () => {
          kit.clock.increment(10);
          return 'ok';
        },
      };
      await kit.executor.batchExecute(
        [...ids].reverse().map((id) => [id, agent] as const),
        { workflowId: workflowRow.id, maxConcurrent: 1 },
      );
      await flushEngine();
      const lines: string[] = [];
      const sink = { write: (chunk: string) => (lines.push(...chunk.split('\n').filter(Boolean)), true) };
      // One poll, long after: before the fix, every line had this poll's time.
      const watcher = new WorkflowWatcher({
        registry: kit.registry,
        workflowId: workflowRow.id,
        agents: [],
        reporter: new PlainReporter(sink),
        now: () => AT + 60_000,
      });
      await watcher.poll();
      expect(lines).toEqual([
        `12:04:05.130 task ${ids[2]} COMPLETED "c" after 1 attempt in 10 ms`,
        `12:04:05.140 task ${ids[1]} COMPLETED "b" after 1 attempt in 10 ms`,
        `12:04:05.150 task ${ids[0]} COMPLETED "a" after 1 attempt in 10 ms`,
        `12:04:05.150 workflow ${workflowRow.id} COMPLETED "Timed"`,
      ]);
    } finally {
      await kit.stop();
    }
  });
});

describe('plain progress lines from the stored events (issue 15)', () => {
  it('prints every transition of tasks that started and ended between two polls', async () => {
    // Before: each poll diffed the rows, so a task that started and finished between two polls
    // printed COMPLETED without its RUNNING line, and an attempt that failed and was retried
    // printed nothing of its start. Now each poll prints the workflow's stored events after its cursor.
    const kit = createTestRegistry({ start: AT, retry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 } });
    try {
      const workflowRow = await kit.workflowTracker.createWorkflow({ name: 'Fast' });
      const [a, b] = [
        await kit.taskManager.createTask({ name: 'a', workflowId: workflowRow.id }),
        await kit.taskManager.createTask({ name: 'b', workflowId: workflowRow.id }),
      ];
      const lines: string[] = [];
      const sink = { write: (chunk: string) => (lines.push(...chunk.split('\n').filter(Boolean)), true) };
      const watcher = new WorkflowWatcher({
        registry: kit.registry,
        workflowId: workflowRow.id,
        agents: [],
        reporter: new PlainReporter(sink),
      });
      await watcher.poll();
      expect(lines).toEqual([`12:04:05.120 workflow ${workflowRow.id} PENDING "Fast"`]);
      // Each attempt takes 10 ms of the simulated clock; a's first one fails.
      const agent = {
        id: 'ten-ms',
        execute: async (task: Task, context: { attempt: number }) => {
          kit.clock.increment(10);
          if (task.name === 'a' && context.attempt === 1) throw new Error('busy');
          return 'ok';
        },
      };
      const done = kit.executor.batchExecute(
        [a, b].map((task) => [task.id, agent] as const),
        { workflowId: workflowRow.id, maxConcurrent: 1 },
      );
      // The retry's delay of 0 is a timer on the simulated clock: fire it (the agents move the clock).
      const results = await stepUntilSettled('the batch to settle', done, async () => {
        await flushEngine();
        kit.clock.increment(0);
      });
      expect(results.map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED']);
      await watcher.poll();
      expect(lines.slice(1)).toEqual([
        `12:04:05.120 task ${a.id} RUNNING "a" attempt 1 on "ten-ms"`,
        `12:04:05.120 workflow ${workflowRow.id} RUNNING "Fast"`,
        `12:04:05.130 task ${a.id} ATTEMPT_FAILED "a" attempt 1: busy (will retry)`,
        `12:04:05.130 task ${a.id} PENDING "a" waiting to retry`,
        `12:04:05.130 task ${a.id} RUNNING "a" attempt 2 on "ten-ms"`,
        `12:04:05.140 task ${a.id} COMPLETED "a" after 2 attempts in 20 ms`,
        `12:04:05.140 task ${b.id} RUNNING "b" attempt 1 on "ten-ms"`,
        `12:04:05.150 task ${b.id} COMPLETED "b" after 1 attempt in 10 ms`,
        `12:04:05.150 workflow ${workflowRow.id} COMPLETED "Fast"`,
      ]);
      for (const line of lines) expect(line).toMatch(PLAIN_LINE);
    } finally {
      await kit.stop();
    }
  });
});

describe('live view frame', () => {
  it('shows the workflow, a progress bar, counts per status, agent loads and recent events', () => {
    const tasks = [
      task({ id: 'a', status: 'COMPLETED' }),
      task({ id: 'b', status: 'RUNNING' }),
      task({ id: 'c', status: 'FAILED' }),
      task({ id: 'd', status: 'PENDING' }),
    ];
    const state: WatchState = {
      workflow,
      tasks,
      counts: countByStatus(tasks),
      load: new Map([['agent-1', { inFlight: 1, queued: 0, completed: 1, failed: 2 }]]),
      agents: [agent],
      elapsedMs: 1500,
      at: AT,
    };
    const frame = renderFrame(state, ['✓ summarize a.txt (Summarizer, 12 ms)'], 100).split('\n');
    expect(frame[0]).toBe('Docs · RUNNING · 1.5 s · workflow wf-1');
    expect(frame[1]).toBe(`[${'█'.repeat(15)}${'░'.repeat(15)}] 2/4 finished`);
    expect(frame[2]).toBe('done 1  running 1  waiting 1  failed 1  paused 0  cancelled 0');
    expect(frame).toContain('Summarizer      1/2     1                2');
    expect(frame.slice(-2)).toEqual(['recent', '  ✓ summarize a.txt (Summarizer, 12 ms)']);
    expect(
      Math.max(
        ...renderFrame(state, ['x'.repeat(300)], 60)
          .split('\n')
          .map((line) => line.length),
      ),
    ).toBeLessThan(60);
  });

  it('shows control characters in names and recent lines as escapes, one line each', () => {
    const evil = 'x\u001b[2J\r\nforged\u0007';
    const tasks = [task({ id: 'a', status: 'RUNNING' })];
    const state: WatchState = {
      workflow: { ...workflow, name: evil },
      tasks,
      counts: countByStatus(tasks),
      load: new Map(),
      agents: [{ ...agent, name: evil }],
      elapsedMs: 0,
      at: AT,
    };
    const frame = renderFrame(state, [`✗ ${evil} failed`], 200).split('\n');
    expect(frame[0]).toMatch(/^x\\x1b\[2J\\r\\nforged\\x07 · RUNNING/);
    for (const line of frame) expect(line).not.toMatch(/\p{Cc}/u);
    expect(frame.at(-1)).toBe('  ✗ x\\x1b[2J\\r\\nforged\\x07 failed');
  });
});
