import type { BreakerState } from '../../machines/circuit-breaker.machine.js';
import type { TaskStatus, WorkflowStatus } from '../../machines/status.js';
import { outputUsage, type TokenUsage } from '../ai/usage.js';
import type { AttemptError, Task } from '../domain/task.js';
import { EventHub } from './event-hub.js';
import type { Logger } from './logger.js';

/** What every task event carries. `at`: when the change was made, on the engine's clock. */
export interface TaskEventFields {
  taskId: string;
  workflowId: string | null;
  name: string;
  at: number;
}

/**
 * How long a start waited at a rate limit for its token (docs/policies.md "Rate limits"): `ms` on
 * the engine's clock, from when the gate first held it back (or from when it was queued, if later)
 * to when it took its token; `gate`: the agent's buckets or its fairness key's (the longer wait of
 * the two when both apply); `kind`: the kind of bucket that came up short, null when none did.
 */
export interface RateWait {
  ms: number;
  gate: 'agent' | 'key';
  kind: 'requests' | 'tokens' | null;
}

/**
 * The engine's events by name (`registry.on(name, listener)`, `registry.events()`). Each is
 * published once the change it reports has committed to the store, in commit order; a write the
 * store refused (another engine holds the task) publishes nothing.
 */
export interface SymphonyEvents {
  'task.created': TaskEventFields;
  /**
   * An attempt started: `attempt` counts from 1 over the task's whole life. `rateWait`: its wait at
   * a rate limit (null when no rate limit applies to its agent or fairness key).
   */
  'task.started': TaskEventFields & { attempt: number; agentId: string | null; rateWait: RateWait | null };
  /**
   * An attempt failed; `willRetry`: the retry policy gives it another (the task waits in PENDING
   * until `retryAt`, epoch ms, or null when it does not wait). `agentId`: whose attempt it was.
   */
  'task.attemptFailed': TaskEventFields & {
    attempt: number;
    willRetry: boolean;
    error: AttemptError | null;
    agentId: string | null;
    retryAt: number | null;
  };
  /**
   * The task ended COMPLETED. `agentId`: the agent of its last attempt (null if it never ran);
   * `usage` and `modelId`: what the succeeding attempt's output reports (`outputData.usage`,
   * `outputData.modelId`, as `symphony-engine/ai` returns them), null otherwise.
   */
  'task.completed': TaskEventFields & {
    attempts: number;
    agentId: string | null;
    usage: TokenUsage | null;
    modelId: string | null;
  };
  /**
   * The task ended FAILED: its last attempt failed for good, or it never ran (a graph rejected it).
   * `agentId`: the agent of its last attempt (null if it never ran).
   */
  'task.failed': TaskEventFields & { attempts: number; error: AttemptError | null; agentId: string | null };
  'task.cancelled': TaskEventFields;
  'task.skipped': TaskEventFields;
  'task.paused': TaskEventFields;
  /** A PAUSED task is PENDING again. */
  'task.resumed': TaskEventFields;
  /** A FAILED or CANCELLED task was given a new run (`retryTask`, a re-drive). */
  'task.retried': TaskEventFields;
  /** A workflow's status changed (derived from its tasks, or set by pause / resume / cancel). */
  'workflow.status': {
    workflowId: string;
    name: string;
    from: WorkflowStatus;
    to: WorkflowStatus;
    at: number;
  };
  /**
   * An agent config's circuit breaker changed state; `observed`: this engine read the change from
   * the store (another engine's breaker made it), else its own breaker made it.
   */
  'agent.circuit': { agentId: string; from: BreakerState; to: BreakerState; observed: boolean; at: number };
  /**
   * An agent's load in this engine after a commit that changed it (at most one a commit per agent):
   * its attempts running here, its limit (null: none) and its agent machine's state.
   */
  'agent.load': {
    agentId: string;
    inFlight: number;
    maxConcurrency: number | null;
    state: 'idle' | 'busy' | 'full';
    at: number;
  };
  /** This registry's worker started claiming work from the store (`startWorker`). */
  'worker.started': { engineId: string; at: number };
  /** This registry's worker stopped claiming (`stop`): published before its running attempts end. */
  'worker.stopped': { engineId: string; at: number };
}

export type SymphonyEventName = keyof SymphonyEvents;

export const SYMPHONY_EVENT_NAMES: readonly SymphonyEventName[] = [
  'task.created',
  'task.started',
  'task.attemptFailed',
  'task.completed',
  'task.failed',
  'task.cancelled',
  'task.skipped',
  'task.paused',
  'task.resumed',
  'task.retried',
  'workflow.status',
  'agent.circuit',
  'agent.load',
  'worker.started',
  'worker.stopped',
];

export type EngineEvents = EventHub<SymphonyEvents>;

