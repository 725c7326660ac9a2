import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MemoryStore,
  ServiceRegistry,
  type Agent,
  type Store,
  type Task,
  type TaskStatus,
  type WorkflowResult,
} from '../../src/index.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import { advance, createTestClock, nextTurn, sequentialIds } from '../../src/testing/index.js';

// Laws of loops and waits for signals (issue 12), on random DAGs of plain nodes, loops and waits,
// run by one engine on a simulated clock. Signals are sent before the run and between steps (or
// never); between steps the clock may move past wait timeouts. After each step the engine is let
// run until nothing changes (counted in event-loop turns, never time), and a plain model says what
// each node is then. Laws: the final statuses are the model's; each node (plain or iteration) runs
// at most once and only after its dependencies are done (it sees their outputs); a loop completes
// with the first iteration whose `until` held or fails LOOP_LIMIT_EXCEEDED after exactly
// maxIterations; a wait takes the oldest signal it names, sent before it began or after, each
// signal taken at most once and none lost; a wait with no signal before its due time fails
// WAIT_TIMED_OUT with that due time stored. Each wait names signals of its own (`w<i>`, `w<i>x`), so
// which wait takes a signal does not depend on timing; `other` is never taken.

type NodeSpec =
  | { kind: 'plain'; fails: boolean }
  /** Iteration i outputs `{ n: i, done: i >= doneAt }`; `until` reads `done`; iteration `failsAt` throws. */
  | { kind: 'loop'; doneAt: number; maxIterations: number; failsAt: number | null; cel: boolean }
  | { kind: 'wait'; names: string[]; timeoutMs: number | null };

interface CaseNode {
  deps: number[];
  spec: NodeSpec;
  /** Event-loop turns the agent takes (so runs interleave). */
  turns: number;
}

type Step = { type: 'signal'; name: string } | { type: 'advance'; ms: number };

interface LoopWaitCase {
  nodes: CaseNode[];
  /** Signals sent before executeWorkflow. */
  before: string[];
  /** What happens after the run settled, one step at a time. */
  steps: Step[];
  maxConcurrent: number;
}

const START = 1_700_000_000_000;

function specArb(index: number): fc.Arbitrary<NodeSpec> {
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant('plain' as const), fails: fc.nat(7).map((x) => x === 0) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('loop' as const),
        doneAt: fc.nat(4),
        maxIterations: fc.integer({ min: 1, max: 4 }),
        failsAt: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(3) }),
        cel: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('wait' as const),
        names: fc.boolean().map((two) => (two ? [`w${index}`, `w${index}x`] : [`w${index}`])),
        timeoutMs: fc.oneof(fc.constant(null), fc.constantFrom(100, 300, 1_000)),
      }),
    },
  );
}

function caseArb(maxNodes = 7): fc.Arbitrary<LoopWaitCase> {
  return fc
    .integer({ min: 1, max: maxNodes })
    .chain((count) =>
      fc.tuple(
        ...Array.from({ length: count }, (_, i) =>
          fc.record({
            deps:
              i === 0
                ? fc.constant<number[]>([])
                : fc.uniqueArray(fc.nat(i - 1), { maxLength: 3 }).map((d) => d.sort((a, b) => a - b)),
            spec: specArb(i),
            turns: fc.nat(3),
          }),
        ),
      ),
    )
    .chain((nodes) => {
      const names = ['other', ...nodes.flatMap((node) => (node.spec.kind === 'wait' ? node.spec.names : []))];
      const name = fc.constantFrom(...names);
      const step: fc.Arbitrary<Step> = fc.oneof(
        fc.record({ type: fc.constant('signal' as const), name }),
        fc.record({ type: fc.constant('advance' as const), ms: fc.constantFrom(50, 200, 600, 1_000) }),
      );
      return fc.record({
        nodes: fc.constant(nodes),
        before: fc.array(name, { maxLength: 3 }),
        steps: fc.array(step, { maxLength: 6 }),
        maxConcurrent: fc.integer({ min: 1, max: 4 }),
      });
    });
}

/** A signal as the model sees it: its payload is its index in the order sent. */
interface ModelSignal {
  name: string;
  sentAt: number;
  accepted: boolean;
  takenBy: number | null;
}

interface Model {
  statuses: TaskStatus[];
  /** Per node, its output once COMPLETED. */
  outputs: unknown[];
  /** Per loop node, the statuses of its iterations, in order. */
  iterations: TaskStatus[][];
  /** Per wait node: the clock when it began to wait (null: never began). */
  waitStart: Array<number | null>;
  /** Per wait node: it timed out. */
  timedOut: boolean[];
  signals: ModelSignal[];
  /** Waits that began and still wait at the end. */
  waiting: number[];
  workflow: 'COMPLETED' | 'FAILED' | 'RUNNING' | 'PENDING';
}

