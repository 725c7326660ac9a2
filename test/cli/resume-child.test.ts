/**
 * `symphony resume` of a killed run whose graph has child workflows: an inline child whose first
 * task was running when the run was killed (SIGKILL), then a group loop and a child workflow file
 * (with an agents module of its own) that were not made yet. The resume completes it, each child
 * task on the agent its definition entry was routed to, no child made twice. Nothing waits for time
 * to pass: the held attempt waits at a gate file until the test opens it, and the test waits on the
 * store and the gate.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Task, Workflow } from '../../src/index.js';
import { agentsModulesOf, runRecordOf, type RunRecord } from '../../src/cli/run-record.js';
import { cli, FIXTURES, readStore, startCli, tempDir, WORKFLOW_LINE, type CliProcess } from './helpers.js';

const FILE = join(FIXTURES, 'resume-child.yaml');
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

const tasksOf = (db: string, workflowId: string): Promise<Task[]> =>
  readStore(db, (store) => store.tasks.find({ where: { workflowId } }));

const byKey = (tasks: readonly Task[]) => new Map(tasks.map((task) => [task.graph?.key ?? task.id, task]));

describe('symphony resume of a killed run with child workflows', () => {
  it('completes the children already made and those made after it, each task on its entry’s agent, none made twice', async () => {
    const temp = tempDir();
    temps.push(temp.cleanup);
    const gate = join(temp.dir, 'gate');
    // Its beats count for ten minutes: the test expires them itself once the process is dead.
    const runner = startCli(['run', FILE, '--db', temp.db], {
      env: { SYMPHONY_TEST_GATE: gate, SYMPHONY_LIVENESS_MS: '600000' },
    });
    running.push(runner);
    const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
    // Killed while the inline child's draft is running (held at the gate): its review is made but
    // not started; the loop's rounds and the child file's workflow are not made yet.
    await vi.waitFor(async () => {
      expect(lines(`${gate}.arrivals`).filter((id) => id.endsWith('-wf-draft'))).toHaveLength(1);
    }, SETTLE);
    runner.child.kill('SIGKILL');
    await runner.exited;
    const before = byKey(await tasksOf(temp.db, workflowId!));
    const article = before.get('article')!;
    const articleChild = `${article.id}-wf`;
    expect(before.get('plan')!.status).toBe('COMPLETED');
    expect(byKey(await tasksOf(temp.db, articleChild)).get('draft')!.status).toBe('RUNNING');
    expect(before.get('rounds')!.graph?.children ?? []).toEqual([]);
    expect(before.get('checked')!.graph?.workflow?.id ?? null).toBeNull();

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

    const top = await tasksOf(temp.db, workflowId!);
    const parent = byKey(top);
    const rounds = parent.get('rounds')!;
    const checked = parent.get('checked')!;
    const iterations = [0, 1].map((i) => `${rounds.id}-${i}`);
    expect(rounds.graph?.children).toEqual(iterations);
    expect(top.map((task) => [task.id, task.status]).sort()).toEqual(
      [
        ...['plan', 'article', 'rounds', 'checked', 'publish'].map((key) => parent.get(key)!.id),
        ...iterations,
      ]
        .map((id) => [id, 'COMPLETED'])
        .sort(),
    );
    const checkedChild = `${checked.id}-wf`;
    expect(checked.graph?.workflow?.id).toBe(checkedChild);

    // Every child workflow once, with its definition's tasks once each, all COMPLETED.
    const children = await readStore(temp.db, async (store) =>
      (await store.workflows.find()).filter((workflow: Workflow) => workflow.id !== workflowId),
    );
    const childIds = [articleChild, ...iterations.map((id) => `${id}-wf`), checkedChild];
    expect(children.map((workflow) => workflow.id).sort()).toEqual([...childIds].sort());
    expect(children.every((workflow) => workflow.status === 'COMPLETED')).toBe(true);
    const names = await readStore(
      temp.db,
      async (store) => new Map((await store.agentConfigs.find()).map((c) => [c.id, c.name])),
    );
    const expected: Record<string, Record<string, string>> = {
      [articleChild]: { draft: 'Writer', review: 'Reviewer' },
      [`${iterations[0]}-wf`]: { draft: 'Writer', review: 'Reviewer' },
      [`${iterations[1]}-wf`]: { draft: 'Writer', review: 'Reviewer' },
      // The child file's task runs on the child file's agent, from the child file's module.
      [checkedChild]: { check: 'Checker' },
    };
    const typeOf: Record<string, string> = { Writer: 'writer', Reviewer: 'reviewer', Checker: 'checker' };
    const runs = lines(`${gate}.runs`);
    for (const [childId, agents] of Object.entries(expected)) {
      const tasks = await tasksOf(temp.db, childId);
      expect(tasks.map((task) => task.id).sort()).toEqual(
        Object.keys(agents)
          .map((key) => `${childId}-${key}`)
          .sort(),
      );
      for (const task of tasks) {
        const agent = agents[task.graph!.key!]!;
        expect({ id: task.id, status: task.status, agent: names.get(task.agentId!) }).toEqual({
          id: task.id,
          status: 'COMPLETED',
          agent,
        });
        // The draft the kill cut short ran again; every other task ran once; all on their agent.
        const ranOn = runs.filter((line) => line.startsWith(`${task.id} `));
        const times = task.id === `${articleChild}-draft` ? 2 : 1;
        expect(ranOn).toEqual(Array.from({ length: times }, () => `${task.id} ${typeOf[agent]}`));
      }
    }
    expect(rounds.outputData).toMatchObject({
      workflowId: `${iterations[1]}-wf`,
      outputs: { review: { approved: true } },
    });
    expect(runs.filter((line) => line.startsWith(`${parent.get('plan')!.id} `))).toHaveLength(1);
    expect(runs.filter((line) => line.startsWith(`${parent.get('publish')!.id} `))).toHaveLength(1);

    // The run record names both agents modules, so that resume loaded the child file's too.
    const workflow = await readStore(temp.db, (store) => store.workflows.get(workflowId!));
    expect(workflow?.status).toBe('COMPLETED');
    expect(agentsModulesOf(runRecordOf(workflow!))).toEqual([
      join(FIXTURES, 'resume-child-agents.mjs'),
      join(FIXTURES, 'resume-child-checker.mjs'),
    ]);
  });

  it('reads a run record written before it listed every agents module', () => {
    const older: RunRecord = {
      source: 'run',
      file: FILE,
      agentsModule: '/agents.mjs',
      agentConfigIds: ['a'],
      strategy: 'CAPABILITY_MATCH',
    };
    expect(agentsModulesOf(older)).toEqual(['/agents.mjs']);
    expect(agentsModulesOf({ ...older, agentsModule: undefined })).toEqual([]);
    expect(agentsModulesOf(null)).toEqual([]);
  });
});
