import { GraphError } from '../errors/errors.js';

/** A node of a dependency graph: a task with the ids of the tasks it waits for. */
export interface GraphNode {
  id: string;
  dependsOn: readonly string[];
  /** The name dependents read its output under; keys are unique among the nodes that have one. */
  key?: string | null;
}

const quoted = (id: string) => JSON.stringify(id);

/**
 * Checks a dependency graph and returns its ids in an order where every node comes after the
 * nodes it depends on. The order is the input order as far as the dependencies allow: each node
 * in turn, preceded by those of its dependencies (in `dependsOn` order, recursively) not listed
 * yet; an input that is already in dependency order comes back unchanged. O(nodes + edges).
 *
 * Throws a `GraphError` whose `details.problem` names the first problem found, in this order:
 * `'duplicate-id'` (`taskId`), `'duplicate-key'` (`key`, `taskIds`), `'self-dependency'`
 * (`taskId`), `'unknown-dependency'` (`taskId`, `dependency`), `'cycle'` (`cycle: [a, b, c, a]`,
 * each depending on the next).
 *
 * @param describe turns an id into its name in messages; default: the id, quoted.
 * @example
 * checkGraph([{ id: 'b', dependsOn: ['a'] }, { id: 'a', dependsOn: [] }]); // ['a', 'b']
 */
export function checkGraph(nodes: readonly GraphNode[], describe: (id: string) => string = quoted): string[] {
  const indexOf = new Map<string, number>();
  for (const [index, node] of nodes.entries()) {
    if (indexOf.has(node.id)) {
      throw new GraphError(`Task ${describe(node.id)} is given twice`, {
        problem: 'duplicate-id',
        taskId: node.id,
      });
    }
    indexOf.set(node.id, index);
  }

  const byKey = new Map<string, string>();
  for (const node of nodes) {
    if (node.key === undefined || node.key === null) continue;
    const first = byKey.get(node.key);
    if (first !== undefined) {
      throw new GraphError(
        `Tasks ${describe(first)} and ${describe(node.id)} have the same key ${quoted(node.key)}; keys must be unique in a workflow`,
        { problem: 'duplicate-key', key: node.key, taskIds: [first, node.id] },
      );
    }
    byKey.set(node.key, node.id);
  }

  // Dependencies as indexes, checked once: node i's are edges[first[i]] to edges[first[i + 1] - 1].
  const first = new Int32Array(nodes.length + 1);
  for (let i = 0; i < nodes.length; i++) first[i + 1] = first[i]! + nodes[i]!.dependsOn.length;
  const edges = new Int32Array(first[nodes.length]!);
  for (let i = 0, e = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    for (const dependency of node.dependsOn) {
      const index = indexOf.get(dependency);
      if (index === i) {
        throw new GraphError(`Task ${describe(node.id)} depends on itself`, {
          problem: 'self-dependency',
          taskId: node.id,
        });
      }
      if (index === undefined) {
        throw new GraphError(
          `Task ${describe(node.id)} depends on ${quoted(dependency)}, which is not a task of the workflow`,
          { problem: 'unknown-dependency', taskId: node.id, dependency },
        );
      }
      edges[e++] = index;
    }
  }

  // Depth-first over dependencies, iterative (a chain of 10,000 nodes is fine): a node is listed
  // once its dependencies are; meeting a node that is still on the path closes a cycle.
  const UNSEEN = 0;
  const ON_PATH = 1;
  const LISTED = 2;
  const state = new Uint8Array(nodes.length);
  const order: string[] = [];
  const path: number[] = [];
  const next: number[] = []; // next[i]: the edge of path[i] to follow next
  for (let root = 0; root < nodes.length; root++) {
    if (state[root] !== UNSEEN) continue;
    state[root] = ON_PATH;
    path.push(root);
    next.push(first[root]!);
    while (path.length > 0) {
      const top = path.length - 1;
      const node = path[top]!;
      const edge = next[top]!;
      if (edge === first[node + 1]) {
        state[node] = LISTED;
        order.push(nodes[node]!.id);
        path.pop();
        next.pop();
        continue;
      }
      next[top] = edge + 1;
      const dependency = edges[edge]!;
      if (state[dependency] === LISTED) continue;
      if (state[dependency] === ON_PATH) {
        const cycle = path.slice(path.lastIndexOf(dependency)).map((index) => nodes[index]!.id);
        cycle.push(nodes[dependency]!.id);
        throw new GraphError(`Dependency cycle: ${describeCycle(cycle, describe)}`, {
          problem: 'cycle',
          cycle,
        });
      }
      state[dependency] = ON_PATH;
      path.push(dependency);
      next.push(first[dependency]!);
    }
  }
  return order;
}

/** `"a" depends on "b", which depends on "a"`. */
export function describeCycle(cycle: readonly string[], describe: (id: string) => string = quoted): string {
  const [first, ...rest] = cycle.map(describe);
  return `${first} depends on ${rest.join(', which depends on ')}`;
}
