/**
 * A workflow graph (random DAG with conditions and fan-outs, on a SQLite file) whose engine is cut
 * at random agent calls (`stop({ graceMs: 0 })` from inside the agent: the attempts in progress
 * are interrupted) and taken over by a new engine (`recover({ workflowId })` + `executeWorkflow`),
 * up to three times, ends as an uninterrupted run. Replay with CRASH_SEED (and CRASH_PATH); widen
 * with CRASH_RUNS and CRASH_NODES; CRASH_DEBUG prints each case's agent log and tasks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type Task } from '../../src/index.js';
import { createTestClock, flushEngine } from '../../src/testing/index.js';
import {
  NOT_GIVEN,
  crashCaseArb,
  crashEngine,
  runWithCuts,
  crashModel,
  driveWithin,
  itemOf,
  usesFunction,
  withRejected,
  type CrashCase,
} from './graph-crash-kit.js';
import { expectedWorkflowStatus, withinTurns } from './graph-kit.js';

/** Event-loop turns a call may take before it counts as hung. */
const HANG_TURNS = 20_000;

/**
 * Fixed (a node waits for a function not given yet; a run counts recovered executions): known bugs
 * A, B, D (minimal cases below, now plain tests): a node whose function condition or list is decided by
 * a new engine before executeWorkflow handed the functions over ends FAILED with CONDITION_FAILED
 * "was not given" (A, B), or, if its task was already running again, completes while the workflow
 * ends FAILED (D) or executeWorkflow resolves FAILED (D2). While true, such a rejection is accepted and the model ends that node as
 * rejected; and a FAILED workflow whose tasks all ended as the model says, with a function node
 * interrupted by a cut, is accepted. Counted in the summary.
 */
const TOLERATE_NOT_GIVEN = false;

/**
 * Known bug F (minimal case below): the run resolves while a recovered execution still runs, and
 * what that execution releases is never run. While true, executeWorkflow is called once more after
 * the last engine's run and its recovered executions ended (the docs' "call again to wait for the
 * rest"), and what it ran is counted in the summary.
 */
const TOLERATE_UNRUN_RELEASED = false;

/**
 * Known finding E (minimal case below): executeWorkflow's maxConcurrent does not count the
 * executions recover() took over; while true, an engine may run that many more agents at once.
 */
const TOLERATE_RECOVERED_OVER_LIMIT = true;

/**
 * Bug C (fixed by 52a79db; case below): when a node was skipped or rejected by a dependency that
 * ended outside the run (a recovered execution) as executeWorkflow started, the call resolved
 * RUNNING and the workflow stayed RUNNING. While true, such a RUNNING workflow whose every task
 * ended as the model says is accepted (counted in the summary).
 */
const TOLERATE_STUCK_RUNNING = false;

const summary = {
  cases: 0,
  cuts: 0,
  extraRuns: 0,
  startsAfterStop: 0,
  toleratedNotGiven: 0,
  toleratedStuckRunning: 0,
  toleratedFailedWorkflow: 0,
  ranByCallAgain: 0,
};

/**
 * `recoverFirst`: the documented resume, `recover()` then `executeWorkflow()`; else executeWorkflow
 * first and recover() a turn later. Both orders meet the bugs below (a function given to
 * executeWorkflow arrives after the graph decided the node), each in its own way.
 */
