/**
 * A workflow graph survives SIGKILL: a worker runs a layered graph of 300 nodes (conditions, some
 * subtrees SKIPPED; loops, fan-outs, waits for signals, a sleep, a child workflow) with
 * `executeWorkflow`; the test kills it at observed progress in the store, starts a new one that calls
 * `recover({ workflowId, resolveAgent })` and `executeWorkflow`, until the graph is done. Every node
 * ends as an uninterrupted run ends it, completed once; loops made their iterations and fan-outs
 * their items once each; each signal was taken once; no agent ran before its dependencies had
 * completed (it saw their committed outputs).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceRegistry, type CompletionRecord, type Store, type Task } from '../../src/index.js';
import type { Signal, StoredSignal } from '../../src/repositories/store.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import { killSeed, mulberry32 } from '../fixtures/seeded-random.js';
import { compiledFixture } from '../support/fixtures.js';
import { startScript, type ScriptRun } from '../support/processes.js';
import { untilOrExit } from '../support/wait.js';
import {
  PG_URL,
  describePostgres,
  dropTestSchemas,
  nextSchema,
  withUser,
} from '../repositories/pg-helpers.js';
import {
  CHILD_NODES,
  CHILD_WORKFLOW_NAME,
  GRAPH_KILL_POLICY,
  LOOP_ITERATIONS,
  UNRUN_HOW,
  WORKFLOW_NAME,
  expectedStatuses,
  graphSpec,
  type NodeSpec,
} from './fixtures/graph-kill-worker.js';

const WORKER = join(import.meta.dirname, 'fixtures/graph-kill-worker.ts');
const NODES = graphSpec();
const KILLS = 6;
/** Each agent run takes this long. */
const AGENT_MS = '15';
/** Each run is killed once about this many more nodes are done (COMPLETED or SKIPPED) in the store. */
const STEP = Math.floor(NODES.length / (KILLS + 3));
/** The wait whose signal the test sends (the worker sends the others when it builds the graph). */
const TEST_WAIT = NODES.find((node) => node.node.kind === 'wait' && node.node.byTest)!;
/** Workers not yet exited: killed when a test ends early. */
const live = new Set<ChildProcess>();

function startWorker(args: string[]): ScriptRun {
  const run = startScript(compiledFixture(WORKER), args);
  live.add(run.child);
  void run.exited.then(() => live.delete(run.child));
  return run;
}

/** The store read from outside the worker. */
interface Probe {
  /** How many nodes are done (COMPLETED or SKIPPED). */
  done(): Promise<number>;
  /** The ids of the tasks whose row says RUNNING. */
  running(): Promise<string[]>;
  /** The workflow of the node named `name` once it waits for a signal (PENDING, due time stored), else null. */
  waiting(name: string): Promise<string | null>;
}

/** Waits until the store shows `target` nodes done and an attempt running; false if the run ended first. */
function reach(probe: Probe, target: number, run: ScriptRun): Promise<boolean> {
  return untilOrExit(
    run.exited,
    async () => (await probe.done()) >= target && (await probe.running()).length > 0,
    2,
  );
}

interface Kills {
  count: number;
  /** Tasks whose row still said RUNNING once a killed worker was gone: recovery must interrupt them. */
  leftRunning: Set<string>;
}

/** Kills the worker up to KILLS times, each once its run has made progress; then lets one finish. */
async function killRepeatedly(
  args: string[],
  probe: Probe,
  random: () => number,
  over: () => boolean,
): Promise<Kills> {
  const kills: Kills = { count: 0, leftRunning: new Set() };
  while (kills.count < KILLS) {
    if (over()) return kills;
    const run = startWorker(args);
    await run.ready;
    const target = (await probe.done()) + Math.max(1, Math.round(STEP * (0.5 + random())));
    if (!(await reach(probe, target, run))) {
      const { code, output } = await run.exited;
      expect(output, output).toContain('DONE COMPLETED');
      expect(code).toBe(0);
      return kills;
    }
    run.child.kill('SIGKILL');
    await run.exited;
    kills.count += 1;
    for (const id of await probe.running()) kills.leftRunning.add(id);
  }
  if (over()) return kills;
  const { code, output } = await startWorker(args).exited;
  expect(output, output).toContain('DONE COMPLETED');
  expect(code).toBe(0);
  return kills;
}