export function createEngineEvents(logger: Logger): EngineEvents {
  return new EventHub<SymphonyEvents>(SYMPHONY_EVENT_NAMES, logger);
}

/** One event as the engine builds it, once: written to the store and published to its listeners. */
export type EventDraft = {
  [K in SymphonyEventName]: { name: K; payload: SymphonyEvents[K] };
}[SymphonyEventName];

/**
 * Where an engine's events go: into the store with the commit of the change they report (unless
 * the `storeEvents` option is off or the store keeps none) and, after it, to this engine's
 * listeners (`registry.on`, `registry.events()`).
 */
export class EventOutlet {
  constructor(
    /** This engine's listeners; null: nobody can listen. */
    readonly hub: EngineEvents | null,
    /** Events are written to the store. */
    readonly stored: boolean,
    /** Called after each commit that wrote events (wakes this engine's watches of the store). */
    readonly written: () => void = () => {},
  ) {}

  /** Whether an event of `name` goes anywhere: build it only then. */
  wants(name: SymphonyEventName): boolean {
    return this.stored || (this.hub?.wants(name) ?? false);
  }

  /** Tells this engine's listeners, in order. */
  publish(drafts: readonly EventDraft[]): void {
    const hub = this.hub;
    if (hub === null) return;
    for (const draft of drafts) if (hub.wants(draft.name)) hub.publish(draft.name, draft.payload as never);
  }
}

/**
 * Builds an event once everything staged so far is taken for a commit, to be written with it and
 * published after it (see Committer.announce); `taskId`: dropped with a refused write of that task.
 */
export type Announce = (taskId: string | null, build: () => EventDraft[]) => void;

/**
 * Announces the events a task status change stands for. They are built when the commit is taken,
 * so the error of a failed attempt (recorded just after the machine takes FAIL) and the output of a
 * completed one are those the commit writes.
 */
export function announceTaskChange(
  outlet: EventOutlet,
  announce: Announce,
  task: Task,
  from: TaskStatus | null,
  to: TaskStatus,
  at: number,
  rateWait: RateWait | null = null,
): void {
  const names = namesOf(from, to);
  if (names.length === 0 || !names.some((name) => outlet.wants(name))) return;
  const taskId = task.id;
  const workflowId = task.workflowId;
  const name = task.name;
  const attempt = task.attempts;
  const agentId = task.agentId;
  const retryAt = to === 'PENDING' ? task.runAfter : null;
  // Payloads are spelled out field by field: object spread is slow on the hot path (FACTS.md).
  const draft = (event: TaskEventName): EventDraft => {
    switch (event) {
      case 'task.started':
        return { name: event, payload: { taskId, workflowId, name, at, attempt, agentId, rateWait } };
      case 'task.attemptFailed': {
        const error = task.errors.findLast((e) => e.attempt === attempt) ?? null;
        const willRetry = to === 'PENDING';
        const payload = { taskId, workflowId, name, at, attempt, willRetry, error, agentId, retryAt };
        return { name: event, payload };
      }
      case 'task.completed': {
        const record = from === 'RUNNING' ? outputUsage(task.outputData) : null;
        const usage = record?.usage ?? null;
        const modelId = record?.modelId ?? null;
        return {
          name: event,
          payload: { taskId, workflowId, name, at, attempts: attempt, agentId, usage, modelId },
        };
      }
      case 'task.failed': {
        const error = task.errors.findLast((e) => e.attempt === attempt) ?? null;
        return { name: event, payload: { taskId, workflowId, name, at, attempts: attempt, error, agentId } };
      }
      default:
        return { name: event, payload: { taskId, workflowId, name, at } };
    }
  };
  announce(taskId, names.length === 1 ? () => [draft(names[0]!)] : () => names.map(draft));
}

function namesOf(from: TaskStatus | null, to: TaskStatus): readonly TaskEventName[] {
  if (from === null) return ['task.created'];
  if (from === to) return [];
  switch (to) {
    case 'RUNNING':
      return ['task.started'];
    case 'PENDING':
      if (from === 'RUNNING') return ['task.attemptFailed'];
      if (from === 'PAUSED') return ['task.resumed'];
      return from === 'FAILED' || from === 'CANCELLED' ? ['task.retried'] : [];
    case 'COMPLETED':
      return ['task.completed'];
    case 'FAILED':
      return from === 'RUNNING' ? ['task.attemptFailed', 'task.failed'] : ['task.failed'];
    case 'CANCELLED':
      return ['task.cancelled'];
    case 'SKIPPED':
      return ['task.skipped'];
    case 'PAUSED':
      return ['task.paused'];
  }
}

type TaskEventName = Extract<SymphonyEventName, `task.${string}`>;
