import { describe, expect, it } from 'vitest';
import type { Task } from '../../src/index.js';
import { planCompensations, sagaOutcome } from '../../src/graph/compensation.js';
import { sampleTask } from '../../src/testing/samples.js';

const compensate = (name: string) => ({ name, tags: null, input: {} });

/** a -> b -> c, a and b declaring a compensation; `c` FAILED; a and b COMPLETED at 1 and 2. */
function failedSaga(): Task[] {
  return [
    sampleTask('a', {
      status: 'COMPLETED',
      finishedAt: 1,
      graph: { dependsOn: [], key: null, when: null, compensate: compensate('undo-a') },
    }),
    sampleTask('b', {
      status: 'COMPLETED',
      finishedAt: 2,
      graph: { dependsOn: ['a'], key: null, when: null, compensate: compensate('undo-b') },
    }),
    sampleTask('c', { status: 'FAILED', finishedAt: 3, graph: { dependsOn: ['b'], key: null, when: null } }),
  ];
}

describe('sagaOutcome', () => {
  it('is null for a workflow that did not fail, or declares no compensation', () => {
    expect(sagaOutcome('COMPLETED', failedSaga())).toBeNull();
    expect(sagaOutcome('FAILED', [sampleTask('x', { status: 'FAILED' })])).toBeNull();
  });

  it('counts the compensations due (the plan) and those COMPLETED', () => {
    const tasks = failedSaga();
    expect(planCompensations(tasks).map((planned) => planned.id)).toEqual(['b-compensate', 'a-compensate']);
    // None made yet: not compensated.
    expect(sagaOutcome('FAILED', tasks)).toEqual({
      compensated: false,
      due: ['b-compensate', 'a-compensate'],
      done: [],
    });
    const undoB = sampleTask('b-compensate', {
      status: 'COMPLETED',
      graph: { dependsOn: [], key: null, when: null, compensates: 'b' },
    });
    const undoA = sampleTask('a-compensate', {
      status: 'FAILED',
      graph: { dependsOn: ['b-compensate'], key: null, when: null, compensates: 'a' },
    });
    expect(sagaOutcome('FAILED', [...tasks, undoB, undoA])).toMatchObject({
      compensated: false,
      done: ['b-compensate'],
    });
    expect(sagaOutcome('FAILED', [...tasks, undoB, { ...undoA, status: 'COMPLETED' }])).toMatchObject({
      compensated: true,
      done: ['b-compensate', 'a-compensate'],
    });
  });
});
