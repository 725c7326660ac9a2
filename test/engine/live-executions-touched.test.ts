import { describe, expect, it } from 'vitest';
import type { Committer } from '../../src/engine/committer.js';
import type { Execution } from '../../src/engine/execution.js';
import { Fences } from '../../src/engine/fences.js';
import { LiveExecutions } from '../../src/engine/live-executions.js';
import type { WorkflowActors } from '../../src/engine/workflows.js';

// decideOnStored tells a decision which tasks' live executions started or ended here since it began
// (their rows may be stale). It used to keep a set per open decision and add every touched task to
// each: with 20,000 concurrent executeTask calls that grew with the square (out of memory at 4 GB);
// now it keeps one entry per task.

function liveExecutions() {
  let release: () => void = () => {};
  const committed = new Promise<void>((resolve) => (release = resolve));
  const committer = {
    settle: () => committed,
    settleTasks: () => committed,
    afterCommit: () => {},
  } as unknown as Committer;
  const live = new LiveExecutions(
    'engine-1',
    committer,
    {} as WorkflowActors,
    () => {},
    new Fences('engine-1'),
    () => {},
  );
  return { live, release };
}

function execution(taskId: string): Execution {
  return {
    id: `e-${taskId}`,
    task: { id: taskId, leaseOwner: null },
    workflowId: null,
    actor: null,
  } as unknown as Execution;
}

describe('LiveExecutions.decideOnStored: tasks touched during a decision', () => {
  it('sees executions that start or end after it began, not before, and keeps one entry per task', async () => {
    const { live, release } = liveExecutions();
    const early = execution('early');
    live.add(early); // before any decision: not tracked
    const seen: Record<string, boolean>[] = [];
    const names = ['early', 'a', 'b', 'c'];
    const first = live.decideOnStored(async (touched) => {
      seen.push(Object.fromEntries(names.map((name) => [name, touched.has(name)])));
    });
    const a = execution('a');
    live.add(a);
    const second = live.decideOnStored(async (touched) => {
      seen.push(Object.fromEntries(names.map((name) => [name, touched.has(name)])));
    });
    live.forget(early);
    live.add(execution('b'));
    live.forget(a);
    const tracked = (live as unknown as { touchedAt: Map<string, number> }).touchedAt;
    expect(tracked.size).toBe(3); // a, early, b: one entry each, shared by both decisions
    release();
    await Promise.all([first, second]);
    expect(seen[0]).toEqual({ early: true, a: true, b: true, c: false });
    // The second began after `a` started, but `a` ended during it.
    expect(seen[1]).toEqual({ early: true, a: true, b: true, c: false });
    expect(tracked.size).toBe(0); // nothing kept once no decision is open
  });

  it('a decision begun after a touch does not see it', async () => {
    const { live, release } = liveExecutions();
    const other = live.decideOnStored(async () => {});
    live.add(execution('x'));
    let sawX: boolean | undefined;
    const later = live.decideOnStored(async (touched) => {
      sawX = touched.has('x');
    });
    release();
    await Promise.all([other, later]);
    expect(sawX).toBe(false);
  });
});
