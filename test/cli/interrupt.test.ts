/**
 * Ctrl-C (SIGINT) in every command that runs or waits on work ends it cleanly: exit 130, the
 * summary or a one-line explanation, never a stack or "the store is not open" (issue 9), in text
 * and with --json. Nothing here waits for time to pass: the agents of gated.yaml hold each attempt
 * at a gate file until the test opens it, and the test waits on what the processes write (their
 * output, the gate's arrivals, the store).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { cli, FIXTURES, readStore, startCli, tempDir, WORKFLOW_LINE, type CliProcess } from './helpers.js';

const GATED = join(FIXTURES, 'gated.yaml');
const GATED_FAILING = join(FIXTURES, 'gated-failing.yaml');
/** Generous bounds for waits on other processes: they pass as soon as the state is there. */
const SETTLE = { timeout: 60_000, interval: 10 };

const temps: Array<() => void> = [];
const running: CliProcess[] = [];
afterEach(() => {
  for (const run of running.splice(0)) run.child.kill('SIGKILL');
  temps.splice(0).forEach((cleanup) => cleanup());
});

/** A gate file attempts wait at (closed until `open()`); $SYMPHONY_TEST_GATE names it to the agents. */
function gateAt(path: string) {
  const arrivals = () => (existsSync(`${path}.arrivals`) ? readFileSync(`${path}.arrivals`, 'utf8') : '');
  return {
    path,
    /** Lets every attempt at the gate, and every later one, through. */
    open: () => writeFileSync(path, ''),
    /** Resolves once `count` attempts in all have reached the gate. */
    arrived: (count = 1) =>
      vi.waitFor(
        () => expect(arrivals().split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(count),
        SETTLE,
      ),
  };
}

/** A store and a closed gate in a fresh folder; `another(name)` makes another gate there. */
function scene() {
  const temp = tempDir();
  temps.push(temp.cleanup);
  const main = gateAt(join(temp.dir, 'gate'));
  return { db: temp.db, ...main, gate: main.path, another: (name: string) => gateAt(join(temp.dir, name)) };
}

function start(args: string[], env: Record<string, string> = {}): CliProcess {
  const runner = startCli(args, { env });
  running.push(runner);
  return runner;
}

/** Resolves once the process's stderr, from now on, matches `pattern`; rejects if it exits first. */
function stderrMatches(runner: CliProcess, pattern: RegExp): Promise<void> {
  let seen = '';
  return new Promise((resolve, reject) => {
    runner.child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve();
    });
    void runner.exited.then((result) =>
      reject(
        new Error(
          `exited (${result.code}, ${runner.child.signalCode}) before stderr matched ${pattern}: ${seen}`,
        ),
      ),
    );
  });
}

const stopping = (seconds: number) =>
  `Stopping: running attempts get ${seconds} s; unfinished tasks stay in the store.`;

/** Exit 130 with only the stop notice on stderr: no stack, no store error. */
function expectCleanInterrupt(result: { code: number | null; stderr: string }, seconds: number): void {
  expect(result.stderr).not.toMatch(/not open|\n\s+at |Error/);
  expect(result.stderr.trim()).toBe(stopping(seconds));
  expect(result.code).toBe(130);
}

interface JsonSummary {
  workflow: { id: string; status: string };
  interrupted: boolean;
  tasks: { total: number; byStatus: Record<string, number> };
}

/** The --json summary of an interrupted run: one JSON document, no error. */
function jsonSummary(stdout: string): JsonSummary {
  const summary = JSON.parse(stdout) as JsonSummary & { error?: unknown };
  expect(summary.error).toBeUndefined();
  expect(summary.interrupted).toBe(true);
  return summary;
}

const statuses = (db: string, workflowId: string) =>
  readStore(db, async (store) =>
    (await store.tasks.find({ where: { workflowId } })).map((task) => task.status).sort(),
  );

/** `symphony run gated.yaml --json` interrupted with no grace: all five tasks wait in the store. */
async function interruptedRun(stage: ReturnType<typeof scene>): Promise<string> {
  const runner = start(['run', GATED, '--db', stage.db, '--json'], {
    SYMPHONY_TEST_GATE: stage.gate,
    SYMPHONY_STOP_GRACE_MS: '0',
  });
  await stage.arrived();
  runner.child.kill('SIGINT');
  const result = await runner.exited;
  expectCleanInterrupt(result, 0);
  const summary = jsonSummary(result.stdout);
  expect(summary.tasks).toMatchObject({ total: 5, byStatus: { PENDING: 5, RUNNING: 0 } });
  return summary.workflow.id;
}

