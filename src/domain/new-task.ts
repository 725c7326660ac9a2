import type { Task } from './task.js';

/** What a new task is given; everything else starts empty (no attempt, output, lease or plan). */
export type NewTaskFields = Pick<Task, 'id' | 'name' | 'workflowId'> &
  Partial<
    Pick<Task, 'description' | 'inputData' | 'tags' | 'priority' | 'idempotencyKey' | 'metadata' | 'graph'>
  >;

/** A task as it is made (its status is the task machine's initial one, set by the door). */
export function newTask(fields: NewTaskFields, now: number): Omit<Task, 'status'> {
  return {
    description: '',
    inputData: {},
    tags: [],
    priority: 0,
    idempotencyKey: null,
    metadata: {},
    graph: null,
    ...fields,
    outputData: null,
    attempts: 0,
    errors: [],
    agentId: null,
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    finishedAt: null,
    runAfter: null,
    execution: null,
    leaseOwner: null,
    leaseExpiresAt: null,
  };
}
