/**
 * `symphony validate <file>`: the checks of `symphony run` up to the routing of every task, on a
 * store of its own in memory. No agent runs (the gated agents record every attempt that reaches
 * their gate) and no store is opened (SYMPHONY_DB names a file that must not appear).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, EXAMPLES, FIXTURES, tempDir } from './helpers.js';

const GATED_AGENTS = join(FIXTURES, 'gated-agents.mjs');
const temps: Array<() => void> = [];
afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));

/** A temporary folder with a workflow file in it on the gated agents; what a run there would leave. */
function workspace(tasks: string, type = 'gated') {
  const { dir, db, cleanup } = tempDir();
  temps.push(cleanup);
  const file = join(dir, 'flow.yaml');
  writeFileSync(
    file,
    [
      'name: Checked',
      'agents:',
      `  module: ${JSON.stringify(GATED_AGENTS)}`,
      '  configs:',
      `    - { name: Gatekeeper, type: ${type}, capabilities: [gate] }`,
      'tasks:',
      tasks,
    ].join('\n'),
  );
  const gate = join(dir, 'gate');
  const env = { SYMPHONY_DB: db, SYMPHONY_TEST_GATE: gate };
  return { dir, db, file, env, ran: () => existsSync(`${gate}.arrivals`) };
}

describe('symphony validate', () => {
  it('reports a valid file without running an agent or opening a store', async () => {
    const space = workspace(`  - { name: one, tags: [gate] }\n  - { name: two, tags: [gate] }`);
    const { code, stdout, stderr } = await cli(['validate', space.file], { cwd: space.dir, env: space.env });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(
      `${space.file}: valid: 2 tasks, 1 agent config, routing CAPABILITY_MATCH (checked in memory: no store opened, no agent run)\n`,
    );
    expect(space.ran()).toBe(false);
    expect(existsSync(space.db)).toBe(false);
    expect(existsSync(join(space.dir, '.symphony'))).toBe(false);
  });

  it('prints its report as JSON with --json', async () => {
    const space = workspace(`  - { name: one, tags: [gate] }`);
    const { code, stdout } = await cli(['validate', space.file, '--json'], {
      cwd: space.dir,
      env: space.env,
    });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      valid: true,
      file: space.file,
      tasks: 1,
      childEntries: 0,
      agentConfigs: 1,
      strategy: 'CAPABILITY_MATCH',
    });
  });

  it('counts the tasks of child workflow files', async () => {
    const { code, stdout } = await cli(['validate', join(EXAMPLES, 'article.yaml')]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/: valid: 3 tasks and 4 in child workflow files, 4 agent configs, routing /);
  });

  it('refuses what run refuses, with exit code 2 and nothing run or stored', async () => {
    const cases = [
      {
        space: workspace(`  - { name: one, tags: [gate] }\n  - { name: lost, tags: [nowhere] }`),
        message: 'tasks[1]: no agent can take "lost" (strategy CAPABILITY_MATCH, tags ["nowhere"])',
      },
      {
        space: workspace(
          `  - { name: first, key: a, dependsOn: [b], tags: [gate] }\n  - { name: second, key: b, dependsOn: [a], tags: [gate] }`,
        ),
        message: 'tasks[0].dependsOn: dependency cycle',
      },
      {
        space: workspace(`  - { name: one, tags: [gate] }`, 'nope'),
        message: 'agents.configs[0].type: expected an agent type that',
      },
      {
        space: workspace(`  - { name: one, priority: high }`),
        message: 'tasks[0].priority: expected an integer, got "high"',
      },
    ];
    for (const { space, message } of cases) {
      const { code, stdout, stderr } = await cli(['validate', space.file], {
        cwd: space.dir,
        env: space.env,
      });
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain(message);
      // A check makes no workflow anyone could look for: nothing "was cancelled".
      expect(stderr).not.toContain('cancelled');
      expect(space.ran()).toBe(false);
      expect(existsSync(space.db)).toBe(false);
    }
  });
});
