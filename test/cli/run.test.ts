import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, EXAMPLES, FIXTURES, PLAIN_LINE, readStore, tempDir, WORKFLOW_LINE } from './helpers.js';

const temps: Array<() => void> = [];
afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));
function temp() {
  const made = tempDir();
  temps.push(made.cleanup);
  return made;
}

function workflowIdOf(stdout: string): string {
  const id = stdout.split('\n')[0]!.match(WORKFLOW_LINE)?.[1];
  if (!id) throw new Error(`No workflow line in:\n${stdout}`);
  return id;
}

describe('symphony run', () => {
  it('runs a YAML workflow file with its own agents module, routed by capability', async () => {
    const { db } = temp();
    const { code, stdout, stderr } = await cli(['run', join(EXAMPLES, 'my-workflow.yaml'), '--db', db]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const id = workflowIdOf(stdout);
    expect(stdout).toContain('3 tasks, 2 agents, routing CAPABILITY_MATCH');
    for (const line of stdout.split('\n').filter((l) => /^\d\d:/.test(l))) expect(line).toMatch(PLAIN_LINE);
    expect(stdout).toContain('Workflow "My first workflow" COMPLETED');
    const tasks = await readStore(db, (store) => store.tasks.find({ where: { workflowId: id } }));
    const outputs = Object.fromEntries(tasks.map((task) => [task.name, task.outputData]));
    expect(outputs).toEqual({
      'shout a greeting': { text: 'HELLO FROM SYMPHONY' },
      'count a sentence': { words: 9, countedBy: 'Counter' },
      'count another': { words: 3, countedBy: 'Counter' },
    });
    expect(tasks.every((task) => task.inputData.query !== undefined)).toBe(true);
  });

  it('runs a JSON workflow file routed by content, and records how it ran in the workflow metadata', async () => {
    const { db } = temp();
    const file = join(EXAMPLES, 'questions.json');
    const { code, stdout } = await cli(['run', file, '--db', db, '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as {
      workflow: { id: string; status: string };
      results: Array<{ name: string; agentId: string }>;
      agents: Array<{ id: string; name: string }>;
    };
    expect(summary.workflow.status).toBe('COMPLETED');
    const agentOf = (name: string) =>
      summary.agents.find((agent) => agent.id === summary.results.find((r) => r.name === name)!.agentId)!
        .name;
    expect(agentOf('mood of the customer letter')).toBe('Sentiment (flaky)');
    expect(agentOf('summary of the harbor report')).toBe('Summarizer');
    expect(agentOf('length of the lab journal')).toBe('Statistician');
    const workflow = await readStore(db, (store) => store.workflows.get(summary.workflow.id));
    expect(workflow?.metadata.symphonyCli).toMatchObject({
      source: 'run',
      file,
      agentsModule: join(EXAMPLES, 'text-agents.ts'),
      strategy: 'CONTENT_MATCH',
      concurrency: 3,
      retry: { maxAttempts: 3, initialDelayMs: 20 },
    });
  });

  it("LOAD_BALANCED over two equal agents spreads the file's tasks over both", async () => {
    const { db } = temp();
    const { code, stdout, stderr } = await cli([
      'run',
      join(FIXTURES, 'balanced.yaml'),
      '--db',
      db,
      '--json',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as {
      workflow: { id: string; status: string };
      agents: Array<{ id: string; name: string; completed: number }>;
    };
    expect(summary.workflow.status).toBe('COMPLETED');
    const tasks = await readStore(db, (store) =>
      store.tasks.find({ where: { workflowId: summary.workflow.id } }),
    );
    const nameOf = new Map(summary.agents.map((agent) => [agent.id, agent.name]));
    const byAgent = new Map<string, string[]>();
    for (const task of tasks) {
      const name = nameOf.get(task.agentId!)!;
      byAgent.set(name, [...(byAgent.get(name) ?? []), task.name]);
    }
    // Routed as one plan before any ran: alternately, from the lower id.
    expect([...byAgent.values()].map((names) => names.sort())).toEqual(
      expect.arrayContaining([
        ['nap 1', 'nap 3'],
        ['nap 2', 'nap 4'],
      ]),
    );
    expect(byAgent.size).toBe(2);
    expect(summary.agents.map((agent) => agent.completed)).toEqual([2, 2]);
  });

  it('rejects a broken file with exit 2, naming the file and every bad field with what was expected', async () => {
    const { db } = temp();
    const { code, stdout, stderr } = await cli(['run', 'test/cli/fixtures/broken.yaml', '--db', db]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('symphony: test/cli/fixtures/broken.yaml: invalid workflow file:');
    expect(stderr).toContain('concurrency: expected an integer >= 1, got 0');
    expect(stderr).toContain(
      'routing.strategy: expected one of ROUND_ROBIN, CAPABILITY_MATCH, CONTENT_MATCH, LOAD_BALANCED, CUSTOM, got "FASTEST"',
    );
    expect(stderr).toContain('agents.configs[0].maxConcurrency: expected an integer, got "two"');
    expect(stderr).toContain('tasks[1].priority: expected an integer, got "high"');
    expect(stderr).toContain('tasks[2].name: expected a string, got nothing');
    expect(stderr).toMatch(/tasks\[2\]\.title: unknown field; expected one of name, query, /);
  });

  it('reports unreadable and unparsable files with exit 2 and the file name', async () => {
    const { dir, db } = temp();
    writeFileSync(join(dir, 'bad.yaml'), 'name: x\ntasks: [\n');
    writeFileSync(join(dir, 'bad.json'), '{"name": "x",}');
    const missing = await cli(['run', 'missing.yaml', '--db', db], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing.yaml: cannot read the workflow file: no such file');
    const yaml = await cli(['run', 'bad.yaml', '--db', db], { cwd: dir });
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toMatch(/bad\.yaml:\d+:\d+: not valid YAML/);
    const json = await cli(['run', 'bad.json', '--db', db, '--json'], { cwd: dir });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: 'CLI_USAGE', message: expect.stringContaining('bad.json: not valid JSON') },
    });
  });

  it('names agents.module or the config type when the agents do not fit the file', async () => {
    const { dir, db } = temp();
    const write = (name: string, body: object) => writeFileSync(join(dir, name), JSON.stringify(body));
    const base = { name: 'W', tasks: [{ name: 't', tags: ['sleep'] }] };
    copyFileSync(join(FIXTURES, 'test-agents.ts'), join(dir, 'test-agents.ts'));
    write('no-module.json', {
      ...base,
      agents: { configs: [{ name: 'S', type: 'sleeper', capabilities: ['sleep'] }] },
    });
    write('missing-module.json', {
      ...base,
      agents: { module: './nowhere.ts', configs: [{ name: 'S', type: 'sleeper' }] },
    });
    write('unknown-type.json', {
      ...base,
      agents: {
        module: './test-agents.ts',
        configs: [
          { name: 'S', type: 'sleeper' },
          { name: 'X', type: 'wizard' },
        ],
      },
    });
    write('unroutable.json', {
      name: 'W',
      tasks: [
        { name: 'fine', tags: ['sleep'] },
        { name: 'orphan', tags: ['juggle'] },
        { name: 'stray', tags: ['fly'] },
      ],
      agents: {
        module: './test-agents.ts',
        configs: [{ name: 'S', type: 'sleeper', capabilities: ['sleep'] }],
      },
    });
    const noModule = await cli(['run', 'no-module.json', '--db', db], { cwd: dir });
    expect(noModule.code).toBe(2);
    expect(noModule.stderr).toContain(
      'no-module.json: agents.module: expected the path of a JS or TS module',
    );
    const missing = await cli(['run', 'missing-module.json', '--db', db], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      'missing-module.json: agents.module: expected a JS or TS module, got "./nowhere.ts"',
    );
    const unknown = await cli(['run', 'unknown-type.json', '--db', db], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      'unknown-type.json: agents.configs[1].type: expected an agent type that ./test-agents.ts registers ("sleeper", "picky"), got "wizard"',
    );
    const unroutable = await cli(['run', 'unroutable.json', '--db', db], { cwd: dir });
    expect(unroutable.code).toBe(2);
    expect(unroutable.stderr).toContain('unroutable.json: \n');
    expect(unroutable.stderr).toContain('  tasks[1]: no agent can take "orphan"');
    expect(unroutable.stderr).toContain('  tasks[2]: no agent can take "stray"');
    // With --agents the module comes from the flag, relative to the current directory.
    const withFlag = await cli(['run', 'no-module.json', '--db', db, '--agents', './test-agents.ts'], {
      cwd: dir,
    });
    expect(withFlag.stderr).toBe('');
    expect(withFlag.code).toBe(0);
  });

  it('exits 1 when the workflow fails, listing the failed tasks', async () => {
    const { db } = temp();
    const { code, stdout } = await cli(['run', join(FIXTURES, 'failing.yaml'), '--db', db]);
    expect(code).toBe(1);
    const id = workflowIdOf(stdout);
    expect(stdout).toContain('Workflow "Partly failing workflow" FAILED');
    expect(stdout).toMatch(/Failed tasks:\n {2}\S+ "picky one": PICKY: refusing picky one on the first try/);
    expect(stdout).toContain(`Retry them: symphony retry ${id}`);
    expect(stdout).toMatch(
      / task \S+ ATTEMPT_FAILED "picky one" attempt 1: PICKY: refusing picky one on the first try \(no retry\)/,
    );
  });
});
