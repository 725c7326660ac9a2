import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../src/domain/agent-config.js';
import { InvalidArgumentError, NoAgentAvailableError } from '../../src/errors/errors.js';
import { planRoutes, planRoutesWaiting } from '../../src/routing/batch.js';
import { capabilityOverlap, requiredCapabilities } from '../../src/routing/capability-match.js';
import type { AgentLoad, LoadSnapshot } from '../../src/routing/types.js';
import { agent, inFlight, loads, task } from './fixtures.js';

const tasks = (n: number, tags: string[] = []) =>
  Array.from({ length: n }, (_, i) => task({ id: `t${i}`, tags }));

const ids = (chosen: ReadonlyArray<AgentConfig | undefined>) => chosen.map((a) => a?.id);

function countBy(values: readonly (string | undefined)[]): Map<string | undefined, number> {
  const counts = new Map<string | undefined, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

describe('planRoutes', () => {
  it('LOAD_BALANCED spreads a batch as if each choice were already queued', async () => {
    const candidates = [agent('b', { maxConcurrency: 2 }), agent('a', { maxConcurrency: 2 })];
    const plan = await planRoutes('LOAD_BALANCED', {
      tasks: tasks(5),
      candidates,
      load: new Map(),
      cursor: 0,
    });
    expect(ids(plan.chosen)).toEqual(['a', 'b', 'a', 'b', 'a']);
    expect(plan.unroutable).toEqual([]);
    expect(plan.load.get('a')).toMatchObject({ inFlight: 0, queued: 3 });
    expect(plan.load.get('b')).toMatchObject({ inFlight: 0, queued: 2 });
  });

  it('starts from the live load and leaves the given snapshot unchanged', async () => {
    const candidates = [agent('a', { maxConcurrency: 9 }), agent('b', { maxConcurrency: 9 })];
    const load = loads({ a: { inFlight: 1, queued: 2 } });
    const plan = await planRoutes('LOAD_BALANCED', { tasks: tasks(4), candidates, load, cursor: 0 });
    // b catches up to a's 3, then they alternate from the lower id.
    expect(ids(plan.chosen)).toEqual(['b', 'b', 'b', 'a']);
    expect(load.get('a')).toMatchObject({ inFlight: 1, queued: 2 });
    expect(load.has('b')).toBe(false);
  });

  it('CAPABILITY_MATCH spreads within the best tier and never leaves it', async () => {
    const candidates = [
      agent('pdf-1', { capabilities: ['pdf'], maxConcurrency: 1 }),
      agent('pdf-2', { capabilities: ['PDF'], maxConcurrency: 1 }),
      agent('text', { capabilities: ['text'], maxConcurrency: 9 }),
    ];
    const plan = await planRoutes('CAPABILITY_MATCH', {
      tasks: tasks(4, ['pdf']),
      candidates,
      load: new Map(),
      cursor: 0,
    });
    expect(ids(plan.chosen)).toEqual(['pdf-1', 'pdf-2', 'pdf-1', 'pdf-2']);
  });

  it('ROUND_ROBIN takes one cursor step per task from the given cursor', async () => {
    const candidates = [agent('a'), agent('b'), agent('c')];
    const plan = await planRoutes('ROUND_ROBIN', { tasks: tasks(4), candidates, load: new Map(), cursor: 2 });
    expect(ids(plan.chosen)).toEqual(['c', 'a', 'b', 'c']);
  });

  it('records every task no agent can take, and such a task adds no load', async () => {
    const candidates = [agent('pdf', { capabilities: ['pdf'], maxConcurrency: 3 })];
    const batch = [task({ id: 'x', tags: ['pdf'] }), task({ id: 'y', tags: ['audio'] }), task({ id: 'z' })];
    const plan = await planRoutes('CAPABILITY_MATCH', {
      tasks: batch,
      candidates,
      load: new Map(),
      cursor: 0,
    });
    expect(ids(plan.chosen)).toEqual(['pdf', undefined, 'pdf']);
    expect(plan.unroutable).toHaveLength(1);
    expect(plan.unroutable[0]).toMatchObject({ index: 1, taskId: 'y' });
    expect(plan.unroutable[0]!.error).toBeInstanceOf(NoAgentAvailableError);
    expect(plan.unroutable[0]!.error.details).toMatchObject({ reason: 'missing-capabilities', taskId: 'y' });
    expect(plan.load.get('pdf')).toMatchObject({ queued: 2 });
  });

  it("CUSTOM sees the plan's load; an error other than NO_AGENT_AVAILABLE rejects at once", async () => {
    const candidates = [agent('a', { maxConcurrency: 5 }), agent('b', { maxConcurrency: 5 })];
    const seen: number[] = [];
    const plan = await planRoutes(
      'CUSTOM',
      { tasks: tasks(3), candidates, load: inFlight(), cursor: 0 },
      async (_task, _candidates, load) => {
        seen.push(load.get('a')?.queued ?? 0);
        return 'a';
      },
    );
    expect(ids(plan.chosen)).toEqual(['a', 'a', 'a']);
    expect(seen).toEqual([0, 1, 2]);

    await expect(
      planRoutes('CUSTOM', { tasks: tasks(2), candidates, load: inFlight(), cursor: 0 }, () => 'nobody'),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

const equalAgents = fc
  .record({ n: fc.integer({ min: 1, max: 6 }), maxConcurrency: fc.integer({ min: 1, max: 4 }) })
  .map(({ n, maxConcurrency }) =>
    Array.from({ length: n }, (_, i) => agent(`agent-${String.fromCharCode(97 + i)}`, { maxConcurrency })),
  );

describe('planRoutesWaiting (busy configs are candidates: a fallback waits in their queue)', () => {
  it('free configs first; a task whose configs are all busy goes to the least loaded busy one', async () => {
    const candidates = [agent('a', { maxConcurrency: 1 }), agent('b', { maxConcurrency: 2 })];
    const load = loads({ a: { inFlight: 1, queued: 2 }, b: { inFlight: 2 } });
    // Both at their limit: planRoutes finds no agent, planRoutesWaiting balances on inFlight + queued.
    const skipped = await planRoutes('LOAD_BALANCED', { tasks: tasks(1), candidates, load, cursor: 0 });
    expect(skipped.unroutable[0]?.error.details.reason).toBe('all-at-limit');
    const waiting = await planRoutesWaiting('LOAD_BALANCED', {
      tasks: tasks(2),
      candidates,
      load,
      cursor: 0,
    });
    // b has 2 assigned to a's 3, then 3 to 3 with the lower share of its maxConcurrency.
    expect(ids(waiting.chosen)).toEqual(['b', 'b']);
    expect(waiting.unroutable).toEqual([]);
    expect(waiting.load.get('b')).toMatchObject({ inFlight: 2, queued: 2 });

    // A free config is taken before a busy one, whatever the busy one's load.
    const free = [agent('a', { maxConcurrency: 1 }), agent('c', { maxConcurrency: 1 })];
    const plan = await planRoutesWaiting('LOAD_BALANCED', {
      tasks: tasks(2),
      candidates: free,
      load: loads({ a: { inFlight: 1 } }),
      cursor: 0,
    });
    expect(ids(plan.chosen)).toEqual(['c', 'c']);
  });

  it('CAPABILITY_MATCH waits for its best tier; no candidate at all stays unroutable', async () => {
    const candidates = [
      agent('pdf', { capabilities: ['pdf'], maxConcurrency: 1 }),
      agent('text', { capabilities: ['text'], maxConcurrency: 9 }),
    ];
    const load = inFlight({ pdf: 1 });
    const plan = await planRoutesWaiting('CAPABILITY_MATCH', {
      tasks: [task({ id: 'p', tags: ['pdf'] }), task({ id: 'x', tags: ['video'] })],
      candidates,
      load,
      cursor: 0,
    });
    expect(ids(plan.chosen)).toEqual(['pdf', undefined]);
    expect(plan.unroutable.map(({ index, error }) => [index, error.details.reason])).toEqual([
      [1, 'missing-capabilities'],
    ]);
    const none = await planRoutesWaiting('ROUND_ROBIN', { tasks: tasks(1), candidates: [], load, cursor: 0 });
    expect(none.unroutable[0]?.error.details.reason).toBe('no-candidates');
  });
});

describe('planRoutes laws', () => {
  test.prop([equalAgents, fc.integer({ min: 0, max: 40 })])(
    'LOAD_BALANCED over equal idle agents: every task routed, counts differ by at most 1',
    async (candidates, m) => {
      const plan = await planRoutes('LOAD_BALANCED', {
        tasks: tasks(m),
        candidates,
        load: new Map(),
        cursor: 0,
      });
      expect(plan.unroutable).toEqual([]);
      const counts = countBy(ids(plan.chosen));
      const perAgent = candidates.map((a) => counts.get(a.id) ?? 0);
      expect(perAgent.reduce((sum, n) => sum + n, 0)).toBe(m);
      expect(Math.max(...perAgent) - Math.min(...perAgent)).toBeLessThanOrEqual(1);
    },
  );

  test.prop([
    equalAgents.chain((candidates) =>
      fc.tuple(
        fc.constant(candidates),
        fc.array(fc.nat(5), { minLength: candidates.length, maxLength: candidates.length }),
      ),
    ),
    fc.integer({ min: 0, max: 40 }),
  ])(
    'LOAD_BALANCED with queues already there: the spread of inFlight + queued never grows beyond max(before, 1)',
    async ([candidates, queued], m) => {
      const load: LoadSnapshot = new Map<string, AgentLoad>(
        candidates.map((a, i) => [a.id, { inFlight: 0, queued: queued[i]!, completed: 0, failed: 0 }]),
      );
      const plan = await planRoutes('LOAD_BALANCED', { tasks: tasks(m), candidates, load, cursor: 0 });
      const spread = (snapshot: LoadSnapshot) => {
        const assigned = candidates.map((a) => snapshot.get(a.id)?.queued ?? 0);
        return Math.max(...assigned) - Math.min(...assigned);
      };
      expect(spread(plan.load)).toBeLessThanOrEqual(Math.max(spread(load), 1));
    },
  );

  const CAPABILITIES = ['pdf', 'ocr', 'audio', 'code'];
  const capabilityAgents = fc
    .array(
      fc.record({
        capabilities: fc.subarray(CAPABILITIES),
        maxConcurrency: fc.integer({ min: 1, max: 3 }),
        inFlight: fc.nat(3),
        queued: fc.nat(3),
      }),
      { minLength: 1, maxLength: 6 },
    )
    .map((specs) => specs.map((spec, i) => ({ ...spec, config: agent(`agent-${i}`, spec) })));

  test.prop([
    capabilityAgents,
    fc.array(fc.subarray(CAPABILITIES, { maxLength: 2 }), { minLength: 1, maxLength: 12 }),
  ])(
    'CAPABILITY_MATCH: every choice is a free candidate with the best capability overlap there is',
    async (specs, tagLists) => {
      const candidates = specs.map((s) => s.config);
      const load = new Map<string, AgentLoad>(
        specs.map((s) => [s.config.id, { inFlight: s.inFlight, queued: s.queued, completed: 0, failed: 0 }]),
      );
      const batch = tagLists.map((tags, i) => task({ id: `t${i}`, tags }));
      const plan = await planRoutes('CAPABILITY_MATCH', { tasks: batch, candidates, load, cursor: 0 });
      expect(plan.chosen).toHaveLength(batch.length);
      for (const [i, picked] of plan.chosen.entries()) {
        const required = new Set(requiredCapabilities(batch[i]!));
        if (picked === undefined) {
          expect(plan.unroutable.map((u) => u.index)).toContain(i);
          continue;
        }
        expect(candidates).toContain(picked);
        expect(load.get(picked.id)!.inFlight).toBeLessThan(picked.maxConcurrency);
        const best = Math.max(...candidates.map((a) => capabilityOverlap(a, required)));
        expect(capabilityOverlap(picked, required)).toBe(best);
        if (best > 0 && best === required.size) {
          for (const tag of required) expect(picked.capabilities).toContain(tag);
        }
      }
    },
  );
});
