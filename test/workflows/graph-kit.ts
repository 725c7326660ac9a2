import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  MemoryStore,
  ServiceRegistry,
  type Agent,
  type CodeCondition,
  type Store,
  type TaskStatus,
  type WorkflowStatus,
} from '../../src/index.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import { createTestClock, nextTurn, sequentialIds } from '../../src/testing/index.js';

/** A node's condition: over one dependency's output `{ n }`, or one that cannot be evaluated. */
export type GraphCondition =
  | { kind: 'cel'; dep: number; above: number } // CEL: outputs.<dep>.n > above
  | { kind: 'code'; dep: number; atMost: number } // function: outputs[dep].n <= atMost
  | { kind: 'cel-error'; dep: number } // CEL reading a field the output lacks
  | { kind: 'code-throws' }; // a function that throws

export interface GraphNodeSpec {
  deps: number[];
  key: string | null;
  /** The agent's output is `{ n: output }`. */
  output: number;
  /** The agent throws on every attempt. */
  fails: boolean;
  /** Event-loop turns the agent takes (so runs interleave). */
  turns: number;
  condition: GraphCondition | null;
}

export interface GraphCase {
  nodes: GraphNodeSpec[];
  maxConcurrent: number;
}

const KEY_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789_-';

/** Keys start with `k` (task ids are `id-<n>`, so a key never equals an id). */
const keyArb = fc.oneof(
  fc.constant(null),
  fc
    .array(fc.constantFrom(...KEY_CHARS.split('')), { minLength: 0, maxLength: 6 })
    .map((chars) => `k${chars.join('')}`),
);

function nodeArb(index: number, failures: boolean): fc.Arbitrary<GraphNodeSpec> {
  const deps = index === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.nat(index - 1), { maxLength: 4 });
  return deps.chain((d) =>
    fc.record({
      deps: fc.constant([...d].sort((a, b) => a - b)),
      key: keyArb,
      output: fc.integer({ min: 0, max: 10 }),
      fails: failures ? fc.nat(9).map((x) => x === 0) : fc.constant(false),
      turns: fc.nat(3),
      condition: d.length === 0 ? fc.constant(null) : conditionArb(d),
    }),
  );
}

