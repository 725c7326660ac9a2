import { fc, it } from '@fast-check/vitest';
import { describe, expect, vi } from 'vitest';
import { createActor, SimulatedClock, transition, type Actor } from 'xstate';
import {
  agentMachine,
  deriveWorkflowStatus,
  emptyCounts,
  TASK_STATUSES,
  taskMachine,
  taskStatusOf,
  workflowMachine,
  taskSystemId,
  type AgentMachine,
  type SettledExecution,
  type StartingExecution,
  type TaskCounts,
  type TaskMachine,
  type TaskMachineEvent,
  type TaskStatus,
  type TaskStatusChange,
  type WorkflowMachine,
  type WorkflowMachineEvent,
} from '../../machines/index.js';
import type { Failure, RetryRules } from '../../machines/retry.js';
import { tasksFromCounts, workflowStatusOracle } from './workflow-status-oracle.js';

// Random event sequences against small reference models. fast-check prints the seed and the
// shrunk command list of a failing run; replay it with `{ seed, path }` in the `it.prop` params.

// ---------------------------------------------------------------------------------------------
// Task machine
// ---------------------------------------------------------------------------------------------

type TaskPlace =
  | 'ready'
  | 'held'
  | 'backoff'
  | 'unbounded'
  | 'bounded'
  | 'PAUSED'
  | 'COMPLETED'
  | 'SKIPPED'
  | 'FAILED'
  | 'CANCELLED';

interface TaskModel {
  place: TaskPlace;
  readonly rules: RetryRules;
  attempts: number;
  readonly maxAttempts: number;
  interruptions: number;
  readonly maxInterruptions: number;
  now: number;
  /** Its workflow is paused (HOLD): it waits in `held` instead of `ready`. */
  held: boolean;
  /** When the armed timer (backoff or attempt deadline) is due, if one is armed. */
  dueAt: number | null;
  /** Entries into PENDING.ready (each fires `ready`), including passing through it while held. */
  readyEntries: number;
  timedOut: number;
}

/** Whether the engine must have the task in its agent's queue: exactly while in PENDING.ready. */
const isQueued = (m: Readonly<TaskModel>) => m.place === 'ready';

interface TaskReal {
  actor: Actor<TaskMachine>;
  clock: SimulatedClock;
  ready: ReturnType<typeof vi.fn>;
  unready: ReturnType<typeof vi.fn>;
  /** `ready` and `unready` calls in the order they were made. */
  queueLog: ('ready' | 'unready')[];
  timedOut: ReturnType<typeof vi.fn>;
}

/** COMPLETED and SKIPPED are final; FAILED and CANCELLED end a run but take RETRY. */
const FINAL: readonly TaskPlace[] = ['COMPLETED', 'SKIPPED'];
const ENDED: readonly TaskPlace[] = ['FAILED', 'CANCELLED'];

/** The retry delay as docs/retries.md states it, written here without the machine's helper. */
function modelDelay(rules: RetryRules, failedAttempt: number, event: Failure): number {
  if (event.retryAfterMs !== undefined && event.retryAfterMs >= 0) {
    return Math.min(rules.maxDelayMs, Math.ceil(event.retryAfterMs));
  }
  const base = Math.min(rules.maxDelayMs, rules.initialDelayMs * rules.backoffFactor ** (failedAttempt - 1));
  const moved = Math.round(base + base * rules.jitter * ((event.random ?? 0.5) * 2 - 1));
  return Math.min(rules.maxDelayMs, Math.max(0, moved));
}

function modelRetryable(rules: RetryRules, event: Failure): boolean {
  const listed = (name: string | undefined) => name !== undefined && rules.nonRetryableErrors.includes(name);
  return event.retryable && !listed(event.errorName) && !listed(event.errorCode);
}
const PLACE_VALUE: Record<TaskPlace, unknown> = {
  ready: { PENDING: 'ready' },
  held: { PENDING: 'held' },
  backoff: { PENDING: 'backoff' },
  unbounded: { RUNNING: 'unbounded' },
  bounded: { RUNNING: 'bounded' },
  PAUSED: 'PAUSED',
  COMPLETED: 'COMPLETED',
  SKIPPED: 'SKIPPED',
  FAILED: 'FAILED',
  CANCELLED: 'CANCELLED',
};

