import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, PLAIN_LINE, readStore, ROOT, tempDir, WORKFLOW_LINE } from './helpers.js';

const temps: Array<() => void> = [];
afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));
function temp() {
  const made = tempDir();
  temps.push(made.cleanup);
  return made;
}

describe('symphony demo', () => {
  it('runs the demo workflow on the store to COMPLETED, prints plain lines and a summary, exits 0', async () => {
    const { db } = temp();
    const { code, stdout, stderr } = await cli(['demo', '--db', db]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    const id = lines[0]!.match(WORKFLOW_LINE)?.[1];
    expect(id, lines[0]).toBeDefined();
    expect(lines[0]).toContain('30 tasks over 6 documents, 4 agents');

    // Not a terminal: plain lines, one per state change, no escape codes.
    expect(stdout.includes('\u001b')).toBe(false);
    const progress = lines.slice(1, lines.indexOf(''));
    expect(progress.length).toBeGreaterThan(30);
    for (const line of progress) expect(line).toMatch(PLAIN_LINE);
    expect(progress.filter((line) => / task \S+ COMPLETED /.test(line))).toHaveLength(30);
    expect(progress.some((line) => / ATTEMPT_FAILED ".*OVERLOADED.*\(will retry\)$/.test(line))).toBe(true);
    expect(progress.at(-1)).toMatch(new RegExp(` workflow ${id} COMPLETED "Document analysis"$`));

    // The summary.
    expect(stdout).toContain(`Workflow "Document analysis" COMPLETED in `);
    expect(stdout).toMatch(/Tasks: 30 \(30 COMPLETED\); [1-9]\d* needed a retry/);
    expect(stdout).toMatch(/Sentiment \(flaky\)\s+completed \d+, failed attempts [1-9]/);
    expect(stdout).toContain(`Store: ${db}`);
    expect(stdout).toContain('Example output (summarize city-council.txt): {"summary":');

    const stored = await readStore(db, async (store) => ({
      workflow: await store.workflows.get(id!),
      tasks: await store.tasks.find({ where: { workflowId: id! } }),
      configs: await store.agentConfigs.find(),
    }));
    expect(stored.workflow?.status).toBe('COMPLETED');
    expect(stored.tasks).toHaveLength(30);
    expect(stored.tasks.every((task) => task.status === 'COMPLETED' && task.outputData !== null)).toBe(true);
    expect(stored.configs.map((config) => config.name).sort()).toEqual([
      'Keyword extractor',
      'Sentiment (flaky)',
      'Statistician',
      'Summarizer',
    ]);
  });

  it('keeps the store in .symphony/symphony.db under the current directory by default, or in $SYMPHONY_DB', async () => {
    const { dir } = temp();
    const byDefault = await cli(['demo', '--json'], { cwd: dir });
    expect(byDefault.code).toBe(0);
    expect(existsSync(join(dir, '.symphony/symphony.db'))).toBe(true);

    const fromEnv = join(dir, 'env.db');
    const second = await cli(['demo', '--json'], { cwd: dir, env: { SYMPHONY_DB: fromEnv } });
    expect(second.code).toBe(0);
    const id = (JSON.parse(second.stdout) as { workflow: { id: string } }).workflow.id;
    await readStore(fromEnv, async (store) =>
      expect((await store.workflows.get(id))?.status).toBe('COMPLETED'),
    );
    // A second demo on the same store reuses the agent configs instead of adding copies.
    const list = await cli(['list', '--json'], { cwd: dir });
    expect(JSON.parse(list.stdout)).toHaveLength(1);
    const again = await cli(['demo', '--json'], { cwd: dir });
    expect(again.code).toBe(0);
    await readStore(join(dir, '.symphony/symphony.db'), async (store) => {
      expect(await store.workflows.count()).toBe(2);
      expect(await store.agentConfigs.count()).toBe(4);
    });
  });

  it('prints one JSON document with --json', async () => {
    const { db } = temp();
    const { code, stdout } = await cli(['demo', '--db', db, '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as {
      workflow: { status: string; name: string };
      tasks: { total: number; byStatus: Record<string, number>; retried: number };
      agents: Array<{ name: string; completed: number }>;
      results: Array<{ status: string; attempts: number }>;
      interrupted: boolean;
    };
    expect(summary.workflow).toMatchObject({ status: 'COMPLETED', name: 'Document analysis' });
    expect(summary.tasks.total).toBe(30);
    expect(summary.tasks.byStatus.COMPLETED).toBe(30);
    expect(summary.results).toHaveLength(30);
    expect(summary.interrupted).toBe(false);
    expect(summary.agents.reduce((sum, agent) => sum + agent.completed, 0)).toBe(30);
  });

  it("is what the README's `npm run demo` runs", async () => {
    const { db } = temp();
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        'npm',
        ['run', '--silent', 'demo'],
        { cwd: ROOT, env: { ...process.env, SYMPHONY_DB: db } },
        (error, out) => (error ? reject(error) : resolve(out)),
      ),
    );
    const id = stdout.split('\n')[0]!.match(WORKFLOW_LINE)![1]!;
    expect(stdout).toContain(`Store: ${db}`);
    await readStore(db, async (store) => expect((await store.workflows.get(id))?.status).toBe('COMPLETED'));
  });
});
