import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  applyChanges,
  deriveWorkflowStatus,
  emptyCounts,
  TASK_STATUSES,
  WORKFLOW_STATUSES,
  workflowMachine,
  type TaskCounts,
  type TaskStatusChange,
  type WorkflowMachineInput,
  type WorkflowStatus,
} from '../../machines/index.js';

function startWorkflow(input: Partial<WorkflowMachineInput> = {}) {
  return createActor(workflowMachine, { input: { workflowId: 'w1', ...input } }).start();
}

/** Tasks `t1`, `t2`... joining in these statuses (ids from `first` on). */
const add = (statuses: TaskStatusChange['to'][], first = 1): TaskStatusChange[] =>
  statuses.map((to, i) => ({ taskId: `t${first + i}`, from: null, to }));
const move = (
  taskId: string,
  from: TaskStatusChange['from'],
  to: TaskStatusChange['to'],
): TaskStatusChange => ({
  taskId,
  from,
  to,
});

describe('deriveWorkflowStatus', () => {
  const base = { started: false, paused: false, cancelled: false };
  const counts = (partial: Partial<TaskCounts>): TaskCounts => ({ ...emptyCounts(), ...partial });

  it.each([
    ['no tasks', counts({}), base, 'PENDING'],
    ['all completed', counts({ COMPLETED: 3 }), { ...base, started: true }, 'COMPLETED'],
    ['any failed, others running', counts({ FAILED: 1, RUNNING: 2 }), { ...base, started: true }, 'FAILED'],
    ['failed beats cancelled', counts({ FAILED: 1, CANCELLED: 1 }), { ...base, started: true }, 'FAILED'],
    ['finished with some cancelled', counts({ COMPLETED: 2, CANCELLED: 1 }), base, 'CANCELLED'],
    ['all cancelled', counts({ CANCELLED: 2 }), base, 'CANCELLED'],
    ['nothing started yet', counts({ PENDING: 2, PAUSED: 1 }), base, 'PENDING'],
    ['started, work left', counts({ PENDING: 1, COMPLETED: 1 }), { ...base, started: true }, 'RUNNING'],
    [
      'paused beats everything',
      counts({ COMPLETED: 1 }),
      { ...base, paused: true, cancelled: true },
      'PAUSED',
    ],
    ['cancelled by hand beats counts', counts({ COMPLETED: 1 }), { ...base, cancelled: true }, 'CANCELLED'],
    ['all skipped, none ran', counts({ SKIPPED: 2 }), base, 'COMPLETED'],
    ['completed and skipped', counts({ COMPLETED: 1, SKIPPED: 2 }), { ...base, started: true }, 'COMPLETED'],
    ['failed beats skipped', counts({ FAILED: 1, SKIPPED: 1 }), { ...base, started: true }, 'FAILED'],
    ['skipped and cancelled', counts({ SKIPPED: 1, CANCELLED: 1 }), base, 'CANCELLED'],
    ['done and cancelled', counts({ COMPLETED: 1, SKIPPED: 1, CANCELLED: 1 }), base, 'CANCELLED'],
    ['skipped, one not started', counts({ SKIPPED: 1, PENDING: 1 }), base, 'PENDING'],
    ['skipped, work left', counts({ SKIPPED: 1, PAUSED: 1 }), { ...base, started: true }, 'RUNNING'],
  ] as const)('%s -> %s', (_name, taskCounts, flags, expected) => {
    expect(deriveWorkflowStatus({ counts: taskCounts, ...flags })).toBe(expected);
  });

  it('applyChanges moves, adds and removes tasks and never goes negative', () => {
    const next = applyChanges(counts({ PENDING: 2 }), [
      move('t1', 'PENDING', 'RUNNING'),
      move('t3', null, 'PENDING'),
      move('t2', 'PENDING', null),
      move('t9', 'FAILED', null),
    ]);
    expect(next).toEqual(counts({ PENDING: 1, RUNNING: 1 }));
  });
});