async function checkCrashCase(c: CrashCase, recoverFirst: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'symphony-graph-crash-'));
  try {
    const { log, built, status, workflow, tasks, completions, ranByCallAgain } = await runWithCuts(
      c,
      join(dir, 'graph.db'),
      {
        recoverFirst,
        hangTurns: HANG_TURNS,
        callAgain: TOLERATE_UNRUN_RELEASED,
      },
    );
    const byId = new Map<string, Task>(tasks.map((task) => [task.id, task]));
    const notGiven = new Set(
      built.taskIds.flatMap((id, i) =>
        usesFunction(c, i) &&
        byId.get(id)?.status === 'FAILED' &&
        byId.get(id)!.errors.some((e) => NOT_GIVEN.test(e.message))
          ? [i]
          : [],
      ),
    );
    const model = crashModel(TOLERATE_NOT_GIVEN ? withRejected(c, notGiven) : c);
    summary.cases += 1;
    summary.ranByCallAgain += ranByCallAgain;
    summary.cuts += log.cuts.length;
    summary.startsAfterStop += log.afterCut.length;
    summary.toleratedNotGiven += TOLERATE_NOT_GIVEN ? notGiven.size : 0;

    if (process.env.CRASH_DEBUG) {
      const lines = [
        ...log.cuts.map((cut) => `cut ${JSON.stringify(cut)}`),
        ...log.afterCut.map((x) => `after cut ${JSON.stringify(x)}`),
        ...log.events.map((e) => `${e.type} ${e.taskId} engine ${e.engine} attempt ${e.attempt}`),
        ...tasks.map(
          (t) => `${t.id} ${t.status} ${t.errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`,
        ),
        `workflow ${workflow?.status}, resolved ${status}`,
      ];
      console.log(lines.join('\n'));
    }
    // Every node ends as the uninterrupted run; a COMPLETED node holds its output.
    const actual = built.taskIds.map((id, i) => `${i}:${byId.get(id)?.status}`);
    expect(actual).toEqual(model.statuses.map((s, i) => `${i}:${s}`));
    for (const [i, id] of built.taskIds.entries()) {
      if (model.statuses[i] === 'COMPLETED')
        expect(byId.get(id)!.outputData, `node ${i}`).toEqual(model.outputs[i]);
    }
    const wantWorkflow = expectedWorkflowStatus(model.statuses);
    const cutFunctionNode = [
      ...log.cuts.flatMap((cut) => cut.inFlight),
      ...log.afterCut.map((x) => x.taskId),
    ].some((id) => built.indexOf.has(id) && usesFunction(c, built.indexOf.get(id)!));
    if (TOLERATE_STUCK_RUNNING && (status === 'RUNNING' || workflow?.status === 'RUNNING')) {
      summary.toleratedStuckRunning += 1;
    } else if (TOLERATE_NOT_GIVEN && wantWorkflow === 'COMPLETED' && status === 'FAILED' && cutFunctionNode) {
      // Bug D (the workflow ends FAILED) or D2 (only the call says FAILED).
      summary.toleratedFailedWorkflow += 1;
      expect(['FAILED', 'COMPLETED']).toContain(workflow?.status);
    } else {
      expect(status).toBe(wantWorkflow);
      expect(workflow?.status).toBe(wantWorkflow);
    }

    // A fan-out's items: one task per item, ids <fan-out>-<i>, never twice; none for the others.
    const itemTasks = tasks.filter((task) => !built.indexOf.has(task.id));
    expect(itemTasks.filter((task) => itemOf(task.id, built) === null).map((t) => t.id)).toEqual([]);
    for (const [i, fanOut] of c.fanOuts.entries()) {
      const id = built.taskIds[i]!;
      const mine = itemTasks.filter((task) => itemOf(task.id, built)?.node === i).map((task) => task.id);
      const count = fanOut && model.statuses[i] === 'COMPLETED' ? c.items[fanOut.source]!.length : 0;
      const ids = Array.from({ length: count }, (_, index) => `${id}-${index}`);
      expect(mine.sort(), `items of node ${i}`).toEqual([...ids].sort());
      if (count > 0) expect(byId.get(id)!.graph?.children).toEqual(ids);
      for (const itemId of ids) expect(byId.get(itemId)!.status, itemId).toBe('COMPLETED');
    }

    // Exactly one completion record per COMPLETED task, none for the others.
    const records = new Map<string, number>();
    for (const record of completions) records.set(record.taskId, (records.get(record.taskId) ?? 0) + 1);
    const badRecords = tasks
      .filter((task) => (records.get(task.id) ?? 0) !== (task.status === 'COMPLETED' ? 1 : 0))
      .map((task) => `${task.id} ${task.status}: ${records.get(task.id) ?? 0} records`);
    expect(badRecords).toEqual([]);
    expect(completions.filter((record) => !byId.has(record.taskId))).toEqual([]);

    // Attempts a cut interrupted (in progress at the cut, or started in that engine after it).
    const interrupted = new Map<string, number>();
    const interrupt = (id: string) => interrupted.set(id, (interrupted.get(id) ?? 0) + 1);
    for (const cut of log.cuts) cut.inFlight.forEach(interrupt);
    for (const { taskId } of log.afterCut) interrupt(taskId);

    // Each agent started after its dependencies' agents had ended (in this or an earlier engine)
    // and saw their completed outputs; none ran for a node that does not complete, unless cut.
    const endedBefore = new Set<string>();
    const ended = (node: number): boolean => {
      const fanOut = c.fanOuts[node];
      const id = built.taskIds[node]!;
      if (!fanOut) return endedBefore.has(id);
      return c.items[fanOut.source]!.every((_, index) => endedBefore.has(`${id}-${index}`));
    };
    const early: string[] = [];
    for (const event of log.events) {
      if (event.type === 'end') {
        endedBefore.add(event.taskId);
        continue;
      }
      const node = itemOf(event.taskId, built)?.node ?? built.indexOf.get(event.taskId)!;
      if (model.statuses[node] !== 'COMPLETED' && !interrupted.has(event.taskId))
        early.push(`${event.taskId}: ran, but ends ${model.statuses[node]}`);
      const deps = c.graph.nodes[node]!.deps;
      for (const d of deps) if (!ended(d)) early.push(`${event.taskId} started before node ${d} ended`);
      const seen = Object.fromEntries(deps.map((d) => [built.names[d]!, model.outputs[d]]));
      if (!sameValue(event.dependencies, seen))
        early.push(
          `${event.taskId} saw ${JSON.stringify(event.dependencies)}, expected ${JSON.stringify(seen)}`,
        );
    }
    expect(early).toEqual([]);

    // Runs beyond one per task are re-runs of interrupted attempts, at most one per interruption.
    const runs = new Map<string, number>();
    for (const event of log.events) {
      if (event.type === 'start') runs.set(event.taskId, (runs.get(event.taskId) ?? 0) + 1);
    }
    const badRuns: string[] = [];
    for (const task of tasks) {
      const count = runs.get(task.id) ?? 0;
      const node = built.indexOf.get(task.id);
      const wanted = task.status === 'COMPLETED' && (node === undefined || !c.fanOuts[node]) ? 1 : 0;
      const max = wanted + (interrupted.get(task.id) ?? 0);
      if (count < wanted || count > max)
        badRuns.push(`${task.id}: ${count} runs, expected ${wanted} to ${max}`);
    }
    expect(badRuns).toEqual([]);
    const extra = [...runs.values()].reduce((a, b) => a + b, 0) - model.runs;
    summary.extraRuns += extra;
    expect(extra).toBeLessThanOrEqual(
      log.cuts.reduce((a, cut) => a + cut.inFlight.length, 0) + log.afterCut.length,
    );
    // The attempt that made each cut was in progress: it was recorded interrupted and ran again.
    for (const cut of log.cuts) {
      expect(
        byId.get(cut.cutBy)!.errors.map((e) => e.code),
        cut.cutBy,
      ).toContain('ATTEMPT_INTERRUPTED');
      if (byId.get(cut.cutBy)!.status === 'COMPLETED')
        expect(runs.get(cut.cutBy), cut.cutBy).toBeGreaterThanOrEqual(2);
    }
    for (const [engineNo, max] of log.maxRunning) {
      const recovered = TOLERATE_RECOVERED_OVER_LIMIT ? (log.recovered.get(engineNo) ?? 0) : 0;
      expect(max, `agents of engine ${engineNo} at once`).toBeLessThanOrEqual(
        c.graph.maxConcurrent + recovered,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  try {
    expect(a).toEqual(b);
    return true;
  } catch {
    return false;
  }
}

const seeded = process.env.CRASH_SEED
  ? { seed: Number(process.env.CRASH_SEED), path: process.env.CRASH_PATH, endOnFailure: true }
  : {};

describe('a workflow graph cut at random points and taken over by new engines (SQLite)', () => {
  afterAll(() => {
    console.log(`[graph crash property] ${JSON.stringify(summary)}`);
  });

  it('ends as the uninterrupted run: statuses, fan-out items once, one completion each, dependency order', async () => {
    await fc.assert(
      fc.asyncProperty(crashCaseArb(Number(process.env.CRASH_NODES ?? 10)), fc.boolean(), (c, recoverFirst) =>
        checkCrashCase(c, recoverFirst),
      ),
      { numRuns: Number(process.env.CRASH_RUNS ?? 100), ...seeded },
    );
  }, 60_000);
});

describe('bugs found by this property (minimal cases)', () => {
  const agent = { id: 'plain', execute: async () => ({ n: 0 }) };

  /**
   * a -> b, b with `when` (a CEL string or a function); engine 1 is stopped with `graceMs: 0` from
   * inside the agent of `cutIn` (its attempt is interrupted), then engine 2 opens the same file.
   */
  async function cutGraph(when: string | (() => boolean), cutIn: 'a' | 'b') {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-graph-crash-'));
    const path = join(dir, 'graph.db');
    const clock = createTestClock(1_700_000_000_000);
    const first = crashEngine(path, 1, clock);
    const wf = await first.tracker.createWorkflow({ name: 'cut' });
    const a = await first.tasks.createTask({ name: 'a' });
    const b = await first.tasks.createTask({ name: 'b' });
    await first.tracker.addTasksToWorkflow(wf.id, [
      { taskId: a.id, key: 'a' },
      { taskId: b.id, dependsOn: [a.id], when },
    ]);
    let stopping: Promise<void> | null = null;
    const cutting = {
      id: 'cutting',
      async execute(task: Readonly<Task>) {
        if (task.name === cutIn) {
          stopping ??= first.registry.stop({ graceMs: 0 });
          await flushEngine(1);
        }
        return { n: 0 };
      },
    };
    await expect(first.executor.executeWorkflow(wf.id, { agent: cutting })).rejects.toMatchObject({
      code: 'ENGINE_STOPPED',
    });
    await stopping;
    const second = crashEngine(path, 2, clock);
    return {
      second,
      clock,
      wf,
      b,
      async dispose() {
        await second.registry.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  // Bug A: the documented resume (recover, then executeWorkflow with the function conditions
  // again) fails b with CONDITION_FAILED "has a condition given in code, which this engine was not
  // given" when the recovered a completes before executeWorkflow hands its `conditions` over:
  // recover() starts a's agent at once, a completes, the graph decides b with no function for it.
  // (The same for a fan-out's `forEach` function.) Expected: b runs, the workflow COMPLETES.
  it('recover() then executeWorkflow({ conditions }): a node whose dependency was recovered keeps its function condition', async () => {
    const { second, clock, wf, b, dispose } = await cutGraph(() => true, 'a');
    try {
      const report = await second.registry.recover({ workflowId: wf.id, resolveAgent: () => agent });
      const result = await driveWithin(
        second.executor.executeWorkflow(wf.id, { agent, conditions: { [b.id]: () => true } }),
        clock,
        HANG_TURNS,
        'executeWorkflow',
      );
      await report.results;
      expect((await second.tasks.getTask(b.id)).errors.map((e) => e.code)).not.toContain('CONDITION_FAILED');
      expect(result.status).toBe('COMPLETED');
    } finally {
      await dispose();
    }
  });

  // Bug B: b's condition (a function) held and b's attempt was under way when the engine stopped.
  // In the new engine executeWorkflow({ conditions }) loads the workflow (runtime.workflows.get),
  // whose graph decides the interrupted b again before configure() hands the conditions over
  // (enhanced-executor.ts executeWorkflow: get, then fresh.configure): b ends FAILED with
  // CONDITION_FAILED "not given" although this very call gives it. With a CEL condition it completes.
  it('executeWorkflow({ conditions }) on a new engine: a node interrupted mid-attempt keeps its function condition', async () => {
    const { second, clock, wf, b, dispose } = await cutGraph(() => true, 'b');
    try {
      const result = await driveWithin(
        second.executor.executeWorkflow(wf.id, { agent, conditions: { [b.id]: () => true } }),
        clock,
        HANG_TURNS,
        'executeWorkflow',
      );
      expect((await second.tasks.getTask(b.id)).errors.map((e) => e.code)).not.toContain('CONDITION_FAILED');
      expect(result.status).toBe('COMPLETED');
    } finally {
      await dispose();
    }
  });

  // Bug D: as bug B, but resumed the documented way (recover, then executeWorkflow with the
  // conditions) and with b's agent taking two turns: recover() adopts b and runs it; loading the
  // workflow decides b again with no function for it, so the workflow machine rejects the node
  // while its task, already running, is not rejected: b ends COMPLETED (no CONDITION_FAILED in
  // its errors), a COMPLETED, and yet the workflow ends FAILED (stored and resolved).
  // With an agent that returns at once the workflow completes.
  it('recover() then executeWorkflow: a workflow whose tasks all completed ends COMPLETED', async () => {
    const { second, clock, wf, b, dispose } = await cutGraph(() => true, 'b');
    const slow = {
      id: 'slow',
      async execute() {
        await flushEngine(2);
        return { n: 0 };
      },
    };
    try {
      const report = await second.registry.recover({ workflowId: wf.id, resolveAgent: () => slow });
      expect(report.recovered).toEqual([b.id]);
      const result = await driveWithin(
        second.executor.executeWorkflow(wf.id, { agent: slow, conditions: { [b.id]: () => true } }),
        clock,
        HANG_TURNS,
        'executeWorkflow',
      );
      await report.results;
      const statuses = (await second.tracker.getWorkflowTasks(wf.id)).map((t) => `${t.name}:${t.status}`);
      expect(statuses).toEqual(['a:COMPLETED', 'b:COMPLETED']);
      expect(result.status).toBe('COMPLETED');
      expect(await second.tracker.getWorkflowStatus(wf.id)).toBe('COMPLETED');
    } finally {
      await dispose();
    }
  });

  // Bug D2: the same cut, resumed the other way (executeWorkflow with the conditions, recover() a
  // turn later, b's agent taking two turns): executeWorkflow resolves FAILED, yet b runs again and
  // completes and the workflow ends COMPLETED (stored and live): the call's answer and the
  // workflow disagree.
  it('executeWorkflow then recover(): the call resolves with the status the workflow ends in', async () => {
    const { second, clock, wf, b, dispose } = await cutGraph(() => true, 'b');
    const slow = {
      id: 'slow',
      async execute() {
        await flushEngine(2);
        return { n: 0 };
      },
    };
    try {
      const run = second.executor.executeWorkflow(wf.id, {
        agent: slow,
        conditions: { [b.id]: () => true },
      });
      await flushEngine(1);
      const report = await second.registry.recover({ workflowId: wf.id, resolveAgent: () => slow });
      const result = await driveWithin(run, clock, HANG_TURNS, 'executeWorkflow');
      await driveWithin(report.results, clock, HANG_TURNS, 'recovered');
      await flushEngine(5);
      const ended = await second.tracker.getWorkflowStatus(wf.id);
      expect(result.status).toBe(ended);
    } finally {
      await dispose();
    }
  });

  it('(control for bug B) the same with a CEL condition completes', async () => {
    const { second, clock, wf, dispose } = await cutGraph('outputs.a.n == 0', 'b');
    try {
      const result = await driveWithin(
        second.executor.executeWorkflow(wf.id, { agent }),
        clock,
        HANG_TURNS,
        'run',
      );
      expect(result.status).toBe('COMPLETED');
    } finally {
      await dispose();
    }
  });

  // Bug F: a -> b -> c and a -> x, x's CEL condition cannot be evaluated (x FAILED unrun, as
  // designed; the workflow is to end FAILED once the graph's work is done). The engine is cut inside
  // b. The new engine recovers b (its agent takes two turns) and calls executeWorkflow: the call
  // resolves FAILED while the recovered b still runs (not one of the run's executions), and c,
  // released when b completes, is never run: it stays PENDING. Uninterrupted, c runs. Same with the
  // other resume order, and with a fan-out in c's place (its items are made and left PENDING).
  // With an agent that returns at once (b done before executeWorkflow starts) c runs.
  it('after a restart, nodes released by a re-run dependency still run in a workflow that has a FAILED node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-graph-crash-'));
    const path = join(dir, 'graph.db');
    const clock = createTestClock(1_700_000_000_000);
    const first = crashEngine(path, 1, clock);
    const wf = await first.tracker.createWorkflow({ name: 'released after restart' });
    const [a, b, c, x] = await Promise.all(
      ['a', 'b', 'c', 'x'].map((name) => first.tasks.createTask({ name })),
    );
    await first.tracker.addTasksToWorkflow(wf.id, [
      { taskId: a!.id, key: 'a' },
      { taskId: b!.id, dependsOn: [a!.id] },
      { taskId: c!.id, dependsOn: [b!.id] },
      { taskId: x!.id, dependsOn: [a!.id], when: 'outputs.a.missing > 0' },
    ]);
    let stopping: Promise<void> | null = null;
    const cutting = {
      id: 'cutting',
      async execute(task: Readonly<Task>) {
        if (task.name === 'b') {
          stopping ??= first.registry.stop({ graceMs: 0 });
          await flushEngine(1);
        }
        return { n: 0 };
      },
    };
    await expect(first.executor.executeWorkflow(wf.id, { agent: cutting })).rejects.toThrow();
    await stopping;
    const second = crashEngine(path, 2, clock);
    const slow = {
      id: 'slow',
      async execute() {
        await flushEngine(2);
        return { n: 0 };
      },
    };
    try {
      const report = await second.registry.recover({ workflowId: wf.id, resolveAgent: () => slow });
      const result = await driveWithin(
        second.executor.executeWorkflow(wf.id, { agent: slow }),
        clock,
        HANG_TURNS,
        'executeWorkflow',
      );
      await report.results;
      const statuses = (await second.tracker.getWorkflowTasks(wf.id)).map((t) => `${t.name}:${t.status}`);
      expect(statuses).toEqual(['a:COMPLETED', 'b:COMPLETED', 'c:COMPLETED', 'x:FAILED']);
      expect(result.status).toBe('FAILED');
    } finally {
      await second.registry.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Finding E: executeWorkflow's `maxConcurrent` does not count the workflow's recovered
  // executions. a and b independent, maxConcurrent 1; the engine is cut inside a (b waits for the
  // slot); the new engine recovers a (running, slow) and executeWorkflow({ maxConcurrent: 1 })
  // starts b beside it: two agents of the workflow at once. (recover() cannot know the limit; the
  // run could count the workflow's live executions.) Found by the property through fan-out items.
  it.fails(
    'recover() then executeWorkflow({ maxConcurrent: 1 }) runs one task of the workflow at a time',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'symphony-graph-crash-'));
      const path = join(dir, 'graph.db');
      const clock = createTestClock(1_700_000_000_000);
      const first = crashEngine(path, 1, clock);
      const wf = await first.tracker.createWorkflow({ name: 'limit' });
      const a = await first.tasks.createTask({ name: 'a' });
      const b = await first.tasks.createTask({ name: 'b' });
      await first.tracker.addTasksToWorkflow(wf.id, [{ taskId: a.id }, { taskId: b.id, key: 'b' }]);
      let stopping: Promise<void> | null = null;
      const cutting = {
        id: 'cutting',
        async execute() {
          stopping ??= first.registry.stop({ graceMs: 0 });
          await flushEngine(1);
          return { n: 0 };
        },
      };
      await expect(
        first.executor.executeWorkflow(wf.id, { agent: cutting, maxConcurrent: 1 }),
      ).rejects.toThrow();
      await stopping;
      const second = crashEngine(path, 2, clock);
      let running = 0;
      let most = 0;
      const slow = {
        id: 'slow',
        async execute() {
          most = Math.max(most, (running += 1));
          await flushEngine(3);
          running -= 1;
          return { n: 0 };
        },
      };
      try {
        const report = await second.registry.recover({ workflowId: wf.id, resolveAgent: () => slow });
        expect(report.recovered).toHaveLength(1);
        const result = await driveWithin(
          second.executor.executeWorkflow(wf.id, { agent: slow, maxConcurrent: 1 }),
          clock,
          HANG_TURNS,
          'executeWorkflow',
        );
        await report.results;
        expect(result.status).toBe('COMPLETED');
        expect(most).toBe(1);
      } finally {
        await second.registry.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  // Bug C (fixed by 52a79db, which landed while this was written; kept as a regression test).
  // No crash needed, memory store too: a -> b, b's CEL condition false. a runs outside a
  // run (executeTask here; in the property, a recovered execution) and executeWorkflow is called as
  // soon as it resolves, while b's SKIP is being written: the call resolves RUNNING (not one of the
  // statuses WorkflowResult promises), and the workflow stays RUNNING for good (live and stored, a
  // second executeWorkflow resolves RUNNING again) with a COMPLETED and b SKIPPED. The same with a
  // condition that cannot be evaluated (b FAILED, the workflow should be FAILED). Waiting a few
  // turns before executeWorkflow gave the right status.
  it('executeWorkflow called while a skipped node is being written resolves and ends the workflow COMPLETED', async () => {
    const registry = new ServiceRegistry({ store: new MemoryStore(), controlPollMs: 0 });
    try {
      const tasks = registry.getTaskManager();
      const tracker = registry.getWorkflowTracker();
      const executor = registry.getEnhancedExecutor();
      const wf = await tracker.createWorkflow({ name: 'skip outside a run' });
      const a = await tasks.createTask({ name: 'a' });
      const b = await tasks.createTask({ name: 'b' });
      await tracker.addTasksToWorkflow(wf.id, [
        { taskId: a.id, key: 'a' },
        { taskId: b.id, dependsOn: [a.id], when: 'outputs.a.n > 5' },
      ]);
      expect((await executor.executeTask(a.id, agent, wf.id)).status).toBe('COMPLETED');
      const result = await withinTurns(executor.executeWorkflow(wf.id, { agent }), 5_000, 'executeWorkflow');
      await flushEngine(50);
      expect((await tasks.getTask(b.id)).status).toBe('SKIPPED');
      expect(await tracker.getWorkflowStatus(wf.id)).toBe('COMPLETED');
      expect(result.status).toBe('COMPLETED');
    } finally {
      await registry.stop();
    }
  });
});
