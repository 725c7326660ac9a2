/**
 * `symphony signal` takes its payload from a file too (`--payload-file <path>` or `@<path>` as the
 * json argument), for payloads larger than a shell argument allows.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, FIXTURES, tempDir } from './helpers.js';

const temp = tempDir();
let workflowId: string;
/** A payload of about 1 MB: more than one shell argument may carry (Linux: 128 KiB). */
const big = { text: 'x'.repeat(1_000_000), approved: true };

beforeAll(async () => {
  const file = join(temp.dir, 'failing.yaml');
  writeFileSync(
    file,
    [
      'name: Failing',
      'agents:',
      `  module: ${join(FIXTURES, 'retry-graph-agents.mjs')}`,
      '  configs: [{ name: Writer, type: writer }]',
      'retry: { maxAttempts: 1 }',
      'tasks:',
      '  - { key: a, name: A, inputData: { needsGate: true } }',
      '  - { key: wait, name: Wait, dependsOn: [a], waitFor: approval }',
    ].join('\n'),
  );
  const run = await cli(['run', file, '--db', temp.db, '--json']);
  expect(run.code, run.stderr).toBe(1);
  workflowId = (JSON.parse(run.stdout) as { workflow: { id: string } }).workflow.id;
  writeFileSync(join(temp.dir, 'payload.json'), JSON.stringify(big));
});
afterAll(() => temp.cleanup());

describe('symphony signal with a payload file', () => {
  it('reads the payload from --payload-file, relative to the current directory', async () => {
    const sent = await cli(
      ['signal', workflowId, 'approval', '--payload-file', 'payload.json', '--db', temp.db, '--json'],
      { cwd: temp.dir },
    );
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ workflowId, name: 'approval', payload: big });
  });

  it('reads the payload from @<path> as the json argument', async () => {
    const sent = await cli([
      'signal',
      workflowId,
      'approval',
      `@${join(temp.dir, 'payload.json')}`,
      '--db',
      temp.db,
      '--json',
    ]);
    expect(sent.code, sent.stderr).toBe(0);
    expect((JSON.parse(sent.stdout) as { payload: unknown }).payload).toEqual(big);
  });

  it('refuses a missing file, a file that is not JSON, and both a json argument and a file (exit 2)', async () => {
    const missing = await cli(['signal', workflowId, 'approval', '@nope.json', '--db', temp.db], {
      cwd: temp.dir,
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Cannot read the payload file nope.json');
    writeFileSync(join(temp.dir, 'bad.json'), '{ nope');
    const bad = await cli(['signal', workflowId, 'approval', '--payload-file', 'bad.json', '--db', temp.db], {
      cwd: temp.dir,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Expected the payload file bad.json to be JSON');
    const both = await cli(
      ['signal', workflowId, 'approval', '1', '--payload-file', 'bad.json', '--db', temp.db],
      {
        cwd: temp.dir,
      },
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not both');
  });
});
