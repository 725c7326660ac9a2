import type { Task, Workflow } from '../../src/index.js';
import { createTasks, openSymphony, symphonyAgent, type SymphonyStore } from '../contenders/symphony.js';
import { profiled } from '../profiler.js';
import { forceGc } from '../services.js';
import type { Figures } from '../types.js';

/** W6: the DAG's width (nodes per layer) and each node's number of dependencies (1 to 3). */
export const GRAPH_WIDTH = 100;
const MAX_DEPENDENCIES = 3;
const SEED = 0x5eed_0006;
const CONCURRENCY = 100;

/** Layer width for `nodes`: 100, or about the square root below 10,000 nodes (smoke runs keep depth). */
export function graphWidth(nodes: number): number {
  return Math.max(1, Math.min(GRAPH_WIDTH, Math.ceil(Math.sqrt(nodes))));
}

/** mulberry32: a small seeded generator, so that every round (and every run) builds the same DAG. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * The DAG as lists of dependency indexes: layers of `width` nodes (the last may be shorter), each
 * node of a layer after the first depends on 1-3 distinct random nodes of the layer before.
 */
export function randomDag(nodes: number, width = graphWidth(nodes), seed = SEED): number[][] {
  const random = seeded(seed);
  const dag: number[][] = [];
  for (let i = 0; i < nodes; i += 1) {
    const layer = Math.floor(i / width);
    if (layer === 0) {
      dag.push([]);
      continue;
    }
    const first = (layer - 1) * width;
    const count = 1 + Math.floor(random() * MAX_DEPENDENCIES);
    const picked = new Set<number>();
    while (picked.size < Math.min(count, width)) picked.add(first + Math.floor(random() * width));
    dag.push([...picked].sort((a, b) => a - b));
  }
  return dag;
}

/** The edges of a DAG (for the report's parameters). */
export function edgesOf(dag: readonly number[][]): number {
  return dag.reduce((sum, dependsOn) => sum + dependsOn.length, 0);
}

/**
 * The stored rows of a workflow holding the DAG, as the public API leaves them: tasks made by
 * `createTask`, then each joined with `addTaskToWorkflow(workflowId, id, { dependsOn })` in order.
 * Built once and written into a fresh store for each round, because `addTaskToWorkflow` reads the
 * whole workflow on every call: joining 10,000 nodes one by one takes minutes (see
 * docs/performance.md, W6).
 */
export interface GraphTemplate {
  workflow: Workflow;
  tasks: Task[];
}

/**
 * The template through the public API, for small graphs (the smoke test checks that
 * `graphTemplate` makes the same rows).
 */
export async function graphThroughApi(dag: readonly number[][]): Promise<GraphTemplate> {
  const engine = await openSymphony('memory', CONCURRENCY);
  try {
    const { registry } = engine;
    const tracker = registry.getWorkflowTracker();
    const workflow = await tracker.createWorkflow({ name: 'bench W6 graph' });
    const ids = await createTasks(registry, dag.length);
    for (let i = 0; i < dag.length; i += 1) {
      await tracker.addTaskToWorkflow(workflow.id, ids[i]!, { dependsOn: dag[i]!.map((d) => ids[d]!) });
    }
    const { store } = engine;
    return {
      workflow: (await store.workflows.get(workflow.id))!,
      tasks: await store.tasks.getMany(ids),
    };
  } finally {
    await engine.close();
  }
}

/**
 * The template with tasks and workflow made through the API and the join written on the rows as
 * `addTaskToWorkflow` writes it (`workflowId`, `graph: { dependsOn, key: null, when: null }`).
 */
export async function graphTemplate(dag: readonly number[][]): Promise<GraphTemplate> {
  const engine = await openSymphony('memory', CONCURRENCY);
  try {
    const { registry } = engine;
    const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'bench W6 graph' });
    const ids = await createTasks(registry, dag.length);
    const { store } = engine;
    const tasks = await store.tasks.getMany(ids);
    tasks.forEach((task, i) => {
      task.workflowId = workflow.id;
      // A task with no dependency joins as a plain task (graph null), as addTaskToWorkflow leaves it.
      const dependsOn = dag[i]!.map((d) => ids[d]!);
      task.graph = dependsOn.length > 0 ? { dependsOn, key: null, when: null } : null;
    });
    return { workflow: (await store.workflows.get(workflow.id))!, tasks };
  } finally {
    await engine.close();
  }
}

