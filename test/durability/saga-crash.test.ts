/**
 * A saga's compensations run once each, in reverse order, also across a crash (issue 14): an
 * engine runs a workflow a -> b -> c -> d whose last task fails, so the compensations of c, b and a
 * run in that order. The engine "dies" at its k-th agent call (the call never returns and the engine
 * is abandoned, never stopped, as a killed process leaves its store); a second engine on a new handle
 * over the same data calls `recover({ workflowId })` and `executeWorkflow`. For every k, the agents'
 * own log shows each task and each compensation completed once, the compensations in reverse order
 * of completion, each after every forward task had ended.
 */
import { afterEach, expect, it } from 'vitest';
import { ServiceRegistry, type Agent, type Store, type WorkflowResult } from '../../src/index.js';
import { createTestClock, sequentialIds } from '../../src/testing/index.js';
import { StoreIo } from '../support/store-kit.js';
import { describeEveryStore } from './backends.js';
import { stepUntil } from '../support/wait.js';

const FORWARD = ['a', 'b', 'c', 'd'];
const FAILING = 'd';
/** Forward calls (a, b, c, d and d again), then the three compensations. */
const CALLS = FORWARD.length + 1 + 3;

describeEveryStore('compensations across a crash', (backend) => {
  let open: ServiceRegistry[] = [];
  let io = new StoreIo();
  afterEach(async () => {
    for (const registry of open.reverse()) await registry.stop({ graceMs: 0 }).catch(() => {});
    open = [];
    io = new StoreIo();
  });

  function engine(store: Store, start: number, round: number) {
    const clock = createTestClock(start);
    const registry = new ServiceRegistry({
      store,
      clock,
      engineId: 'saga',
      idGenerator: sequentialIds(`saga-${round}-`),
      // A second attempt for the one the crash interrupted; the failing task fails both.
      retry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 },
      controlPollMs: 0,
    });
    open.push(registry);
    return { registry, clock };
  }

  /** An agent writing `start <name>` and `end <name>` to `log`; it hangs forever at call `hangAt`. */
  function logging(log: string[], hangAt: number | null): Agent {
    let calls = 0;
    return {
      id: 'saga-agent',
      async execute(task) {
        calls += 1;
        log.push(`start ${task.name}`);
        if (calls === hangAt) return new Promise<never>(() => {});
        if (task.name === FAILING) throw new Error(`${task.name} broke`);
        log.push(`end ${task.name}`);
        return { did: task.name };
      },
    };
  }

  for (let hangAt = 1; hangAt <= CALLS; hangAt++) {
    it(`runs each compensation once, in reverse order, when the engine dies at agent call ${hangAt}`, async () => {
      const { store: opened, reopen } = backend();
      const store = io.track(opened);
      const first = engine(store, 10_000, 1);
      const tracker = first.registry.getWorkflowTracker();
      const tasks = first.registry.getTaskManager();
      const wf = await tracker.createWorkflow({ name: 'trip' });
      let previous: string | null = null;
      for (const name of FORWARD) {
        const task = await tasks.createTask({ name });
        await tracker.addTaskToWorkflow(wf.id, task.id, {
          ...(previous === null ? {} : { dependsOn: [previous] }),
          ...(name === FAILING ? {} : { compensate: { name: `undo-${name}` } }),
        });
        previous = task.id;
      }
      const log: string[] = [];
      void first.registry
        .getEnhancedExecutor()
        .executeWorkflow(wf.id, { agent: logging(log, hangAt) })
        .catch(() => {});
      // The engine works until its agent hangs at call `hangAt`, and what it did is stored.
      const starts = () => log.filter((line) => line.startsWith('start')).length;
      await stepUntil(
        `the agent to hang at call ${hangAt}`,
        () => io.advance(first.clock, 1),
        () => starts() >= hangAt,
      );
      expect(starts()).toBe(hangAt);
      await io.settle();

      // It dies here; a new engine recovers the workflow and runs it on.
      const second = engine(io.track(reopen()), 20_000, 2);
      const agent = logging(log, null);
      const report = await second.registry.recover({ workflowId: wf.id, resolveAgent: () => agent });
      let result: WorkflowResult | undefined;
      void second.registry
        .getEnhancedExecutor()
        .executeWorkflow(wf.id, { agent })
        .then((value) => (result = value));
      // Retries wait on the simulated clock: moved on until the run resolves.
      await stepUntil(
        'the recovered run to resolve',
        () => io.advance(second.clock, 1),
        () => result !== undefined,
      );
      await report.results;
      expect(result).toMatchObject({ status: 'FAILED', compensated: true });

      const ended = log.filter((line) => line.startsWith('end')).map((line) => line.slice(4));
      expect(ended).toEqual(['a', 'b', 'c', 'undo-c', 'undo-b', 'undo-a']);
      // Started once each, but for the attempt the crash cut off, which started again.
      const interrupted = log.filter((line) => line.startsWith('start'))[hangAt - 1]!.slice(6);
      for (const name of ['undo-c', 'undo-b', 'undo-a']) {
        const starts = log.filter((line) => line === `start ${name}`).length;
        expect(starts, name).toBe(name === interrupted ? 2 : 1);
      }
      // No compensation started before the failing task's last attempt ended.
      const lastForward = log.lastIndexOf(`start ${FAILING}`);
      expect(log.findIndex((line) => line.startsWith('start undo-'))).toBeGreaterThan(lastForward);
      const stored = await second.registry.getWorkflowTracker().getWorkflowTasks(wf.id);
      expect(stored.filter((task) => task.graph?.compensates != null).map((task) => task.status)).toEqual([
        'COMPLETED',
        'COMPLETED',
        'COMPLETED',
      ]);
    });
  }
});