describe('Ctrl-C during symphony run', () => {
  it('stops gracefully: the attempt under way finishes in its grace period, the rest stays in the store, exit 130', async () => {
    const stage = scene();
    const runner = start(['run', GATED, '--db', stage.db], {
      SYMPHONY_TEST_GATE: stage.gate,
      SYMPHONY_STOP_GRACE_MS: '600000',
    });
    const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
    await stage.arrived();
    const stopped = stderrMatches(runner, /Stopping: /);
    runner.child.kill('SIGINT');
    await stopped;
    // The attempt at the gate may finish within the grace period: let it through.
    stage.open();
    const result = await runner.exited;
    expectCleanInterrupt(result, 600);
    expect(result.stdout).toContain('Workflow "Gated workflow" interrupted in ');
    expect(result.stdout).toContain('Tasks: 5 (4 PENDING, 1 COMPLETED)');
    expect(result.stdout).toContain('Interrupted: unfinished tasks stay in the store');
    expect(await statuses(stage.db, workflowId!)).toEqual([
      'COMPLETED',
      'PENDING',
      'PENDING',
      'PENDING',
      'PENDING',
    ]);

    // `symphony list` shows that no live process holds it.
    const list = await cli(['list', '--db', stage.db, '--json']);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: workflowId, heldBy: [] })]);

    // `symphony resume` runs the rest here: no live engine holds it any more.
    const resume = await cli(['resume', workflowId!, '--db', stage.db], {
      env: { SYMPHONY_TEST_GATE: stage.gate },
    });
    expect(resume.stderr).toBe('');
    expect(resume.code).toBe(0);
    expect(resume.stdout).toContain(`Resuming workflow ${workflowId}: running its 4 unfinished task(s) here`);
    expect(resume.stdout).toContain('Workflow "Gated workflow" COMPLETED');
    const after = await readStore(stage.db, async (store) => ({
      tasks: await store.tasks.find({ where: { workflowId: workflowId! } }),
      completions: await store.completions(),
    }));
    expect(after.tasks.map((task) => task.status)).toEqual(new Array(5).fill('COMPLETED'));
    expect(after.completions).toHaveLength(5);
    // Nothing left to resume.
    const again = await cli(['resume', workflowId!, '--db', stage.db]);
    expect(again.code).toBe(2);
  });

  it('with --json and no grace period: the summary says interrupted, the aborted attempt waits in the store', async () => {
    const stage = scene();
    const workflowId = await interruptedRun(stage);
    const tasks = await readStore(stage.db, (store) => store.tasks.find({ where: { workflowId } }));
    expect(
      tasks.filter((task) => task.errors.some((error) => error.code === 'ATTEMPT_INTERRUPTED')),
    ).toHaveLength(1);
  });
});

describe('Ctrl-C before the run starts (while the agents module registers)', () => {
  for (const command of ['run', 'resume'] as const) {
    it(`${command} stops the run as soon as it starts: exit 130, nothing left running`, async () => {
      const stage = scene();
      const registering = stage.another('register-gate');
      const args =
        command === 'run'
          ? ['run', GATED, '--db', stage.db, '--json']
          : ['resume', await interruptedRun(stage), '--db', stage.db, '--json'];
      const child = start(args, {
        SYMPHONY_TEST_GATE: stage.gate,
        SYMPHONY_TEST_REGISTER_GATE: registering.path,
        SYMPHONY_STOP_GRACE_MS: '0',
      });
      await registering.arrived();
      const stopped = stderrMatches(child, /Stopping: /);
      child.child.kill('SIGINT');
      await stopped;
      registering.open();
      const result = await child.exited;
      expectCleanInterrupt(result, 0);
      const summary = jsonSummary(result.stdout);
      expect(summary.tasks.byStatus).toMatchObject({ RUNNING: 0, COMPLETED: 0 });
      const tasks = await readStore(stage.db, (store) =>
        store.tasks.find({ where: { workflowId: summary.workflow.id } }),
      );
      if (command === 'run') {
        // Stopped before its batch began: no attempt at all.
        expect(tasks.map((task) => [task.status, task.attempts])).toEqual(new Array(5).fill(['PENDING', 0]));
      } else {
        // Resume's recovery may have started the attempt the run was interrupted in, aborted by the
        // stop: interrupted twice, that task fails (retry.maxInterruptions); the others wait.
        const failed = tasks.filter((task) => task.status === 'FAILED');
        expect(failed.length).toBeLessThanOrEqual(1);
        for (const task of failed) expect(task.errors.at(-1)?.code).toBe('TOO_MANY_INTERRUPTIONS');
        expect(tasks.filter((task) => task.status === 'PENDING')).toHaveLength(5 - failed.length);
      }
    });
  }
});

