import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cronOf, planFirings } from '../../src/schedules/occurrences.js';
import type { CatchUp, Overlap, Schedule } from '../../src/schedules/schedule.js';

// Issue 14, "Schedules": next occurrences and the catch-up rules after downtime.

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1);

function schedule(fields: Partial<Schedule> = {}): Schedule {
  return {
    id: 's',
    cron: '* * * * *',
    timezone: null,
    template: { workflow: { name: 'w', tasks: [{ key: 'a' }] }, agentKey: 'x' },
    catchUp: 'latest',
    maxCatchUp: 10,
    graceMs: MINUTE,
    overlap: 'allow',
    paused: false,
    nextRunAt: T0 + MINUTE,
    lastWorkflowId: null,
    createdAt: T0,
    updatedAt: T0,
    ...fields,
  };
}

describe('cron occurrences', () => {
  it('gives the next occurrence strictly after a time, in UTC or a time zone', () => {
    expect(cronOf('* * * * *', null)(T0)).toBe(T0 + MINUTE);
    expect(cronOf('0 9 * * *', null)(T0)).toBe(T0 + 9 * 60 * MINUTE);
    // 09:00 in Paris is 08:00 UTC in January.
    expect(cronOf('0 9 * * *', 'Europe/Paris')(T0)).toBe(T0 + 8 * 60 * MINUTE);
    expect(cronOf('0 0 30 2 *', null)(T0)).toBeNull();
  });

  it('refuses an expression or a time zone croner cannot read, as INVALID_ARGUMENT', () => {
    expect(() => cronOf('every minute', null)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => cronOf('* * * * *', 'Nowhere/Else')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

describe('planFirings', () => {
  const next = cronOf('* * * * *', null);
  const late = (minutes: number) => T0 + MINUTE + minutes * MINUTE + 1_000;

  it('fires an on-time occurrence under every rule and moves to the next one', () => {
    for (const catchUp of ['none', 'latest', 'all'] as const) {
      const plan = planFirings({ schedule: schedule({ catchUp }), previousRunning: false }, late(0), next);
      expect(plan).toEqual({ occurrences: [T0 + MINUTE], nextRunAt: T0 + 2 * MINUTE });
    }
  });

  it('after 30 missed minutes: none fires the on-time one, latest the last, all at most maxCatchUp', () => {
    const now = late(30);
    const plan = (catchUp: CatchUp, maxCatchUp = 10) =>
      planFirings({ schedule: schedule({ catchUp, maxCatchUp }), previousRunning: false }, now, next)
        .occurrences;
    expect(plan('none')).toEqual([T0 + 31 * MINUTE]);
    expect(plan('latest')).toEqual([T0 + 31 * MINUTE]);
    expect(plan('all')).toHaveLength(10);
    expect(plan('all').at(-1)).toBe(T0 + 31 * MINUTE);
    expect(plan('all', 100)).toHaveLength(31);
  });

  it('with overlap skip fires nothing while the previous workflow runs, and at most one otherwise', () => {
    const s = schedule({ catchUp: 'all', overlap: 'skip' });
    expect(planFirings({ schedule: s, previousRunning: true }, late(5), next)).toEqual({
      occurrences: [],
      nextRunAt: T0 + 7 * MINUTE,
    });
    expect(planFirings({ schedule: s, previousRunning: false }, late(5), next).occurrences).toEqual([
      T0 + 6 * MINUTE,
    ]);
  });

  it('property: after any downtime the occurrences fired are what the rule says, never more', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<CatchUp>('none', 'latest', 'all'),
        fc.constantFrom<Overlap>('skip', 'allow'),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 5 * MINUTE }),
        fc.array(fc.integer({ min: 1, max: 90 * MINUTE }), { minLength: 1, maxLength: 12 }),
        (catchUp, overlap, maxCatchUp, graceMs, gaps) => {
          let s = schedule({ catchUp, overlap, maxCatchUp, graceMs });
          let now = T0;
          const fired: number[] = [];
          for (const gap of gaps) {
            now += gap;
            if (s.nextRunAt === null || s.nextRunAt > now) continue;
            // The model: every minute in [nextRunAt, now] was due.
            const due: number[] = [];
            for (let at = s.nextRunAt; at <= now; at += MINUTE) due.push(at);
            const onTime = due.filter((at) => at > now - graceMs);
            const byRule = catchUp === 'none' ? onTime : catchUp === 'latest' ? due.slice(-1) : due;
            const expected = byRule.slice(-(overlap === 'skip' ? 1 : maxCatchUp));
            const plan = planFirings({ schedule: s, previousRunning: false }, now, next);
            expect(plan.occurrences).toEqual(expected);
            expect(plan.nextRunAt).toBe(due.at(-1)! + MINUTE);
            fired.push(...plan.occurrences);
            s = { ...s, nextRunAt: plan.nextRunAt };
          }
          // Each occurrence at most once, in order.
          expect(new Set(fired).size).toBe(fired.length);
          expect([...fired].sort((a, b) => a - b)).toEqual(fired);
        },
      ),
    );
  });
});
