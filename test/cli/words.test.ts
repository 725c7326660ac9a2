/**
 * What the CLI says (issue 9, "The CLI's words"): JSON for every failure, exit codes that tell a
 * paused or idle end from a completed one, hints that name the store, errors that say what is
 * wrong, `resume` that tells when it ran nothing. The CLI runs in this process (`main(argv, io)`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceRegistry, type Task } from '../../src/index.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { shellQuote } from '../../src/cli/hints.js';
import { formatOutput } from '../../src/cli/commands/show.js';
import { exitCodeOf, type RunSummary } from '../../src/cli/summary.js';
import { FIXTURES, tempDir } from './helpers.js';
import { runMain } from './in-process.js';

const AGENTS = join(FIXTURES, 'words-agents.mjs');
const GATE = Symbol.for('symphony.test.words-gate');

interface Gate {
  arrived(task: Task): void;
  opened: Promise<void>;
}

/** Holds every `gated` attempt until `open()`; `arrival` resolves with the first task that arrived. */
function installGate(): { arrival: Promise<Task>; open: () => void } {
  let open!: () => void;
  let arrived!: (task: Task) => void;
  const arrival = new Promise<Task>((resolve) => (arrived = resolve));
  const gate: Gate = { arrived, opened: new Promise<void>((resolve) => (open = resolve)) };
  (globalThis as Record<symbol, unknown>)[GATE] = gate;
  return { arrival, open };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  delete (globalThis as Record<symbol, unknown>)[GATE];
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function temp(): { dir: string; db: string } {
  const made = tempDir();
  cleanups.push(made.cleanup);
  return made;
}

/** A workflow file in `dir` whose tasks all go to one agent of `type` from words-agents.mjs. */
function workflowFile(dir: string, type: 'gated' | 'llm', tasks: string[], name = 'Words'): string {
  const file = join(dir, `${name.toLowerCase().replace(/\W+/g, '-')}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      'agents:',
      `  module: ${JSON.stringify(AGENTS)}`,
      '  configs:',
      `    - { name: Worker, type: ${type}, capabilities: [work], maxConcurrency: 1 }`,
      'tasks:',
      ...tasks.map((task) => `  - { name: ${JSON.stringify(task)}, tags: [work] }`),
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * A second engine on the same SQLite file, as another process would have. Its beats count for ten
 * minutes, so that others see it alive however slowly this machine runs.
 */
async function otherEngine(db: string, engineId: string): Promise<ServiceRegistry> {
  const registry = new ServiceRegistry({ store: db, engineId, livenessMs: 600_000 });
  await registry.start();
  cleanups.push(() => registry.stop({ graceMs: 0 }));
  return registry;
}

const workflowIdOf = (stdout: string) => /^Workflow (\S+): /m.exec(stdout)![1]!;

describe('--json on usage errors (issue 9)', () => {
  it.each([
    [['list', '--bogus', '--json'], "unknown option '--bogus'"],
    [['show', '--json'], "missing required argument 'id'"],
    [['juggle', '--json'], "unknown command 'juggle'"],
    [['list', '--json', '--limit'], "option '--limit <n>' argument missing"],
  ])('symphony %j prints {"error":{"code":"CLI_USAGE",...}} on stdout and exits 2', async (args, message) => {
    const { dir } = temp();
    const result = await runMain(args, { cwd: dir });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(JSON.parse(result.stdout)).toEqual({ error: { code: 'CLI_USAGE', message } });
    expect(result.stderr).toContain(`symphony: ${message}`);
  });
});

describe('a run that ends paused (issue 9)', () => {
  const summary = (
    status: RunSummary['workflow']['status'],
    byStatus: Partial<Record<Task['status'], number>>,
  ) => {
    const counts = {
      PENDING: 0,
      RUNNING: 0,
      COMPLETED: 0,
      FAILED: 0,
      PAUSED: 0,
      CANCELLED: 0,
      SKIPPED: 0,
      ...byStatus,
    };
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return {
      workflow: { id: 'w', name: 'W', status },
      store: 's',
      interrupted: false,
      durationMs: 0,
      tasks: { total, byStatus: counts, retried: 0 },
      agents: [],
      results: [],
    } satisfies RunSummary;
  };

  it('exits 4 when the workflow is left PAUSED with unfinished tasks or none, 0 when every task completed', () => {
    expect(exitCodeOf(summary('PAUSED', { COMPLETED: 1, PENDING: 2 }))).toBe(ExitCode.PAUSED);
    expect(exitCodeOf(summary('PAUSED', {}))).toBe(ExitCode.PAUSED);
    expect(exitCodeOf(summary('PAUSED', { COMPLETED: 3 }))).toBe(ExitCode.OK);
    expect(exitCodeOf(summary('PAUSED', { COMPLETED: 1, FAILED: 1 }))).toBe(ExitCode.WORKFLOW_FAILED);
    expect(exitCodeOf(summary('COMPLETED', { COMPLETED: 2 }))).toBe(ExitCode.OK);
    expect(exitCodeOf(summary('COMPLETED', { COMPLETED: 1, SKIPPED: 2 }))).toBe(ExitCode.OK);
    expect(exitCodeOf(summary('CANCELLED', { COMPLETED: 1, CANCELLED: 1 }))).toBe(ExitCode.WORKFLOW_FAILED);
    expect(exitCodeOf({ ...summary('RUNNING', { PENDING: 1 }), interrupted: true })).toBe(
      ExitCode.INTERRUPTED,
    );
  });

  it('paused during its last task: every task completed, exit 0, and it says the workflow stays PAUSED', async () => {
    const { dir, db } = temp();
    const gate = installGate();
    const file = workflowFile(dir, 'gated', ['only task']);
    // The runner's beats count for ten minutes: the pauser finds it alive however slow the machine.
    const run = runMain(['run', file, '--db', db], { cwd: dir, env: { SYMPHONY_LIVENESS_MS: '600000' } });
    const task = await gate.arrival;
    // Another process pauses it while its one task runs: the runner applies it and acknowledges.
    const paused = await (
      await otherEngine(db, 'pauser')
    )
      .getWorkflowTracker()
      .pauseWorkflow(task.workflowId!);
    expect(paused.status).toBe('PAUSED');
    gate.open();
    const { code, stdout } = await run;
    expect(code).toBe(ExitCode.OK);
    expect(stdout).toContain('Workflow "Words" PAUSED in ');
    expect(stdout).toContain('Tasks: 1 (1 COMPLETED)');
    expect(stdout).toContain(
      `Every task completed, but the workflow was paused during its last task and stays PAUSED; \`symphony resume ${task.workflowId} --db ${db}\` marks it COMPLETED.`,
    );
    const resumed = await runMain(['resume', task.workflowId!, '--db', db], { cwd: dir });
    expect(resumed.code).toBe(ExitCode.OK);
    expect(resumed.stdout).toContain(`Workflow ${task.workflowId} resumed: now COMPLETED`);
  });
});

