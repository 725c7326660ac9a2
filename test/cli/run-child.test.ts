/**
 * `symphony run` of workflow files with child workflows (`workflow: { definition }` written in
 * place, or `workflow: <path>` of another workflow file), a loop over a group of tasks, what
 * `show` and `graph` print of them, and the file checks of child workflows.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '../../src/index.js';
import { CliUsageError } from '../../src/cli/cli-error.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { loadWorkflowFile } from '../../src/cli/workflow-file/load.js';
import { cli, FIXTURES, readStore, tempDir } from './helpers.js';

const temps: Array<() => void> = [];
afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));

function temp() {
  const made = tempDir();
  temps.push(made.cleanup);
  return made;
}

/** The agents section of the test files: a writer and a reviewer, routed by capability (tags). */
const AGENTS = [
  'agents:',
  `  module: ${join(FIXTURES, 'child-agents.mjs')}`,
  '  configs:',
  '    - { name: Writer, type: writer, capabilities: [write] }',
  '    - { name: Reviewer, type: reviewer, capabilities: [review] }',
];

/** Writes `<name>.yaml` in `dir` with these task lines (YAML, indented under `tasks:`); returns its path. */
function workflowFile(dir: string, name: string, tasks: readonly string[], agents = AGENTS): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, [`name: ${name}`, ...agents, 'tasks:', ...tasks].join('\n'));
  return file;
}

const tasksOf = (db: string, workflowId: string): Promise<Task[]> =>
  readStore(db, (store) => store.tasks.find({ where: { workflowId } }));

const byKey = (tasks: readonly Task[]) => new Map(tasks.map((task) => [task.graph?.key ?? task.id, task]));

/** The agent config names by id in the store. */
const agentNames = (db: string): Promise<Map<string, string>> =>
  readStore(db, async (store) => new Map((await store.agentConfigs.find()).map((c) => [c.id, c.name])));

async function runJson(args: readonly string[]): Promise<{ id: string; status: string }> {
  const { code, stdout, stderr } = await cli([...args, '--json']);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return (JSON.parse(stdout) as { workflow: { id: string; status: string } }).workflow;
}

