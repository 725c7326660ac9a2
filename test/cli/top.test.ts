/**
 * `symphony top` (issue 15): the store at a glance in the terminal. `--once` prints one plain
 * frame; `--json` the overview, whose workflows are exactly `symphony list`'s; off a terminal it
 * prints a frame each time the store changes, until SIGTERM (exit 0).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ServiceRegistry } from '../../src/index.js';
import { cli, startCli, tempDir, type CliProcess } from './helpers.js';

const temp = tempDir();
let workflowId = '';
const running: CliProcess[] = [];

beforeAll(async () => {
  const demo = await cli(['demo', '--db', temp.db, '--json']);
  expect(demo.code, demo.stderr).toBe(0);
  workflowId = (JSON.parse(demo.stdout) as { workflow: { id: string } }).workflow.id;
}, 60_000);
afterEach(() => {
  for (const run of running.splice(0)) if (run.child.exitCode === null) run.child.kill('SIGKILL');
});
afterAll(() => temp.cleanup());

describe('symphony top', () => {
  it('--once prints one plain frame: workflows by status and their counts, agents, workers', async () => {
    const { code, stdout, stderr } = await cli(['top', '--once', '--db', temp.db]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.includes(String.fromCharCode(27))).toBe(false);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^Symphony · .*test\.db · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(lines[1]).toBe('Workflows: 1 COMPLETED');
    expect(lines[2]).toMatch(
      /^ID +STATUS +TASKS +DONE +RUNNING +WAITING +FAILED +CANCELLED +SKIPPED +CREATED +HELD BY +NAME$/,
    );
    expect(lines[3]).toMatch(
      new RegExp(`^${workflowId} +COMPLETED +30 +30 +0 +0 +0 +0 +0 .* - +Document analysis$`),
    );
    expect(stdout).toMatch(
      /\nAgents\n {2}NAME +STATE +RUNNING +PENDING +DONE +FAILED +BREAKER +RATE LIMITS\n/,
    );
    expect(stdout).toMatch(/\n {2}Summarizer +idle +0\/2 +0 +9 +0 +- +-\n/);
    expect(stdout).toMatch(/\nWorkers\n {2}ENGINE +STATE +LAST BEAT/);
    expect(stdout).toMatch(/symphony-cli:\S+ +stopped/);
  });

  it('--json gives the overview, whose workflows are those symphony list gives', async () => {
    const top = await cli(['top', '--json', '--db', temp.db]);
    expect(top.code).toBe(0);
    const overview = JSON.parse(top.stdout) as {
      workflowsByStatus: Record<string, number>;
      workflows: unknown[];
      agents: Array<{ config: { name: string }; state: string; completed: number }>;
    };
    const list = JSON.parse((await cli(['list', '--json', '--db', temp.db])).stdout) as unknown[];
    expect(overview.workflows).toEqual(list);
    expect(overview.workflowsByStatus).toMatchObject({ COMPLETED: 1, RUNNING: 0 });
    expect(overview.agents.map((agent) => [agent.config.name, agent.state])).toEqual([
      ['Summarizer', 'idle'],
      ['Keyword extractor', 'idle'],
      ['Statistician', 'idle'],
      ['Sentiment (flaky)', 'idle'],
    ]);
    expect(overview.agents.reduce((sum, agent) => sum + agent.completed, 0)).toBe(30);
  });

  it('off a terminal, prints a new frame when the store changes, and ends on SIGTERM', async () => {
    const top = startCli(['top', '--db', temp.db, '--interval', '100']);
    running.push(top);
    await top.waitForLine(/^Workflows: 1 COMPLETED$/);
    const registry = new ServiceRegistry({ store: temp.db, controlPollMs: 0 });
    await registry.getWorkflowTracker().createWorkflow({ name: 'watched by top' });
    await registry.stop();
    await top.waitForLine(/ +PENDING +0 +0 +0 +0 +0 +0 +0 .* watched by top$/);
    top.child.kill('SIGTERM');
    const { code, stdout } = await top.exited;
    expect(code).toBe(0);
    expect(stdout.split('\n').filter((line) => line.startsWith('Symphony · ')).length).toBeGreaterThanOrEqual(
      2,
    );
  });

  it('refuses a bad interval', async () => {
    const { code, stderr } = await cli(['top', '--once', '--db', temp.db, '--interval', '5']);
    expect(code).toBe(2);
    expect(stderr).toContain('--interval: expected an integer >= 100 (milliseconds), got "5"');
  });
});
