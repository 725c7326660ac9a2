import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, readStore, tempDir } from './helpers.js';

// `symphony run` of a workflow file whose tasks declare compensations (issue 14, sagas).

let dir: { dir: string; db: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.cleanup());

describe('symphony run with compensations', () => {
  it('runs examples/workflows/trip-saga.yaml: the car fails, the hotel then the flight are cancelled', async () => {
    const { code, stdout } = await cli(['run', 'examples/workflows/trip-saga.yaml', '--db', dir.db]);
    expect(code).toBe(1);
    const cancelHotel = stdout.indexOf('COMPLETED "Cancel the hotel"');
    const cancelFlight = stdout.indexOf('COMPLETED "Cancel the flight"');
    expect(cancelHotel).toBeGreaterThan(-1);
    expect(cancelFlight).toBeGreaterThan(cancelHotel);
    expect(stdout).not.toContain('Return the car');
    expect(stdout).toContain('FAILED');
    const tasks = await readStore(dir.db, (store) => store.tasks.find({}));
    const hotel = tasks.find((task) => task.name === 'Book the hotel')!;
    const undo = tasks.find((task) => task.name === 'Cancel the hotel')!;
    expect(undo).toMatchObject({ id: `${hotel.id}-compensate`, status: 'COMPLETED' });
    expect(undo.outputData).toEqual({ cancelled: 'hotel-42' });
    expect(undo.inputData).toMatchObject({ reason: 'trip abandoned', compensated: { taskId: hotel.id } });
    expect(stdout).toContain('Saga: compensated (2 of 2 compensations COMPLETED)');

    // `symphony show` says it too, and `--json` carries `compensated`.
    const shown = await cli(['show', hotel.workflowId!, '--db', dir.db]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('saga      compensated (2 of 2 compensations COMPLETED)');
    const json = await cli(['show', hotel.workflowId!, '--db', dir.db, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ workflow: { status: 'FAILED' }, compensated: true });
  });

  it('carries `compensated` in the JSON summary of `symphony run --json`', async () => {
    const other = tempDir();
    try {
      const { code, stdout } = await cli([
        'run',
        'examples/workflows/trip-saga.yaml',
        '--db',
        other.db,
        '--json',
      ]);
      expect(code).toBe(1);
      expect(JSON.parse(stdout)).toMatchObject({
        workflow: { status: 'FAILED' },
        compensated: true,
        compensations: { due: 2, completed: 2 },
      });
    } finally {
      other.cleanup();
    }
  });
});
