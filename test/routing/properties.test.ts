import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { ROUTING_STRATEGIES, RoutingStrategy } from '../../machines/router.machine.js';
import type { AgentConfig } from '../../src/domain/agent-config.js';
import { InvalidArgumentError, NoAgentAvailableError } from '../../src/errors/index.js';
import { validateCustomAnswer } from '../../src/routing/custom.js';
import { createLoadTable, snapshotOf } from '../../src/routing/load-table.js';
import { roundRobin } from '../../src/routing/round-robin.js';
import { pickAgent, routingStrategies, type BuiltInRoutingStrategy } from '../../src/routing/strategies.js';
import type { AgentLoad, RoutingFunction, RoutingInput } from '../../src/routing/types.js';
import { agent, task } from './fixtures.js';

const BUILT_IN = ROUTING_STRATEGIES.filter((s): s is BuiltInRoutingStrategy => s !== RoutingStrategy.CUSTOM);
const CAPABILITIES = ['pdf', 'ocr', 'translate', 'audio', 'code'];
const WORDS = [
  'summarize',
  'document',
  'translate',
  'french',
  'code',
  'review',
  'audio',
  'transcribe',
  'image',
];

/** A word in random letter case. */
const anyCase = (words: readonly string[]) =>
  fc
    .tuple(fc.constantFrom(...words), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }))
    .map(([word, upper]) => [...word].map((ch, i) => (upper[i] ? ch.toUpperCase() : ch)).join(''));

const sentence = fc.array(anyCase(WORDS), { maxLength: 4 }).map((words) => words.join(' '));

const agentArb = (id: string) =>
  fc
    .record({
      capabilities: fc.array(anyCase(CAPABILITIES), { maxLength: 4 }),
      maxConcurrency: fc.integer({ min: 0, max: 3 }),
      description: sentence,
      inFlight: fc.integer({ min: 0, max: 4 }),
    })
    .map(({ inFlight, ...config }) => ({ config: agent(id, config), inFlight }));

const inputArb: fc.Arbitrary<RoutingInput> = fc
  .uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 6 })
  .chain((ids) => fc.tuple(...ids.map(agentArb)))
  .chain((agents) =>
    fc.record({
      task: fc
        .record({ tags: fc.array(anyCase(CAPABILITIES), { maxLength: 3 }), query: sentence, name: sentence })
        .map(({ tags, query, name }) => task({ tags, name, inputData: { query } })),
      candidates: fc.constant(agents.map((a) => a.config)),
      load: fc.constant(
        new Map<string, AgentLoad>(
          agents.map((a) => [a.config.id, { inFlight: a.inFlight, queued: 0, completed: 0, failed: 0 }]),
        ),
      ),
      cursor: fc.nat(100),
    }),
  );

const lower = (values: readonly string[]) => new Set(values.map((v) => v.toLowerCase()));
const hasAll = (a: AgentConfig, tags: readonly string[]) => {
  const caps = lower(a.capabilities);
  return [...lower(tags)].every((tag) => caps.has(tag));
};
const isFree = (a: AgentConfig, input: RoutingInput) =>
  (input.load.get(a.id)?.inFlight ?? 0) < a.maxConcurrency;

/** Lower-case words of a text; the generated texts are made of WORDS and CAPABILITIES only. */
const wordsOf = (text: string) =>
  new Set(
    text
      .toLowerCase()
      .split(/[^a-z]+/)
      .filter((w) => w !== ''),
  );
const CONTENT_WORDS = lower([...WORDS, ...CAPABILITIES]);

/**
 * Whether some candidate can take the task under `strategy`, by the strategy's documented rule and
 * written without its code. When this holds the strategy must pick; when it does not, it may pick
 * nothing (for CONTENT_MATCH it is a lower bound: fuzzy and prefix matches can find more).
 */
function someAgentCanTake(strategy: BuiltInRoutingStrategy, input: RoutingInput): boolean {
  const free = input.candidates.filter((a) => isFree(a, input));
  switch (strategy) {
    case 'ROUND_ROBIN':
    case 'LOAD_BALANCED':
      return free.length > 0;
    case 'CAPABILITY_MATCH': {
      // No tags: any free agent. Tags: a free agent in the best tier, the agents sharing the most
      // tags (at least one) among all candidates, busy or not.
      const tags = [...lower(input.task.tags)].filter((t) => t !== '');
      if (tags.length === 0) return free.length > 0;
      const overlap = (a: AgentConfig) => tags.filter((t) => lower(a.capabilities).has(t)).length;
      const best = Math.max(0, ...input.candidates.map(overlap));
      return best > 0 && free.some((a) => overlap(a) === best);
    }
    case 'CONTENT_MATCH': {
      // A free agent whose name, description or capabilities has a word of the task's query,
      // name or description (a content word, not a stop word).
      const query = input.task.inputData['query'];
      const asked = wordsOf(
        [typeof query === 'string' ? query : '', input.task.name, input.task.description].join(' '),
      );
      return free.some((a) =>
        [...wordsOf([a.name, a.description, ...a.capabilities].join(' '))].some(
          (w) => CONTENT_WORDS.has(w) && asked.has(w),
        ),
      );
    }
  }
}

