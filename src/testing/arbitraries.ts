import fc from 'fast-check';
import type { TaskStatus } from '../../machines/status.js';
import type { TaskMachineEvent } from '../../machines/task.machine.js';
import type { TaskStatusChange, WorkflowMachineEvent } from '../../machines/workflow.machine.js';
import type { CreateTaskInput } from '../domain/task.js';

type JsonScalar = string | number | boolean | null;
type JsonData = JsonScalar | JsonData[] | { [key: string]: JsonData };

const key = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== '__proto__');
const scalar: fc.Arbitrary<JsonScalar> = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((n) => (n === 0 ? 0 : n)),
  fc.boolean(),
  fc.constant(null),
);
const json: fc.Arbitrary<JsonData> = fc.letrec<{ value: JsonData }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).value;

/** Plain JSON records (no -0, no NaN, no `__proto__` key): what `inputData` and `metadata` hold. */
export function jsonRecordArbitrary(): fc.Arbitrary<Record<string, JsonData>> {
  return fc.dictionary(key, json, { maxKeys: 5, noNullPrototype: true });
}

export interface TaskInputArbitraryOptions {
  /** Tags are drawn from these. @default a few capability words */
  tags?: readonly string[];
  /** Whether to add a (unique) idempotency key. @default false */
  idempotencyKey?: boolean;
}

/**
 * Valid `createTask` inputs: names, optional description, JSON inputData and metadata, tags and
 * priority. No workflowId (it must name an existing workflow).
 */
export function taskInputArbitrary(options: TaskInputArbitraryOptions = {}): fc.Arbitrary<CreateTaskInput> {
  const tags = options.tags ?? ['text', 'code', 'math', 'summarize', 'translate'];
  const fields = {
    name: fc.string({ minLength: 1, maxLength: 40 }),
    description: fc.string({ maxLength: 80 }),
    inputData: jsonRecordArbitrary(),
    metadata: jsonRecordArbitrary(),
    tags: fc.uniqueArray(fc.constantFrom(...tags), { maxLength: tags.length }),
    priority: fc.integer({ min: -10, max: 10 }),
  };
  if (!options.idempotencyKey) return fc.record(fields, { requiredKeys: ['name'] });
  return fc.record({ ...fields, idempotencyKey: fc.uuid() }, { requiredKeys: ['name', 'idempotencyKey'] });
}

/** Any event of the task machine, with small delays and timeouts. */
export function taskEventArbitrary(): fc.Arbitrary<TaskMachineEvent> {
  return fc.oneof(
    fc.record(
      { type: fc.constant('START' as const), timeoutMs: fc.nat({ max: 1_000 }) },
      { requiredKeys: ['type'] },
    ),
    fc.constant({ type: 'SUCCEED' as const }),
    fc.record(
      {
        type: fc.constant('FAIL' as const),
        retryable: fc.boolean(),
        retryAfterMs: fc.nat({ max: 1_000 }),
        random: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        interrupted: fc.boolean(),
      },
      { requiredKeys: ['type', 'retryable'] },
    ),
    fc.constant({ type: 'PAUSE' as const }),
    fc.constant({ type: 'RESUME' as const }),
    fc.constant({ type: 'CANCEL' as const }),
    fc.constant({ type: 'RETRY' as const }),
  );
}

/** The status changes a task can make, as the engine makes them. */
const NEXT_STATUS: Record<TaskStatus, readonly TaskStatus[]> = {
  PENDING: ['RUNNING', 'PAUSED', 'CANCELLED', 'SKIPPED', 'FAILED'],
  RUNNING: ['COMPLETED', 'FAILED', 'PENDING', 'CANCELLED'],
  PAUSED: ['PENDING', 'CANCELLED', 'SKIPPED', 'FAILED'],
  COMPLETED: [],
  FAILED: [],
  CANCELLED: [],
  SKIPPED: [],
};

type Step = { kind: 'tasks'; picks: number[] } | { kind: 'PAUSE' | 'RESUME' | 'CANCEL' };

/** Turns picks into changes that a real set of tasks could make (joins and legal transitions). */
function toEvents(steps: readonly Step[]): WorkflowMachineEvent[] {
  const statuses: TaskStatus[] = [];
  return steps.map((step): WorkflowMachineEvent => {
    if (step.kind !== 'tasks') return { type: step.kind };
    const changes: TaskStatusChange[] = [];
    for (const pick of step.picks) {
      const index = statuses.length === 0 || pick % 4 === 0 ? -1 : pick % statuses.length;
      const from = index === -1 ? null : statuses[index]!;
      const options = from === null ? [] : NEXT_STATUS[from];
      if (from === null || options.length === 0) {
        statuses.push('PENDING');
        changes.push({ taskId: `t${statuses.length - 1}`, from: null, to: 'PENDING' });
      } else {
        const to = options[(pick >> 2) % options.length]!;
        statuses[index] = to;
        changes.push({ taskId: `t${index}`, from, to });
      }
    }
    return { type: 'TASKS_CHANGED', changes };
  });
}

/**
 * Sequences of workflow machine events whose TASKS_CHANGED changes are consistent: tasks join as
 * PENDING and move only along the task machine's transitions; PAUSE, RESUME and CANCEL mixed in.
 */
export function workflowEventSequenceArbitrary(
  options: { maxLength?: number } = {},
): fc.Arbitrary<WorkflowMachineEvent[]> {
  const step: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('tasks' as const),
        picks: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'PAUSE' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'RESUME' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'CANCEL' as const }) },
  );
  return fc.array(step, { maxLength: options.maxLength ?? 30 }).map(toEvents);
}
