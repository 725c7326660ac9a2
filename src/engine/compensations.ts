import { newTask } from '../domain/new-task.js';
import type { Task } from '../domain/task.js';
import { ErrorCode } from '../errors/codes.js';
import { planCompensations } from '../graph/compensation.js';
import type { Runtime } from './runtime.js';
import { copyPayload } from './payload.js';
import type { LiveWorkflow } from './workflows.js';

/** What making a workflow's compensations needs of the engine. */
export type CompensationEngine = Pick<Runtime, 'options' | 'store' | 'committer' | 'workflows' | 'door'>;

/**
 * Makes the compensating tasks of a failed workflow that are not made yet (see
 * `planCompensations`), all in one commit, as nodes of its graph: the first one is released, each
 * next one waits for the one before. Returns how many it made (none when they all exist: a restart,
 * another engine made them).
 */
export async function makeCompensations(engine: CompensationEngine, entry: LiveWorkflow): Promise<number> {
  const { store, committer, workflows, door, options } = engine;
  const workflowId = entry.row.id;
  await committer.settle();
  const tasks = await store.tasks.find({ where: { workflowId } });
  const made = new Set(tasks.map((task) => task.id));
  const now = options.clock.now();
  const joining: Task[] = [];
  for (const { id, of, after } of planCompensations(tasks)) {
    if (made.has(id) || engine.workflows.peek(workflowId) !== entry) continue;
    const compensate = of.graph!.compensate!;
    const inputData = copyPayload(
      { ...compensate.input, compensated: { taskId: of.id, input: of.inputData, output: of.outputData } },
      'inputData',
      options.maxPayloadBytes,
      ErrorCode.INPUT_NOT_SERIALIZABLE,
    ) as Record<string, unknown>;
    const fields = newTask(
      {
        id,
        name: compensate.name,
        description: `Compensates ${of.name} (${of.id})`,
        inputData,
        tags: [...(compensate.tags ?? of.tags)],
        priority: of.priority,
        workflowId,
        graph: { dependsOn: after === null ? [] : [after], key: null, when: null, compensates: of.id },
      },
      now,
    );
    joining.push(door.create(fields));
  }
  // As nodes before their joins reach the workflow machine (a plain joiner would be released).
  if (joining.length > 0) workflows.addNodes(entry, joining);
  await committer.settle();
  return joining.length;
}

/**
 * Where a workflow's compensations stand: `declared` when a task of it declares one; `done` when
 * every compensating task made so far COMPLETED; `moving` when one is ready or running.
 */
export function sagaOf(entry: LiveWorkflow): { declared: boolean; done: boolean; moving: boolean } {
  const saga = { declared: false, done: true, moving: false };
  const graph = entry.graph;
  if (!graph) return saga;
  const nodes = entry.actor.getSnapshot().context.graph?.nodes;
  for (const [taskId, spec] of graph.specs) {
    if (spec.compensate) saga.declared = true;
    if (!spec.compensates) continue;
    const state = nodes?.get(taskId)?.state;
    if (state !== 'done') saga.done = false;
    if (state === 'ready' || state === 'running') saga.moving = true;
  }
  return saga;
}
