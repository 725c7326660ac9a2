import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceRegistry, type Task } from '../../src/index.js';
import { cli, readStore, ROOT, tempDir } from './helpers.js';

// `symphony graph <file | workflowId>` (issue 12): a workflow graph as a Mermaid flowchart.

const GRAPH_FILE = 'test/fixtures/graph-workflow.yaml';

let dir: string;
let db: string;
let cleanup: () => void;
let workflowId: string;
let taskIds: string[];

/**
 * A stored workflow of four tasks: a -> b, a -> c (with a condition), b -> d. The graphs and
 * statuses are written into the rows directly: the engine API for dependencies is being built.
 */
async function storeGraphWorkflow(): Promise<void> {
  const registry = new ServiceRegistry({ store: db });
  await registry.start();
  try {
    const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'Stored graph' });
    workflowId = workflow.id;
    taskIds = [];
    for (const name of ['Fetch', 'Sum "it"', 'Escalate', 'Report']) {
      const task = await registry.getTaskManager().createTask({ name });
      await registry.getWorkflowTracker().addTaskToWorkflow(workflow.id, task.id);
      taskIds.push(task.id);
    }
  } finally {
    await registry.stop();
  }
  const [a, b, c, d] = taskIds as [string, string, string, string];
  const shape: Record<string, Pick<Task, 'status' | 'graph'>> = {
    [a]: { status: 'COMPLETED', graph: null },
    [b]: { status: 'RUNNING', graph: { dependsOn: [a], key: 'sum', when: null } },
    [c]: {
      status: 'SKIPPED',
      graph: { dependsOn: [a], key: null, when: { cel: 'outputs.fetch.urgent == true' } },
    },
    [d]: { status: 'PENDING', graph: { dependsOn: [b], key: null, when: null } },
  };
  await readStore(db, async (store) => {
    const rows = await Promise.all(taskIds.map((id) => store.tasks.get(id)));
    await store.tasks.saveMany(rows.map((row) => ({ ...row!, ...shape[row!.id]! })));
  });
}

beforeAll(async () => {
  ({ dir, db, cleanup } = tempDir());
  await storeGraphWorkflow();
});
afterAll(() => cleanup());

