/**
 * The fences of one engine's task writes (src/engine/fences.ts): which writes are fenced and when a
 * hold is forgotten. `take` looks only through released holds, so its cost follows the batch and
 * the holds released since, not every task the engine holds.
 */
import { describe, expect, it } from 'vitest';
import { Fences } from '../../src/engine/fences.js';

describe('Fences', () => {
  it('fences the first write with the owner found, later ones with the holder only', () => {
    const fences = new Fences('e1');
    fences.hold('t', 'old', () => {});
    const first = fences.take(['t']);
    expect(first.get('t')).toEqual({ holder: 'e1', takenFrom: 'old' });
    fences.committed(first, []);
    expect(fences.take(['t']).get('t')).toEqual({ holder: 'e1' });
  });

  it('forgets a released hold at the next batch without its write, keeps it while its write is in flight', () => {
    const fences = new Fences('e1');
    fences.hold('a', null, () => {});
    fences.hold('b', null, () => {});
    fences.release('a');
    fences.release('b');
    // b's last write is in this batch: b stays until that batch commits; a has none: forgotten.
    const batch = fences.take(['b']);
    expect([...batch.keys()]).toEqual(['b']);
    expect(fences.size).toBe(1);
    fences.committed(batch, []);
    expect(fences.size).toBe(0);
    expect(fences.take(['a', 'b']).size).toBe(0);
  });

  it('a task held again after its release is not forgotten', () => {
    const fences = new Fences('e1');
    fences.hold('t', null, () => {});
    fences.release('t');
    fences.hold('t', null, () => {});
    fences.take([]);
    expect(fences.size).toBe(1);
    expect(fences.take(['t']).has('t')).toBe(true);
  });

  it('a refused write loses the hold and tells its execution', () => {
    const fences = new Fences('e1');
    const lost: string[] = [];
    fences.hold('t', null, () => lost.push('t'));
    fences.committed(fences.take(['t']), ['t']);
    expect(lost).toEqual(['t']);
    expect(fences.size).toBe(0);
    // Released after it was lost: nothing left to forget.
    fences.release('t');
    expect(fences.take([]).size).toBe(0);
  });
});
