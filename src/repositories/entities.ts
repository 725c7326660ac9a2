import { TASK_STATUSES, WORKFLOW_STATUSES } from '../../machines/status.js';
import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';

/**
 * How a field is stored. `json` fields hold any JSON value and cannot be filtered or sorted on;
 * every other kind is a scalar column.
 */
export type FieldKind = 'text' | 'number' | 'integer' | 'boolean' | 'status' | 'json';

export interface FieldSpec<T> {
  field: keyof T & string;
  /** The SQL column; every identifier in generated SQL comes from here, never from a caller. */
  column: string;
  kind: FieldKind;
  /** Whether the value may be `null` (or `undefined` for `json`, stored as SQL NULL). */
  nullable: boolean;
}

/** One kind of entity as every store sees it: the allow-list of fields, columns and constraints. */
export interface EntitySpec<T extends { id: string }> {
  /** Used in messages: "a task with id ...". */
  entity: string;
  table: string;
  fields: readonly FieldSpec<T>[];
  /** Fields whose non-null values are unique across rows (besides `id`). */
  unique: readonly (keyof T & string)[];
  /** Values its `status` fields accept (a CHECK constraint in SQL stores); none when absent. */
  statuses?: readonly string[];
}

/** The values `spec`'s status fields accept. */
export function statusValues<T extends { id: string }>(spec: EntitySpec<T>): readonly string[] {
  return spec.statuses ?? [];
}

function column(field: string): string {
  return field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function fields<T>(list: ReadonlyArray<[keyof T & string, FieldKind, boolean?]>): FieldSpec<T>[] {
  return list.map(([field, kind, nullable = false]) => ({ field, column: column(field), kind, nullable }));
}

export const taskSpec: EntitySpec<Task> = {
  entity: 'task',
  table: 'tasks',
  fields: fields<Task>([
    ['id', 'text'],
    ['name', 'text'],
    ['description', 'text'],
    ['inputData', 'json'],
    ['outputData', 'json', true],
    ['tags', 'json'],
    ['priority', 'number'],
    ['status', 'status'],
    ['attempts', 'integer'],
    ['errors', 'json'],
    ['workflowId', 'text', true],
    ['agentId', 'text', true],
    ['idempotencyKey', 'text', true],
    ['metadata', 'json'],
    ['createdAt', 'number'],
    ['updatedAt', 'number'],
    ['startedAt', 'number', true],
    ['finishedAt', 'number', true],
    ['runAfter', 'number', true],
    ['execution', 'json', true],
    ['leaseOwner', 'text', true],
    ['leaseExpiresAt', 'number', true],
    ['graph', 'json', true],
  ]),
  unique: ['idempotencyKey'],
  statuses: TASK_STATUSES,
};

/**
 * The fields of a task that its lifecycle changes (status and the bookkeeping that moves with it).
 * A state write (`StoreBatch.taskStates`) writes these and leaves the others as stored.
 */
export const TASK_STATE_FIELDS: readonly (keyof Task & string)[] = [
  'status',
  'attempts',
  'errors',
  'outputData',
  'agentId',
  'updatedAt',
  'startedAt',
  'finishedAt',
  'runAfter',
  'execution',
  'leaseOwner',
  'leaseExpiresAt',
];

/**
 * Whether a state write may replace `stored` with `next`: a task that is COMPLETED in the store stays
 * COMPLETED (a completion that committed first wins over a late cancel, failure or release).
 */
export function mayChangeState(stored: Pick<Task, 'status'>, next: Pick<Task, 'status'>): boolean {
  return stored.status !== 'COMPLETED' || next.status === 'COMPLETED';
}

/** `taskSpec` narrowed to the fields a state write changes, in the same order. */
export const taskStateSpec: EntitySpec<Task> = {
  ...taskSpec,
  fields: taskSpec.fields.filter((f) => TASK_STATE_FIELDS.includes(f.field)),
};

export const workflowSpec: EntitySpec<Workflow> = {
  entity: 'workflow',
  table: 'workflows',
  fields: fields<Workflow>([
    ['id', 'text'],
    ['name', 'text'],
    ['description', 'text'],
    ['status', 'status'],
    ['paused', 'boolean'],
    ['cancelled', 'boolean'],
    ['metadata', 'json'],
    ['createdAt', 'number'],
    ['updatedAt', 'number'],
  ]),
  unique: [],
  statuses: WORKFLOW_STATUSES,
};

export const agentConfigSpec: EntitySpec<AgentConfig> = {
  entity: 'agent config',
  table: 'agent_configs',
  fields: fields<AgentConfig>([
    ['id', 'text'],
    ['name', 'text'],
    ['type', 'text'],
    ['description', 'text'],
    ['capabilities', 'json'],
    ['maxConcurrency', 'integer'],
    ['metadata', 'json'],
    ['createdAt', 'number'],
    ['updatedAt', 'number'],
    ['circuitBreaker', 'json', true],
    ['rateLimits', 'json', true],
    ['quota', 'json', true],
  ]),
  unique: [],
};

/** The field of `spec` stored in `column`, if any. */
export function fieldOfColumn<T extends { id: string }>(
  spec: EntitySpec<T>,
  columnName: string,
): FieldSpec<T> | undefined {
  return spec.fields.find((field) => field.column === columnName);
}
