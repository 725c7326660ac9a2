/**
 * `symphony run` of workflow files with a loop (`loop: { until, maxIterations }`) and a wait for a
 * signal (`waitFor`), `symphony signal` from another process on the same store, and what `show`
 * and `graph` print of them. Nothing waits for time to pass: the tests wait on the store (and hold
 * the first task at a gate file where a signal must come before the wait begins).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Task } from '../../src/index.js';
import { cli, FIXTURES, readStore, startCli, tempDir, WORKFLOW_LINE, type CliProcess } from './helpers.js';

/** Generous bounds for waits on other processes: they pass as soon as the state is there. */
const SETTLE = { timeout: 60_000, interval: 10 };

const temps: Array<() => void> = [];
const running: CliProcess[] = [];
afterEach(() => {
  for (const run of running.splice(0)) run.child.kill('SIGKILL');
  temps.splice(0).forEach((cleanup) => cleanup());
});

function temp() {
  const made = tempDir();
  temps.push(made.cleanup);
  return made;
}

/** Writes a workflow file of these task lines (YAML) run by loop-wait-agents.mjs; returns its path. */
function workflowFile(dir: string, name: string, tasks: readonly string[]): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      'agents:',
      `  module: ${join(FIXTURES, 'loop-wait-agents.mjs')}`,
      '  configs:',
      '    - { name: Writer, type: writer }',
      'tasks:',
      ...tasks.map((task) => `  - ${task}`),
    ].join('\n'),
  );
  return file;
}

const tasksOf = (db: string, workflowId: string): Promise<Task[]> =>
  readStore(db, (store) => store.tasks.find({ where: { workflowId } }));

const byName = (tasks: readonly Task[]) => new Map(tasks.map((task) => [task.name, task]));

