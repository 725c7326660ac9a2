import type { Store } from '../repositories/store.js';

/**
 * The workflows under `root` through child-workflow nodes (`graph.workflow.id`), at any depth:
 * each with the workflow whose node names it. Stops at a workflow seen already (a cycle is reported
 * by the entry that closes it: `root` itself appears as a key when a descendant names it).
 */
export async function childWorkflowTree(
  store: Pick<Store, 'tasks'>,
  root: string,
): Promise<Map<string, string>> {
  const parentOf = new Map<string, string>();
  const stack = [root];
  while (stack.length > 0) {
    const current = stack.pop()!;
    for (const task of await store.tasks.find({ where: { workflowId: current } })) {
      const child = task.graph?.workflow?.id;
      if (child === undefined || child === null || parentOf.has(child)) continue;
      parentOf.set(child, current);
      if (child !== root) stack.push(child);
    }
  }
  return parentOf;
}
