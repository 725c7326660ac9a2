/**
 * `symphony resume` continues a workflow graph whose run was killed (SIGKILL): the attempts that
 * were running are recovered, and the nodes that never started run as their dependencies end,
 * routed as `run` routed them. Nothing waits for time to pass: the agents hold every node after the
 * triage at a gate file until the test opens it, and the test waits on the store and the gate.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cli, FIXTURES, readStore, startCli, tempDir, WORKFLOW_LINE, type CliProcess } from './helpers.js';

const GRAPH = join(FIXTURES, 'graph-gated.yaml');
/** Generous bounds for waits on other processes: they pass as soon as the state is there. */
const SETTLE = { timeout: 60_000, interval: 10 };

const temps: Array<() => void> = [];
const running: CliProcess[] = [];
afterEach(() => {
  for (const run of running.splice(0)) run.child.kill('SIGKILL');
  temps.splice(0).forEach((cleanup) => cleanup());
});

const lines = (path: string) =>
  existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];

const statusesByName = (db: string, workflowId: string) =>
  readStore(db, async (store) =>
    Object.fromEntries(
      (await store.tasks.find({ where: { workflowId } })).map((task) => [task.name, task.status]),
    ),
  );

describe('symphony resume of a killed graph run', () => {
  it('recovers the running nodes and runs the rest of the graph: all done, exit 0', async () => {
    const temp = tempDir();
    temps.push(temp.cleanup);
    const gate = join(temp.dir, 'gate');
    // Its beats count for ten minutes: the test expires them itself once the process is dead.
    const runner = startCli(['run', GRAPH, '--db', temp.db], {
      env: { SYMPHONY_TEST_GATE: gate, SYMPHONY_LIVENESS_MS: '600000' },
    });
    running.push(runner);
    const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
    // Killed once the first node completed and the nodes it released (and the free one) hold at the gate.
    await vi.waitFor(async () => {
      const statuses = await statusesByName(temp.db, workflowId!);
      expect(statuses).toMatchObject({ triage: 'COMPLETED', answer: 'SKIPPED', close: 'SKIPPED' });
      expect(lines(`${gate}.arrivals`).sort()).toEqual(['fix', 'log']);
    }, SETTLE);
    runner.child.kill('SIGKILL');
    await runner.exited;
    const before = await statusesByName(temp.db, workflowId!);
    expect(before).toMatchObject({ notify: 'PENDING', close: 'SKIPPED' });

    // Waiting ten minutes out would bet on the clock: the killed engine's last beat is replaced by
    // one with no time to live, which is how the store reads once its window has passed.
    await readStore(temp.db, async (store) => {
      const beats = await store.engineBeats();
      const killed = beats.find((beat) => beat.engineId.endsWith(`:${runner.child.pid}`))!;
      await store.commit({ beats: [{ engineId: killed.engineId, ttlMs: 0, stopped: false }] });
    });
    writeFileSync(gate, '');
    const resumed = await cli(['resume', workflowId!, '--db', temp.db], {
      env: { SYMPHONY_TEST_GATE: gate },
    });
    expect(resumed.stdout, resumed.stderr).toContain(`Resuming workflow ${workflowId}`);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);

    expect(await statusesByName(temp.db, workflowId!)).toEqual({
      triage: 'COMPLETED',
      fix: 'COMPLETED',
      answer: 'SKIPPED',
      notify: 'COMPLETED',
      close: 'SKIPPED',
      log: 'COMPLETED',
    });
    const workflow = await readStore(temp.db, (store) => store.workflows.get(workflowId!));
    expect(workflow?.status).toBe('COMPLETED');
    // The triage ran once; the interrupted nodes ran again; the skipped ones never ran.
    const runs = lines(`${gate}.runs`);
    expect(runs.filter((name) => name === 'triage')).toHaveLength(1);
    expect(runs.filter((name) => name === 'notify')).toHaveLength(1);
    expect(runs.filter((name) => name === 'fix')).toHaveLength(2);
    expect(runs.filter((name) => name === 'answer' || name === 'close')).toEqual([]);
  });
});