/** A way into PENDING.ready: it is entered (and queued), and left at once for `held` if held. */
function enterReady(m: TaskModel): void {
  m.readyEntries += 1;
  m.place = m.held ? 'held' : 'ready';
  m.dueAt = null;
}

/** The reference model: what each event does, written without looking at guards or actions. */
function stepTaskModel(m: TaskModel, event: TaskMachineEvent): void {
  const running = m.place === 'unbounded' || m.place === 'bounded';
  const pending = m.place === 'ready' || m.place === 'held' || m.place === 'backoff';
  switch (event.type) {
    case 'START':
      if (m.place !== 'ready' || m.attempts >= m.maxAttempts) return;
      m.attempts += 1;
      if ((event.timeoutMs ?? 0) > 0) {
        m.place = 'bounded';
        m.dueAt = m.now + (event.timeoutMs ?? 0);
      } else {
        m.place = 'unbounded';
        m.dueAt = null;
      }
      return;
    case 'SUCCEED':
      if (running) [m.place, m.dueAt] = ['COMPLETED', null];
      return;
    case 'FAIL': {
      if (!running) return;
      // An interruption counts whatever happens next; past the limit the task cannot run again.
      if (event.interrupted) m.interruptions += 1;
      const interruptedTooOften = event.interrupted === true && m.interruptions > m.maxInterruptions;
      if (modelRetryable(m.rules, event) && m.attempts < m.maxAttempts && !interruptedTooOften) {
        m.place = 'backoff';
        m.dueAt = m.now + modelDelay(m.rules, m.attempts, event);
      } else {
        [m.place, m.dueAt] = ['FAILED', null];
      }
      return;
    }
    case 'WAIT':
      if (m.place !== 'ready' && m.place !== 'held') return;
      m.place = 'backoff';
      m.dueAt = m.now + Math.max(0, event.delay);
      return;
    case 'PAUSE':
      if (pending) [m.place, m.dueAt] = ['PAUSED', null];
      return;
    case 'RESUME':
      if (m.place === 'PAUSED') enterReady(m);
      return;
    case 'CANCEL':
      if (pending || running || m.place === 'PAUSED') [m.place, m.dueAt] = ['CANCELLED', null];
      return;
    // The workflow graph ends a node that is not to run: only a waiting one (never while it runs).
    case 'SKIP':
      if (pending || m.place === 'PAUSED') [m.place, m.dueAt] = ['SKIPPED', null];
      return;
    case 'REJECT':
      if (pending || m.place === 'PAUSED') [m.place, m.dueAt] = ['FAILED', null];
      return;
    // A fan-out whose items are done completes unrun: only while PENDING (not PAUSED, not running).
    case 'RESOLVE':
      if (pending) [m.place, m.dueAt] = ['COMPLETED', null];
      return;
    case 'RETRY':
      if (ENDED.includes(m.place)) enterReady(m);
      return;
    case 'HOLD':
      m.held = true;
      if (m.place === 'ready') m.place = 'held';
      return;
    case 'UNHOLD':
      m.held = false;
      if (m.place === 'held') enterReady(m);
      return;
  }
}

function checkTaskInvariants(m: TaskModel, r: TaskReal, attemptsBefore: number, startTaken: boolean) {
  const snapshot = r.actor.getSnapshot();
  expect(snapshot.context.attempts).toBeGreaterThanOrEqual(attemptsBefore);
  expect(TASK_STATUSES).toContain(taskStatusOf(snapshot.value));
  expect(snapshot.value).toEqual(PLACE_VALUE[m.place]);
  expect(snapshot.context.attempts).toBe(attemptsBefore + (startTaken ? 1 : 0));
  expect(snapshot.context.attempts).toBe(m.attempts);
  expect(snapshot.context.interruptions).toBe(m.interruptions);
  expect(snapshot.context.attempts).toBeLessThanOrEqual(snapshot.context.maxAttempts);
  expect(snapshot.status).toBe(FINAL.includes(m.place) ? 'done' : 'active');
  expect(snapshot.context.held).toBe(m.held);
  expect(r.timedOut).toHaveBeenCalledTimes(m.timedOut);
  // The queue law the engine relies on: `ready` and `unready` alternate, starting with `ready`
  // (never two entries without an exit, never an exit without an entry), and one more `ready`
  // than `unready` exactly while the actor is in PENDING.ready.
  expect(r.ready).toHaveBeenCalledTimes(m.readyEntries);
  r.queueLog.forEach((call, i) =>
    expect(call, `call ${i} of ${r.queueLog.join(', ')}`).toBe(i % 2 === 0 ? 'ready' : 'unready'),
  );
  const balance = r.ready.mock.calls.length - r.unready.mock.calls.length;
  expect(balance).toBe(isQueued(m) ? 1 : 0);
  expect(balance === 1).toBe(snapshot.matches({ PENDING: 'ready' }));
}

