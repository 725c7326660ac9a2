import type { Task } from '../../index.js';
import type { MermaidNode } from '../../graph/mermaid.js';

/** A stored task's condition as shown on its edges. */
function conditionOf(task: Task): string | null {
  const when = task.graph?.when ?? null;
  if (when === null) return null;
  return 'cel' in when ? when.cel : '(condition in code)';
}

/** A stored fan-out's list as shown in its label. */
function listOf(task: Task): string | null {
  const forEach = task.graph?.forEach ?? null;
  if (forEach === null) return null;
  return 'cel' in forEach ? forEach.cel : '(list in code)';
}

/** A stored loop as shown in its label. */
function loopOf(task: Task): MermaidNode['loop'] {
  const loop = task.graph?.loop ?? null;
  if (loop === null) return null;
  return {
    until: 'cel' in loop.until ? loop.until.cel : '(condition in code)',
    maxIterations: loop.maxIterations,
  };
}

/** A stored child-workflow node as drawn: its child's name (from its definition) and id once made. */
function childOf(task: Task): MermaidNode['workflow'] {
  const child = task.graph?.workflow ?? null;
  if (child === null) return null;
  return { name: child.definition?.name ?? null, id: child.id };
}

/**
 * The nodes of a stored workflow's tasks: task ids as ids, with statuses; the tasks a fan-out or a
 * loop made are linked to it; a child-workflow node names its child's id. What `symphony graph`
 * draws as Mermaid and the dashboard as SVG.
 */
export function storedNodes(tasks: readonly Task[]): MermaidNode[] {
  return tasks.map((task) => ({
    id: task.id,
    label: task.name,
    dependsOn: task.graph?.dependsOn ?? [],
    status: task.status,
    when: conditionOf(task),
    forEach: listOf(task),
    itemOf: task.graph?.item?.of ?? null,
    loop: loopOf(task),
    waitFor: task.graph?.waitFor ?? null,
    workflow: childOf(task),
  }));
}
