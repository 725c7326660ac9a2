import { expect, it } from 'vitest';
import type { Agent } from '../../src/index.js';
import { until } from '../support/wait.js';
import { describeEveryStore, useEngines } from './backends.js';

// Issue 14, sagas on workers: a submitted workflow whose last task fails is compensated by the
// worker coordinating it; stopped mid-compensation, another worker takes it over and runs the
// compensations left, each once, in reverse order.

const FORWARD = ['a', 'b', 'c', 'd'];

/** Logs `end <name>` for each run that completes; `d` fails; `hangAt` runs hang until aborted. */
function sagaAgent(log: string[], hangAt: ReadonlySet<string>): Agent {
  return {
    id: 'saga-agent',
    execute(task, context) {
      log.push(`start ${task.name}`);
      if (hangAt.has(task.name)) {
        return new Promise((_, reject) => {
          context.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        });
      }
      if (task.name === 'd') return Promise.reject(new Error('d broke'));
      log.push(`end ${task.name}`);
      return Promise.resolve({ did: task.name });
    },
  };
}

describeEveryStore('compensations on workers', (backend) => {
  const engine = useEngines();

  it('a stopped coordinator leaves the compensations to another worker: each once, in reverse order', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const tracker = submitter.getWorkflowTracker();
    const manager = submitter.getTaskManager();
    const workflow = await tracker.createWorkflow({ name: 'saga on workers' });
    const ids: string[] = [];
    for (const name of FORWARD) ids.push((await manager.createTask({ name })).id);
    await tracker.addTasksToWorkflow(
      workflow.id,
      FORWARD.map((name, i) => ({
        taskId: ids[i]!,
        ...(i === 0 ? {} : { dependsOn: [ids[i - 1]!] }),
        ...(name === 'd' ? {} : { compensate: { name: `undo-${name}` } }),
      })),
    );
    await submitter.getEnhancedExecutor().enqueueWorkflow(workflow.id, {
      agentKey: 'saga-agent',
      retry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 },
    });
    const log: string[] = [];
    const first = await engine(b.reopen(), { engineId: 'engine-first' }).startWorker({
      resolveAgent: () => sagaAgent(log, new Set(['undo-b'])),
      pollMs: 20,
    });
    await until('the first worker reached undo-b', () => log.includes('start undo-b'));
    await first.stop({ graceMs: 0 });

    const second = await engine(b.reopen(), { engineId: 'engine-second' }).startWorker({
      resolveAgent: () => sagaAgent(log, new Set()),
      pollMs: 20,
    });
    await until('undo-a ran', async () => {
      const undo = await b.store.tasks.get(`${ids[0]}-compensate`);
      return undo?.status === 'COMPLETED';
    });
    await second.stop();
    expect((await b.store.workflows.get(workflow.id))?.status).toBe('FAILED');
    const ended = log.filter((line) => line.startsWith('end')).map((line) => line.slice(4));
    expect(ended).toEqual(['a', 'b', 'c', 'undo-c', 'undo-b', 'undo-a']);
    expect(log.filter((line) => line === 'start undo-b')).toHaveLength(2);
    const undone = await b.store.tasks.getMany(ids.slice(0, 3).map((id) => `${id}-compensate`));
    expect(undone.map((task) => task.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
  });
});