function conditionArb(deps: number[]): fc.Arbitrary<GraphCondition | null> {
  const dep = fc.constantFrom(...deps);
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('cel' as const),
        dep,
        above: fc.integer({ min: 0, max: 10 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('code' as const),
        dep,
        atMost: fc.integer({ min: 0, max: 10 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cel-error' as const), dep }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'code-throws' as const }) },
  );
}

/** A random DAG: edges only from earlier to later nodes; keys unique. */
export function graphCaseArb(
  options: { maxNodes?: number; failures?: boolean } = {},
): fc.Arbitrary<GraphCase> {
  const { maxNodes = 25, failures = true } = options;
  return fc
    .integer({ min: 1, max: maxNodes })
    .chain((count) => fc.tuple(...Array.from({ length: count }, (_, i) => nodeArb(i, failures))))
    .map((nodes) => {
      const seen = new Set<string>();
      return nodes.map((node) => {
        if (node.key === null || !seen.has(node.key)) {
          if (node.key !== null) seen.add(node.key);
          return node;
        }
        return { ...node, key: null };
      });
    })
    .chain((nodes) =>
      fc.record({ nodes: fc.constant(nodes), maxConcurrent: fc.integer({ min: 1, max: 5 }) }),
    );
}

/** What the rules say each node ends as, in a plain recursive reading of the DAG. */
export function expectedStatuses(nodes: readonly GraphNodeSpec[]): TaskStatus[] {
  const memo = new Map<number, TaskStatus>();
  const statusOf = (i: number): TaskStatus => {
    const known = memo.get(i);
    if (known) return known;
    const node = nodes[i]!;
    const deps = node.deps.map(statusOf);
    let status: TaskStatus;
    if (deps.some((s) => s !== 'COMPLETED' && s !== 'SKIPPED')) status = 'PENDING';
    else if (deps.includes('SKIPPED')) status = 'SKIPPED';
    else {
      const holds = conditionHolds(nodes, node.condition);
      if (holds === null) status = 'FAILED';
      else if (!holds) status = 'SKIPPED';
      else status = node.fails ? 'FAILED' : 'COMPLETED';
    }
    memo.set(i, status);
    return status;
  };
  return nodes.map((_, i) => statusOf(i));
}

/** The model's answer for a condition whose dependencies all completed; null: it cannot be evaluated. */
function conditionHolds(nodes: readonly GraphNodeSpec[], condition: GraphCondition | null): boolean | null {
  if (condition === null) return true;
  switch (condition.kind) {
    case 'cel':
      return nodes[condition.dep]!.output > condition.above;
    case 'code':
      return nodes[condition.dep]!.output <= condition.atMost;
    default:
      return null;
  }
}

export function expectedWorkflowStatus(statuses: readonly TaskStatus[]): WorkflowStatus {
  if (statuses.includes('FAILED')) return 'FAILED';
  return 'COMPLETED';
}

/** Whether the model runs the node's agent. */
export function agentRuns(node: GraphNodeSpec, status: TaskStatus): boolean {
  return status === 'COMPLETED' || (status === 'FAILED' && node.fails && conditionCanRun(node));
}

function conditionCanRun(node: GraphNodeSpec): boolean {
  return node.condition === null || node.condition.kind === 'cel' || node.condition.kind === 'code';
}

const CEL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `outputs.<name>` or `outputs["<name>"]` for names CEL cannot read with a dot. */
export function celOutput(name: string): string {
  return CEL_IDENTIFIER.test(name) && !name.includes('-')
    ? `outputs.${name}`
    : `outputs[${JSON.stringify(name)}]`;
}

export type StoreKind = 'memory' | 'sqlite';

/** One engine on a fresh store, on a simulated clock, without retries or control polling. */
export function graphEngine(kind: StoreKind) {
  let dir: string | null = null;
  let store: Store;
  if (kind === 'sqlite') {
    dir = mkdtempSync(join(tmpdir(), 'symphony-graph-'));
    store = new SqliteStore({ path: join(dir, 'graph.db') });
  } else store = new MemoryStore();
  const clock = createTestClock(1_700_000_000_000);
  const registry = new ServiceRegistry({
    store,
    clock,
    controlPollMs: 0,
    idGenerator: sequentialIds('id-'),
    random: () => 0.5,
    retry: { maxAttempts: 1 },
  });
  return {
    registry,
    store,
    clock,
    tasks: registry.getTaskManager(),
    tracker: registry.getWorkflowTracker(),
    executor: registry.getEnhancedExecutor(),
    async dispose(): Promise<void> {
      await registry.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type GraphEngine = ReturnType<typeof graphEngine>;

/** What the agent saw: starts and ends in one sequence, dependencies seen, concurrency. */
export interface AgentLog {
  events: Array<{ type: 'start' | 'end'; node: number }>;
  dependencies: Map<number, Record<string, unknown>[]>;
  running: number;
  maxRunning: number;
  /** Problems seen while running (a start while the workflow was known paused). */
  problems: string[];
}

export interface BuiltGraph {
  workflowId: string;
  taskIds: string[];
  /** The name each node's output is read under: its key or its task id. */
  names: string[];
  indexOf: Map<string, number>;
  /** Function conditions, by key or id, for `executeWorkflow`'s `conditions` (not needed in one process). */
  conditions: Record<string, CodeCondition>;
}

/**
 * Creates the workflow and adds its tasks in index order with their dependencies, keys and
 * conditions. A node with none of these joins as a plain task unless `alwaysGraph` (then with
 * `dependsOn: []`, so the workflow always has a graph).
 */
export async function buildGraph(
  engine: GraphEngine,
  graph: GraphCase,
  alwaysGraph = false,
): Promise<BuiltGraph> {
  const workflow = await engine.tracker.createWorkflow({ name: 'random graph' });
  const taskIds: string[] = [];
  const names: string[] = [];
  const indexOf = new Map<string, number>();
  const conditions: Record<string, CodeCondition> = {};
  for (const [i, node] of graph.nodes.entries()) {
    const task = await engine.tasks.createTask({ name: `n${i}` });
    taskIds.push(task.id);
    indexOf.set(task.id, i);
    names.push(node.key ?? task.id);
    const when = whenOf(node.condition, names);
    await engine.tracker.addTaskToWorkflow(workflow.id, task.id, {
      ...(node.deps.length > 0 || alwaysGraph ? { dependsOn: node.deps.map((d) => taskIds[d]!) } : {}),
      ...(node.key !== null ? { key: node.key } : {}),
      ...(when !== undefined ? { when } : {}),
    });
    if (typeof when === 'function') conditions[names[i]!] = when;
  }
  return { workflowId: workflow.id, taskIds, names, indexOf, conditions };
}

export function whenOf(
  condition: GraphCondition | null,
  names: readonly string[],
): string | CodeCondition | undefined {
  if (condition === null) return undefined;
  switch (condition.kind) {
    case 'cel':
      return `${celOutput(names[condition.dep]!)}.n > ${condition.above}`;
    case 'cel-error':
      return `${celOutput(names[condition.dep]!)}.missing > 0`;
    case 'code': {
      const name = names[condition.dep]!;
      const atMost = condition.atMost;
      return (outputs) => (outputs[name] as { n: number }).n <= atMost;
    }
    case 'code-throws':
      return () => {
        throw new Error('this condition throws');
      };
  }
}

/**
 * The agent of every node: records its start and end, the dependencies it saw and how many run at
 * once; takes `turns` event-loop turns; throws for nodes that fail, else returns `{ n: output }`.
 * `onStart(call)` runs at each start (counting from 1) before the agent goes on.
 */
export function graphAgent(
  graph: GraphCase,
  built: () => BuiltGraph,
  onStart?: (call: number) => Promise<void>,
): { agent: Agent; log: AgentLog } {
  const log: AgentLog = { events: [], dependencies: new Map(), running: 0, maxRunning: 0, problems: [] };
  let calls = 0;
  const agent: Agent = {
    id: 'graph-agent',
    async execute(task, context) {
      const node = built().indexOf.get(task.id);
      if (node === undefined) throw new Error(`unknown task ${task.id}`);
      const spec = graph.nodes[node]!;
      log.events.push({ type: 'start', node });
      log.dependencies.set(node, [...(log.dependencies.get(node) ?? []), { ...context.dependencies }]);
      log.running += 1;
      log.maxRunning = Math.max(log.maxRunning, log.running);
      calls += 1;
      try {
        if (onStart) await onStart(calls);
        for (let turn = 0; turn < spec.turns; turn += 1) await nextTurn();
      } finally {
        log.running -= 1;
        log.events.push({ type: 'end', node });
      }
      if (spec.fails) throw new Error(`node ${node} fails every attempt`);
      return { n: spec.output };
    },
  };
  return { agent, log };
}

/**
 * Settles `promise`, or rejects once `turns` event-loop turns passed without it settling (a hang,
 * reported with the case instead of as the test's timeout). Counts turns, never time.
 */
export async function withinTurns<T>(promise: Promise<T>, turns: number, what: string): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => (settled = true));
  for (let turn = 0; turn < turns && !settled; turn += 1) await nextTurn();
  if (!settled) {
    void watched.catch(() => undefined);
    throw new Error(`${what} did not settle within ${turns} event-loop turns`);
  }
  return watched;
}
