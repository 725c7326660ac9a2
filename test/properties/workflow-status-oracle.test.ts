import { readFileSync } from 'node:fs';
import { fc, it } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { createActor } from 'xstate';
import {
  deriveWorkflowStatus,
  TASK_STATUSES,
  workflowMachine,
  type TaskStatus,
} from '../../machines/index.js';
import { markdownTableRows } from '../support/markdown-table.js';
import { countsFromTasks, workflowStatusOracle } from './workflow-status-oracle.js';

/** The rows of the "paused | cancelled | started | tasks | status | rule" table in status-rules.md. */
function documentedRows(): string[][] {
  return markdownTableRows(
    readFileSync(new URL('../../docs/status-rules.md', import.meta.url), 'utf8'),
    'paused',
  );
}

/** "1 FAILED, 2 PENDING" -> FAILED, PENDING, PENDING; "none" -> no tasks. */
function parseTasks(cell: string): TaskStatus[] {
  if (cell === 'none') return [];
  return cell.split(',').flatMap((part) => {
    const [n, status] = part.trim().split(/\s+/) as [string, TaskStatus];
    expect(TASK_STATUSES).toContain(status);
    return Array.from({ length: Number(n) }, () => status);
  });
}

const yes = (cell: string) => {
  expect(['yes', 'no']).toContain(cell);
  return cell === 'yes';
};

const flagsArb = fc.record({ started: fc.boolean(), paused: fc.boolean(), cancelled: fc.boolean() });
const tasksArb = fc.array(fc.constantFrom(...TASK_STATUSES), { maxLength: 8 });

describe('workflow status oracle (written from docs/status-rules.md)', () => {
  it('gives the status and the rule of every row of the documented table', () => {
    const rows = documentedRows();
    expect(rows.length).toBeGreaterThanOrEqual(10);
    for (const [paused, cancelled, started, tasks, status, rule] of rows) {
      const flags = { paused: yes(paused!), cancelled: yes(cancelled!), started: yes(started!) };
      expect({
        row: [paused, cancelled, started, tasks],
        ...workflowStatusOracle(parseTasks(tasks!), flags),
      }).toEqual({
        row: [paused, cancelled, started, tasks],
        status,
        rule: Number(rule),
      });
    }
  });

  it('the documented table has SKIPPED rows for rules 4, 6 and 7, where SKIPPED counts as COMPLETED would', () => {
    const rules = documentedRows()
      .filter(([, , , tasks]) => parseTasks(tasks!).includes('SKIPPED'))
      .map(([, , , , , rule]) => Number(rule));
    expect(rules).toEqual(expect.arrayContaining([4, 6, 7]));
    // Done is COMPLETED or SKIPPED: with other statuses beside it, a SKIPPED task counts as a
    // COMPLETED one would (the flags, `started` included, are the row's).
    for (const [paused, cancelled, started, tasks, status, rule] of documentedRows()) {
      const statuses = parseTasks(tasks!);
      if (!statuses.includes('SKIPPED') || statuses.every((one) => one === 'SKIPPED')) continue;
      const flags = { paused: yes(paused!), cancelled: yes(cancelled!), started: yes(started!) };
      const asCompleted = statuses.map((one) => (one === 'SKIPPED' ? 'COMPLETED' : one));
      expect(workflowStatusOracle(asCompleted, flags)).toEqual({ status, rule: Number(rule) });
    }
  });

  it.prop([tasksArb, flagsArb], { seed: 20261203, numRuns: 1000 })(
    'deriveWorkflowStatus and a workflow machine started from the same counts and flags agree with it',
    (tasks, flags) => {
      const { status } = workflowStatusOracle(tasks, flags);
      const counts = countsFromTasks(tasks);
      expect(deriveWorkflowStatus({ counts, ...flags })).toBe(status);
      const actor = createActor(workflowMachine, { input: { workflowId: 'w', counts, ...flags } }).start();
      expect(actor.getSnapshot().value).toBe(status);
      actor.stop();
    },
  );

  it('every rule decides some multiset of at most three tasks (the oracle has no dead rule)', () => {
    const decided = new Set<number>();
    const multisets: TaskStatus[][] = [[]];
    for (let size = 1; size <= 3; size++) {
      for (const smaller of multisets.filter((m) => m.length === size - 1)) {
        for (const status of TASK_STATUSES) multisets.push([...smaller, status]);
      }
    }
    for (const tasks of multisets) {
      for (const started of [false, true]) {
        for (const paused of [false, true]) {
          for (const cancelled of [false, true]) {
            decided.add(workflowStatusOracle(tasks, { started, paused, cancelled }).rule);
          }
        }
      }
    }
    expect([...decided].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