describe('workflow machine', () => {
  it('starts PENDING with no tasks', () => {
    const actor = startWorkflow();
    expect(actor.getSnapshot().value).toBe('PENDING');
    expect(actor.getSnapshot().context.counts).toEqual(emptyCounts());
  });

  it('derives its initial state from the input counts and flags', () => {
    expect(startWorkflow({ counts: { COMPLETED: 2 } }).getSnapshot().value).toBe('COMPLETED');
    expect(startWorkflow({ counts: { PENDING: 1 }, started: true }).getSnapshot().value).toBe('RUNNING');
    expect(startWorkflow({ counts: { PENDING: 1 }, paused: true }).getSnapshot().value).toBe('PAUSED');
    expect(startWorkflow({ counts: { RUNNING: 1 }, cancelled: true }).getSnapshot().value).toBe('CANCELLED');
  });

  it('follows the counts through a whole run: PENDING -> RUNNING -> COMPLETED', () => {
    const actor = startWorkflow();
    actor.send({ type: 'TASKS_CHANGED', changes: add(['PENDING', 'PENDING']) });
    expect(actor.getSnapshot().value).toBe('PENDING');
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t1', 'PENDING', 'RUNNING')] });
    expect(actor.getSnapshot().value).toBe('RUNNING');
    expect(actor.getSnapshot().context.started).toBe(true);
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t1', 'RUNNING', 'COMPLETED')] });
    expect(actor.getSnapshot().value).toBe('RUNNING');
    actor.send({
      type: 'TASKS_CHANGED',
      changes: [move('t2', 'PENDING', 'RUNNING'), move('t2', 'RUNNING', 'COMPLETED')],
    });
    expect(actor.getSnapshot().value).toBe('COMPLETED');
    expect(actor.getSnapshot().context.counts).toEqual({ ...emptyCounts(), COMPLETED: 2 });
  });

  it('stays RUNNING once started even if every task is back to PENDING (a retry)', () => {
    const actor = startWorkflow();
    actor.send({ type: 'TASKS_CHANGED', changes: add(['RUNNING']) });
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t1', 'RUNNING', 'PENDING')] });
    expect(actor.getSnapshot().value).toBe('RUNNING');
  });

  it('becomes FAILED as soon as any task fails, and leaves FAILED when that task leaves', () => {
    const actor = startWorkflow();
    actor.send({ type: 'TASKS_CHANGED', changes: add(['RUNNING', 'RUNNING']) });
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t1', 'RUNNING', 'FAILED')] });
    expect(actor.getSnapshot().value).toBe('FAILED');
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t1', 'FAILED', null)] });
    expect(actor.getSnapshot().value).toBe('RUNNING');
  });

  it('becomes CANCELLED when every task finished and some were cancelled', () => {
    const actor = startWorkflow();
    actor.send({ type: 'TASKS_CHANGED', changes: add(['COMPLETED', 'PENDING']) });
    expect(actor.getSnapshot().value).toBe('RUNNING');
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t2', 'PENDING', 'CANCELLED')] });
    expect(actor.getSnapshot().value).toBe('CANCELLED');
    // Not sticky: the derived CANCELLED follows the counts, unlike CANCEL by hand.
    actor.send({ type: 'TASKS_CHANGED', changes: add(['PENDING'], 3) });
    expect(actor.getSnapshot().value).toBe('RUNNING');
  });

  it('goes back to PENDING when its last task leaves', () => {
    const actor = startWorkflow();
    actor.send({ type: 'TASKS_CHANGED', changes: add(['COMPLETED']) });
    expect(actor.getSnapshot().value).toBe('COMPLETED');
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t1', 'COMPLETED', null)] });
    expect(actor.getSnapshot().value).toBe('PENDING');
  });

  it('PAUSE is sticky over task changes until RESUME, which returns to the derived status', () => {
    const actor = startWorkflow();
    actor.send({ type: 'TASKS_CHANGED', changes: add(['PENDING', 'RUNNING']) });
    actor.send({ type: 'PAUSE' });
    expect(actor.getSnapshot().value).toBe('PAUSED');
    for (const change of [
      move('t2', 'RUNNING', 'COMPLETED'),
      move('t1', 'PENDING', 'FAILED'),
      move('t1', 'FAILED', 'CANCELLED'),
      move('t3', null, 'PENDING'),
    ]) {
      actor.send({ type: 'TASKS_CHANGED', changes: [change] });
      expect(actor.getSnapshot().value).toBe('PAUSED');
    }
    actor.send({ type: 'PAUSE' });
    expect(actor.getSnapshot().value).toBe('PAUSED');
    actor.send({ type: 'RESUME' });
    expect(actor.getSnapshot().value).toBe('RUNNING');
    expect(actor.getSnapshot().context.counts).toEqual({
      ...emptyCounts(),
      PENDING: 1,
      COMPLETED: 1,
      CANCELLED: 1,
    });
  });

  it('refuses PAUSE once every task completed or after a cancel (can() says so, the state stays)', () => {
    const done = startWorkflow({ counts: { COMPLETED: 2 }, started: true });
    expect(done.getSnapshot().value).toBe('COMPLETED');
    expect(done.getSnapshot().can({ type: 'PAUSE' })).toBe(false);
    done.send({ type: 'PAUSE' });
    expect(done.getSnapshot().value).toBe('COMPLETED');
    const cancelled = startWorkflow({ counts: { PENDING: 1 }, cancelled: true });
    expect(cancelled.getSnapshot().can({ type: 'PAUSE' })).toBe(false);
    const failed = startWorkflow({ counts: { FAILED: 1 }, started: true });
    expect(failed.getSnapshot().can({ type: 'PAUSE' })).toBe(true);
  });

  it('RESUME without a pause changes nothing', () => {
    const actor = startWorkflow();
    actor.send({ type: 'TASKS_CHANGED', changes: add(['RUNNING']) });
    actor.send({ type: 'RESUME' });
    expect(actor.getSnapshot().value).toBe('RUNNING');
  });

  it('CANCEL is sticky: task changes, PAUSE and RESUME all leave it CANCELLED', () => {
    const actor = startWorkflow();
    actor.send({ type: 'TASKS_CHANGED', changes: add(['RUNNING']) });
    actor.send({ type: 'CANCEL' });
    expect(actor.getSnapshot().value).toBe('CANCELLED');
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t1', 'RUNNING', 'COMPLETED')] });
    expect(actor.getSnapshot().value).toBe('CANCELLED');
    actor.send({ type: 'PAUSE' });
    expect(actor.getSnapshot().value).toBe('CANCELLED');
    expect(actor.getSnapshot().context.paused).toBe(false);
    actor.send({ type: 'RESUME' });
    expect(actor.getSnapshot().value).toBe('CANCELLED');
    // The actor stays alive (no final state) so counts keep being tracked.
    expect(actor.getSnapshot().status).toBe('active');
  });

  it('CANCEL while paused cancels and clears the pause', () => {
    const actor = startWorkflow({ counts: { PENDING: 1 } });
    actor.send({ type: 'PAUSE' });
    actor.send({ type: 'CANCEL' });
    expect(actor.getSnapshot().value).toBe('CANCELLED');
    expect(actor.getSnapshot().context).toMatchObject({ paused: false, cancelled: true });
  });

  it('can be in each of the six workflow statuses, one per top-level state (SKIPPED is a task status only)', () => {
    expect(Object.keys(workflowMachine.root.states).sort()).toEqual([...WORKFLOW_STATUSES].sort());
    expect(WORKFLOW_STATUSES).toHaveLength(6);
    expect(TASK_STATUSES.filter((status) => !WORKFLOW_STATUSES.includes(status as WorkflowStatus))).toEqual([
      'SKIPPED',
    ]);
  });

  it('counts SKIPPED as done: skipped and completed tasks complete it, even if none ran', () => {
    const actor = startWorkflow();
    actor.send({ type: 'TASKS_CHANGED', changes: add(['PENDING', 'PENDING']) });
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t1', 'PENDING', 'SKIPPED')] });
    // SKIPPED is not a start: one task left that never ran.
    expect(actor.getSnapshot().value).toBe('PENDING');
    expect(actor.getSnapshot().context.started).toBe(false);
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t2', 'PENDING', 'SKIPPED')] });
    expect(actor.getSnapshot().value).toBe('COMPLETED');
    expect(actor.getSnapshot().can({ type: 'PAUSE' })).toBe(false);
    actor.send({ type: 'TASKS_CHANGED', changes: add(['RUNNING'], 3) });
    expect(actor.getSnapshot().value).toBe('RUNNING');
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t3', 'RUNNING', 'CANCELLED')] });
    expect(actor.getSnapshot().value).toBe('CANCELLED');
    actor.send({ type: 'TASKS_CHANGED', changes: [move('t3', 'CANCELLED', 'FAILED')] });
    expect(actor.getSnapshot().value).toBe('FAILED');
    expect(actor.getSnapshot().context.counts).toEqual({ ...emptyCounts(), SKIPPED: 2, FAILED: 1 });
  });
});
