/**
 * Scale-out proofs of issue 13 with real worker processes (`symphony worker`, the compiled CLI) on
 * one PostgreSQL schema: random SIGKILLs and restarts under load, a worker paused (SIGSTOP) past
 * its liveness window and resumed, and the PostgreSQL server restarted under load.
 *
 * The kill run has a graph part beside its 5,000 independent tasks: a workflow of a 30-node chain,
 * a fan-out of 10 and a join, handed to the workers as a whole (one coordinates it at a time, and
 * another takes it over when the kills reach it).
 *
 * Not here:
 * - Worker clocks skewed by ±30 s at process level: the CLI has no way to shift an engine's clock,
 *   so that case stays in-process (test/repositories/beat-clock.test.ts: two engines with clocks 30 s
 *   fast and slow on SQLite and PostgreSQL; liveness and claims are judged by the store's clock).
 *
 * Every run of the `chaos` agent appends `start <task id> <attempt> <pid>` (and `end ...` when it
 * returns) to its worker process's own log (test/durability/fixtures/chaos-agents.ts): the runs
 * counted below are those lines, not what the engines say about themselves.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceRegistry, type Store, type Task } from '../../src/index.js';
import { createStore } from '../../src/repositories/open-store.js';
import { startCli, tempDir, type CliProcess } from '../cli/helpers.js';
import { postgresBinDir, startPrivateCluster, waitFor } from '../repositories/pg-cluster.js';
import {
  describePostgres,
  dropTestSchemas,
  nextSchema,
  PG_URL,
  withUser,
} from '../repositories/pg-helpers.js';
import { killSeed, mulberry32 } from '../fixtures/seeded-random.js';
import { compiledFixture } from '../support/fixtures.js';
import { killedAfterEach } from '../support/processes.js';
import { withStore } from '../support/with-store.js';
import { eventually as poll } from '../support/wait.js';

const AGENTS = compiledFixture(join(import.meta.dirname, 'fixtures/chaos-agents.ts'));
const STARTED = /^Worker (\S+) started: /;
/** Bounds against a hang, not timings the tests rely on: the machine may be busy. */
const DEADLINE_MS = 150_000;
/**
 * The whole kill run: 5,000 tasks of 600 ms on 30 slots (about 100 s) and 20 restarts of a CLI
 * process; a bound against a hang on a busy machine, not a timing the test relies on.
 */
const KILL_TEST_MS = 900_000;
const TEST_MS = 300_000;
/**
 * The retry policy of every task: interruptions by the kills (and takeovers after a pause) are
 * retried, so no task may fail for them; the runs of a task are checked against it.
 */
const POLICY = { maxAttempts: 40, maxInterruptions: 39, initialDelayMs: 1, maxDelayMs: 5, jitter: 0 };
/**
 * Small windows, so takeovers are quick: engines beat every 100 ms and count as dead 2 s after
 * their last beat (by the database's clock).
 */
const QUICK_ENV = { SYMPHONY_CONTROL_POLL_MS: '100', SYMPHONY_LIVENESS_MS: '2000' };

// A failing run can be repeated with its seed: it is in the test name.
const seed = killSeed();

/** The workers started: a failed test may leave them up (or stopped). */
const running = killedAfterEach<CliProcess>();

interface WorkerProcess {
  cli: CliProcess;
  engineId: string;
  pid: number;
}

/** Starts `symphony worker` on `db` and waits for its start line. */
async function startWorker(db: string, env: Record<string, string>): Promise<WorkerProcess> {
  const cli = startCli(
    [
      'worker',
      '--db',
      db,
      '--agents',
      AGENTS,
      '--concurrency',
      '16',
      '--poll-ms',
      '100',
      '--grace-ms',
      '5000',
    ],
    { env: { ...QUICK_ENV, SYMPHONY_LOG_LEVEL: 'warn', ...env } },
  );
  running.push(cli);
  const [, engineId] = await cli.waitForLine(STARTED);
  return { cli, engineId: engineId!, pid: cli.child.pid! };
}

/** Polls `probe` until it returns a value, within DEADLINE_MS. */
function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  return poll(what, probe, { timeoutMs: DEADLINE_MS, everyMs: 20 });
}

/**
 * Reads a schema with plain SQL, from outside the workers. A pool of one connection: after a
 * server restart it opens a new one; a query that fails while the server is down returns null.
 */
