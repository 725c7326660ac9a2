import type { StoreBatch } from './store.js';

/**
 * The coordinator fence of a batch (`StoreBatch.coordination`, see docs/scale-out.md, "Graph
 * workflows on workers"): the batch writes these submitted workflows as their coordinator, so
 * their writes apply only where the store (`workflow_runs.coordinator`) still names `engineId`
 * as the coordinator, checked in the commit's transaction with the runs' rows locked. A
 * coordinator paused past its liveness window, whose workflow another worker took over, thus
 * makes no node, writes no row and records no result of that workflow when it wakes up.
 */
export interface CoordinationFence {
  /** The engine that writes as the coordinator. */
  engineId: string;
  /** The submitted workflows the batch writes as their coordinator (each once). */
  workflowIds: readonly string[];
}

/**
 * The workflows of a fence whose stored coordinator (`coordinatorOf`: null when none, undefined
 * when the workflow is not submitted) is not the fence's engine: the batch lost them.
 */
export function lostWorkflows(
  fence: CoordinationFence | undefined,
  coordinatorOf: (workflowId: string) => string | null | undefined,
): Set<string> {
  const lost = new Set<string>();
  for (const workflowId of fence?.workflowIds ?? []) {
    if (coordinatorOf(workflowId) !== fence!.engineId) lost.add(workflowId);
  }
  return lost;
}

/**
 * The batch without the writes of the workflows in `lost`: their task rows (whole and state
 * writes), workflow rows and status derivations, the completion records and signal takes of
 * those tasks, and the events of those tasks and workflows. Control records (beats, commands,
 * acknowledgements, signals, agent configs) stay. `left` names the tasks whose writes went.
 */
export function withoutLost(
  batch: StoreBatch,
  lost: ReadonlySet<string>,
): { batch: StoreBatch; left: string[] } {
  const { coordination: _fence, ...rest } = batch;
  if (lost.size === 0) return { batch: rest, left: [] };
  const left = new Set<string>();
  const keep = <T extends { id: string; workflowId: string | null }>(rows: readonly T[] | undefined) =>
    rows?.filter((row) => {
      if (row.workflowId === null || !lost.has(row.workflowId)) return true;
      left.add(row.id);
      return false;
    });
  const kept: StoreBatch = { ...rest };
  if (rest.tasks) kept.tasks = keep(rest.tasks);
  if (rest.taskStates) kept.taskStates = keep(rest.taskStates);
  if (rest.workflows) kept.workflows = rest.workflows.filter((row) => !lost.has(row.id));
  if (rest.deriveWorkflows) {
    const workflowIds = rest.deriveWorkflows.workflowIds.filter((id) => !lost.has(id));
    kept.deriveWorkflows = { ...rest.deriveWorkflows, workflowIds };
  }
  if (rest.completions) kept.completions = rest.completions.filter((record) => !left.has(record.taskId));
  if (rest.signalTakes) kept.signalTakes = rest.signalTakes.filter((take) => !left.has(take.taskId));
  if (rest.events) {
    kept.events = rest.events.filter(
      (event) =>
        !(event.taskId !== null && left.has(event.taskId)) &&
        !(event.workflowId !== null && lost.has(event.workflowId)),
    );
  }
  return { batch: kept, left: [...left] };
}

/**
 * A copy of a batch that the store may read after an await (the batch's rows are the engine's
 * live objects, see `Store.commit`): what a coordinated commit holds while it checks its fence.
 */
export function detachBatch(batch: StoreBatch): StoreBatch {
  const { deriveWorkflows, fences, coordination, ...rest } = batch;
  const copy: StoreBatch = structuredClone(rest);
  if (fences) copy.fences = new Map([...fences].map(([id, fence]) => [id, { ...fence }]));
  if (deriveWorkflows)
    copy.deriveWorkflows = { ...deriveWorkflows, workflowIds: [...deriveWorkflows.workflowIds] };
  if (coordination) copy.coordination = { ...coordination, workflowIds: [...coordination.workflowIds] };
  return copy;
}

/** A commit's fenced task ids with the ones a lost coordination left out, each once. */
export function withLeft(fenced: readonly string[], left: readonly string[]): string[] {
  if (left.length === 0) return [...fenced];
  return [...new Set([...fenced, ...left])];
}
