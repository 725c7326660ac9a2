/**
 * Helpers for the crash property (graph-crash-property.test.ts): random graphs with fan-outs, engines
 * on one SQLite file that are cut mid-run and replaced, one agent log shared by all of them.
 */
import fc from 'fast-check';
import {
  ServiceRegistry,
  type Agent,
  type CodeCondition,
  type CodeList,
  type TaskStatus,
} from '../../src/index.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import {
  createTestClock,
  flushEngine,
  nextTurn,
  sequentialIds,
  type TestClock,
} from '../../src/testing/index.js';
import { celOutput, expectedStatuses, graphCaseArb, whenOf, type GraphCase } from './graph-kit.js';

/** A fan-out node: one task per item of `source`'s `items`, read by CEL or by a function. */
export interface FanOutSpec {
  source: number;
  kind: 'cel' | 'code';
}

export interface CrashCase {
  graph: GraphCase;
  /** Per node: null, or how it fans out (then its own agent never runs). */
  fanOuts: Array<FanOutSpec | null>;
  /** Per node: the `items` its agent returns besides `n` (0-4 numbers). */
  items: number[][];
  /** Per cut: picks the agent call (in that engine, from 1) that stops the engine. */
  cuts: number[];
}

/** A plain node's output. */
export interface NodeOutput {
  n: number;
  items: number[];
}

/** An item task's output. */
export interface ItemOutput {
  fanOut: number;
  index: number;
  item: number;
}

/**
 * Kit DAGs (no agent failures) where a node with a plain dependency may be a fan-out over it;
 * conditions that would read a fan-out's output (a list, not `{ n }`) are dropped.
 */
export function crashCaseArb(maxNodes = 10): fc.Arbitrary<CrashCase> {
  return graphCaseArb({ maxNodes, failures: false }).chain((graph) =>
    fc
      .tuple(
        fc.tuple(...graph.nodes.map(() => fc.tuple(fc.nat(3), fc.nat(), fc.boolean()))),
        fc.tuple(...graph.nodes.map(() => fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 4 }))),
        fc.array(fc.nat(), { maxLength: 3 }),
      )
      .map(([choices, items, cuts]) => {
        const fanOuts: Array<FanOutSpec | null> = [];
        const nodes = graph.nodes.map((node, i) => {
          const plainDeps = node.deps.filter((d) => fanOuts[d] === null);
          const [roll, pick, code] = choices[i]!;
          fanOuts.push(
            roll === 0 && plainDeps.length > 0
              ? { source: plainDeps[pick % plainDeps.length]!, kind: code ? 'code' : 'cel' }
              : null,
          );
          const condition = node.condition;
          const readsFanOut = condition !== null && 'dep' in condition && fanOuts[condition.dep] !== null;
          return readsFanOut ? { ...node, condition: null } : node;
        });
        return { graph: { ...graph, nodes }, fanOuts, items: items as number[][], cuts };
      }),
  );
}

/** The message of a node rejected because its function (condition or list) was not given yet. */
export const NOT_GIVEN = /which this engine was not given/;

/**
 * The case as if `nodes` had conditions that cannot be evaluated: what the model says once those
 * nodes were rejected unrun (used to tolerate a known bug and look past it).
 */
export function withRejected(c: CrashCase, nodes: ReadonlySet<number>): CrashCase {
  if (nodes.size === 0) return c;
  const rejected = c.graph.nodes.map((node, i) =>
    nodes.has(i) ? { ...node, condition: { kind: 'code-throws' as const } } : node,
  );
  return { ...c, graph: { ...c.graph, nodes: rejected } };
}

/** Whether the node carries a function (condition or fan-out list) that a new engine must be given. */
export function usesFunction(c: CrashCase, i: number): boolean {
  return c.graph.nodes[i]!.condition?.kind === 'code' || c.fanOuts[i]?.kind === 'code';
}