/**
 * Sends the test's signal, once, from a short-lived registry of its own on the store, as soon as
 * the store shows its wait waiting: the worker then holding the wait takes it at a control poll (or
 * the next worker when it waits again). Resolves with the signal, or null if `over()` came first.
 */
async function signalWhenWaiting(
  probe: Probe,
  store: () => Store,
  over: () => boolean,
): Promise<Signal | null> {
  const spec = TEST_WAIT.node;
  if (spec.kind !== 'wait') throw new Error('TEST_WAIT is not a wait');
  while (!over()) {
    const workflowId = await probe.waiting(TEST_WAIT.key);
    if (workflowId !== null) {
      const registry = new ServiceRegistry({ store: store(), engineId: 'graph-kill-test', controlPollMs: 0 });
      try {
        return await registry.signal(workflowId, spec.signal, spec.payload);
      } finally {
        await registry.stop();
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return null;
}

/** Runs the kills with the test's signal sent alongside; a failure of either kills the workers left. */
async function killAndSignal(
  args: string[],
  probe: Probe,
  random: () => number,
  store: () => Store,
): Promise<{ kills: Kills; signal: Signal | null }> {
  let over = false;
  const sending = signalWhenWaiting(probe, store, () => over);
  try {
    const kills = await Promise.race([
      killRepeatedly(args, probe, random, () => over),
      sending.then(() => new Promise<never>(() => {})), // a sender's failure ends the wait
    ]);
    over = true;
    return { kills, signal: await sending };
  } finally {
    over = true;
    for (const child of live) child.kill('SIGKILL');
  }
}

interface AgentRun {
  taskId: string;
  attempt: number;
  /** What the run saw of its dependencies, by key. */
  dependencies: Record<string, unknown>;
  /** Task ids whose `end` line came before this run's start. */
  endedBefore: ReadonlySet<string>;
}

/** The agent runs of the run log, in order, each with the runs that had ended before it started. */
function agentRuns(runLog: string): AgentRun[] {
  const text = existsSync(runLog) ? readFileSync(runLog, 'utf8') : '';
  const ended = new Set<string>();
  const runs: AgentRun[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [kind, taskId, attempt, ...rest] = line.split(' ');
    if (kind === 'end') ended.add(taskId!);
    else {
      runs.push({
        taskId: taskId!,
        attempt: Number(attempt),
        dependencies: JSON.parse(rest.join(' ')) as AgentRun['dependencies'],
        endedBefore: new Set(ended),
      });
    }
  }
  return runs;
}

/** What the store holds once the graph is done, with lookups by id and by name. */
interface Done {
  tasks: Task[];
  byId: Map<string, Task>;
  /** Node keys, child node keys, and made tasks' names (`<key> [iteration i]`, `<key> [i]`). */
  byName: Map<string, Task>;
  recordOf: Map<string, CompletionRecord>;
  expected: Map<string, 'COMPLETED' | 'SKIPPED'>;
}

const SPECS = new Map<string, NodeSpec>([...NODES, ...CHILD_NODES].map((node) => [node.key, node]));
const CHILD_NODE = NODES.find((node) => node.node.kind === 'child')!;

/** The spec of the node a task is, or that made it (an iteration, an item). */
function specOfTask(done: Done, task: Task): NodeSpec {
  const maker = task.graph?.item?.of;
  return SPECS.get(maker ? done.byId.get(maker)!.name : task.name)!;
}

/** Whether an agent runs for the task (an agent node, an iteration, an item), rather than it completing unrun. */
function isAgentTask(done: Done, task: Task): boolean {
  return Boolean(task.graph?.item) || specOfTask(done, task).node.kind === 'agent';
}

/** The agent-run tasks whose `end` comes before a run that reads this task's output. */
function workOf(done: Done, task: Task): string[] {
  if (isAgentTask(done, task)) return [task.id];
  const kind = specOfTask(done, task).node.kind;
  if (kind === 'loop' || kind === 'fanout') return task.graph?.children ?? [];
  if (kind === 'child') return CHILD_NODES.map((node) => done.byName.get(node.key)!.id);
  return []; // a wait, a sleep: no agent; what its dependents saw is checked
}

/** The names of the tasks an uninterrupted run leaves: every node, iterations, items, the child's nodes. */
function expectedNames(expected: ReadonlyMap<string, string>): string[] {
  const names = [...NODES, ...CHILD_NODES].map((node) => node.key);
  for (const node of NODES) {
    if (expected.get(node.key) !== 'COMPLETED') continue;
    if (node.node.kind === 'loop')
      for (let i = 0; i < LOOP_ITERATIONS; i++) names.push(`${node.key} [iteration ${i}]`);
    if (node.node.kind === 'fanout') {
      const items = SPECS.get(node.dependsOn[0]!)!.items!;
      for (let i = 0; i < items.length; i++) names.push(`${node.key} [${i}]`);
    }
  }
  return names.sort();
}

/** What is wrong with the output of a node that completed unrun (loop, fan-out, wait, sleep, child). */
function unrunProblems(done: Done, task: Task, signals: readonly StoredSignal[], childId: string): string[] {
  const spec = specOfTask(done, task).node;
  const problems: string[] = [];
  const made = (task.graph?.children ?? []).map((id) => done.byId.get(id)!);
  const same = (what: string, got: unknown, want: unknown) => {
    if (!isDeepStrictEqual(got, want))
      problems.push(`${task.name} ${what}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  };
  const record = done.recordOf.get(task.id);
  same('record', record?.executionId, `${UNRUN_HOW[spec.kind as keyof typeof UNRUN_HOW]}:${task.id}`);
  same('attempts', task.attempts, 0);
  if (spec.kind === 'loop') {
    same(
      'iterations',
      made.map((t) => [t.id, t.name, t.graph?.item]),
      made.map((_, i) => [`${task.id}-${i}`, `${task.name} [iteration ${i}]`, { of: task.id, index: i }]),
    );
    same(
      'rounds',
      made.map((t) => (t.outputData as { round?: number }).round),
      Array.from({ length: LOOP_ITERATIONS }, (_, i) => i),
    );
    same(
      'previous',
      made.map((t) => t.inputData.previous),
      [null, ...made.slice(0, -1).map((t) => t.outputData)],
    );
    same('output', task.outputData, made.at(-1)?.outputData);
  } else if (spec.kind === 'fanout') {
    const items = SPECS.get(specOfTask(done, task).dependsOn[0]!)!.items!;
    same(
      'items',
      made.map((t) => [t.id, t.graph?.item, (t.outputData as { item?: number }).item]),
      items.map((item, i) => [`${task.id}-${i}`, { of: task.id, index: i }, item]),
    );
    same(
      'output',
      task.outputData,
      made.map((t) => t.outputData),
    );
  } else if (spec.kind === 'wait') {
    const taken = signals.filter((signal) => signal.takenBy === task.id);
    same(
      'signals taken',
      taken.map((s) => [s.name, s.payload]),
      [[spec.signal, spec.payload]],
    );
    same('output', task.outputData, { signal: spec.signal, payload: spec.payload, sentAt: taken[0]?.sentAt });
  } else if (spec.kind === 'sleep') {
    const begun = Math.max(
      ...specOfTask(done, task).dependsOn.map(
        (key) => done.recordOf.get(done.byName.get(key)!.id)!.completedAt,
      ),
    );
    const { sleptUntil } = task.outputData as { sleptUntil: number };
    if (!(sleptUntil >= begun + spec.ms))
      problems.push(`${task.name}: slept until ${sleptUntil}, its dependencies done at ${begun}`);
    if (!(record!.completedAt >= sleptUntil))
      problems.push(`${task.name}: completed at ${record!.completedAt}, before ${sleptUntil}`);
  } else if (spec.kind === 'child') {
    const outputs = Object.fromEntries(
      CHILD_NODES.map((node) => [node.key, done.byName.get(node.key)!.outputData]),
    );
    same('output', task.outputData, { workflowId: childId, status: 'COMPLETED', outputs });
  }
  return problems;
}

/** Agent runs only for COMPLETED agent tasks, each after what it waits for had ended, seeing their committed outputs. */
function runProblems(done: Done, runs: readonly AgentRun[]): string[] {
  const problems: string[] = [];
  for (const run of runs) {
    const task = done.byId.get(run.taskId)!;
    const spec = specOfTask(done, task);
    const label = `${task.name} attempt ${run.attempt}`;
    if (!isAgentTask(done, task)) problems.push(`${label}: an agent ran for a ${spec.node.kind}`);
    if (done.expected.get(spec.key) !== 'COMPLETED')
      problems.push(`${label}: ran, but is ${done.expected.get(spec.key)}`);
    // An iteration after the one before it; a child's node after the child node's dependencies.
    const after: string[] = [];
    const item = task.graph?.item;
    if (item && spec.node.kind === 'loop' && item.index > 0) after.push(`${item.of}-${item.index - 1}`);
    if (task.workflowId !== done.byName.get(NODES[0]!.key)!.workflowId)
      for (const key of CHILD_NODE.dependsOn) after.push(...workOf(done, done.byName.get(key)!));
    for (const dependency of spec.dependsOn) {
      const depTask = done.byName.get(dependency)!;
      const open = workOf(done, depTask).filter((id) => !run.endedBefore.has(id));
      if (open.length > 0)
        problems.push(`${label}: started before ${dependency} ended (${open.join(', ')} had not)`);
      else if (!isDeepStrictEqual(run.dependencies[dependency], depTask.outputData)) {
        problems.push(
          `${label}: saw ${dependency} as ${JSON.stringify(run.dependencies[dependency])}, completed as ${JSON.stringify(depTask.outputData)}`,
        );
      }
    }
    const early = after.filter((id) => !run.endedBefore.has(id));
    if (early.length > 0) problems.push(`${label}: started before ${early.join(', ')} ended`);
  }
  return problems;
}

async function expectGraphDone(
  store: Store,
  runLog: string,
  label: string,
  { kills, signal }: { kills: Kills; signal: Signal | null },
): Promise<void> {
  await store.open();
  try {
    const tasks = await store.tasks.find();
    const completions = await store.completions();
    const workflows = await store.workflows.find();
    const parent = workflows.find((workflow) => workflow.name === WORKFLOW_NAME)!;
    const child = workflows.find((workflow) => workflow.name === CHILD_WORKFLOW_NAME)!;
    const signals = await store.signals(parent.id);
    const runs = agentRuns(runLog);
    const done: Done = {
      tasks,
      byId: new Map(tasks.map((task) => [task.id, task])),
      byName: new Map(tasks.map((task) => [task.name, task])),
      recordOf: new Map(completions.map((record) => [record.taskId, record])),
      expected: new Map([...expectedStatuses(NODES), ...expectedStatuses(CHILD_NODES)]),
    };
    const runsOf = new Map<string, AgentRun[]>();
    for (const run of runs) runsOf.set(run.taskId, [...(runsOf.get(run.taskId) ?? []), run]);
    const agentTasks = tasks.filter((task) => isAgentTask(done, task));
    const completed = agentTasks.filter((task) => task.status === 'COMPLETED').length;
    const sameAttempt = [...runsOf.values()].filter(
      (list) => new Set(list.map((run) => run.attempt)).size !== list.length,
    ).length;
    const interruptedIds = new Set(
      tasks
        .filter((task) => task.errors.some((e) => e.code === 'ATTEMPT_INTERRUPTED'))
        .map((task) => task.id),
    );
    const skipped = [...done.expected.values()].filter((status) => status === 'SKIPPED').length;
    const madeOrChild = [...interruptedIds].filter((id) => {
      const task = done.byId.get(id)!;
      return Boolean(task.graph?.item) || task.workflowId === child.id;
    }).length;
    const taken = signals.find((s) => s.id === signal?.id);
    console.log(
      `[graph kill test ${label}] ${kills.count} kills (${kills.leftRunning.size} attempts left RUNNING); ${runs.length} agent runs for ${completed} COMPLETED agent tasks ` +
        `(${tasks.length - agentTasks.length} nodes completed unrun, ${skipped} SKIPPED): ${runs.length - completed} duplicate runs, ` +
        `${sameAttempt} tasks re-ran an attempt number, ${interruptedIds.size} tasks with an interrupted attempt ` +
        `(${madeOrChild} iterations, items or child tasks); the test's signal taken ${taken?.takenAt == null ? 'never' : `${taken.takenAt - taken.sentAt} ms`} after it was sent`,
    );

    // Every node ends as an uninterrupted run ends it; loops made 3 iterations, fan-outs one task
    // per item, none twice, nothing else.
    expect(tasks.map((task) => task.name).sort()).toEqual(expectedNames(done.expected));
    const wrong = tasks
      .map((task) => {
        const spec = specOfTask(done, task);
        const status = task.graph?.item ? 'COMPLETED' : done.expected.get(spec.key);
        const workflowId = CHILD_NODES.includes(spec) ? child.id : parent.id;
        return task.status === status && task.workflowId === workflowId
          ? null
          : `${task.name}: ${task.status} in ${task.workflowId} (expected ${status} in ${workflowId})`;
      })
      .filter((problem) => problem !== null);
    expect(wrong).toEqual([]);

    // One completion record per COMPLETED task, naming the run whose output the row holds (or how
    // the node completed unrun); none for SKIPPED.
    const recordsOf = new Map<string, number>();
    for (const record of completions) recordsOf.set(record.taskId, (recordsOf.get(record.taskId) ?? 0) + 1);
    const badRecords: string[] = [];
    for (const task of tasks) {
      const count = recordsOf.get(task.id) ?? 0;
      if (count !== (task.status === 'COMPLETED' ? 1 : 0))
        badRecords.push(`${task.name} ${task.status}: ${count} records`);
    }
    expect(badRecords).toEqual([]);
    const mismatched = agentTasks
      .filter((task) => task.status === 'COMPLETED')
      .filter((task) => {
        const output = task.outputData as { executionId?: string; attempt?: number } | null;
        const record = done.recordOf.get(task.id)!;
        return output?.executionId !== record.executionId || output.attempt !== record.attempt;
      })
      .map((task) => task.name);
    expect(mismatched).toEqual([]);

    // Loops give their last iteration's output, fan-outs their items' in order, waits their signal,
    // the sleep its due time, the child node the child's outputs; every signal was taken once.
    const unrun = tasks.filter((task) => task.status === 'COMPLETED' && !isAgentTask(done, task));
    expect(unrun.flatMap((task) => unrunProblems(done, task, signals, child.id))).toEqual([]);
    const waits = NODES.filter((node) => node.node.kind === 'wait');
    expect(signals.map((s) => s.takenBy).sort()).toEqual(
      waits.map((node) => done.byName.get(node.key)!.id).sort(),
    );
    expect(signal && signals.find((s) => s.id === signal.id)?.takenBy).toBe(
      done.byName.get(TEST_WAIT.key)!.id,
    );

    // Agents ran only for COMPLETED agent tasks, each after every dependency had completed: it saw
    // the dependency's committed output.
    expect(runProblems(done, runs)).toEqual([]);
    const neverRan = agentTasks
      .filter((task) => task.status === 'COMPLETED' && !runsOf.has(task.id))
      .map((t) => t.name);
    expect(neverRan).toEqual([]);
    const overRun = tasks
      .filter((task) => (runsOf.get(task.id)?.length ?? 0) > GRAPH_KILL_POLICY.maxAttempts)
      .map((task) => task.name);
    expect(overRun).toEqual([]);

    // Every attempt a kill left RUNNING in the store was recorded as interrupted (and run again).
    expect([...kills.leftRunning].filter((id) => !interruptedIds.has(id))).toEqual([]);
    expect([parent.status, child.status]).toEqual(['COMPLETED', 'COMPLETED']);
  } finally {
    await store.close();
  }
}

// A failing run can be repeated with its seed: it is in the test name.
const seed = killSeed();
const DONE_SQL = `status IN ('COMPLETED', 'SKIPPED')`;
const RUNNING_SQL = `status = 'RUNNING'`;
/** A wait for a signal with a timeout stores its due time when it begins. */
const WAITING_SQL = `status = 'PENDING' AND run_after IS NOT NULL`;

describe('graph kill test (SIGKILL on observed progress, recover + executeWorkflow, until done)', () => {
  it(`SQLite: a ${NODES.length}-node graph with loops, fan-outs, waits, a sleep and a child workflow survives at least 5 kills and ends as an uninterrupted run (seed ${seed})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-graph-kill-'));
    const path = join(dir, 'graph.db');
    const runLog = join(dir, 'runs.log');
    const { default: Database } = await import('better-sqlite3');
    const handle: { db: InstanceType<typeof Database> | null } = { db: null };
    const query = <T>(empty: T, read: (db: InstanceType<typeof Database>) => T): T => {
      if (!existsSync(path)) return empty;
      handle.db ??= new Database(path, { readonly: true, fileMustExist: true });
      try {
        return read(handle.db);
      } catch {
        return empty; // the worker has not made the tables yet
      }
    };
    const probe: Probe = {
      done: async () =>
        query(
          0,
          (db) => (db.prepare(`SELECT count(*) AS n FROM tasks WHERE ${DONE_SQL}`).get() as { n: number }).n,
        ),
      running: async () =>
        query<string[]>([], (db) =>
          (db.prepare(`SELECT id FROM tasks WHERE ${RUNNING_SQL}`).all() as { id: string }[]).map(
            (row) => row.id,
          ),
        ),
      waiting: async (name) =>
        query<string | null>(
          null,
          (db) =>
            (
              db.prepare(`SELECT workflow_id AS w FROM tasks WHERE ${WAITING_SQL} AND name = ?`).get(name) as
                { w: string } | undefined
            )?.w ?? null,
        ),
    };
    let outcome: Awaited<ReturnType<typeof killAndSignal>>;
    try {
      outcome = await killAndSignal(
        [path, AGENT_MS, runLog],
        probe,
        mulberry32(seed),
        () => new SqliteStore({ path }),
      );
    } finally {
      handle.db?.close();
    }
    expect(outcome.kills.count).toBeGreaterThanOrEqual(5);
    await expectGraphDone(new SqliteStore({ path }), runLog, 'sqlite', outcome);
  }, 120_000);
});

describePostgres('graph kill test on PostgreSQL', () => {
  afterAll(() => dropTestSchemas());

  it(`PostgreSQL: a ${NODES.length}-node graph with loops, fan-outs, waits, a sleep and a child workflow survives at least 5 kills and ends as an uninterrupted run (seed ${seed})`, async () => {
    const schema = nextSchema();
    const url = withUser(PG_URL);
    const runLog = join(mkdtempSync(join(tmpdir(), 'symphony-graph-kill-pg-')), 'runs.log');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const rowsOf = async <T>(where: string, columns: string, params: string[] = []): Promise<T[]> => {
      try {
        return (
          await client.query<T & pg.QueryResultRow>(
            `SELECT ${columns} FROM "${schema}".tasks WHERE ${where}`,
            params,
          )
        ).rows;
      } catch {
        return []; // the worker has not created the schema yet
      }
    };
    const probe: Probe = {
      done: async () => Number((await rowsOf<{ n: string }>(DONE_SQL, 'count(*) AS n'))[0]?.n ?? 0),
      running: async () => (await rowsOf<{ id: string }>(RUNNING_SQL, 'id')).map((row) => row.id),
      waiting: async (name) =>
        (await rowsOf<{ w: string }>(`${WAITING_SQL} AND name = $1`, 'workflow_id AS w', [name]))[0]?.w ??
        null,
    };
    const store = () => new PostgresStore({ connectionString: url, schema });
    let outcome: Awaited<ReturnType<typeof killAndSignal>>;
    try {
      outcome = await killAndSignal([url, AGENT_MS, runLog, schema], probe, mulberry32(seed + 1), store);
    } finally {
      await client.end();
    }
    expect(outcome.kills.count).toBeGreaterThanOrEqual(5);
    await expectGraphDone(store(), runLog, 'postgres', outcome);
  }, 120_000);
});