/** The plain reading of the rules, step by step (see the header). */
function model(c: LoopWaitCase): Model {
  const n = c.nodes.length;
  const statuses: TaskStatus[] = c.nodes.map(() => 'PENDING');
  const outputs: unknown[] = c.nodes.map(() => null);
  const iterations: TaskStatus[][] = c.nodes.map(() => []);
  const waitStart: Array<number | null> = c.nodes.map(() => null);
  const timedOut = c.nodes.map(() => false);
  const signals: ModelSignal[] = [];
  let clock = START;
  const allDone = () =>
    statuses.every((s) => s === 'COMPLETED') && iterations.flat().every((s) => s === 'COMPLETED');
  const send = (name: string) => signals.push({ name, sentAt: clock, accepted: !allDone(), takenBy: null });
  /** Lets every node go as far as it can. */
  const settle = () => {
    for (let changed = true; changed;) {
      changed = false;
      for (let i = 0; i < n; i += 1) {
        const node = c.nodes[i]!;
        if (statuses[i] !== 'PENDING' || waitStart[i] !== null || iterations[i]!.length > 0) continue;
        if (!node.deps.every((d) => statuses[d] === 'COMPLETED')) continue;
        changed = true;
        const spec = node.spec;
        if (spec.kind === 'plain') {
          statuses[i] = spec.fails ? 'FAILED' : 'COMPLETED';
          outputs[i] = { n: i };
        } else if (spec.kind === 'loop') {
          for (let k = 0; ; k += 1) {
            if (k === spec.failsAt) {
              iterations[i]!.push('FAILED');
              break;
            }
            iterations[i]!.push('COMPLETED');
            if (k >= spec.doneAt) {
              statuses[i] = 'COMPLETED';
              outputs[i] = { n: k, done: true };
              break;
            }
            if (k + 1 === spec.maxIterations) {
              statuses[i] = 'FAILED';
              break;
            }
          }
        } else waitStart[i] = clock;
      }
      // Waits take the oldest signal they name (each wait names its own).
      for (let i = 0; i < n; i += 1) {
        const spec = c.nodes[i]!.spec;
        if (spec.kind !== 'wait' || waitStart[i] === null || statuses[i] !== 'PENDING') continue;
        const index = signals.findIndex(
          (s) => s.accepted && s.takenBy === null && spec.names.includes(s.name),
        );
        if (index < 0) continue;
        const signal = signals[index]!;
        signal.takenBy = i;
        statuses[i] = 'COMPLETED';
        outputs[i] = { signal: signal.name, payload: index, sentAt: signal.sentAt };
        changed = true;
      }
    }
  };
  // Before the run signals are only kept: a wait takes them once an engine runs its graph.
  for (const name of c.before) send(name);
  settle();
  for (const step of c.steps) {
    if (step.type === 'signal') send(step.name);
    else {
      clock += step.ms;
      for (let i = 0; i < n; i += 1) {
        const spec = c.nodes[i]!.spec;
        const start = waitStart[i];
        if (spec.kind !== 'wait' || spec.timeoutMs === null || start === null || start === undefined)
          continue;
        if (statuses[i] === 'PENDING' && start + spec.timeoutMs <= clock) {
          statuses[i] = 'FAILED';
          timedOut[i] = true;
        }
      }
    }
    settle();
  }
  const waiting = c.nodes.flatMap((_, i) => (waitStart[i] !== null && statuses[i] === 'PENDING' ? [i] : []));
  const all = [...statuses, ...iterations.flat()];
  const workflow = allDone()
    ? 'COMPLETED'
    : all.includes('FAILED')
      ? 'FAILED'
      : all.some((s) => s === 'COMPLETED')
        ? 'RUNNING'
        : 'PENDING';
  return { statuses, outputs, iterations, waitStart, timedOut, signals, waiting, workflow };
}