/** Runs the timed phase, under a CPU profile when `--profile` is on and the phase is named. */
const timedPhase = <R>(name: string, fn: () => Promise<R>): Promise<R> => (name ? profiled(name, fn) : fn());

interface Side {
  ms: number;
  setupMs: number;
  completed: number;
}

/** The graph side: `executeWorkflow` timed, with a no-op agent and maxConcurrent 100. */
async function runGraph(kind: SymphonyStore, template: GraphTemplate, profile: string): Promise<Side> {
  const t0 = performance.now();
  const engine = await openSymphony(kind, CONCURRENCY, async (store) => {
    await store.commit({
      workflows: [structuredClone(template.workflow)],
      tasks: structuredClone(template.tasks),
    });
  });
  try {
    const workflowId = template.workflow.id;
    const executor = engine.registry.getEnhancedExecutor();
    const agent = symphonyAgent('noop');
    const setupMs = performance.now() - t0;
    forceGc();
    const start = performance.now();
    const result = await timedPhase(profile, () =>
      executor.executeWorkflow(workflowId, { agent, maxConcurrent: CONCURRENCY }),
    );
    const ms = performance.now() - start;
    if (result.status !== 'COMPLETED') throw new Error(`W6 graph ended ${result.status}, not COMPLETED`);
    let completed = 0;
    for (const r of result.results) if (r.status === 'COMPLETED') completed += 1;
    return { ms, setupMs, completed };
  } finally {
    await engine.close();
  }
}

/** The flat side: the same number of fresh tasks in a workflow, `batchExecute` timed with the same agent and limit. */
async function runFlat(kind: SymphonyStore, nodes: number, profile: string): Promise<Side> {
  const t0 = performance.now();
  const engine = await openSymphony(kind, CONCURRENCY);
  try {
    const workflow = await engine.registry.getWorkflowTracker().createWorkflow({ name: 'bench W6 flat' });
    const ids = await createTasks(engine.registry, nodes, workflow.id);
    const agent = symphonyAgent('noop');
    const pairs = ids.map((id) => [id, agent] as const);
    const executor = engine.registry.getEnhancedExecutor();
    const setupMs = performance.now() - t0;
    forceGc();
    const start = performance.now();
    const results = await timedPhase(profile, () =>
      executor.batchExecute(pairs, { workflowId: workflow.id, maxConcurrent: CONCURRENCY }),
    );
    const ms = performance.now() - start;
    let completed = 0;
    for (const r of results) if (r.status === 'COMPLETED') completed += 1;
    return { ms, setupMs, completed };
  } finally {
    await engine.close();
  }
}

/**
 * One round of W6 on one store: the graph and the flat batch back to back (`graphFirst` picks the
 * order, alternated by round), each on a fresh engine. Figures: both wall times and rates, the
 * ratio graph/flat (scheduling cost per node = wall / nodes, same node count on both sides), setup.
 */
export async function measureGraph(
  kind: SymphonyStore,
  template: GraphTemplate,
  graphFirst: boolean,
  name = '',
): Promise<Figures> {
  const nodes = template.tasks.length;
  const tag = (side: string) => (name ? `${name}-${side}` : '');
  let graph: Side;
  let flat: Side;
  if (graphFirst) {
    graph = await runGraph(kind, template, tag('graph'));
    flat = await runFlat(kind, nodes, tag('flat'));
  } else {
    flat = await runFlat(kind, nodes, tag('flat'));
    graph = await runGraph(kind, template, tag('graph'));
  }
  return {
    tasks: nodes,
    completed: Math.min(graph.completed, flat.completed),
    graphCompleted: graph.completed,
    flatCompleted: flat.completed,
    graphMs: graph.ms,
    flatMs: flat.ms,
    graphTasksPerSec: nodes / (graph.ms / 1000),
    flatTasksPerSec: nodes / (flat.ms / 1000),
    graphUsPerNode: (graph.ms * 1000) / nodes,
    flatUsPerNode: (flat.ms * 1000) / nodes,
    ratio: graph.ms / flat.ms,
    graphSetupMs: graph.setupMs,
    flatSetupMs: flat.setupMs,
  };
}