function inspector(url: string, schema: string) {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => {}); // an idle connection cut by a server restart: the next query opens another
  const query = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) => {
    try {
      return (await pool.query<R>(text, values)).rows;
    } catch {
      return null;
    }
  };
  return {
    /** Tasks COMPLETED in the schema (null while unreadable). */
    async completed(): Promise<number | null> {
      const rows = await query<{ n: string }>(
        `SELECT count(*) AS n FROM "${schema}".tasks WHERE status = 'COMPLETED'`,
      );
      return rows === null ? null : Number(rows[0]!.n);
    },
    /** Whether engine `engineId` has beaten (its beat row is there and not a stop). */
    async hasBeaten(engineId: string): Promise<boolean> {
      const rows = await query(
        `SELECT 1 FROM "${schema}".engine_beats WHERE engine_id = $1 AND NOT stopped`,
        [engineId],
      );
      return rows !== null && rows.length > 0;
    },
    close: () => pool.end(),
  };
}

/**
 * Creates a workflow of `count` tasks (`inputData.n` = index, plus `extra`) on `db` and leaves them
 * to the workers under POLICY, from an engine of this process that stops once they are submitted.
 */
async function submit(
  db: string,
  name: string,
  count: number,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const registry = new ServiceRegistry({ store: createStore(db), engineId: `submitter-${name}` });
  try {
    const factory = registry.getAgentFactory();
    const configs = await factory.listAgentConfigs();
    const config =
      configs.find((c) => c.name === 'Chaos') ??
      (await factory.createAgentConfig({ name: 'Chaos', type: 'chaos', maxConcurrency: 64 }));
    const workflow = await registry.getWorkflowTracker().createWorkflow({ name });
    const manager = registry.getTaskManager();
    const ids: string[] = [];
    // Created 500 at a time: each group goes to the store in one commit.
    for (let from = 0; from < count; from += 500) {
      const group = await Promise.all(
        Array.from({ length: Math.min(500, count - from) }, (_, i) =>
          manager.createTask({
            name: `${name} ${from + i}`,
            workflowId: workflow.id,
            inputData: { n: from + i, ...extra },
          }),
        ),
      );
      ids.push(...group.map((task) => task.id));
    }
    await registry.getEnhancedExecutor().enqueueTasks(
      ids.map((id) => [id, config.id] as const),
      { retry: POLICY },
    );
    return workflow.id;
  } finally {
    await registry.stop();
  }
}

/** Chain nodes of the graph part of the kill run (plus a fan-out of FAN_ITEMS and a join). */
const CHAIN = 30;
const FAN_ITEMS = 10;

/**
 * Submits the graph part of the kill run: c0 -> c1 -> ... -> c29, c0 -> fan (a fan-out of FAN_ITEMS
 * items) and c29 + fan -> join, every node on the chaos agent under POLICY; returns its workflow id.
 */
async function submitGraph(db: string): Promise<string> {
  const registry = new ServiceRegistry({ store: createStore(db), engineId: 'submitter-graph' });
  try {
    const factory = registry.getAgentFactory();
    const config =
      (await factory.listAgentConfigs()).find((c) => c.name === 'Chaos') ??
      (await factory.createAgentConfig({ name: 'Chaos', type: 'chaos', maxConcurrency: 64 }));
    const tracker = registry.getWorkflowTracker();
    const workflow = await tracker.createWorkflow({ name: 'chaos graph' });
    const manager = registry.getTaskManager();
    const make = (name: string, n: number) => manager.createTask({ name, inputData: { n } });
    const chain: Task[] = [];
    for (let i = 0; i < CHAIN; i += 1) chain.push(await make(`c${i}`, i));
    const fan = await make('fan', 100);
    const join = await make('join', 200);
    const items = Array.from({ length: FAN_ITEMS }, (_, i) => `"item ${i}"`).join(', ');
    await tracker.addTasksToWorkflow(workflow.id, [
      ...chain.map((task, i) => ({
        taskId: task.id,
        key: `c${i}`,
        ...(i === 0 ? {} : { dependsOn: [chain[i - 1]!.id] }),
      })),
      { taskId: fan.id, key: 'fan', dependsOn: [chain[0]!.id], forEach: `[${items}]` },
      { taskId: join.id, dependsOn: [chain[CHAIN - 1]!.id, fan.id] },
    ]);
    await registry.getEnhancedExecutor().enqueueWorkflow(workflow.id, { agentKey: config.id, retry: POLICY });
    return workflow.id;
  } finally {
    await registry.stop();
  }
}