/**
 * The law of a built-in strategy: it picks a free candidate, and it picks nothing only when no
 * agent can take the task. Throws (a failed `expect`) when `route` breaks it.
 */
function checkPickLaw(strategy: BuiltInRoutingStrategy, route: RoutingFunction, input: RoutingInput): void {
  const picked = route(input);
  if (picked === undefined) {
    expect(
      someAgentCanTake(strategy, input),
      `${strategy} picked nothing though an agent can take the task`,
    ).toBe(false);
    return;
  }
  expect(input.candidates).toContain(picked);
  expect(isFree(picked, input)).toBe(true);
}

describe('routing laws', () => {
  test.prop([inputArb, fc.constantFrom(...BUILT_IN)], { seed: 20261203, numRuns: 500 })(
    'no strategy picks a non-candidate or an agent at its maxConcurrency, or nothing when an agent can take the task',
    (input, strategy) => checkPickLaw(strategy, routingStrategies[strategy], input),
  );

  test.each([
    ['never picks', (): AgentConfig | undefined => undefined],
    ['picks the first candidate whatever its load', (input: RoutingInput) => input.candidates[0]],
  ] as const)('the law fails for a broken strategy that %s', (_name, broken) => {
    for (const strategy of BUILT_IN) {
      const run = fc.check(
        fc.property(inputArb, (input) => checkPickLaw(strategy, broken, input)),
        { seed: 20261203, numRuns: 500 },
      );
      expect({ strategy, failed: run.failed }).toEqual({ strategy, failed: true });
    }
  });

  test.prop([inputArb])(
    'CAPABILITY_MATCH never picks an agent lacking a required capability when one has them all',
    (input) => {
      const tags = input.task.tags;
      const full = input.candidates.filter((a) => hasAll(a, tags));
      const picked = routingStrategies.CAPABILITY_MATCH(input);
      if (full.length > 0 && picked !== undefined) expect(hasAll(picked, tags)).toBe(true);
      if (full.some((a) => isFree(a, input))) expect(picked).toBeDefined();
    },
  );

  test.prop([inputArb, fc.constantFrom(...BUILT_IN)])(
    'pickAgent returns a free candidate or throws NoAgentAvailableError',
    (input, strategy) => {
      let picked: AgentConfig | undefined;
      try {
        picked = pickAgent(strategy, input);
      } catch (error) {
        expect(error).toBeInstanceOf(NoAgentAvailableError);
        expect(someAgentCanTake(strategy, input)).toBe(false);
        return;
      }
      expect(isFree(picked, input)).toBe(true);
    },
  );

  test.prop([
    inputArb,
    fc.oneof(fc.constantFrom('a', 'b', 'c', 'zzz'), fc.constant(undefined), fc.integer()),
  ])('the custom adapter returns a free candidate, nothing, or a typed error', (input, answer) => {
    try {
      const picked = validateCustomAnswer(answer, input);
      if (picked !== undefined) {
        expect(input.candidates).toContain(picked);
        expect(isFree(picked, input)).toBe(true);
      }
    } catch (error) {
      expect(error instanceof InvalidArgumentError || error instanceof NoAgentAvailableError).toBe(true);
    }
  });

  test.prop([
    fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 }),
    fc.nat(20),
  ])('round robin gives every free agent the same share of consecutive cursors', (ids, start) => {
    const candidates = ids.map((id) => agent(id));
    const counts = new Map<string, number>();
    const rounds = 5;
    for (let cursor = start; cursor < start + rounds * ids.length; cursor++) {
      const id = roundRobin({ task: task(), candidates, load: new Map(), cursor })!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual(ids.map(() => rounds));
  });

  const op = fc.oneof(
    fc.record({
      type: fc.constant('observed' as const),
      agentId: fc.constantFrom('a', 'b'),
      inFlight: fc.nat(3),
      completed: fc.nat(3),
      failed: fc.nat(3),
    }),
    fc.constant({ type: 'reset' as const }),
  );

  test.prop([fc.array(op, { maxLength: 60 })])(
    'the load table holds the last observation per agent',
    (ops) => {
      const table = createLoadTable();
      const model = new Map<string, AgentLoad>();
      let version = 0;
      for (const o of ops) {
        if (o.type === 'reset') {
          table.trigger.reset();
          model.clear();
          version += 1;
        } else {
          const { type: _type, agentId, ...counts } = o;
          const before = model.get(agentId);
          const next = { ...counts, queued: 0 };
          table.trigger.observed(o);
          const same =
            before !== undefined &&
            before.inFlight === next.inFlight &&
            before.completed === next.completed &&
            before.failed === next.failed;
          if (!same) version += 1;
          model.set(agentId, next);
        }
        expect(table.getSnapshot().context.version).toBe(version);
        expect(new Map(snapshotOf(table))).toEqual(model);
      }
    },
  );
});