/** What an uninterrupted run gives each node: statuses (kit model) and outputs of COMPLETED nodes. */
export function crashModel(c: CrashCase): {
  statuses: TaskStatus[];
  outputs: Array<NodeOutput | ItemOutput[]>;
  /** Agent runs an uninterrupted run makes (plain COMPLETED nodes and items of COMPLETED fan-outs). */
  runs: number;
} {
  const statuses = expectedStatuses(c.graph.nodes);
  const outputs = c.graph.nodes.map((node, i): NodeOutput | ItemOutput[] => {
    const fanOut = c.fanOuts[i];
    if (!fanOut) return { n: node.output, items: c.items[i]! };
    return c.items[fanOut.source]!.map((item, index) => ({ fanOut: i, index, item }));
  });
  let runs = 0;
  for (const [i, status] of statuses.entries()) {
    if (status !== 'COMPLETED') continue;
    const fanOut = c.fanOuts[i];
    runs += fanOut ? c.items[fanOut.source]!.length : 1;
  }
  return { statuses, outputs, runs };
}

export interface BuiltCrashGraph {
  workflowId: string;
  taskIds: string[];
  names: string[];
  indexOf: Map<string, number>;
  conditions: Record<string, CodeCondition>;
  forEach: Record<string, CodeList>;
}

/** A registry on the SQLite file at `path`: engine `n`, its own ids, retries for interrupted attempts. */
export function crashEngine(path: string, n: number, clock: TestClock) {
  const registry = new ServiceRegistry({
    store: new SqliteStore({ path }),
    clock,
    engineId: `engine-${n}`,
    controlPollMs: 0,
    idGenerator: sequentialIds(`e${n}-`),
    random: () => 0.5,
    retry: { maxAttempts: 4, maxInterruptions: 3, initialDelayMs: 0, jitter: 0 },
  });
  return {
    registry,
    tasks: registry.getTaskManager(),
    tracker: registry.getWorkflowTracker(),
    executor: registry.getEnhancedExecutor(),
  };
}

export type CrashEngine = ReturnType<typeof crashEngine>;

/** Creates the tasks, then joins them in one `addTasksToWorkflow` call (fan-outs with `forEach`). */
export async function buildCrashGraph(engine: CrashEngine, c: CrashCase): Promise<BuiltCrashGraph> {
  const workflow = await engine.tracker.createWorkflow({ name: 'crash graph' });
  const taskIds: string[] = [];
  const names: string[] = [];
  const indexOf = new Map<string, number>();
  for (const [i, node] of c.graph.nodes.entries()) {
    const task = await engine.tasks.createTask({ name: `n${i}` });
    taskIds.push(task.id);
    indexOf.set(task.id, i);
    names.push(node.key ?? task.id);
  }
  const conditions: Record<string, CodeCondition> = {};
  const forEach: Record<string, CodeList> = {};
  const entries = c.graph.nodes.map((node, i) => {
    const when = whenOf(node.condition, names);
    if (typeof when === 'function') conditions[names[i]!] = when;
    const fanOut = c.fanOuts[i];
    let list: string | CodeList | undefined;
    if (fanOut) {
      const source = names[fanOut.source]!;
      if (fanOut.kind === 'cel') list = `${celOutput(source)}.items`;
      else {
        list = (outputs) => (outputs[source] as NodeOutput).items;
        forEach[names[i]!] = list;
      }
    }
    return {
      taskId: taskIds[i]!,
      dependsOn: node.deps.map((d) => taskIds[d]!),
      ...(node.key !== null ? { key: node.key } : {}),
      ...(when !== undefined ? { when } : {}),
      ...(list !== undefined ? { forEach: list } : {}),
    };
  });
  await engine.tracker.addTasksToWorkflow(workflow.id, entries);
  return { workflowId: workflow.id, taskIds, names, indexOf, conditions, forEach };
}

/** One agent start or end, in the order they happened across every engine. */
export interface CrashEvent {
  type: 'start' | 'end';
  taskId: string;
  engine: number;
  attempt: number;
  /** For a start: the dependencies the agent saw. */
  dependencies?: Record<string, unknown>;
}