describe('symphony run with a loop', () => {
  it('runs the iterations until `until` holds; show lists them as tasks, graph draws the loop', async () => {
    const { dir, db } = temp();
    const file = workflowFile(dir, 'Loop', [
      '{ key: outline, name: Outline }',
      '{ key: review, name: Review, dependsOn: [outline], loop: { until: outputs.review.approved == true, maxIterations: 5 } }',
      '{ key: publish, name: Publish, dependsOn: [review] }',
    ]);
    const { code, stdout, stderr } = await cli(['run', file, '--db', db, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as { workflow: { id: string; status: string } };
    expect(summary.workflow.status).toBe('COMPLETED');
    const tasks = byName(await tasksOf(db, summary.workflow.id));
    const loop = tasks.get('Review')!;
    expect(loop).toMatchObject({
      status: 'COMPLETED',
      attempts: 0,
      outputData: { draft: 3, approved: true },
    });
    expect(loop.graph?.loop).toMatchObject({
      until: { cel: 'outputs.review.approved == true' },
      maxIterations: 5,
    });
    const iterations = [0, 1, 2].map((i) => tasks.get(`Review [iteration ${i}]`)!);
    expect(loop.graph?.children).toEqual(iterations.map((task) => task.id));
    expect(iterations.map((task) => task.outputData)).toEqual(
      [1, 2, 3].map((draft) => ({ draft, approved: draft >= 3 })),
    );
    // The iterations ran on the loop's agent (the only one), one attempt each.
    expect(iterations.every((task) => task.attempts === 1 && task.agentId !== null)).toBe(true);
    expect(tasks.get('Publish')!.outputData).toEqual({
      done: 'Publish',
      dependencies: { review: { draft: 3, approved: true } },
    });

    const show = await cli(['show', summary.workflow.id, '--db', db]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/COMPLETED\s+-\s+0\s+-\s+Review\s+loop: 3 iteration\(s\), at most 5 a round/);
    for (const task of iterations) {
      expect(show.stdout).toMatch(
        new RegExp(`${task.id}\\s+COMPLETED\\s+Writer\\s+1\\s.*${task.name.replace(/[[\]]/g, '\\$&')}`),
      );
    }
    expect(show.stdout).not.toContain('Signals');

    const graph = await cli(['graph', summary.workflow.id, '--db', db]);
    expect(graph.code).toBe(0);
    // Drawn under its id when that is a plain Mermaid name (a random id may start with a digit:
    // then `node_<i>`), with the loop's label.
    const drawn = graph.stdout
      .split('\n')
      .find((line) => line.includes('(["↻ Review #91;until: outputs.review.approved == true, max 5#93;"])'))
      ?.trim()
      .split('(')[0];
    expect(drawn === loop.id || /^node_\d+_*$/.test(drawn ?? '')).toBe(true);
    // Each iteration is linked to its loop by a dotted edge.
    expect(graph.stdout.match(new RegExp(`${drawn} -\\.-> `, 'g'))).toHaveLength(3);
  });

  it('fails the loop LOOP_LIMIT_EXCEEDED after maxIterations without `until` holding: exit 1', async () => {
    const { dir, db } = temp();
    const file = workflowFile(dir, 'Stubborn', [
      '{ key: review, name: Review, inputData: { approveAt: 10 }, loop: { until: outputs.review.approved, maxIterations: 2 } }',
    ]);
    const { code, stdout } = await cli(['run', file, '--db', db, '--json']);
    expect(code).toBe(1);
    const summary = JSON.parse(stdout) as { workflow: { id: string; status: string } };
    const loop = byName(await tasksOf(db, summary.workflow.id)).get('Review')!;
    expect(loop.status).toBe('FAILED');
    expect(loop.errors.at(-1)).toMatchObject({ code: 'LOOP_LIMIT_EXCEEDED' });
    expect(loop.graph?.children).toHaveLength(2);
  });
});

describe('symphony run with a wait for a signal', () => {
  it('waits until `symphony signal` from another process answers; what follows runs with the payload', async () => {
    const { dir, db } = temp();
    const file = workflowFile(dir, 'Approval', [
      '{ key: draft, name: Draft }',
      '{ key: approval, name: Approval, dependsOn: [draft], waitFor: { signals: [approval, rejection], timeoutMs: 86400000 } }',
      '{ key: ship, name: Ship, dependsOn: [approval], when: outputs.approval.payload.ok == true }',
    ]);
    const runner = startCli(['run', file, '--db', db]);
    running.push(runner);
    const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
    // The wait has begun: its dependency is done and it is PENDING, with its timeout's due time stored.
    await vi.waitFor(async () => {
      const tasks = byName(await tasksOf(db, workflowId!));
      expect(tasks.get('Draft')!.status).toBe('COMPLETED');
      expect(tasks.get('Approval')).toMatchObject({ status: 'PENDING', runAfter: expect.any(Number) });
    }, SETTLE);
    const pending = await cli(['show', workflowId!, '--db', db]);
    expect(pending.stdout).toMatch(/PENDING\s+-\s+0\s+-\s+Approval\s+waits for signal approval or rejection/);

    const sent = await cli(['signal', workflowId!, 'approval', '{"ok": true, "by": "ana"}', '--db', db]);
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    expect(sent.stdout).toContain(`Signal approval sent to workflow ${workflowId}`);
    expect(sent.stdout).toContain('payload {"ok":true,"by":"ana"}');

    const done = await runner.exited;
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    const tasks = byName(await tasksOf(db, workflowId!));
    const approval = tasks.get('Approval')!;
    expect(approval).toMatchObject({
      status: 'COMPLETED',
      attempts: 0,
      outputData: { signal: 'approval', payload: { ok: true, by: 'ana' }, sentAt: expect.any(Number) },
    });
    expect(tasks.get('Ship')!.outputData).toMatchObject({
      dependencies: { approval: { payload: { ok: true, by: 'ana' } } },
    });

    const show = await cli(['show', workflowId!, '--db', db]);
    expect(show.stdout).toMatch(
      new RegExp(
        `Signals\\n\\s+NAME\\s+SENT \\(UTC\\)\\s+TAKEN BY\\s+PAYLOAD\\n\\s+approval\\s+\\S+ \\S+\\s+${approval.id} "Approval"\\s+\\{"ok":true,"by":"ana"\\}`,
      ),
    );
    const json = JSON.parse((await cli(['show', workflowId!, '--db', db, '--json'])).stdout) as {
      signals: Array<{ name: string; takenBy: string | null; payload: unknown }>;
    };
    expect(json.signals).toEqual([
      expect.objectContaining({ name: 'approval', takenBy: approval.id, payload: { ok: true, by: 'ana' } }),
    ]);
  });

  it('takes a signal sent before the run reached the wait', async () => {
    const { dir, db } = temp();
    const gate = join(dir, 'gate');
    const file = workflowFile(dir, 'Early', [
      '{ key: draft, name: Draft, inputData: { hold: true } }',
      '{ key: approval, name: Approval, dependsOn: [draft], waitFor: approval }',
      '{ key: ship, name: Ship, dependsOn: [approval] }',
    ]);
    const runner = startCli(['run', file, '--db', db], { env: { SYMPHONY_TEST_GATE: gate } });
    running.push(runner);
    const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
    await vi.waitFor(async () => {
      expect(byName(await tasksOf(db, workflowId!)).get('Draft')!.status).toBe('RUNNING');
    }, SETTLE);
    const sent = await cli(['signal', workflowId!, 'approval', '"go"', '--db', db, '--json']);
    expect(sent.code).toBe(0);
    const signal = JSON.parse(sent.stdout) as {
      id: string;
      name: string;
      payload: unknown;
      workflowId: string;
    };
    expect(signal).toMatchObject({ name: 'approval', payload: 'go', workflowId });
    // Sent while nothing waited for it: kept, not taken yet.
    const kept = await readStore(db, (store) => store.signals(workflowId!));
    expect(kept).toEqual([expect.objectContaining({ id: signal.id, takenBy: null })]);
    writeFileSync(gate, '');

    const done = await runner.exited;
    expect(done.code).toBe(0);
    const approval = byName(await tasksOf(db, workflowId!)).get('Approval')!;
    expect(approval.outputData).toMatchObject({ signal: 'approval', payload: 'go' });
    const taken = await readStore(db, (store) => store.signals(workflowId!));
    expect(taken).toEqual([expect.objectContaining({ id: signal.id, takenBy: approval.id })]);
  });

  it('draws a file with a loop and a wait: a stadium marked ↻ and a hexagon with the signal names', async () => {
    const { dir } = temp();
    const file = workflowFile(dir, 'Drawn', [
      '{ key: review, name: Review, loop: { until: outputs.review.approved, maxIterations: 3 } }',
      '{ key: approval, name: Approval, dependsOn: [review], waitFor: { signals: [yes, no], timeoutMs: 3600000 } }',
      '{ key: plain, name: Plain, dependsOn: [approval], waitFor: go }',
    ]);
    const { code, stdout } = await cli(['graph', file]);
    expect(code).toBe(0);
    expect(stdout.split('\n').slice(0, 6)).toEqual([
      'flowchart TD',
      '  review(["↻ Review #91;until: outputs.review.approved, max 3#93;"])',
      '  approval{{"Approval #91;waitFor: yes or no, timeout 1 h#93;"}}',
      '  plain{{"Plain #91;waitFor: go#93;"}}',
      '  review --> approval',
      '  approval --> plain',
    ]);
  });
});

describe('workflow file checks of loops and waits', () => {
  it('reports every bad loop and waitFor entry at once, each with its path: exit 2', async () => {
    const { dir, db } = temp();
    const file = workflowFile(dir, 'Bad', [
      '{ key: a, name: A, loop: { until: outputs.a.ok, maxIterations: 0 } }',
      '{ name: B, loop: { maxIterations: 2 } }',
      '{ name: C, waitFor: "not a name" }',
      '{ name: D, waitFor: [ok, ".dot"] }',
      '{ name: E, waitFor: { signals: [], timeoutMs: -1 } }',
      '{ name: F, waitFor: 5 }',
      '{ name: G, waitFor: { signals: go, after: 1 } }',
    ]);
    const { code, stderr } = await cli(['run', file, '--db', db]);
    expect(code).toBe(2);
    const lines = stderr.split('\n').map((line) => line.trim());
    expect(lines).toEqual(
      expect.arrayContaining([
        'tasks[0].loop.maxIterations: expected an integer >= 1, got 0',
        'tasks[1].loop.until: expected a string, got nothing',
        'tasks[2].waitFor: expected a signal name (1-128 letters, digits, _ . : and -, not starting with . : or -), got "not a name"',
        'tasks[3].waitFor[1]: expected a signal name (1-128 letters, digits, _ . : and -, not starting with . : or -), got ".dot"',
        'tasks[4].waitFor.signals: expected at least 1 item, got 0 items',
        'tasks[4].waitFor.timeoutMs: expected an integer >= 0, got -1',
        'tasks[5].waitFor: expected a string, an array or an object { signals, timeoutMs }, got 5',
        'tasks[6].waitFor.after: unknown field; expected one of signals, timeoutMs',
      ]),
    );
  });

  it("reports a loop's until that does not compile, a loop without key, two kinds at once and a repeated signal", async () => {
    const { dir, db } = temp();
    const file = workflowFile(dir, 'Graph', [
      '{ key: a, name: A }',
      '{ key: b, name: B, loop: { until: "outputs.b +", maxIterations: 2 } }',
      '{ key: c, name: C, loop: { until: "1", maxIterations: 2 } }',
      '{ name: D, loop: { until: "true", maxIterations: 2 } }',
      '{ key: e, name: E, dependsOn: [a], forEach: outputs.a.list, waitFor: go }',
      '{ key: f, name: F, sleep: { ms: 1 }, loop: { until: "true", maxIterations: 1 } }',
      '{ name: G, waitFor: { signals: [go, stop, go] } }',
    ]);
    const { code, stderr } = await cli(['run', file, '--db', db]);
    expect(code).toBe(2);
    const lines = stderr.split('\n').map((line) => line.trim());
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^tasks\[1\]\.loop\.until: Condition "outputs\.b \+" does not parse: .* at character \d+$/,
        ),
        'tasks[2].loop.until: Condition "1" gives int, expected a bool',
        "tasks[3].loop: a loop needs a key: its until reads the latest iteration's output as outputs.<key>",
        'tasks[4].waitFor: a task cannot both fan out (forEach) and wait for a signal (waitFor); it is at most one of them',
        'tasks[5].loop: a task cannot both sleep and loop; it is at most one of them',
        'tasks[6].waitFor.signals[2]: "go" is listed twice',
      ]),
    );
  });
});
