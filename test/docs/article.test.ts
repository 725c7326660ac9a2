import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { childDefinition, loadWorkflowFile } from '../../src/cli/workflow-file/load.js';
import { runMain } from '../cli/in-process.js';

// docs/cli.md's example of a loop over a group of tasks and a child workflow file:
// examples/workflows/article.yaml (rounds of draft + review until approved, then ./checks.yaml).

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');
const ARTICLE = 'examples/workflows/article.yaml';

interface RunSummary {
  workflow: { status: string };
  agents: Array<{ name: string; completed: number }>;
  results: Array<{ name: string; status: string; attempts: number }>;
}

describe('examples/workflows/article.yaml', () => {
  it("the block docs/cli.md marks as its excerpt is the file's, line for line", async () => {
    const doc = await read('docs/cli.md');
    const marked = [...doc.matchAll(/<!-- excerpt: ([\w./-]+) -->\n\n```\w+\n([\s\S]*?)```/g)];
    expect(marked.map(([, path]) => path)).toEqual([ARTICLE]);
    const file = await read(ARTICLE);
    expect(file, `${ARTICLE} no longer holds the block docs/cli.md quotes; paste it again`).toContain(
      marked[0]![2]!,
    );
  });

  it('docs/cli.md links the example, its child file and its agents module, which exist', async () => {
    const doc = await read('docs/cli.md');
    for (const path of [ARTICLE, 'examples/workflows/checks.yaml', 'examples/workflows/article-agents.ts']) {
      expect(doc).toContain(`](../${path})`);
      await expect(read(path)).resolves.toBeDefined();
    }
  });

  it('loads as a loop over a group of tasks and a child file with an agents section of its own', async () => {
    const file = await loadWorkflowFile(`${ROOT}${ARTICLE}`);
    const [rounds, checks] = file.tasks;
    expect(rounds!.loop).toEqual({
      until: 'outputs.rounds.outputs.review.approved == true',
      maxIterations: 3,
    });
    expect(childDefinition(rounds!.workflow!).tasks.map((task) => task.key)).toEqual(['draft', 'review']);
    expect(checks!.workflow).toMatchObject({ path: './checks.yaml' });
    const child = checks!.workflow!.path === undefined ? null : checks!.workflow!.file;
    expect(child?.agents.configs.map((config) => config.name)).toEqual(['Checker']);
    expect(child?.tasks.map((task) => task.key)).toEqual(['facts', 'links']);
  });

  it("runs to COMPLETED: two rounds (the second draft is approved), the checks on the child file's agent, then publish", async () => {
    const { code, stdout, stderr } = await runMain(['run', ARTICLE, '--db', ':memory:', '--json'], {
      cwd: ROOT,
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as RunSummary;
    expect(summary.workflow.status).toBe('COMPLETED');
    // The run's results are the parent's own tasks; the rounds' and checks' tasks ran in child workflows.
    expect(summary.results.map(({ name, status }) => [name, status]).sort()).toEqual(
      [
        ['Write until approved', 'COMPLETED'],
        ['Write until approved [iteration 0]', 'COMPLETED'],
        ['Write until approved [iteration 1]', 'COMPLETED'],
        ['Final checks', 'COMPLETED'],
        ['Publish', 'COMPLETED'],
      ].sort(),
    );
    const completed = Object.fromEntries(summary.agents.map(({ name, completed }) => [name, completed]));
    expect(completed).toEqual({ Writer: 2, Reviewer: 2, Checker: 2, Publisher: 1 });
  });

  it('checks.yaml also runs alone', async () => {
    const { code, stdout, stderr } = await runMain(
      ['run', 'examples/workflows/checks.yaml', '--db', ':memory:', '--json'],
      { cwd: ROOT },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as RunSummary).workflow.status).toBe('COMPLETED');
  });
});
