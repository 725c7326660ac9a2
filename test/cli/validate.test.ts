/**
 * `symphony validate <file>`: the checks of `symphony run` up to the point where its tasks would
 * start, on a store of its own in memory. No agent runs (the gated agents record every attempt that
 * reaches their gate) and no store is opened (SYMPHONY_DB names a file that must not appear).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, EXAMPLES, FIXTURES, tempDir } from './helpers.js';

const GATED_AGENTS = join(FIXTURES, 'gated-agents.mjs');
const temps: Array<() => void> = [];
afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));

/** An agents module whose `picky` builder refuses a config without `metadata.model`. */
const PICKY_AGENTS = `export function register(factory) {
  factory.registerAgentType('picky', (config) => {
    if (!config.metadata.model) throw new Error('the picky builder wants metadata.model');
    return { execute: async () => ({}) };
  });
}
`;

interface Workspace {
  /** The file's tasks, as YAML list lines. */
  tasks: string;
  /** The agent config's type (gated: the gated agents; picky: PICKY_AGENTS). */
  type?: 'gated' | 'picky' | 'unknown';
  /** Lines of the file before `agents`. */
  head?: string;
}

/** A temporary folder with a workflow file in it; what a run there would leave behind. */
function workspace({ tasks, type = 'gated', head = '' }: Workspace) {
  const { dir, db, cleanup } = tempDir();
  temps.push(cleanup);
  const module = type === 'picky' ? join(dir, 'picky-agents.mjs') : GATED_AGENTS;
  if (type === 'picky') writeFileSync(module, PICKY_AGENTS);
  const file = join(dir, 'flow.yaml');
  const lines = ['name: Checked', head, 'agents:', `  module: ${JSON.stringify(module)}`, '  configs:'];
  lines.push(`    - { name: Gatekeeper, type: ${type}, capabilities: [gate] }`, 'tasks:', tasks);
  writeFileSync(file, lines.join('\n'));
  const gate = join(dir, 'gate');
  const env = { SYMPHONY_DB: db, SYMPHONY_TEST_GATE: gate };
  return {
    file,
    run: () => cli(['validate', file], { cwd: dir, env }),
    /** Whether an agent ran, a store file appeared or the default store's folder was made. */
    traces: () => ({
      ran: existsSync(`${gate}.arrivals`),
      db: existsSync(db),
      defaultStore: existsSync(join(dir, '.symphony')),
    }),
  };
}

const NONE = { ran: false, db: false, defaultStore: false };

describe('symphony validate', () => {
  it('reports a valid file without running an agent or opening a store', async () => {
    const space = workspace({ tasks: '  - { name: one, tags: [gate] }\n  - { name: two, tags: [gate] }' });
    const { code, stdout, stderr } = await space.run();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(
      `${space.file}: valid: 2 tasks, 1 agent config, routing CAPABILITY_MATCH (checked in memory: no store opened, no agent run)\n`,
    );
    expect(space.traces()).toEqual(NONE);
  });

  it('prints its report as JSON with --json', async () => {
    const { dir, cleanup } = tempDir();
    temps.push(cleanup);
    const file = join(EXAMPLES, 'my-workflow.yaml');
    const { code, stdout } = await cli(['validate', file, '--json'], { cwd: dir });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      valid: true,
      file,
      tasks: 3,
      childEntries: 0,
      agentConfigs: 2,
      strategy: 'CAPABILITY_MATCH',
    });
  });

  it('counts the tasks of child workflows, written in place or in files', async () => {
    const { dir, cleanup } = tempDir();
    temps.push(cleanup);
    const { code, stdout } = await cli(['validate', join(EXAMPLES, 'article.yaml')], { cwd: dir });
    expect(code).toBe(0);
    // Draft and Review are written in article.yaml, the two checks in checks.yaml.
    expect(stdout).toMatch(/: valid: 3 tasks \(and 4 tasks of child workflows\), 4 agent configs, routing /);
    expect(existsSync(join(dir, '.symphony'))).toBe(false);
  });

  it('refuses what run refuses, with its message and exit code, and nothing run or stored', async () => {
    const one = '  - { name: one, tags: [gate] }';
    const cases: Array<{ space: ReturnType<typeof workspace>; message: string; code?: number }> = [
      {
        space: workspace({ tasks: `${one}\n  - { name: lost, tags: [nowhere] }` }),
        message: 'tasks[1]: no agent can take "lost" (strategy CAPABILITY_MATCH, tags ["nowhere"])',
      },
      {
        space: workspace({
          tasks: '  - { name: first, key: a, dependsOn: [b] }\n  - { name: second, key: b, dependsOn: [a] }',
        }),
        message: 'tasks[0].dependsOn: dependency cycle',
      },
      {
        space: workspace({ tasks: one, type: 'unknown' }),
        message: 'agents.configs[0].type: expected an agent type',
      },
      {
        space: workspace({ tasks: '  - { name: one, priority: high }' }),
        message: 'tasks[0].priority: expected an integer, got "high"',
      },
      // Bounds the executor sets, which the file's own checks know too.
      {
        space: workspace({ tasks: one, head: 'runAt: "1960-01-01T00:00:00Z"' }),
        message: 'runAt: expected an ISO 8601 date-time',
      },
      {
        space: workspace({ tasks: one, head: `concurrencyKey: ${'k'.repeat(300)}` }),
        message: 'concurrencyKey: expected a string of at most 255 characters',
      },
      // The agents are built, not run: a builder that refuses its config is found (exit 3, as run's).
      {
        space: workspace({ tasks: one, type: 'picky' }),
        message: 'the picky builder wants metadata.model',
        code: 3,
      },
    ];
    for (const { space, message, code: expected = 2 } of cases) {
      const { code, stdout, stderr } = await space.run();
      expect(code, message).toBe(expected);
      expect(stdout).toBe('');
      expect(stderr).toContain(message);
      // A check makes no workflow anyone could look for: nothing "was cancelled".
      expect(stderr).not.toContain('cancelled');
      expect(space.traces()).toEqual(NONE);
    }
  });
});