class TaskEventCommand implements fc.Command<TaskModel, TaskReal> {
  constructor(readonly event: TaskMachineEvent) {}
  check = (m: Readonly<TaskModel>) => !FINAL.includes(m.place);
  run(m: TaskModel, r: TaskReal): void {
    const before = r.actor.getSnapshot();
    r.actor.send(this.event);
    // "START taken" read from the machine itself: it left PENDING.ready for RUNNING on a START.
    const startTaken =
      this.event.type === 'START' &&
      before.matches({ PENDING: 'ready' }) &&
      r.actor.getSnapshot().matches('RUNNING');
    stepTaskModel(m, this.event);
    checkTaskInvariants(m, r, before.context.attempts, startTaken);
  }
  toString = () => JSON.stringify(this.event);
}

class TaskTickCommand implements fc.Command<TaskModel, TaskReal> {
  constructor(readonly ms: number) {}
  check = () => true;
  run(m: TaskModel, r: TaskReal): void {
    const attemptsBefore = r.actor.getSnapshot().context.attempts;
    m.now += this.ms;
    if (m.dueAt !== null && m.now >= m.dueAt) {
      if (m.place === 'backoff') enterReady(m);
      else if (m.place === 'bounded') m.timedOut += 1;
      m.dueAt = null;
    }
    r.clock.increment(this.ms);
    checkTaskInvariants(m, r, attemptsBefore, false);
  }
  toString = () => `tick(${this.ms})`;
}

/** In the final state, every event leaves value, context and status unchanged and runs no action. */
class TaskAbsorbCommand implements fc.Command<TaskModel, TaskReal> {
  constructor(readonly event: TaskMachineEvent) {}
  check = (m: Readonly<TaskModel>) => FINAL.includes(m.place);
  run(_m: TaskModel, r: TaskReal): void {
    const before = r.actor.getSnapshot();
    const [after, actions] = transition(taskMachine, before, this.event);
    expect(after.value).toEqual(before.value);
    expect(after.context).toEqual(before.context);
    expect(after.status).toBe('done');
    expect(actions).toEqual([]);
  }
  toString = () => `absorb(${JSON.stringify(this.event)})`;
}

const taskEventArb: fc.Arbitrary<TaskMachineEvent> = fc.oneof(
  fc.constant({ type: 'START' as const }),
  fc.integer({ min: 0, max: 50 }).map((timeoutMs) => ({ type: 'START' as const, timeoutMs })),
  fc.constant({ type: 'SUCCEED' as const }),
  // Weighted: a FAIL only counts while an attempt runs, so it comes often enough to reach the
  // retry and interruption limits (unweighted, a run saw about 3 interrupted FAILs in 100 runs).
  {
    weight: 4,
    arbitrary: fc.record(
      {
        type: fc.constant('FAIL' as const),
        retryable: fc.boolean(),
        errorName: fc.constantFrom('RateLimit', 'Other'),
        errorCode: fc.constantFrom('E_AUTH', 'E_OTHER'),
        retryAfterMs: fc.integer({ min: -5, max: 50 }),
        random: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        interrupted: fc.boolean(),
      },
      { requiredKeys: ['type', 'retryable'] },
    ),
  },
  fc.integer({ min: -5, max: 50 }).map((delay) => ({ type: 'WAIT' as const, delay })),
  fc.constant({ type: 'PAUSE' as const }),
  fc.constant({ type: 'RESUME' as const }),
  fc.constant({ type: 'CANCEL' as const }),
  fc.constant({ type: 'RETRY' as const }),
  fc.constant({ type: 'SKIP' as const }),
  fc.constant({ type: 'REJECT' as const }),
  fc.constant({ type: 'RESOLVE' as const }),
);

/**
 * The events a live task takes: HOLD / UNHOLD too. Not for the absorb check: the pure transition
 * function still assigns `held` on a COMPLETED snapshot (a done actor takes no event at all).
 */