function engineOn(kind: 'memory' | 'sqlite') {
  let dir: string | null = null;
  let store: Store;
  if (kind === 'sqlite') {
    dir = mkdtempSync(join(tmpdir(), 'symphony-loop-wait-'));
    store = new SqliteStore({ path: join(dir, 'graph.db') });
  } else store = new MemoryStore();
  const clock = createTestClock(START);
  const registry = new ServiceRegistry({
    store,
    clock,
    controlPollMs: 0,
    idGenerator: sequentialIds('id-'),
    random: () => 0.5,
    retry: { maxAttempts: 1 },
  });
  return {
    store,
    clock,
    registry,
    tasks: registry.getTaskManager(),
    tracker: registry.getWorkflowTracker(),
    executor: registry.getEnhancedExecutor(),
    async dispose() {
      await registry.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Turns without a change after which the engine counts as settled; turns after which it counts as hung. */
const QUIET_TURNS = 40;
const HANG_TURNS = 20_000;

async function runCase(kind: 'memory' | 'sqlite', c: LoopWaitCase): Promise<void> {
  const expected = model(c);
  const engine = engineOn(kind);
  try {
    const wf = await engine.tracker.createWorkflow({ name: 'loops and waits' });
    const ids: string[] = [];
    for (const [i] of c.nodes.entries()) {
      ids.push((await engine.tasks.createTask({ name: `n${i}`, inputData: { node: i } })).id);
    }
    const key = (i: number) => `k${i}`;
    await engine.tracker.addTasksToWorkflow(
      wf.id,
      c.nodes.map((node, i) => {
        const spec = node.spec;
        const name = key(i);
        return {
          taskId: ids[i]!,
          key: name,
          dependsOn: node.deps.map((d) => ids[d]!),
          ...(spec.kind === 'loop'
            ? {
                loop: {
                  until: spec.cel
                    ? `outputs.${name}.done == true`
                    : (outputs: Record<string, unknown>) => (outputs[name] as { done: boolean }).done,
                  maxIterations: spec.maxIterations,
                },
              }
            : {}),
          ...(spec.kind === 'wait'
            ? { waitFor: { signals: spec.names, timeoutMs: spec.timeoutMs ?? undefined } }
            : {}),
        };
      }),
    );

    // The agent: a plain node outputs { n: node }, an iteration { n: i, done }; each start records
    // what it saw.
    const starts: Array<{
      node: number;
      iteration: number | null;
      dependencies: unknown;
      previous: unknown;
    }> = [];
    let running = 0;
    let maxRunning = 0;
    const agent: Agent = {
      id: 'loop-wait-agent',
      async execute(task, context) {
        const node = task.inputData.node as number;
        const iteration = (task.inputData.iteration as number | undefined) ?? null;
        starts.push({
          node,
          iteration,
          dependencies: { ...context.dependencies },
          previous: task.inputData.previous,
        });
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        try {
          for (let turn = 0; turn < c.nodes[node]!.turns; turn += 1) await nextTurn();
        } finally {
          running -= 1;
        }
        const spec = c.nodes[node]!.spec;
        if (spec.kind === 'plain') {
          if (spec.fails) throw new Error(`node ${node} fails`);
          return { n: node };
        }
        if (spec.kind !== 'loop' || iteration === null) throw new Error(`node ${node} is not to run`);
        if (iteration === spec.failsAt) throw new Error(`iteration ${iteration} of node ${node} fails`);
        return { n: iteration, done: iteration >= spec.doneAt };
      },
    };

    const fingerprint = async () =>
      JSON.stringify([
        starts.length,
        running,
        (await engine.tracker.getWorkflowTasks(wf.id)).map((t) => [
          t.id,
          t.status,
          t.graph?.children?.length,
        ]),
        (await engine.store.signals(wf.id)).map((s) => s.takenBy),
      ]);
    const quiet = async (what: string) => {
      let last = '';
      let same = 0;
      for (let turn = 0; turn < HANG_TURNS; turn += 1) {
        await nextTurn();
        const now = await fingerprint();
        same = now === last ? same + 1 : 0;
        last = now;
        if (same >= QUIET_TURNS) return;
      }
      throw new Error(`the engine did not settle ${what}`);
    };

    // Each signal's payload is its index in the order sent (refused ones counted).
    const refused: string[] = [];
    let sent = 0;
    const send = async (name: string) => {
      const payload = sent;
      sent += 1;
      try {
        await engine.registry.signal(wf.id, name, payload);
      } catch (error) {
        refused.push((error as { code?: string }).code ?? String(error));
      }
    };
    for (const name of c.before) {
      await send(name);
      await quiet(`after the signal ${name} sent before the run`);
    }
    let result: WorkflowResult | null = null;
    let failure: unknown = null;
    void engine.executor
      .executeWorkflow(wf.id, { agent, maxConcurrent: c.maxConcurrent })
      .then((r) => (result = r))
      .catch((error: unknown) => (failure = error));
    await quiet('after the run began');
    for (const step of c.steps) {
      if (step.type === 'signal') await send(step.name);
      else await advance(engine.clock, step.ms);
      await quiet(`after ${JSON.stringify(step)}`);
    }

    // Final statuses equal the model's (plain nodes, loops, waits and every iteration).
    const stored = new Map<string, Task>(
      (await engine.tracker.getWorkflowTasks(wf.id)).map((t) => [t.id, t]),
    );
    expect(ids.map((id, i) => `${i}:${stored.get(id)?.status}`)).toEqual(
      expected.statuses.map((s, i) => `${i}:${s}`),
    );
    for (const [i, node] of c.nodes.entries()) {
      const task = stored.get(ids[i]!)!;
      if (expected.statuses[i] === 'COMPLETED')
        expect(task.outputData, `output of ${i}`).toEqual(expected.outputs[i]);
      if (node.spec.kind === 'loop') {
        const made = expected.iterations[i]!.map((_, k) => `${ids[i]}-${k}`);
        expect(task.graph?.children ?? []).toEqual(made);
        expect(made.map((id) => stored.get(id)?.status)).toEqual(expected.iterations[i]);
        for (const [k, id] of made.entries()) {
          expect(stored.get(id)!.graph?.item).toEqual({ of: ids[i], index: k });
        }
        if (task.status !== 'PENDING') expect(task.attempts).toBe(0);
        if (task.status === 'FAILED') {
          expect(task.errors.at(-1)?.code).toBe('LOOP_LIMIT_EXCEEDED');
          expect(made).toHaveLength(node.spec.maxIterations);
        }
      }
      if (node.spec.kind === 'wait') {
        const start = expected.waitStart[i];
        // The due time is kept while it waits (a completed task's runAfter is cleared).
        const waits = expected.waiting.includes(i);
        if (waits && start !== null && start !== undefined && node.spec.timeoutMs !== null) {
          expect(task.runAfter, `due time of wait ${i}`).toBe(start + node.spec.timeoutMs);
        }
        if (expected.timedOut[i]) expect(task.errors.at(-1)?.code).toBe('WAIT_TIMED_OUT');
        if (task.status === 'COMPLETED') expect(task.attempts).toBe(0);
      }
    }

    // Signals: each taken at most once, by the wait the model names; the refused ones were sent to
    // a COMPLETED workflow; taken in the order sent per wait.
    const signals = await engine.store.signals(wf.id);
    expect(signals.map((s) => s.payload)).toEqual(
      expected.signals.flatMap((s, index) => (s.accepted ? [index] : [])),
    );
    expect(signals.map((s) => s.takenBy)).toEqual(
      expected.signals.filter((s) => s.accepted).map((s) => (s.takenBy === null ? null : ids[s.takenBy])),
    );
    expect(refused).toEqual(expected.signals.filter((s) => !s.accepted).map(() => 'INVALID_STATE'));

    // Each plain node and iteration ran at most once, exactly as the model runs it, after its
    // dependencies were done (it saw their final outputs).
    const ran = starts.map((s) => `${s.node}/${s.iteration}`);
    const wanted = c.nodes.flatMap((node, i) => {
      if (node.spec.kind === 'plain') return expected.statuses[i] === 'PENDING' ? [] : [`${i}/null`];
      if (node.spec.kind === 'loop') return expected.iterations[i]!.map((_, k) => `${i}/${k}`);
      return [];
    });
    expect([...ran].sort()).toEqual([...wanted].sort());
    for (const start of starts) {
      const deps = Object.fromEntries(c.nodes[start.node]!.deps.map((d) => [key(d), expected.outputs[d]]));
      expect(start.dependencies, `dependencies seen by ${start.node}/${start.iteration}`).toEqual(deps);
      if (start.iteration !== null) {
        expect(start.previous).toEqual(
          start.iteration === 0 ? null : { n: start.iteration - 1, done: false },
        );
      }
    }
    expect(maxRunning).toBeLessThanOrEqual(c.maxConcurrent);

    // The run resolves once nothing waits any more, with the workflow's status.
    expect(await engine.tracker.getWorkflowStatus(wf.id)).toBe(expected.workflow);
    await quiet('before the end');
    expect(failure).toBeNull();
    if (expected.waiting.length > 0) expect(result).toBeNull();
    else if (expected.workflow === 'COMPLETED' || expected.workflow === 'FAILED') {
      expect((result as WorkflowResult | null)?.status).toBe(expected.workflow);
    }
  } finally {
    await engine.dispose();
  }
}

/** LOOP_WAIT_RUNS=<n> widens a run (memory store; SQLite gets a fifth). */
const WIDE = Number(process.env.LOOP_WAIT_RUNS ?? 0);
const STORES = [
  { kind: 'memory' as const, numRuns: WIDE || 150 },
  { kind: 'sqlite' as const, numRuns: Math.ceil(WIDE / 5) || 25 },
];

for (const { kind, numRuns } of STORES) {
  describe(`loops and waits in random graphs (${kind} store)`, () => {
    it('end as the model says: iterations once, first until that holds or the limit, oldest signal taken once, timeouts', async () => {
      await fc.assert(
        fc.asyncProperty(caseArb(), (c) => runCase(kind, c)),
        { numRuns },
      );
    }, 120_000);
  });
}