interface Run {
  kind: 'start' | 'end';
  taskId: string;
  attempt: number;
  pid: number;
}

/** Every line of every worker's run log in `dir`. */
function readRuns(dir: string): Run[] {
  const runs: Run[] = [];
  for (const file of readdirSync(dir).filter((name) => /^runs-\d+\.log$/.test(name))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line === '') continue;
      const [kind, taskId, attempt, pid] = line.split(' ');
      runs.push({ kind: kind as Run['kind'], taskId: taskId!, attempt: Number(attempt), pid: Number(pid) });
    }
  }
  return runs;
}

interface ChaosOutput {
  n: number;
  pid: number;
  attempt: number;
  executionId: string;
}

/**
 * Every task of `workflowId` COMPLETED, held by nobody, with exactly one completion record that
 * names the attempt and execution whose output the row holds; every task ran (by the agents' logs)
 * at least once, at most POLICY.maxAttempts times, never the same attempt number twice, and never
 * an attempt later than the one recorded. Returns the tasks and the agent runs per task.
 */
async function expectEachCompletedOnce(
  store: Store,
  workflowId: string,
  total: number,
  logDir: string,
): Promise<{ tasks: Task[]; runsPerTask: Map<string, Run[]> }> {
  const tasks = await store.tasks.find({ where: { workflowId } });
  expect(tasks).toHaveLength(total);
  expect(tasks.filter((t) => t.status !== 'COMPLETED').map((t) => `${t.name}: ${t.status}`)).toEqual([]);
  expect(tasks.filter((t) => t.leaseOwner !== null).map((t) => `${t.name}: ${t.leaseOwner}`)).toEqual([]);

  const ids = new Set(tasks.map((t) => t.id));
  const records = (await store.completions()).filter((record) => ids.has(record.taskId));
  expect(records).toHaveLength(total);
  expect(new Set(records.map((record) => record.taskId)).size).toBe(total);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const mismatched: string[] = [];
  for (const record of records) {
    const task = byId.get(record.taskId)!;
    const output = task.outputData as ChaosOutput | null;
    const ok =
      output !== null &&
      output.n === task.inputData.n &&
      output.executionId === record.executionId &&
      output.attempt === record.attempt &&
      task.attempts === record.attempt;
    if (!ok)
      mismatched.push(`${task.name}: record ${JSON.stringify(record)} output ${JSON.stringify(output)}`);
  }
  expect(mismatched).toEqual([]);

  const runsPerTask = new Map<string, Run[]>();
  for (const run of readRuns(logDir)) {
    if (run.kind !== 'start' || !ids.has(run.taskId)) continue;
    let list = runsPerTask.get(run.taskId);
    if (!list) runsPerTask.set(run.taskId, (list = []));
    list.push(run);
  }
  const overRun: string[] = [];
  for (const task of tasks) {
    const runs = runsPerTask.get(task.id) ?? [];
    const attempts = runs.map((run) => run.attempt);
    const output = task.outputData as ChaosOutput;
    if (runs.length === 0) overRun.push(`${task.name}: never ran`);
    if (new Set(attempts).size !== attempts.length)
      overRun.push(`${task.name}: attempts ran ${attempts.join(',')}`);
    if (runs.length > POLICY.maxAttempts || Math.max(...attempts) > task.attempts)
      overRun.push(`${task.name}: ${runs.length} runs, attempts ${task.attempts}`);
    if (!runs.some((run) => run.attempt === output.attempt && run.pid === output.pid))
      overRun.push(`${task.name}: no logged run produced its output ${JSON.stringify(output)}`);
  }
  expect(overRun).toEqual([]);
  return { tasks, runsPerTask };
}

/** SIGTERM to each worker: it drains and exits 0. */
async function drain(workers: readonly WorkerProcess[]): Promise<string[]> {
  for (const worker of workers) worker.cli.child.kill('SIGTERM');
  const exits = await Promise.all(workers.map((worker) => worker.cli.exited));
  for (const exit of exits) expect(exit.code, exit.stderr).toBe(0);
  return exits.map((exit) => exit.stdout);
}