describe('symphony run with a child workflow written in place', () => {
  it('runs the child inside the run: its tasks on the agents their entries are routed to; the node gets their outputs by key', async () => {
    const { dir, db } = temp();
    const file = workflowFile(dir, 'Parent', [
      '  - { key: plan, name: Plan, tags: [write] }',
      '  - key: article',
      '    name: Article',
      '    dependsOn: [plan]',
      '    inputData: { topic: cats }',
      '    workflow:',
      '      definition:',
      '        name: Write an article',
      '        tasks:',
      '          - { key: draft, tags: [write] }',
      '          - { key: review, name: Review it, tags: [review], dependsOn: [draft] }',
      '  - { key: publish, name: Publish, tags: [write], dependsOn: [article] }',
    ]);
    const workflow = await runJson(['run', file, '--db', db]);
    expect(workflow.status).toBe('COMPLETED');
    const parent = byKey(await tasksOf(db, workflow.id));
    const node = parent.get('article')!;
    const childId = `${node.id}-wf`;
    expect(node).toMatchObject({ status: 'COMPLETED', attempts: 0 });
    expect(node.graph?.workflow?.id).toBe(childId);

    const child = byKey(await tasksOf(db, childId));
    expect([...child.values()].map((task) => task.id).sort()).toEqual([
      `${childId}-draft`,
      `${childId}-review`,
    ]);
    const names = await agentNames(db);
    expect(names.get(child.get('draft')!.agentId!)).toBe('Writer');
    expect(names.get(child.get('review')!.agentId!)).toBe('Reviewer');
    expect(child.get('draft')!.outputData).toEqual({
      by: 'writer',
      name: 'draft',
      parent: { topic: 'cats' },
      dependencies: {},
    });
    expect(child.get('review')!.outputData).toMatchObject({
      by: 'reviewer',
      name: 'Review it',
      dependencies: { draft: { by: 'writer' } },
    });
    expect(node.outputData).toEqual({
      workflowId: childId,
      status: 'COMPLETED',
      outputs: { draft: child.get('draft')!.outputData, review: child.get('review')!.outputData },
    });
    expect(parent.get('publish')!.outputData).toMatchObject({
      dependencies: { article: { workflowId: childId, status: 'COMPLETED' } },
    });

    const show = await cli(['show', workflow.id, '--db', db]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(
      new RegExp(`${node.id}\\s+COMPLETED\\s+-\\s+0\\s.*Article\\s+child workflow ${childId}`),
    );
    const showChild = await cli(['show', childId, '--db', db]);
    expect(showChild.code).toBe(0);
    expect(showChild.stdout).toContain(`Workflow "Write an article" (${childId})`);
    expect(showChild.stdout).toContain(`parent    task ${node.id} of workflow ${workflow.id}`);
    expect(showChild.stdout).toMatch(new RegExp(`${childId}-review\\s+COMPLETED\\s+Reviewer\\s+1\\s`));

    const graph = await cli(['graph', workflow.id, '--db', db]);
    expect(graph.code).toBe(0);
    expect(graph.stdout).toContain(`[["Article #91;workflow: Write an article, ${childId}#93;"]]`);
    const drawn = await cli(['graph', file]);
    expect(drawn.stdout).toContain('  article[["Article #91;workflow: Write an article#93;"]]');
  });

  // The fields of a child file's task that a definition's task has reach the stored child task
  // (metadata, which it has not, is refused: see the file checks below).
  it("gives a child file's tasks their description, priority, tags, query and inputData", async () => {
    const { dir, db } = temp();
    workflowFile(dir, 'fields', [
      '  - key: draft',
      '    name: Draft',
      '    description: The first draft',
      '    priority: 7',
      '    tags: [write]',
      '    query: Write it',
      '    inputData: { words: 300 }',
    ]);
    const file = workflowFile(dir, 'Main', ['  - { key: article, name: Article, workflow: ./fields.yaml }']);
    const workflow = await runJson(['run', file, '--db', db]);
    expect(workflow.status).toBe('COMPLETED');
    const node = byKey(await tasksOf(db, workflow.id)).get('article')!;
    const draft = byKey(await tasksOf(db, `${node.id}-wf`)).get('draft')!;
    expect(draft).toMatchObject({
      name: 'Draft',
      description: 'The first draft',
      priority: 7,
      tags: ['write'],
      inputData: { words: 300, query: 'Write it' },
    });
  });

  it('runs a child workflow file named by path, nested children, with the agents of each file', async () => {
    const { dir, db } = temp();
    workflowFile(
      dir,
      'review',
      ['  - { key: check, name: Check, tags: [review] }'],
      ['agents:', '  configs:', '    - { name: Checker, type: reviewer, capabilities: [review] }'],
    );
    const file = workflowFile(dir, 'Main', [
      '  - key: write',
      '    name: Write',
      '    workflow:',
      '      definition:',
      '        name: Writing',
      '        tasks:',
      '          - { key: draft, tags: [write] }',
      '          - { key: checked, dependsOn: [draft], workflow: ./review.yaml }',
    ]);
    const workflow = await runJson(['run', file, '--db', db]);
    expect(workflow.status).toBe('COMPLETED');
    const node = byKey(await tasksOf(db, workflow.id)).get('write')!;
    const nested = `${node.id}-wf-checked-wf`;
    const check = byKey(await tasksOf(db, nested)).get('check')!;
    expect(check.id).toBe(`${nested}-check`);
    // The child file's tasks run on its own agent configs.
    expect((await agentNames(db)).get(check.agentId!)).toBe('Checker');
    expect(node.outputData).toMatchObject({
      outputs: {
        draft: { by: 'writer' },
        checked: { workflowId: nested, status: 'COMPLETED', outputs: { check: { by: 'reviewer' } } },
      },
    });
  });

  it("loops over a group of tasks until `until` holds over the last iteration's child outputs", async () => {
    const { dir, db } = temp();
    const file = workflowFile(dir, 'Rounds', [
      '  - key: rounds',
      '    name: Rounds',
      '    loop: { until: outputs.rounds.outputs.review.approved == true, maxIterations: 4 }',
      '    workflow:',
      '      definition:',
      '        name: One round',
      '        tasks:',
      '          - { key: draft, tags: [write] }',
      '          - { key: review, tags: [review], dependsOn: [draft], inputData: { approveAt: 2 } }',
    ]);
    const workflow = await runJson(['run', file, '--db', db]);
    expect(workflow.status).toBe('COMPLETED');
    const tasks = await tasksOf(db, workflow.id);
    const loop = byKey(tasks).get('rounds')!;
    expect(loop.graph?.children).toEqual([0, 1, 2].map((i) => `${loop.id}-${i}`));
    const names = await agentNames(db);
    for (const i of [0, 1, 2]) {
      const round = byKey(await tasksOf(db, `${loop.id}-${i}-wf`));
      expect(names.get(round.get('draft')!.agentId!)).toBe('Writer');
      expect(round.get('review')!.outputData).toMatchObject({
        by: 'reviewer',
        approved: i >= 2,
        parent: { iteration: i },
      });
    }
    expect(loop.outputData).toMatchObject({
      workflowId: `${loop.id}-2-wf`,
      outputs: { review: { approved: true } },
    });
    const graph = await cli(['graph', file]);
    expect(graph.stdout).toContain(
      '  rounds(["↻ Rounds #91;until: outputs.rounds.outputs.review.approved == true, max 4, workflow: One round#93;"])',
    );
  });
});

describe('workflow file checks of child workflows', () => {
  it('reports every problem of definitions and child files at once, each with its path: exit 2', async () => {
    const { dir, db } = temp();
    workflowFile(dir, 'bad-child', ['  - { name: X, dependsOn: [nowhere] }']);
    workflowFile(dir, 'loop-a', ['  - { key: a, name: A, workflow: ./loop-b.yaml }']);
    workflowFile(dir, 'loop-b', ['  - { key: b, name: B, workflow: ./loop-a.yaml }']);
    const file = workflowFile(dir, 'Bad', [
      '  - key: one',
      '    name: One',
      '    workflow:',
      '      definition:',
      '        name: Inner',
      '        tasks:',
      '          - { key: a, dependsOn: [ghost] }',
      '          - { key: b, dependsOn: [c] }',
      '          - { key: c, dependsOn: [b] }',
      '          - { name: no key }',
      '  - { key: two, name: Two, workflow: ./missing.yaml }',
      '  - { key: three, name: Three, workflow: ./loop-a.yaml }',
      '  - { key: four, name: Four, workflow: ./bad-child.yaml }',
    ]);
    const { code, stderr } = await cli(['run', file, '--db', db]);
    expect(code).toBe(2);
    // The shape of a definition is checked with the file's.
    expect(stderr).toContain(
      'Bad.yaml: invalid workflow file: tasks[0].workflow.definition.tasks[3].key: expected a key (1-128 letters, digits, _ and -, starting with a letter or _), got nothing; each task of a child workflow needs one: its task id in the child is <child id>-<key>',
    );
    // The graph of a definition is checked once the file has its shape.
    const fixed = workflowFile(dir, 'Bad2', [
      '  - key: one',
      '    name: One',
      '    workflow:',
      '      definition:',
      '        name: Inner',
      '        tasks:',
      '          - { key: a, dependsOn: [ghost] }',
      '          - { key: b, dependsOn: [c] }',
      '          - { key: c, dependsOn: [b] }',
      '  - { key: two, name: Two, workflow: ./missing.yaml }',
      '  - { key: three, name: Three, workflow: ./loop-a.yaml }',
      '  - { key: four, name: Four, workflow: ./bad-child.yaml }',
      '  - { key: five, name: Five, waitFor: go, workflow: ./bad-child.yaml }',
    ]);
    const second = await cli(['run', fixed, '--db', db]);
    expect(second.code).toBe(2);
    expect(second.stderr.split('\n').map((line) => line.trim())).toEqual(
      expect.arrayContaining([
        'tasks[0].workflow.definition.tasks[0].dependsOn[0]: unknown key "ghost"; expected the key of another task of the definition',
        'tasks[0].workflow.definition.tasks[1].dependsOn: dependency cycle: "b" depends on "c", which depends on "b"',
        'tasks[1].workflow: ./missing.yaml: cannot read the workflow file: no such file',
        'tasks[2].workflow: ./loop-a.yaml: tasks[0].workflow: ./loop-b.yaml: tasks[0].workflow: ./loop-a.yaml makes a cycle of workflow files: ./loop-a.yaml -> ./loop-b.yaml -> ./loop-a.yaml',
        'tasks[3].workflow: ./bad-child.yaml: tasks[0].dependsOn[0]: unknown key "nowhere"; expected the key of another task of the file',
        'tasks[4].workflow: a task cannot both wait for a signal (waitFor) and run a child workflow (workflow); it is at most one of them',
      ]),
    );
  });

  // Regression (new-user pass): a child workflow file whose tasks had no key passed the loader;
  // `symphony run` then failed with the engine's unprefixed INVALID_ARGUMENT, leaving a PENDING
  // workflow without tasks in the store.
  it('refuses a child workflow file whose tasks have no key before anything is stored: exit 2', async () => {
    const { dir, db } = temp();
    workflowFile(dir, 'keyless', [
      '  - { name: Draft, tags: [write] }',
      '  - { key: review, name: Review, tags: [review] }',
      '  - { name: Polish, tags: [write] }',
    ]);
    const file = workflowFile(dir, 'Parent', [
      '  - { key: article, name: Article, workflow: ./keyless.yaml }',
    ]);
    const why = 'each task of a child workflow needs one: its task id in the child is <child id>-<key>';
    const expected = [
      'Parent.yaml: invalid workflow file:',
      `  tasks[0].workflow: ./keyless.yaml: tasks[0].key: expected a key (1-128 letters, digits, _ and -, starting with a letter or _), got nothing; ${why}`,
      `  tasks[0].workflow: ./keyless.yaml: tasks[2].key: expected a key (1-128 letters, digits, _ and -, starting with a letter or _), got nothing; ${why}`,
    ].join('\n');
    const loading = loadWorkflowFile(file, 'Parent.yaml');
    await expect(loading).rejects.toThrow(CliUsageError);
    await expect(loading).rejects.toThrow(expected);

    const { code, stdout, stderr } = await cli(['run', file, '--db', db]);
    expect(stderr).toBe(`symphony: ${expected.replace('Parent.yaml', file)}\n`);
    expect(stdout).toBe('');
    expect(code).toBe(ExitCode.USAGE);
    expect(await readStore(db, (store) => store.workflows.count())).toBe(0);
  });

  // Regression (file pass 2): a child workflow's name longer than the engine takes (definitionOf:
  // 1-256 characters), in a child file or written in place, passed the loader; `symphony run` then
  // failed with INVALID_ARGUMENT after the parent workflow was stored.
  it('refuses a child workflow name longer than 256 characters before anything is stored: exit 2', async () => {
    const { dir, db } = temp();
    const long = 'n'.repeat(257);
    writeFileSync(
      join(dir, 'long.yaml'),
      [`name: ${long}`, ...AGENTS, 'tasks:', '  - { key: draft, name: Draft, tags: [write] }'].join('\n'),
    );
    const file = workflowFile(dir, 'Parent', [
      '  - { key: article, name: Article, workflow: ./long.yaml }',
      '  - key: inline',
      '    name: Inline',
      '    workflow:',
      '      definition:',
      `        name: ${long}`,
      '        tasks: [{ key: draft, tags: [write] }]',
    ]);
    const got = `got "${'n'.repeat(40)}..." (257 characters)`;
    const expected = `Parent.yaml: invalid workflow file: tasks[1].workflow.definition.name: expected a non-empty string of at most 256 characters, ${got}`;
    await expect(loadWorkflowFile(file, 'Parent.yaml')).rejects.toThrow(expected);
    const { code, stdout, stderr } = await cli(['run', file, '--db', db]);
    expect(stderr).toBe(`symphony: ${expected.replace('Parent.yaml', file)}\n`);
    expect(stdout).toBe('');
    expect(code).toBe(ExitCode.USAGE);
    expect(await readStore(db, (store) => store.workflows.count())).toBe(0);

    // The child file's name, once the file's shape is right.
    const second = workflowFile(dir, 'Second', [
      '  - { key: article, name: Article, workflow: ./long.yaml }',
    ]);
    const child = `Second.yaml: invalid workflow file: tasks[0].workflow: ./long.yaml: name: expected a non-empty string of at most 256 characters, ${got}; it names the child workflow`;
    await expect(loadWorkflowFile(second, 'Second.yaml')).rejects.toThrow(child);
    const run = await cli(['run', second, '--db', db]);
    expect(run.stderr).toBe(`symphony: ${child.replace('Second.yaml', second)}\n`);
    expect(run.code).toBe(ExitCode.USAGE);
    expect(await readStore(db, (store) => store.workflows.count())).toBe(0);

    // 256 characters are taken; a file run alone may have a longer name (createWorkflow takes it).
    writeFileSync(
      join(dir, 'long.yaml'),
      [
        `name: ${'n'.repeat(256)}`,
        ...AGENTS,
        'tasks:',
        '  - { key: draft, name: Draft, tags: [write] }',
      ].join('\n'),
    );
    await expect(loadWorkflowFile(second, 'Second.yaml')).resolves.toBeDefined();
    const alone = join(dir, 'alone.yaml');
    writeFileSync(alone, [`name: ${'n'.repeat(300)}`, ...AGENTS, 'tasks:', '  - { name: Draft }'].join('\n'));
    await expect(loadWorkflowFile(alone)).resolves.toBeDefined();
  });

  // Regression (file pass 2): a child workflow file's tasks' metadata was silently dropped (a
  // definition's task has no metadata: DefinedTask); the loader now refuses it, saying why.
  it('refuses metadata on a task of a child workflow file before anything is stored: exit 2', async () => {
    const { dir, db } = temp();
    workflowFile(dir, 'meta', [
      '  - { key: draft, name: Draft, tags: [write], metadata: { owner: ana } }',
      '  - { key: review, name: Review, tags: [review], dependsOn: [draft] }',
    ]);
    const file = workflowFile(dir, 'Parent', ['  - { key: article, name: Article, workflow: ./meta.yaml }']);
    const expected =
      "Parent.yaml: invalid workflow file: tasks[0].workflow: ./meta.yaml: tasks[0].metadata: a child workflow's tasks have no metadata (its definition stores none for them); put what the agent reads in inputData";
    await expect(loadWorkflowFile(file, 'Parent.yaml')).rejects.toThrow(expected);
    const { code, stdout, stderr } = await cli(['run', file, '--db', db]);
    expect(stderr).toBe(`symphony: ${expected.replace('Parent.yaml', file)}\n`);
    expect(stdout).toBe('');
    expect(code).toBe(ExitCode.USAGE);
    expect(await readStore(db, (store) => store.workflows.count())).toBe(0);
  });
});