describe('hints name the store the command used (issue 9)', () => {
  it('adds --db (quoted when it must be) to every command it suggests', async () => {
    const { dir } = temp();
    mkdirSync(join(dir, 'my runs'));
    const db = join(dir, 'my runs', "bob's.db");
    const file = workflowFile(dir, 'gated', ['one']);
    const { code, stdout } = await runMain(['run', file, '--db', db], { cwd: dir });
    expect(code).toBe(ExitCode.OK);
    const id = workflowIdOf(stdout);
    expect(shellQuote(db)).toBe(`'${dir}/my runs/bob'\\''s.db'`);
    expect(stdout).toContain(`Details: symphony show ${id} --db ${shellQuote(db)}\n`);

    // A relative --db is named by its full path, so the hint works from any directory.
    const relative = await runMain(['run', file, '--db', 'rel.db'], { cwd: dir });
    expect(relative.stdout).toContain(
      `Details: symphony show ${workflowIdOf(relative.stdout)} --db ${join(dir, 'rel.db')}\n`,
    );
    // The default store needs no --db.
    const byDefault = await runMain(['run', file], { cwd: dir });
    expect(byDefault.stdout).toContain(`Details: symphony show ${workflowIdOf(byDefault.stdout)}\n`);
    // So does a store named by $SYMPHONY_DB? No: the hint must work without that environment.
    const fromEnv = await runMain(['run', file], { cwd: dir, env: { SYMPHONY_DB: 'env.db' } });
    expect(fromEnv.stdout).toContain(`--db ${join(dir, 'env.db')}\n`);
    // `list` tells how to resume a workflow nobody holds, on the same store.
    const other = await otherEngine(db, 'creator');
    const idle = await other.getWorkflowTracker().createWorkflow({ name: 'idle' });
    const task = await other.getTaskManager().createTask({ name: 'waits', workflowId: idle.id });
    expect(task.status).toBe('PENDING');
    await other.stop();
    const list = await runMain(['list', '--db', db], { cwd: dir });
    expect(list.stdout).toContain(`\`symphony resume <id> --db ${shellQuote(db)}\` continues it`);
  });

  it('suggests no command for a :memory: store, which is gone when the command ends', async () => {
    const { dir } = temp();
    const file = workflowFile(dir, 'gated', ['one']);
    const { code, stdout } = await runMain(['run', file, '--db', ':memory:'], { cwd: dir });
    expect(code).toBe(ExitCode.OK);
    expect(stdout).toContain('Store: :memory:');
    expect(stdout).not.toContain('symphony show');
    expect(stdout).not.toContain('Details:');
  });
});