describe('symphony graph <file>', () => {
  it('prints the declared graph: keys as ids, names as labels, conditions on the edges', async () => {
    const { code, stdout, stderr } = await cli(['graph', GRAPH_FILE]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        'flowchart TD',
        '  triage["Triage the report"]',
        '  fix["Fix the bug"]',
        '  answer["Answer the #quot;question#quot;"]',
        '  notify["Tell the reporter"]',
        '  node_4["Log the run"]',
        '  triage -->|"outputs.triage.label == #quot;bug#quot;"| fix',
        '  triage -->|"outputs.triage.label == #quot;question#quot;"| answer',
        '  fix --> notify',
        '',
      ].join('\n'),
    );
  });

  it('prints { mermaid } with --json, relative to the working directory', async () => {
    const { code, stdout } = await cli(['graph', 'graph-workflow.yaml', '--json'], {
      cwd: join(ROOT, 'test/fixtures'),
    });
    expect(code).toBe(0);
    const { mermaid } = JSON.parse(stdout) as { mermaid: string };
    expect(mermaid).toMatch(/^flowchart TD\n {2}triage\["Triage the report"\]\n/);
    expect(mermaid).not.toContain('classDef');
  });

  it('refuses a file with a graph problem, with its path, and a missing file: exit 2', async () => {
    const file = join(dir, 'cycle.yaml');
    writeFileSync(
      file,
      [
        'name: Cycle',
        'agents: { configs: [{ name: A, type: a }] }',
        'tasks:',
        '  - { key: a, name: A, dependsOn: [b] }',
        '  - { key: b, name: B, dependsOn: [a] }',
        '',
      ].join('\n'),
    );
    const cycle = await cli(['graph', 'cycle.yaml'], { cwd: dir });
    expect(cycle.code).toBe(2);
    expect(cycle.stderr).toBe(
      'symphony: cycle.yaml: invalid workflow file: tasks[0].dependsOn: dependency cycle: "a" depends on "b", which depends on "a"\n',
    );
    const missing = await cli(['graph', 'absent.yaml'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('absent.yaml: cannot read the workflow file: no such file');
  });
});

describe('symphony graph <workflowId>', () => {
  it('prints the stored graph with task ids, names and statuses as colours', async () => {
    const { code, stdout, stderr } = await cli(['graph', workflowId, '--db', db]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('flowchart TD');
    // A task id that is a plain name is its node id; one with a - (nanoid) is replaced.
    const nodeOf = (label: string) => {
      const line = lines.find((candidate) => candidate.endsWith(`["${label}"]`))!;
      const id = line.trim().slice(0, line.trim().indexOf('['));
      const taskId = taskIds[['Fetch', 'Sum #quot;it#quot;', 'Escalate', 'Report'].indexOf(label)]!;
      expect(id === taskId || /^node_\d+_*$/.test(id)).toBe(true);
      return id;
    };
    const [na, nb, nc, nd] = ['Fetch', 'Sum #quot;it#quot;', 'Escalate', 'Report'].map(nodeOf);
    expect(lines).toEqual(
      expect.arrayContaining([
        `  ${na} --> ${nb}`,
        `  ${na} -->|"outputs.fetch.urgent == true"| ${nc}`,
        `  ${nb} --> ${nd}`,
        `  class ${na} completed`,
        `  class ${nb} running`,
        `  class ${nc} skipped`,
        `  class ${nd} pending`,
      ]),
    );
    expect(stdout).toMatch(/classDef skipped [^\n]*stroke-dasharray/);

    const json = await cli(['graph', workflowId, '--db', db, '--json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { mermaid: string }).mermaid).toBe(stdout);
  });

  it("draws a task's workflow for a task id", async () => {
    const byTask = await cli(['graph', taskIds[2]!, '--db', db]);
    expect(byTask.code).toBe(0);
    expect(byTask.stdout).toContain('Escalate');
    expect(byTask.stdout).toContain('Fetch');
  });

  it('exits 2 with WORKFLOW_NOT_FOUND for an unknown id, as show does', async () => {
    const graph = await cli(['graph', 'no-such-id', '--db', db, '--json']);
    const show = await cli(['show', 'no-such-id', '--db', db, '--json']);
    expect(graph.code).toBe(2);
    expect(JSON.parse(graph.stdout)).toEqual({
      error: { code: 'WORKFLOW_NOT_FOUND', message: expect.stringContaining('no-such-id') },
    });
    expect(graph.stdout).toBe(show.stdout);
    expect(graph.stderr).toBe(show.stderr);
  });

  it('documents --db and --json in its help', async () => {
    const { code, stdout } = await cli(['graph', '--help'], { cwd: dir });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: symphony graph \[options\] <file\|workflowId>/);
    expect(stdout).toContain('--db <path|url>');
    expect(stdout).toContain('--json');
  });
});

describe('symphony graph with a fan-out (forEach)', () => {
  const FANOUT_FILE = 'examples/workflows/research-fanout.yaml';

  it("draws a file's fan-out as a subroutine with its list, linked from its dependencies", async () => {
    const { code, stdout, stderr } = await cli(['graph', FANOUT_FILE]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.split('\n').slice(0, 7)).toEqual([
      'flowchart TD',
      '  fetch["Fetch the documents"]',
      '  summaries[["Summarise #91;forEach: outputs.fetch.documents#93;"]]',
      '  review["Review the summaries"]',
      '  publish["Publish the digest"]',
      '  fetch --> summaries',
      '  summaries --> review',
    ]);
  });

  it("draws a stored fan-out's tasks as nodes linked to it", async () => {
    const run = await cli(['run', FANOUT_FILE, '--db', db, '--json']);
    expect(run.code).toBe(0);
    const id = (JSON.parse(run.stdout) as { workflow: { id: string } }).workflow.id;
    const { code, stdout, stderr } = await cli(['graph', id, '--db', db]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    const nodeOf = (text: string) => {
      const line = lines.find((candidate) => candidate.includes(`"${text}"`));
      expect(line, text).toBeDefined();
      return line!.trim().slice(0, line!.trim().indexOf('['));
    };
    const fetch = nodeOf('Fetch the documents');
    const fanOut = nodeOf('Summarise #91;forEach: outputs.fetch.documents#93;');
    expect(lines).toContain(`  ${fanOut}[["Summarise #91;forEach: outputs.fetch.documents#93;"]]`);
    const items = [0, 1, 2].map((index) => nodeOf(`Summarise #91;${index}#93;`));
    expect(lines).toEqual(
      expect.arrayContaining([
        `  ${fetch} --> ${fanOut}`,
        `  ${fanOut} --> ${nodeOf('Review the summaries')}`,
        ...items.map((item) => `  ${fanOut} -.-> ${item}`),
      ]),
    );
    // The items are linked to the fan-out only, not to its dependencies again.
    for (const item of items) expect(lines).not.toContain(`  ${fetch} --> ${item}`);
    // Every task ran: all seven nodes are coloured completed.
    const completed = lines.find((line) => line.startsWith('  class ') && line.endsWith(' completed'))!;
    const drawn = [fetch, fanOut, nodeOf('Review the summaries'), nodeOf('Publish the digest'), ...items];
    expect(completed.split(' ')[3]!.split(',').sort()).toEqual(drawn.sort());
  });
});