describePostgres('worker processes on one PostgreSQL schema (issue 13, proofs)', () => {
  afterAll(() => dropTestSchemas());

  const TASKS = 5000;
  const WORKERS = 3;
  const KILLS = 20;

  it(
    `${WORKERS} workers run ${TASKS} tasks while a random one is SIGKILLed ${KILLS} times and restarted: each task completed once (seed ${seed})`,
    async () => {
      const { dir, cleanup } = tempDir();
      const schema = nextSchema();
      const db = withUser(PG_URL, { schema });
      const look = inspector(withUser(PG_URL), schema);
      const random = mulberry32(seed);
      // 600 ms a run: the 30 slots of the 3 workers finish at most ~50 tasks/s (about 100 s), so the
      // kills and restarts (a few seconds each) land while there is work.
      const env = { CHAOS_RUN_LOG_DIR: dir, CHAOS_AGENT_MS: '600' };
      try {
        const workflowId = await submit(db, 'chaos', TASKS);
        const graphId = await submitGraph(db);
        const workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker(db, env)));

        // Each kill once the store shows some more tasks completed since the last one; when the work
        // left gets short, kills come as soon as the restarted worker beats, so that all of them
        // land while there is work. "Short" is measured, not assumed: the most tasks completed
        // during one kill-and-restart so far (a loaded machine restarts a worker slowly), with room.
        const step = Math.floor(TASKS / (KILLS + 5));
        let kills = 0;
        let killsWithWorkLeft = 0;
        let perRestart = 100;
        while (kills < KILLS) {
          const done = await eventually(
            'a progress reading',
            async () => (await look.completed()) ?? undefined,
          );
          const short = TASKS - done < (KILLS - kills) * perRestart;
          // Never past the last task: a target beyond it would never be reached.
          const target = Math.min(
            TASKS - 1,
            short ? done : done + Math.max(1, Math.round(step * (0.5 + random()))),
          );
          await eventually(`${target} tasks completed`, async () =>
            ((await look.completed()) ?? 0) >= target ? true : undefined,
          );
          const index = Math.floor(random() * workers.length);
          const victim = workers[index]!;
          victim.cli.child.kill('SIGKILL');
          await victim.cli.exited;
          kills += 1;
          const atKill = (await look.completed()) ?? TASKS;
          if (atKill < TASKS) killsWithWorkLeft += 1;
          const restarted = await startWorker(db, env);
          workers[index] = restarted;
          await eventually(`restarted worker ${restarted.engineId} to beat`, async () =>
            (await look.hasBeaten(restarted.engineId)) ? true : undefined,
          );
          const duringRestart = ((await look.completed()) ?? TASKS) - atKill;
          perRestart = Math.max(perRestart, Math.ceil(duringRestart * 2.5));
        }

        const graphNodes = CHAIN + 2 + FAN_ITEMS;
        await eventually(`all ${TASKS} tasks and ${graphNodes} graph nodes COMPLETED`, async () =>
          (await look.completed()) === TASKS + graphNodes ? true : undefined,
        );
        await drain(workers);

        await withStore(db, async (store) => {
          const { tasks, runsPerTask } = await expectEachCompletedOnce(store, workflowId, TASKS, dir);
          const runs = [...runsPerTask.values()].reduce((sum, list) => sum + list.length, 0);
          const rerun = [...runsPerTask.values()].filter((list) => list.length > 1).length;
          const rate = (runs - tasks.length) / tasks.length;
          console.log(
            `[workers chaos] ${WORKERS} workers, ${kills} SIGKILLs (${killsWithWorkLeft} with work left): ${runs} agent runs for ${tasks.length} tasks, duplicate runs ${rate.toFixed(4)} per task, ${rerun} tasks ran more than once, most runs of one task ${Math.max(...[...runsPerTask.values()].map((list) => list.length))}`,
          );
          // Each kill re-runs at most what the killed worker had running (16): a generous bound.
          expect(runs - tasks.length).toBeLessThanOrEqual(kills * 16);
          expect(killsWithWorkLeft).toBeGreaterThanOrEqual(KILLS - 2);
          const workflow = await eventually('the workflow COMPLETED', async () => {
            const row = await store.workflows.get(workflowId);
            return row?.status === 'COMPLETED' ? row : undefined;
          });
          expect(workflow.status).toBe('COMPLETED');

          // The graph part: every node (chain, fan-out, its items, join) COMPLETED with one completion
          // record, held by nobody; each ran at least once, never the same attempt twice, within
          // its policy; the workflow ended and was let go by its last coordinator.
          expect((await store.workflows.get(graphId))?.status).toBe('COMPLETED');
          const nodes = await store.tasks.find({ where: { workflowId: graphId } });
          expect(nodes).toHaveLength(graphNodes);
          expect(nodes.filter((t) => t.status !== 'COMPLETED' || t.leaseOwner !== null)).toEqual([]);
          const nodeIds = new Set(nodes.map((t) => t.id));
          const records = (await store.completions()).filter((record) => nodeIds.has(record.taskId));
          expect(records).toHaveLength(graphNodes);
          expect(new Set(records.map((record) => record.taskId)).size).toBe(graphNodes);
          const graphRuns = readRuns(dir).filter((run) => run.kind === 'start' && nodeIds.has(run.taskId));
          const bad: string[] = [];
          for (const node of nodes) {
            const attempts = graphRuns.filter((run) => run.taskId === node.id).map((run) => run.attempt);
            if (attempts.length === 0 && node.graph?.forEach == null) bad.push(`${node.name}: never ran`);
            if (new Set(attempts).size !== attempts.length)
              bad.push(`${node.name}: attempts ${attempts.join(',')}`);
            if (attempts.length > POLICY.maxAttempts) bad.push(`${node.name}: ${attempts.length} runs`);
          }
          expect(bad).toEqual([]);
          const [run] = await store.submittedWorkflows!();
          expect(run).toMatchObject({ workflowId: graphId, coordinator: null });
          expect(run!.endedAt).not.toBeNull();
          console.log(
            `[workers chaos] graph part: ${graphNodes} nodes, ${graphRuns.length} agent runs, run by ${new Set(graphRuns.map((r) => r.pid)).size} worker process(es)`,
          );
        });
      } finally {
        await look.close();
        cleanup();
      }
    },
    KILL_TEST_MS,
  );

  it(
    'a worker SIGSTOPped past its lease, then SIGCONTed: its late result changes nothing, the taker’s stands, and it runs other work afterwards',
    async () => {
      const { dir, cleanup } = tempDir();
      const schema = nextSchema();
      const db = withUser(PG_URL, { schema });
      const look = inspector(withUser(PG_URL), schema);
      const gate = join(dir, 'gate');
      try {
        const gatedWorkflow = await submit(db, 'gated', 1, { gated: true });
        const a = await startWorker(db, { CHAOS_RUN_LOG_DIR: dir, CHAOS_GATE: gate });
        const arrival = await eventually('worker A to run the gated task', async () =>
          existsSync(`${gate}.arrivals`)
            ? readFileSync(`${gate}.arrivals`, 'utf8').trim() || undefined
            : undefined,
        );
        const [taskId, arrivedPid] = arrival.split(' ');
        expect(Number(arrivedPid)).toBe(a.pid);
        await withStore(db, async (store) => {
          expect(await store.tasks.get(taskId!)).toMatchObject({ status: 'RUNNING', leaseOwner: a.engineId });
        });

        a.cli.child.kill('SIGSTOP');
        const b = await startWorker(db, { CHAOS_RUN_LOG_DIR: dir });
        // B takes the task over once A's beats have expired (by the database's clock), and completes it.
        const owners = new Set<string | null>();
        const taken = await withStore(db, (store) =>
          eventually('worker B to take the task over and complete it', async () => {
            const task = (await store.tasks.get(taskId!))!;
            owners.add(task.leaseOwner);
            return task.status === 'COMPLETED' ? task : undefined;
          }),
        );
        expect(owners.has(a.engineId) && owners.size === 1).toBe(false);
        expect(taken.outputData).toMatchObject({ pid: b.pid, attempt: 2 });
        const [recordOfB] = await withStore(db, (store) => store.completions(taskId!));
        expect(recordOfB).toMatchObject({
          executionId: (taken.outputData as ChaosOutput).executionId,
          attempt: 2,
        });

        // A wakes up still believing it holds the task; its agent then returns.
        a.cli.child.kill('SIGCONT');
        writeFileSync(gate, '');
        await eventually("A's agent run to finish", async () =>
          readRuns(dir).some((run) => run.kind === 'end' && run.taskId === taskId && run.pid === a.pid)
            ? true
            : undefined,
        );

        // B drains and leaves; work submitted now can only be A's.
        await drain([b]);
        const laterWorkflow = await submit(db, 'later', 20);
        await withStore(db, async (store) => {
          await eventually("A to complete the later workflow's 20 tasks", async () =>
            (await store.tasks.find({ where: { workflowId: laterWorkflow } })).filter(
              (task) => task.status === 'COMPLETED',
            ).length === 20
              ? true
              : undefined,
          );
          const later = await expectEachCompletedOnce(store, laterWorkflow, 20, dir);
          for (const task of later.tasks) expect((task.outputData as ChaosOutput).pid).toBe(a.pid);

          // The gated task still holds B's result: A's late completion changed 0 rows.
          const { tasks } = await expectEachCompletedOnce(store, gatedWorkflow, 1, dir);
          expect(tasks[0]).toMatchObject({ status: 'COMPLETED', attempts: 2, outputData: taken.outputData });
          expect(await store.completions(taskId!)).toEqual([recordOfB]);
          const runs = readRuns(dir).filter((run) => run.taskId === taskId);
          expect(
            runs
              .map(({ kind, attempt, pid }) => ({ kind, attempt, pid }))
              .sort((x, y) => x.pid - y.pid || x.kind.localeCompare(y.kind)),
          ).toEqual(
            [
              { kind: 'end', attempt: 1, pid: a.pid },
              { kind: 'start', attempt: 1, pid: a.pid },
              { kind: 'end', attempt: 2, pid: b.pid },
              { kind: 'start', attempt: 2, pid: b.pid },
            ].sort((x, y) => x.pid - y.pid || x.kind.localeCompare(y.kind)),
          );
        });
        const [stdoutOfA] = await drain([a]);
        // A counts the 20 later tasks as completed, not its late result of the gated one.
        expect(stdoutOfA).toMatch(/claimed 21, completed 20, failed, cancelled or released 1/);
      } finally {
        await look.close();
        cleanup();
      }
    },
    TEST_MS,
  );
});