describe('Ctrl-C during symphony demo (issue 9: it read the closed store)', () => {
  for (const json of [false, true]) {
    it(`exits 130 with the summary${json ? ' as JSON' : ''}, not "the store is not open"`, async () => {
      const stage = scene();
      const runner = start(['demo', '--pace', '600000', '--db', stage.db, ...(json ? ['--json'] : [])], {
        SYMPHONY_STOP_GRACE_MS: '0',
      });
      // Attempts wait out their pace (cut short by the stop): wait until one is running.
      await vi.waitFor(async () => {
        expect(existsSync(stage.db)).toBe(true);
        const running = await readStore(stage.db, (store) =>
          store.tasks.find({ where: { status: 'RUNNING' } }),
        );
        expect(running.length).toBeGreaterThan(0);
      }, SETTLE);
      runner.child.kill('SIGINT');
      const result = await runner.exited;
      expectCleanInterrupt(result, 0);
      if (json) {
        const summary = jsonSummary(result.stdout);
        expect(summary.tasks.total).toBe(30);
        expect(summary.tasks.byStatus.RUNNING).toBe(0);
      } else {
        expect(result.stdout).toMatch(/Workflow "Document analysis[^"]*" interrupted in /);
        expect(result.stdout).toContain('Interrupted: unfinished tasks stay in the store');
      }
    });
  }
});

describe('Ctrl-C during symphony resume', () => {
  it('exits 130 with the summary, in text and with --json; a later resume finishes the workflow', async () => {
    const stage = scene();
    const workflowId = await interruptedRun(stage);
    // Each resume's attempt finishes in its grace period: a second interruption of one task would
    // fail it (retry.maxInterruptions), which is not what this test is about.
    let completed = 0;
    for (const json of [false, true]) {
      const gate = stage.another(json ? 'gate-json' : 'gate-text');
      const resume = start(['resume', workflowId, '--db', stage.db, ...(json ? ['--json'] : [])], {
        SYMPHONY_TEST_GATE: gate.path,
        SYMPHONY_STOP_GRACE_MS: '600000',
      });
      await gate.arrived();
      const stopped = stderrMatches(resume, /Stopping: /);
      resume.child.kill('SIGINT');
      await stopped;
      // Resume's recovery starts attempts before the run is watched; the stop comes once it is.
      // It has come when the queued tasks are let go (no engine named in their lease): only then
      // may the attempt at the gate finish, so that no other starts.
      await vi.waitFor(async () => {
        const tasks = await readStore(stage.db, (store) => store.tasks.find({ where: { workflowId } }));
        expect(tasks.filter((task) => task.status === 'PENDING' && task.leaseOwner !== null)).toEqual([]);
      }, SETTLE);
      gate.open();
      const result = await resume.exited;
      expectCleanInterrupt(result, 600);
      completed += 1;
      if (json) {
        expect(jsonSummary(result.stdout).tasks.byStatus).toMatchObject({
          COMPLETED: 1,
          RUNNING: 0,
          FAILED: 0,
        });
      } else {
        expect(result.stdout).toContain('Workflow "Gated workflow" interrupted in ');
        expect(result.stdout).toContain('Interrupted: unfinished tasks stay in the store');
      }
      const now = await statuses(stage.db, workflowId);
      expect(now.filter((status) => status === 'COMPLETED')).toHaveLength(completed);
      expect(now.filter((status) => status === 'PENDING')).toHaveLength(5 - completed);
    }
    const last = await cli(['resume', workflowId, '--db', stage.db]);
    expect(last.code).toBe(0);
    expect(await statuses(stage.db, workflowId)).toEqual(new Array(5).fill('COMPLETED'));
  });
});

