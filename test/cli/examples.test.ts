import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cli, EXAMPLES, readStore, startCli, tempDir, WORKFLOW_LINE } from './helpers.js';

const { db, cleanup } = tempDir();
afterAll(() => cleanup());

/** Examples that end FAILED on purpose, each run by its own test: trip-saga.yaml (run-saga.test.ts). */
const FAIL_ON_PURPOSE = ['trip-saga.yaml'];
const files = readdirSync(EXAMPLES).filter(
  (file) => /\.(ya?ml|json)$/.test(file) && !FAIL_ON_PURPOSE.includes(file),
);

describe('examples/workflows', () => {
  it('has YAML and JSON examples', () => {
    expect(files.some((file) => file.endsWith('.yaml'))).toBe(true);
    expect(files.some((file) => file.endsWith('.json'))).toBe(true);
  });

  it.each(files)('symphony run examples/workflows/%s completes every task', async (file) => {
    const path = join(EXAMPLES, file);
    const signals = signalsOf(path);
    // A file that waits for signals gets them from another process, as its header says (a signal
    // sent before its wait begins is kept), with a payload that approves.
    const runner = startCli(['run', path, '--db', db, ...(signals.length === 0 ? ['--json'] : [])]);
    let workflowId: string;
    if (signals.length > 0) {
      [, workflowId = ''] = await runner.waitForLine(WORKFLOW_LINE);
      for (const name of signals) {
        const sent = await cli(['signal', workflowId, name, '{"approved": true}', '--db', db]);
        expect(sent.code, sent.stderr).toBe(0);
      }
    }
    const { code, stdout, stderr } = await runner.exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    if (signals.length === 0) {
      const summary = JSON.parse(stdout) as { workflow: { id: string; status: string } };
      workflowId = summary.workflow.id;
    }
    const workflow = await readStore(db, (store) => store.workflows.get(workflowId));
    expect(workflow?.status).toBe('COMPLETED');
    const tasks = await readStore(db, (store) => store.tasks.find({ where: { workflowId } }));
    expect(tasks.length).toBeGreaterThan(0);
    // A graph's branch not taken ends SKIPPED (research-graph.yaml: the escalation); every other task ran.
    const ran = tasks.filter((task) => task.status !== 'SKIPPED');
    expect(ran.every((task) => task.status === 'COMPLETED' && task.outputData !== null)).toBe(true);
    expect(tasks.filter((task) => task.status === 'SKIPPED').every((task) => task.graph?.when !== null)).toBe(
      true,
    );
  });
});

/** The first signal name of each wait (`waitFor`) of a workflow file. */
function signalsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const file = (path.endsWith('.json') ? JSON.parse(text) : parse(text)) as {
    tasks?: Array<{ waitFor?: string | string[] | { signals: string | string[] } }>;
  };
  return (file.tasks ?? []).flatMap(({ waitFor }) => {
    if (waitFor === undefined) return [];
    const names = typeof waitFor === 'object' && !Array.isArray(waitFor) ? waitFor.signals : waitFor;
    return [typeof names === 'string' ? names : names[0]!];
  });
}