const binDir = postgresBinDir();
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
// Under CI the server programs must be there: the test fails rather than skips.
const describeCluster = binDir !== null || inCi ? describe : describe.skip;
if (binDir === null && !inCi) {
  console.warn(
    '[symphony tests] SKIPPING the worker test with a PostgreSQL restart: no initdb/pg_ctl (set SYMPHONY_TEST_PG_BIN)',
  );
}

describeCluster('worker processes while their PostgreSQL server restarts (issue 13, proofs)', () => {
  const TASKS = 2000;

  it(
    `2 workers, ${TASKS} tasks, the server restarted mid-run: the workers reconnect, each task completed once, none stuck`,
    async () => {
      const cluster = await startPrivateCluster();
      const { dir, cleanup } = tempDir();
      const schema = 'chaos_restart';
      const db = withUser(cluster.url, { schema });
      const look = inspector(cluster.url, schema);
      const env = { CHAOS_RUN_LOG_DIR: dir, CHAOS_AGENT_MS: '2' };
      try {
        const workflowId = await submit(db, 'restart', TASKS);
        const workers = [await startWorker(db, env), await startWorker(db, env)];
        await eventually('a fifth of the tasks COMPLETED', async () =>
          ((await look.completed()) ?? 0) >= TASKS / 5 ? true : undefined,
        );
        await cluster.stop();
        await cluster.start();
        await waitFor(
          `all ${TASKS} tasks COMPLETED`,
          async () => (await look.completed()) === TASKS,
          DEADLINE_MS,
        );
        const midway = (await look.completed()) ?? 0;
        expect(midway).toBe(TASKS);
        const outputs = await drain(workers);
        await withStore(db, async (store) => {
          const { tasks } = await expectEachCompletedOnce(store, workflowId, TASKS, dir);
          expect(tasks.filter((t) => t.status === 'RUNNING')).toEqual([]);
          const workflow = await eventually('the workflow COMPLETED', async () => {
            const row = await store.workflows.get(workflowId);
            return row?.status === 'COMPLETED' ? row : undefined;
          });
          expect(workflow.status).toBe('COMPLETED');
        });
        // Both went on after the restart: each completed tasks (their summary lines).
        for (const stdout of outputs) expect(stdout).toMatch(/completed [1-9]\d*/);
      } finally {
        await look.close();
        await cluster.destroy();
        cleanup();
      }
    },
    TEST_MS,
  );
});