describe('Ctrl-C during symphony retry', () => {
  for (const json of [false, true]) {
    it(`exits 130 with the summary${json ? ' as JSON' : ''}; the retried tasks wait in the store`, async () => {
      const stage = scene();
      const failed = await cli(['run', GATED_FAILING, '--db', stage.db, '--json'], {
        env: { SYMPHONY_TEST_GATE: stage.gate },
      });
      expect(failed.code).toBe(1);
      const workflowId = (JSON.parse(failed.stdout) as JsonSummary).workflow.id;
      const retry = start(['retry', workflowId, '--db', stage.db, ...(json ? ['--json'] : [])], {
        SYMPHONY_TEST_GATE: stage.gate,
        SYMPHONY_STOP_GRACE_MS: '0',
      });
      await stage.arrived();
      retry.child.kill('SIGINT');
      const result = await retry.exited;
      expectCleanInterrupt(result, 0);
      if (json)
        expect(jsonSummary(result.stdout).tasks).toMatchObject({ total: 2, byStatus: { PENDING: 2 } });
      else {
        expect(result.stdout).toContain('Workflow "Gated failing workflow" interrupted in ');
        expect(result.stdout).toContain('Interrupted: unfinished tasks stay in the store');
      }
      // Back in the queue, not FAILED: resume runs them.
      expect(await statuses(stage.db, workflowId)).toEqual(['PENDING', 'PENDING']);
    });
  }
});

describe('Ctrl-C during symphony pause or cancel', () => {
  it('while the process running the workflow has not applied it yet: exit 130, the command stays in the store', async () => {
    const stage = scene();
    // The runner reads its commands once an hour: pause and cancel wait for it to answer.
    const runner = start(['run', GATED, '--db', stage.db], {
      SYMPHONY_TEST_GATE: stage.gate,
      SYMPHONY_CONTROL_POLL_MS: '3600000',
    });
    const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
    await stage.arrived();
    const cases = [
      ['pause', false],
      ['cancel', true],
    ] as const;
    for (const [index, [action, json]] of cases.entries()) {
      const steer = start([action, workflowId!, '--db', stage.db, ...(json ? ['--json'] : [])]);
      // Written to the store: the command now waits for the runner.
      await vi.waitFor(async () => {
        const commands = await readStore(stage.db, (store) => store.commandsAfter(0));
        expect(commands.map((command) => command.type)).toEqual(['PAUSE', 'CANCEL'].slice(0, index + 1));
      }, SETTLE);
      steer.child.kill('SIGINT');
      const result = await steer.exited;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(130);
      if (json) expect(JSON.parse(result.stdout)).toEqual({ interrupted: true, workflowId, command: action });
      else {
        expect(result.stdout).toBe(
          `Interrupted: the pause command for workflow ${workflowId} is in the store; the process running it applies it when it next reads its commands.\n`,
        );
      }
    }
    // The runner was not disturbed: its attempt still waits at the gate.
    expect(runner.child.exitCode).toBeNull();
    expect(await statuses(stage.db, workflowId!)).toEqual([
      'PENDING',
      'PENDING',
      'PENDING',
      'PENDING',
      'RUNNING',
    ]);
  });
});

describe('a killed run (SIGKILL)', () => {
  it('holds its tasks while its beats count; resume says so, then runs the rest once they lapse', async () => {
    const stage = scene();
    // Its beats count for ten minutes: a resume, however slow to start, finds it alive.
    const runner = start(['run', GATED, '--db', stage.db], {
      SYMPHONY_TEST_GATE: stage.gate,
      SYMPHONY_LIVENESS_MS: '600000',
    });
    const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
    await stage.arrived();
    runner.child.kill('SIGKILL');
    await runner.exited;
    const first = await cli(['resume', workflowId!, '--db', stage.db]);
    expect(first.code).toBe(ExitCode.NOTHING_RAN);
    expect(first.stdout).toMatch(/unfinished task\(s\) run in another process \(engine symphony-cli:/);
    // Waiting ten minutes out would bet on the clock: the test replaces the killed engine's last beat
    // with one that has no time to live, which is how the store reads once its window has passed.
    await readStore(stage.db, async (store) => {
      const beats = await store.engineBeats();
      const killed = beats.find((beat) => beat.engineId.endsWith(`:${runner.child.pid}`))!;
      expect(killed).toMatchObject({ stopped: false });
      expect(killed.expiresAt - killed.beatAt).toBe(600_000);
      await store.commit({ beats: [{ engineId: killed.engineId, ttlMs: 0, stopped: false }] });
    });
    stage.open();
    const again = await cli(['resume', workflowId!, '--db', stage.db], {
      env: { SYMPHONY_TEST_GATE: stage.gate },
    });
    expect(again.stdout).toContain('Resuming workflow');
    expect(again.code).toBe(0);
    const done = await readStore(stage.db, (store) =>
      store.tasks.find({ where: { workflowId: workflowId! } }),
    );
    expect(done.map((task) => task.status)).toEqual(new Array(5).fill('COMPLETED'));
    expect(done.some((task) => task.errors.some((error) => error.code === 'ATTEMPT_INTERRUPTED'))).toBe(true);
  });
});