const liveTaskEventArb: fc.Arbitrary<TaskMachineEvent> = fc.oneof(
  { weight: 6, arbitrary: taskEventArb },
  fc.constant({ type: 'HOLD' as const }),
  fc.constant({ type: 'UNHOLD' as const }),
);

const rulesArb: fc.Arbitrary<RetryRules> = fc.record({
  initialDelayMs: fc.integer({ min: 0, max: 20 }),
  backoffFactor: fc.constantFrom(1, 1.5, 2, 3),
  maxDelayMs: fc.integer({ min: 0, max: 60 }),
  jitter: fc.constantFrom(0, 0.2, 1),
  nonRetryableErrors: fc.subarray(['RateLimit', 'E_AUTH']),
});

describe('task machine properties', () => {
  it.prop([
    // maxAttempts, and the attempts already used when the task is created (restored).
    fc.integer({ min: 1, max: 4 }).chain((max) => fc.tuple(fc.constant(max), fc.integer({ min: 0, max }))),
    // Interruptions so far and allowed.
    fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 })),
    rulesArb,
    // Created held (its workflow was paused).
    fc.boolean(),
    fc.commands(
      [
        liveTaskEventArb.map((event) => new TaskEventCommand(event)),
        fc.integer({ min: 0, max: 60 }).map((ms) => new TaskTickCommand(ms)),
        taskEventArb.map((event) => new TaskAbsorbCommand(event)),
      ],
      { maxCommands: 60, size: 'medium' },
    ),
  ])(
    'follows the reference model: status one of seven, attempts +1 per START taken, <= maxAttempts, retry delay and rules, RETRY after FAILED or CANCELLED, HOLD / UNHOLD, SKIP / REJECT of a waiting task, RESOLVE of a PENDING one, COMPLETED and SKIPPED absorb; in the queue (ready / unready alternate) exactly while in PENDING.ready',
    ([maxAttempts, attempts], [interruptions, maxInterruptions], rules, held, commands) => {
      fc.modelRun(() => {
        const clock = new SimulatedClock();
        const queueLog: ('ready' | 'unready')[] = [];
        const ready = vi.fn(() => {
          queueLog.push('ready');
        });
        const unready = vi.fn(() => {
          queueLog.push('unready');
        });
        const timedOut = vi.fn();
        const actor = createActor(taskMachine.provide({ actions: { ready, unready, timedOut } }), {
          input: { attempts, maxAttempts, interruptions, maxInterruptions, retry: rules, held },
          clock,
        }).start();
        const model: TaskModel = {
          place: 'ready',
          rules,
          attempts,
          maxAttempts,
          interruptions,
          maxInterruptions,
          now: 0,
          held,
          dueAt: null,
          readyEntries: 0,
          timedOut: 0,
        };
        // A fresh actor enters PENDING.ready as it starts.
        enterReady(model);
        const real: TaskReal = { actor, clock, ready, unready, queueLog, timedOut };
        checkTaskInvariants(model, real, attempts, false);
        return { model, real };
      }, commands);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Workflow machine
// ---------------------------------------------------------------------------------------------

interface WorkflowModel {
  counts: TaskCounts;
  started: boolean;
  paused: boolean;
  cancelled: boolean;
  /** The workflow's tasks by id, each in its status (the counts are their tally). */
  tasks: Map<string, TaskStatus>;
  nextTask: number;
}
interface WorkflowReal {
  actor: Actor<WorkflowMachine>;
  /** Every `graph.steps` the actor emitted: none, as long as no node was added. */
  steps: unknown[];
}

function stepWorkflowModel(m: WorkflowModel, event: WorkflowMachineEvent): void {
  switch (event.type) {
    case 'TASKS_CHANGED':
      for (const { taskId, from, to } of event.changes) {
        if (from !== null) m.counts[from] -= 1;
        if (to !== null) m.counts[to] += 1;
        if (to === null) m.tasks.delete(taskId);
        else m.tasks.set(taskId, to);
      }
      m.started ||= event.changes.some(({ to }) => to === 'RUNNING' || to === 'COMPLETED' || to === 'FAILED');
      return;
    case 'PAUSE':
      // A cancelled workflow, or one whose tasks are all done, cannot be paused.
      if (!m.cancelled && workflowStatusOracle(tasksFromCounts(m.counts), m).status !== 'COMPLETED') {
        m.paused = true;
      }
      return;
    case 'RESUME':
      m.paused = false;
      return;
    case 'CANCEL':
      [m.cancelled, m.paused] = [true, false];
      return;
    case 'NODES_ADDED':
    case 'DECIDED':
      return;
  }
}

function checkWorkflow(m: WorkflowModel, r: WorkflowReal): void {
  const snapshot = r.actor.getSnapshot();
  // The oracle is written from docs/status-rules.md, not from deriveWorkflowStatus.
  const expected = workflowStatusOracle([...m.tasks.values()], m).status;
  expect(tasksFromCounts(m.counts).sort()).toEqual([...m.tasks.values()].sort());
  expect(snapshot.value).toBe(expected);
  expect(deriveWorkflowStatus(snapshot.context)).toBe(expected);
  expect(snapshot.context.counts).toEqual(m.counts);
  expect(snapshot.status).toBe('active');
  if (m.cancelled) expect(snapshot.value).toBe('CANCELLED');
  // Without NODES_ADDED there is no graph: TASKS_CHANGED builds none and asks for no steps.
  expect(snapshot.context.graph).toBeNull();
  expect(r.steps).toEqual([]);
}

class WorkflowFlagCommand implements fc.Command<WorkflowModel, WorkflowReal> {
  constructor(readonly type: 'PAUSE' | 'RESUME' | 'CANCEL') {}
  check = () => true;
  run(m: WorkflowModel, r: WorkflowReal): void {
    stepWorkflowModel(m, { type: this.type });
    r.actor.send({ type: this.type });
    checkWorkflow(m, r);
  }
  toString = () => this.type;
}

/**
 * One TASKS_CHANGED batch. Each step either joins a new task (`pick: null`) or moves/removes a
 * task taken from a status that holds one at that point (`pick` indexes those statuses; the
 * task is the first in that status), so every change is valid by construction and names its task.
 */
class WorkflowChangeCommand implements fc.Command<WorkflowModel, WorkflowReal> {
  constructor(readonly steps: readonly { pick: number | null; to: TaskStatus | null }[]) {}
  check = () => true;
  run(m: WorkflowModel, r: WorkflowReal): void {
    const tasks = new Map(m.tasks);
    const changes: TaskStatusChange[] = [];
    for (const { pick, to } of this.steps) {
      const holding = TASK_STATUSES.filter((status) => [...tasks.values()].includes(status));
      const from = pick === null || holding.length === 0 ? null : (holding[pick % holding.length] ?? null);
      if (from === null && to === null) continue;
      const taskId =
        from === null ? `t${m.nextTask++}` : [...tasks].find(([, status]) => status === from)![0];
      if (to === null) tasks.delete(taskId);
      else tasks.set(taskId, to);
      changes.push({ taskId, from, to });
    }
    const event = { type: 'TASKS_CHANGED' as const, changes };
    stepWorkflowModel(m, event);
    r.actor.send(event);
    checkWorkflow(m, r);
  }
  toString = () =>
    `TASKS_CHANGED(${this.steps.map(({ pick, to }) => `${pick === null ? 'join' : `move#${pick}`}->${to}`).join(', ')})`;
}

const statusOrNull = fc.constantFrom<TaskStatus | null>(null, ...TASK_STATUSES);
const changeStepArb = fc.record({ pick: fc.option(fc.nat(), { nil: null }), to: statusOrNull });

describe('workflow machine properties', () => {
  it.prop(
    [
      fc.commands(
        [
          fc
            .array(changeStepArb, { minLength: 1, maxLength: 3 })
            .map((steps) => new WorkflowChangeCommand(steps)),
          fc.constantFrom('PAUSE', 'RESUME', 'CANCEL').map((type) => new WorkflowFlagCommand(type)),
        ],
        { maxCommands: 60 },
      ),
    ],
    { seed: 20261203 },
  )('its state always equals the documented rule (oracle) for the model counts and flags', (commands) => {
    fc.modelRun(() => {
      const actor = createActor(workflowMachine, { input: { workflowId: 'w' } });
      const steps: unknown[] = [];
      actor.on('graph.steps', (emitted) => void steps.push(emitted));
      return {
        model: {
          counts: emptyCounts(),
          started: false,
          paused: false,
          cancelled: false,
          tasks: new Map(),
          nextTask: 0,
        },
        real: { actor: actor.start(), steps },
      };
    }, commands);
  });
});

// ---------------------------------------------------------------------------------------------
// Agent machine
// ---------------------------------------------------------------------------------------------

/** Execution `e<n>` runs task `t<n>`, whose task actor has the agent as its parent. */
interface AgentModel {
  readonly max: number;
  /** Numbers of the executions in flight. */
  inFlight: number[];
  nextId: number;
  completed: number;
  failed: number;
  /** Settled executions whose task actors have not been released yet, and whether they succeeded. */
  ended: { n: number; ok: boolean }[];
}
interface AgentReal {
  actor: Actor<AgentMachine>;
  refused: string[];
  tasks: Map<number, Actor<TaskMachine>>;
}

const execution = (n: number): StartingExecution => ({ executionId: `e${n}`, taskId: `t${n}`, timeoutMs: 0 });

function checkAgent(m: AgentModel, r: AgentReal): void {
  const { context, value } = r.actor.getSnapshot();
  expect(context.inFlight).toBe(m.inFlight.length);
  expect(context.inFlight).toBeGreaterThanOrEqual(0);
  expect(context.inFlight).toBeLessThanOrEqual(context.maxConcurrency);
  expect(context.completed).toBe(m.completed);
  expect(context.failed).toBe(m.failed);
  expect(value).toBe(
    context.inFlight === 0 ? 'idle' : context.inFlight >= context.maxConcurrency ? 'full' : 'busy',
  );
}

/** RUN with `size` new executions, each with a task actor created for it first. */
class AgentRunCommand implements fc.Command<AgentModel, AgentReal> {
  constructor(readonly size: number) {}
  check = () => true;
  run(m: AgentModel, r: AgentReal): void {
    const ns = Array.from({ length: this.size }, () => m.nextId++);
    const fits = m.inFlight.length + ns.length <= m.max;
    if (fits) m.inFlight.push(...ns);
    for (const n of ns) {
      r.tasks.set(
        n,
        createActor(taskMachine, { parent: r.actor, systemId: taskSystemId(`t${n}`), input: {} }).start(),
      );
    }
    const refused = r.refused.length;
    r.actor.send({ type: 'RUN', executions: ns.map(execution) });
    // Started: the task actor took START from the agent; refused: it was not touched.
    for (const n of ns) {
      expect(r.tasks.get(n)?.getSnapshot().value).toEqual(
        fits ? { RUNNING: 'unbounded' } : { PENDING: 'ready' },
      );
    }
    expect(r.refused.slice(refused)).toEqual(fits ? [] : ns.map((n) => `e${n}`));
    checkAgent(m, r);
  }
  toString = () => `RUN(${this.size})`;
}

/**
 * RELEASE of the task actors of settled executions (and of one never seen): a FAILED one is
 * stopped; a COMPLETED one had already ended (final state) and left the system.
 */
class AgentReleaseCommand implements fc.Command<AgentModel, AgentReal> {
  constructor(readonly howMany: number) {}
  check = (m: Readonly<AgentModel>) => m.ended.length > 0;
  run(m: AgentModel, r: AgentReal): void {
    const released = m.ended.splice(0, this.howMany);
    r.actor.send({ type: 'RELEASE', taskIds: [...released.map(({ n }) => `t${n}`), 'never-seen'] });
    for (const { n, ok } of released) {
      expect(r.tasks.get(n)?.getSnapshot().status).toBe(ok ? 'done' : 'stopped');
      expect(r.actor.system.get(taskSystemId(`t${n}`))).toBeUndefined();
    }
    for (const n of m.inFlight) expect(r.tasks.get(n)?.getSnapshot().status).toBe('active');
    checkAgent(m, r);
  }
  toString = () => `RELEASE(${this.howMany})`;
}

class AgentSettleCommand implements fc.Command<AgentModel, AgentReal> {
  /** `picks` choose in-flight executions by index (modulo), each with its outcome. */
  constructor(readonly picks: readonly { index: number; ok: boolean }[]) {}
  check = (m: Readonly<AgentModel>) => m.inFlight.length > 0;
  run(m: AgentModel, r: AgentReal): void {
    const executions: SettledExecution[] = [];
    const outcomes: [number, boolean][] = [];
    for (const { index, ok } of this.picks) {
      if (m.inFlight.length === 0) break;
      const [n] = m.inFlight.splice(index % m.inFlight.length, 1) as [number];
      const outcome = ok ? ({ type: 'SUCCEED' } as const) : ({ type: 'FAIL', retryable: false } as const);
      executions.push({ executionId: `e${n}`, taskId: `t${n}`, ok, outcome });
      outcomes.push([n, ok]);
      m.ended.push({ n, ok });
      if (ok) m.completed += 1;
      else m.failed += 1;
    }
    r.actor.send({ type: 'SETTLED', executions });
    // Each task actor took its outcome from the agent.
    for (const [n, ok] of outcomes) {
      expect(r.tasks.get(n)?.getSnapshot().value).toBe(ok ? 'COMPLETED' : 'FAILED');
    }
    checkAgent(m, r);
  }
  toString = () => `SETTLED(${JSON.stringify(this.picks)})`;
}

describe('agent machine properties', () => {
  it.prop([
    fc.integer({ min: 1, max: 5 }),
    fc.commands(
      [
        fc.integer({ min: 0, max: 4 }).map((size) => new AgentRunCommand(size)),
        fc
          .array(fc.record({ index: fc.nat(), ok: fc.boolean() }), { minLength: 1, maxLength: 3 })
          .map((picks) => new AgentSettleCommand(picks)),
        fc.integer({ min: 1, max: 3 }).map((howMany) => new AgentReleaseCommand(howMany)),
      ],
      { maxCommands: 80 },
    ),
  ])(
    'inFlight stays within [0, maxConcurrency] and matches the executions in flight; task actors are started, settled and released as their executions are',
    (max, commands) => {
      fc.modelRun(() => {
        const refused: string[] = [];
        const actor = createActor(
          agentMachine.provide({
            actions: { refuseExecutions: (_, { executionIds }) => void refused.push(...executionIds) },
          }),
          { input: { agentId: 'a', maxConcurrency: max } },
        ).start();
        return {
          model: { max, inFlight: [], nextId: 0, completed: 0, failed: 0, ended: [] },
          real: { actor, refused, tasks: new Map() },
        };
      }, commands);
    },
  );

  it.prop([
    fc.integer({ min: 1, max: 5 }),
    fc.array(
      fc.oneof(
        fc.integer({ min: 0, max: 4 }).map((n) => ({ kind: 'run' as const, n })),
        fc.integer({ min: 1, max: 4 }).map((n) => ({ kind: 'settle' as const, n })),
        fc.integer({ min: -2, max: 6 }).map((n) => ({ kind: 'limit' as const, n })),
      ),
      { maxLength: 60 },
    ),
  ])('with SET_LIMIT too, the state always classifies the load and RUN never overfills', (max, steps) => {
    const actor = createActor(agentMachine, { input: { agentId: 'a', maxConcurrency: max } }).start();
    let nextId = 0;
    for (const step of steps) {
      const before = actor.getSnapshot().context;
      if (step.kind === 'run') {
        const executions = Array.from({ length: step.n }, () => execution(nextId++));
        actor.send({ type: 'RUN', executions });
        const fits = before.inFlight + step.n <= before.maxConcurrency;
        expect(actor.getSnapshot().context.inFlight).toBe(before.inFlight + (fits ? step.n : 0));
      } else if (step.kind === 'settle') {
        const n = Math.min(step.n, before.inFlight);
        const executions = Array.from({ length: n }, (_, i) => ({
          executionId: `s${i}`,
          taskId: `s${i}`,
          ok: true,
        }));
        actor.send({ type: 'SETTLED', executions });
        expect(actor.getSnapshot().context.inFlight).toBe(before.inFlight - n);
      } else {
        actor.send({ type: 'SET_LIMIT', maxConcurrency: step.n });
        expect(actor.getSnapshot().context.maxConcurrency).toBe(Math.max(1, step.n));
      }
      const { context, value } = actor.getSnapshot();
      expect(context.maxConcurrency).toBeGreaterThanOrEqual(1);
      expect(context.inFlight).toBeGreaterThanOrEqual(0);
      expect(value).toBe(
        context.inFlight === 0 ? 'idle' : context.inFlight >= context.maxConcurrency ? 'full' : 'busy',
      );
    }
  });
});
