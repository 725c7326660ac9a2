import { describe, expect, it } from 'vitest';
import { renderFrame } from '../../src/cli/progress/live-reporter.js';
import { formatEvent } from '../../src/cli/progress/plain-reporter.js';
import { countByStatus, type WatchState } from '../../src/cli/progress/watcher.js';
import type { AgentConfig, Task, Workflow } from '../../src/index.js';
import { PLAIN_LINE } from './helpers.js';
import { sampleTask } from '../../src/testing/samples.js';

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
    const running = task({ status: 'RUNNING', attempts: 1, agentId: 'agent-1', startedAt: AT - 50 });
    const lines = [
      formatEvent({ kind: 'workflow', workflow, from: 'PENDING' }, agents, AT),
      formatEvent({ kind: 'task', task: running, from: 'PENDING' }, agents, AT),
      formatEvent(
        {
          kind: 'attempt-failed',
          task: running,
          error: { name: 'Error', message: 'busy', code: 'BUSY', attempt: 1, at: AT, retryable: true },
          willRetry: true,
        },
        agents,
        AT,
      ),
      formatEvent(
        {
          kind: 'task',
          task: { ...running, status: 'COMPLETED', attempts: 2, finishedAt: AT },
          from: 'RUNNING',
        },
        agents,
        AT,
      ),
    ];
    expect(lines).toEqual([
      '12:04:05.120 workflow wf-1 RUNNING "Docs"',
      '12:04:05.120 task task-1 RUNNING "summarize a.txt" attempt 1 on "Summarizer"',
      '12:04:05.120 task task-1 ATTEMPT_FAILED "summarize a.txt" attempt 1: BUSY: busy (will retry)',
      '12:04:05.120 task task-1 COMPLETED "summarize a.txt" after 2 attempts in 50 ms',
    ]);
    for (const line of lines) expect(line).toMatch(PLAIN_LINE);
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
});
