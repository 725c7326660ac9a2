/**
 * `symphony signal <workflowId> <name> [json]`: stores a signal for a workflow; refuses an unknown
 * workflow, a payload that is not JSON, a bad name and a workflow nothing can wait in any more.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, FIXTURES, readStore, tempDir } from './helpers.js';

let dir: { dir: string; db: string; cleanup: () => void };
/** A COMPLETED workflow of one task. */
let completedId: string;
/** A workflow that has a task left: a wait for `approval` that depends on a failed task. */
let openId: string;

/** Runs a workflow file of these task lines (YAML, agents of loop-wait-agents.mjs); its id. */
async function run(name: string, tasks: readonly string[], expectedCode: number): Promise<string> {
  const file = join(dir.dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      'retry: { maxAttempts: 1 }',
      'agents:',
      `  module: ${join(FIXTURES, 'loop-wait-agents.mjs')}`,
      '  configs:',
      '    - { name: Writer, type: writer }',
      'tasks:',
      ...tasks.map((task) => `  - ${task}`),
    ].join('\n'),
  );
  const { code, stdout } = await cli(['run', file, '--db', dir.db, '--json']);
  expect(code).toBe(expectedCode);
  return (JSON.parse(stdout) as { workflow: { id: string } }).workflow.id;
}

beforeAll(async () => {
  dir = tempDir();
  completedId = await run('Done', ['{ name: Only }'], 0);
  // The loop fails (its until never holds), so the wait that depends on it never begins.
  openId = await run(
    'Open',
    [
      '{ key: review, name: Review, inputData: { approveAt: 9 }, loop: { until: outputs.review.approved, maxIterations: 1 } }',
      '{ key: approval, name: Approval, dependsOn: [review], waitFor: approval }',
    ],
    1,
  );
});
afterAll(() => dir.cleanup());

describe('symphony signal', () => {
  it('stores the signal with its JSON payload and names the tasks that wait for it; --json prints it', async () => {
    const text = await cli(['signal', openId, 'approval', '{"approved": true}', '--db', dir.db]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(
        `^Signal approval sent to workflow ${openId} at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC \\(id \\S+\\)\\n`,
      ),
    );
    expect(text.stdout).toContain('  payload {"approved":true}');
    // The wait is not waiting (its dependency failed), but it names the signal.
    expect(text.stdout).toMatch(/Tasks that wait for approval: \S+ "Approval"/);

    const json = await cli(['signal', openId, 'other', '--db', dir.db, '--json']);
    expect(json.code).toBe(0);
    const signal = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(signal).toEqual({
      id: expect.any(String),
      workflowId: openId,
      name: 'other',
      payload: null,
      sentAt: expect.any(Number),
    });
    const stored = await readStore(dir.db, (store) => store.signals(openId));
    expect(stored.map((s) => [s.name, s.payload, s.takenBy])).toEqual([
      ['approval', { approved: true }, null],
      ['other', null, null],
    ]);
    const show = await cli(['show', openId, '--db', dir.db]);
    expect(show.stdout).toMatch(
      /Signals\n\s+NAME.*\n\s+approval\s+.*pending\s+\{"approved":true\}\n\s+other\s+.*pending\s+null/,
    );
  });

  it('exits 2 with WORKFLOW_NOT_FOUND for an unknown workflow', async () => {
    const { code, stdout, stderr } = await cli([
      'signal',
      'no-such-workflow',
      'go',
      '--db',
      dir.db,
      '--json',
    ]);
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toEqual({
      error: { code: 'WORKFLOW_NOT_FOUND', message: expect.stringContaining('no-such-workflow') },
    });
    expect(stderr).toMatch(/^symphony: .*no-such-workflow/);
  });

  it('exits 2 with a usage error for a payload that is not JSON, before opening the store', async () => {
    const { code, stdout, stderr } = await cli([
      'signal',
      openId,
      'go',
      '{approved: true}',
      '--db',
      dir.db,
      '--json',
    ]);
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toEqual({
      error: { code: 'CLI_USAGE', message: expect.stringContaining('Expected the payload to be JSON') },
    });
    expect(stderr).toContain('got "{approved: true}"');
    const missing = await cli(['signal', openId, 'go', 'nope', '--db', join(dir.dir, 'missing.db')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Expected the payload to be JSON');
  });

  it('exits 2 with INVALID_ARGUMENT for a bad signal name', async () => {
    const { code, stdout } = await cli(['signal', openId, '.hidden', '--db', dir.db, '--json']);
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toEqual({
      error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('".hidden"') },
    });
    const stored = await readStore(dir.db, (store) => store.signals(openId));
    expect(stored.map((s) => s.name)).not.toContain('.hidden');
  });

  it('exits 2 with INVALID_STATE for a COMPLETED workflow', async () => {
    const { code, stdout } = await cli(['signal', completedId, 'go', '--db', dir.db, '--json']);
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toMatchObject({ error: { code: 'INVALID_STATE' } });
  });

  it('documents its arguments, --db and --json in its help', async () => {
    const { code, stdout } = await cli(['signal', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: symphony signal \[options\] <workflowId> <name> \[json\]/);
    expect(stdout).toContain('--db <path|url>');
    expect(stdout).toContain('--json');
  });
});