describe('errors that say what is wrong (issue 9)', () => {
  it('--db naming a directory', async () => {
    const { dir } = temp();
    for (const args of [['list'], ['demo']]) {
      const result = await runMain([...args, '--db', dir, '--json'], { cwd: dir });
      expect(result.code).toBe(ExitCode.USAGE);
      expect(JSON.parse(result.stdout)).toEqual({
        error: {
          code: 'INVALID_ARGUMENT',
          message: `Expected the store to be a SQLite file, got the directory ${dir}; name a file in it, such as ${join(dir, 'symphony.db')}`,
        },
      });
    }
  });

  it('run <directory>', async () => {
    const { dir } = temp();
    const result = await runMain(['run', dir], { cwd: dir });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toBe(
      `symphony: ${dir}: expected a workflow file (.json, .yaml or .yml), got a directory\n`,
    );
  });

  it('broken YAML: the parser reason, line and column, and the line itself', async () => {
    const { dir } = temp();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: x\ntasks:\n  - name: "unclosed\n');
    const result = await runMain(['run', 'bad.yaml'], { cwd: dir });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toBe(
      'symphony: bad.yaml:4:1: not valid YAML at line 4, column 1: Missing closing "quote\n  \n  ^\n',
    );
    writeFileSync(file, 'name: x\nkey: value: other\n');
    const nested = await runMain(['run', 'bad.yaml'], { cwd: dir });
    expect(nested.stderr).toBe(
      'symphony: bad.yaml:2:6: not valid YAML at line 2, column 6: Nested mappings are not allowed in compact mappings\n' +
        '  key: value: other\n       ^\n',
    );
  });

  it('an unknown agent type lists the types the agents module registers', async () => {
    const { dir, db } = temp();
    const file = join(dir, 'typo.yaml');
    writeFileSync(
      file,
      `name: typo\nagents:\n  module: ${JSON.stringify(AGENTS)}\n  configs:\n    - { name: W, type: gatd }\ntasks:\n  - { name: t }\n`,
    );
    const result = await runMain(['run', file, '--db', db], { cwd: dir });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toContain(
      `agents.configs[0].type: expected an agent type that ${AGENTS} registers ("gated", "llm"), got "gatd"`,
    );
  });

  it('show and retry of an id that is neither a workflow nor a task', async () => {
    const { dir, db } = temp();
    await runMain(['run', workflowFile(dir, 'gated', ['one']), '--db', db], { cwd: dir });
    for (const command of ['show', 'retry']) {
      const result = await runMain([command, 'nope', '--db', db, '--json'], { cwd: dir });
      expect(result.code).toBe(ExitCode.USAGE);
      expect(JSON.parse(result.stdout)).toEqual({
        error: { code: 'WORKFLOW_NOT_FOUND', message: `No workflow or task has the id "nope" in ${db}` },
      });
    }
  });
});