/** The log every engine's agent writes to, and the cuts made. */
export interface CrashLog {
  events: CrashEvent[];
  /** Per cut: the engine cut, and the tasks whose agent had started and not ended then. */
  cuts: Array<{ engine: number; call: number; cutBy: string; inFlight: string[] }>;
  /** Agent starts in an engine after its cut (stop() had been called, not yet landed). */
  afterCut: Array<{ engine: number; taskId: string }>;
  /** Per engine after the first: executions its recover() took over. */
  recovered: Map<number, number>;
  /** Per engine: agents of that engine running at once, at most. */
  maxRunning: Map<number, number>;
}

/** The task an item task belongs to (`<fan-out id>-<i>`), with its index; null for a node task. */
export function itemOf(taskId: string, built: BuiltCrashGraph): { node: number; index: number } | null {
  const match = /^(.*)-(\d+)$/.exec(taskId);
  if (!match) return null;
  const node = built.indexOf.get(match[1]!);
  return node === undefined ? null : { node, index: Number(match[2]) };
}

/**
 * The agent of engine `engineNo`: logs starts and ends to `log`; a plain node returns
 * `{ n, items }`, an item task `{ fanOut, index, item }` from its input; each takes its node's
 * turns. At its `cutAt`-th call it stops the engine (`graceMs: 0`, not awaited) and takes one more
 * turn, so its own attempt is in progress when the stop lands.
 */
export function crashAgent(
  c: CrashCase,
  built: () => BuiltCrashGraph,
  log: CrashLog,
  engineNo: number,
  cutAt: number | null,
  cut: () => void,
): Agent {
  let calls = 0;
  let running = 0;
  const open = new Map<string, number>();
  return {
    id: `crash-agent-${engineNo}`,
    async execute(task, context) {
      const b = built();
      const item = itemOf(task.id, b);
      const node = item ? item.node : b.indexOf.get(task.id);
      if (node === undefined) throw new Error(`unknown task ${task.id}`);
      log.events.push({
        type: 'start',
        taskId: task.id,
        engine: engineNo,
        attempt: context.attempt,
        dependencies: { ...context.dependencies },
      });
      open.set(task.id, (open.get(task.id) ?? 0) + 1);
      running += 1;
      log.maxRunning.set(engineNo, Math.max(log.maxRunning.get(engineNo) ?? 0, running));
      calls += 1;
      if (cutAt !== null && calls > cutAt) log.afterCut.push({ engine: engineNo, taskId: task.id });
      try {
        if (calls === cutAt) {
          const inFlight = [...open.entries()].filter(([, count]) => count > 0).map(([id]) => id);
          log.cuts.push({ engine: engineNo, call: calls, cutBy: task.id, inFlight });
          cut();
          await nextTurn();
        }
        for (let turn = 0; turn < c.graph.nodes[node]!.turns; turn += 1) await nextTurn();
      } finally {
        running -= 1;
        open.set(task.id, open.get(task.id)! - 1);
        log.events.push({ type: 'end', taskId: task.id, engine: engineNo, attempt: context.attempt });
      }
      if (item) {
        const input = task.inputData as { item: number; index: number };
        return { fanOut: node, index: input.index, item: input.item } satisfies ItemOutput;
      }
      return { n: c.graph.nodes[node]!.output, items: c.items[node]! } satisfies NodeOutput;
    },
  };
}

/**
 * Settles `promise` while nudging the simulated clock each turn (retries due now fire); rejects
 * once `turns` turns passed without it settling (a hang, reported with the case). Never real time.
 */
export async function driveWithin<T>(
  promise: Promise<T>,
  clock: TestClock,
  turns: number,
  what: string,
): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => (settled = true));
  for (let turn = 0; turn < turns && !settled; turn += 1) {
    await nextTurn();
    const due = clock.nextDue();
    if (due !== undefined && due <= clock.now()) clock.increment(0);
  }
  if (!settled) {
    void watched.catch(() => undefined);
    throw new Error(`${what} did not settle within ${turns} event-loop turns`);
  }
  return watched;
}

/**
 * Runs the case on one SQLite file (`recoverFirst`: recover() before executeWorkflow, else a turn after): engine 1 builds the graph and runs it; each cut stops the
 * engine from inside its k-th agent call; the next engine recovers the workflow and runs it again.
 */
