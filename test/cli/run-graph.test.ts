import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, readStore, ROOT, tempDir } from './helpers.js';

// `symphony run` on a workflow file with key / dependsOn / when runs it as a graph (issue 12).

let dir: { dir: string; db: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.cleanup());

/** Writes a workflow file of these task lines (YAML flow maps) run by research-agents.ts; returns its path. */
function workflowFile(name: string, tasks: readonly string[]): string {
  const file = join(dir.dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      'agents:',
      `  module: ${join(ROOT, 'examples/workflows/research-agents.ts')}`,
      '  configs:',
      '    - { name: Researcher, type: researcher }',
      'tasks:',
      ...tasks.map((task) => `  - ${task}`),
    ].join('\n'),
  );
  return file;
}

describe('symphony run with a graph file', () => {
  it('runs examples/workflows/research-graph.yaml: dependencies first, the branch not taken SKIPPED, exit 0', async () => {
    const { code, stdout, stderr } = await cli([
      'run',
      'examples/workflows/research-graph.yaml',
      '--db',
      dir.db,
      '--json',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as {
      workflow: { id: string; status: string };
      tasks: { byStatus: Record<string, number> };
    };
    expect(summary.workflow.status).toBe('COMPLETED');
    expect(summary.tasks.byStatus).toMatchObject({ COMPLETED: 5, SKIPPED: 1 });
    const tasks = await readStore(dir.db, (store) =>
      store.tasks.find({ where: { workflowId: summary.workflow.id } }),
    );
    const byName = new Map(tasks.map((task) => [task.name, task]));
    expect(byName.get('Escalate to legal')!.status).toBe('SKIPPED');
    const review = byName.get('Review the summaries')!;
    // The review started after both summaries finished, and saw both of their outputs.
    for (const name of ['Summarise paper A', 'Summarise paper B']) {
      expect(review.startedAt!).toBeGreaterThanOrEqual(byName.get(name)!.finishedAt!);
    }
    expect((review.outputData as { summaries: string[] }).summaries.sort()).toEqual([
      'paper-a: graph engines work',
      'paper-b: graph engines work',
    ]);
    expect(byName.get('Summarise paper A')!.graph).toEqual({
      dependsOn: [byName.get('Fetch the documents')!.id],
      key: 'summary_a',
      when: null,
    });
    expect(review.graph!.dependsOn).toHaveLength(2);
    const completions = await readStore(dir.db, (store) => store.completions());
    const ids = new Set(tasks.filter((t) => t.status === 'COMPLETED').map((t) => t.id));
    expect(completions.filter((c) => ids.has(c.taskId))).toHaveLength(5);
    expect(completions.some((c) => c.taskId === byName.get('Escalate to legal')!.id)).toBe(false);
  });
});

describe('symphony run with a sleep in a graph file', () => {
  it('a task with sleep completes without an agent once due, and its dependent runs after it', async () => {
    const file = workflowFile('Sleepy', [
      '{ key: first, name: First, inputData: { step: fetch } }',
      '{ key: nap, name: Nap, dependsOn: [first], sleep: { ms: 0 } }',
      '{ key: past, name: Past, dependsOn: [first], sleep: { until: "2020-01-01T00:00:00Z" } }',
      '{ name: After, dependsOn: [nap, past] }',
    ]);
    const { code, stdout, stderr } = await cli(['run', file, '--db', dir.db, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as { workflow: { id: string; status: string } };
    expect(summary.workflow.status).toBe('COMPLETED');
    const tasks = await readStore(dir.db, (store) =>
      store.tasks.find({ where: { workflowId: summary.workflow.id } }),
    );
    const byName = new Map(tasks.map((task) => [task.name, task]));
    expect(byName.get('Nap')).toMatchObject({ status: 'COMPLETED', attempts: 0, agentId: null });
    expect(byName.get('Past')!.outputData).toEqual({ sleptUntil: Date.parse('2020-01-01T00:00:00Z') });
    expect(byName.get('After')!.startedAt!).toBeGreaterThanOrEqual(byName.get('Nap')!.finishedAt!);
  });

  it('refuses a sleep beside forEach, a negative ms and a date without its offset, each with its path', async () => {
    const file = workflowFile('Bad', [
      '{ key: a, name: A }',
      '{ name: B, dependsOn: [a], forEach: outputs.a.documents, sleep: { ms: 5 } }',
      '{ name: C, sleep: { ms: -1 } }',
      '{ name: D, sleep: { until: "2020-01-01T00:00:00" } }',
    ]);
    const { code, stderr } = await cli(['run', file, '--db', dir.db]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/tasks\[2\]\.sleep/);
    expect(stderr).toMatch(/tasks\[3\]\.sleep/);
    // A file of the right shape: the graph's problems are reported then.
    const both = workflowFile('Both', [
      '{ key: a, name: A }',
      '{ name: B, dependsOn: [a], forEach: outputs.a.documents, sleep: { ms: 5 } }',
    ]);
    const refused = await cli(['run', both, '--db', dir.db]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/tasks\[1\]\.sleep: a task cannot both fan out/);
  });
});