describe('resume tells when it ran nothing (issue 9)', () => {
  it('exits 5 when another engine holds the unfinished tasks and was not heard from, with the advice for a crash', async () => {
    const { dir, db } = temp();
    const holder = await otherEngine(db, 'holder');
    const workflow = await holder.getWorkflowTracker().createWorkflow({ name: 'held' });
    const task = await holder.getTaskManager().createTask({ name: 'held task', workflowId: workflow.id });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const slow = { id: 'slow', execute: () => released };
    const running = holder.getEnhancedExecutor().executeTask(task.id, slow, workflow.id);
    cleanups.push(() => (release(), running));
    // Wait until the holder has committed the running attempt (its lease names it).
    for (;;) {
      const [row] = await holder.getRepository('tasks').getMany([task.id]);
      if (row?.status === 'RUNNING') break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const result = await runMain(['resume', workflow.id, '--db', db], { cwd: dir });
    expect(result.code).toBe(ExitCode.NOTHING_RAN);
    expect(result.stdout).toContain(`Workflow ${workflow.id} is RUNNING`);
    expect(result.stdout).toMatch(
      /Nothing ran here: 1 unfinished task\(s\) run in another process \(engine holder, last beat \d+ ms ago\)\. If that process has ended/,
    );
    expect(result.stdout).toContain(`run \`symphony resume ${workflow.id} --db ${db}\` again then.`);
    const json = await runMain(['resume', workflow.id, '--db', db, '--json'], { cwd: dir });
    expect(json.code).toBe(ExitCode.NOTHING_RAN);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ranHere: [],
      heldElsewhere: [task.id],
      heldBy: ['holder'],
      unrunnable: [],
    });
  });

  it('exits 5 when no engine can run the unfinished tasks (never given to one)', async () => {
    const { dir, db } = temp();
    const creator = await otherEngine(db, 'creator');
    const workflow = await creator.getWorkflowTracker().createWorkflow({ name: 'never run' });
    await creator.getTaskManager().createTask({ name: 'orphan', workflowId: workflow.id });
    await creator.stop();
    const result = await runMain(['resume', workflow.id, '--db', db], { cwd: dir });
    expect(result.code).toBe(ExitCode.NOTHING_RAN);
    expect(result.stdout).toContain(
      'Nothing can run 1 unfinished task(s): 1 were never given to an engine (no execution plan); they stay as they are.',
    );
  });

  it('in the normal pause/resume flow (the holder is alive and answers) exits 0 without crash advice', async () => {
    const { dir, db } = temp();
    const holder = await otherEngine(db, 'holder');
    const workflow = await holder.getWorkflowTracker().createWorkflow({ name: 'paused by hand' });
    const tasks = [
      await holder.getTaskManager().createTask({ name: 'first', workflowId: workflow.id }),
      await holder.getTaskManager().createTask({ name: 'second', workflowId: workflow.id }),
    ];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const slow = { id: 'slow', execute: () => released };
    const batch = holder.getEnhancedExecutor().batchExecute(
      tasks.map((task) => [task.id, slow] as const),
      { workflowId: workflow.id, maxConcurrent: 1 },
    );
    cleanups.push(() => (release(), batch));
    await holder.getWorkflowTracker().pauseWorkflow(workflow.id);
    const resumed = await runMain(['resume', workflow.id, '--db', db], { cwd: dir });
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(ExitCode.OK);
    expect(resumed.stdout).toContain(`Workflow ${workflow.id} resumed: now RUNNING`);
    expect(resumed.stdout).toContain(
      '2 unfinished task(s) run in another process (engine holder), which resumed them.',
    );
    expect(resumed.stdout).not.toContain('has ended');
    expect(resumed.stdout).not.toContain('again then');
    release();
    expect((await batch).map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED']);
  });
});

describe('show prints outputs and tokens (issue 9)', () => {
  it("prints each task's output on one line, cut with how much was cut, and the tokens per task and in all", async () => {
    const { dir, db } = temp();
    const run = await runMain(['run', workflowFile(dir, 'llm', ['ask one', 'ask two']), '--db', db], {
      cwd: dir,
    });
    expect(run.code).toBe(ExitCode.OK);
    const id = workflowIdOf(run.stdout);
    const { code, stdout } = await runMain(['show', id, '--db', db], { cwd: dir });
    expect(code).toBe(ExitCode.OK);
    expect(stdout).toContain('  tokens    2,468 tokens (2,400 in, 68 out)\n');
    expect(stdout).toMatch(/ID\s+STATUS\s+AGENT\s+ATTEMPTS\s+DURATION\s+TOKENS\s+NAME\s+NOTE/);
    expect(stdout).toMatch(/COMPLETED\s+Worker\s+1\s+\d+ ms\s+1,234\s+ask one/);
    const output = JSON.stringify({
      text: `ask one: ${'lorem ipsum '.repeat(30)}`.trim(),
      usage: {
        inputTokens: 1200,
        outputTokens: 34,
        totalTokens: 1234,
        reasoningTokens: null,
        cachedInputTokens: null,
      },
      finishReason: 'stop',
      modelId: 'mock-model',
    });
    expect(stdout).toContain('Outputs (as JSON, cut at 100 characters; all of it: --json)\n');
    expect(stdout).toContain(`    ${output.slice(0, 100)}… (${output.length - 100} more characters)\n`);
  });

  it('prints a short output whole, and line breaks inside strings as JSON escapes', () => {
    expect(formatOutput({ ok: true })).toBe('{"ok":true}');
    expect(formatOutput('line one\nline two')).toBe('"line one\\nline two"');
    expect(formatOutput('x'.repeat(101))).toBe(`"${'x'.repeat(99)}… (3 more characters)`);
  });
});