export async function runWithCuts(
  c: CrashCase,
  path: string,
  options: { recoverFirst: boolean; hangTurns: number; callAgain: boolean },
) {
  const { recoverFirst: RECOVER_FIRST, hangTurns: HANG_TURNS } = options;
  /** Executions run by a second executeWorkflow call after the last engine's run resolved. */
  let ranByCallAgain = 0;
  const model = crashModel(c);
  const clock = createTestClock(1_700_000_000_000);
  const log: CrashLog = { events: [], cuts: [], afterCut: [], recovered: new Map(), maxRunning: new Map() };
  let built: BuiltCrashGraph | null = null;
  for (let engineNo = 1; ; engineNo += 1) {
    const engine = crashEngine(path, engineNo, clock);
    const cutNo = engineNo - 1;
    const cutAt = cutNo < c.cuts.length && model.runs > 0 ? 1 + (c.cuts[cutNo]! % model.runs) : null;
    let stopping: Promise<void> | null = null;
    const agent = crashAgent(
      c,
      () => built!,
      log,
      engineNo,
      cutAt,
      () => {
        stopping = engine.registry.stop({ graceMs: 0 });
      },
    );
    let recovered: Promise<unknown> = Promise.resolve();
    const recover = async (): Promise<void> => {
      try {
        const report = await engine.registry.recover({
          workflowId: built!.workflowId,
          resolveAgent: () => agent,
        });
        recovered = report.results;
        log.recovered.set(engineNo, report.recovered.length);
      } catch (error) {
        if (stopping === null) throw error; // a cut may stop the engine while it recovers
      }
    };
    if (engineNo === 1) built = await buildCrashGraph(engine, c);
    else if (RECOVER_FIRST) await recover();
    const b = built!;
    const run = (async () =>
      engine.executor.executeWorkflow(b.workflowId, {
        agent,
        maxConcurrent: c.graph.maxConcurrent,
        conditions: b.conditions,
        forEach: b.forEach,
      }))().then(
      (result) => ({ result, error: null }),
      (error: unknown) => ({ result: null, error }),
    );
    if (engineNo > 1 && !RECOVER_FIRST) {
      await flushEngine(1);
      await recover();
    }
    const outcome = await driveWithin(run, clock, HANG_TURNS, `executeWorkflow in engine ${engineNo}`);
    const settled = <T>(promise: Promise<T>) =>
      promise.then(
        (result) => ({ result, error: null }),
        (error: unknown) => ({ result: null, error }),
      );
    const recoveredOutcome = await driveWithin(
      settled(recovered),
      clock,
      HANG_TURNS,
      `recovered executions of engine ${engineNo}`,
    );
    if (stopping === null && outcome.error === null && options.callAgain) {
      const again = await driveWithin(
        settled(
          engine.executor.executeWorkflow(b.workflowId, {
            agent,
            maxConcurrent: c.graph.maxConcurrent,
            conditions: b.conditions,
            forEach: b.forEach,
          }),
        ),
        clock,
        HANG_TURNS,
        'executeWorkflow called again',
      );
      if (stopping === null && again.error !== null) throw again.error;
      ranByCallAgain = again.result?.results.length ?? 0;
    }
    // A cut (during the run, the recovered executions or the second call): the next engine takes over.
    if (stopping !== null) {
      await driveWithin(stopping, clock, HANG_TURNS, `stop of engine ${engineNo}`);
      continue;
    }
    if (outcome.error !== null) throw outcome.error;
    if (recoveredOutcome.error !== null) throw recoveredOutcome.error;
    await engine.registry.stop();
    const store = new SqliteStore({ path });
    await store.open();
    try {
      const tasks = await store.tasks.find({ where: { workflowId: b.workflowId } });
      const completions = await store.completions();
      const workflow = await store.workflows.get(b.workflowId);
      return { log, built: b, status: outcome.result!.status, workflow, tasks, completions, ranByCallAgain };
    } finally {
      await store.close();
    }
  }
}
