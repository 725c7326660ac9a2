/**
 * What a worker records of the agents it runs (src/engine/code-rate-limits.ts, issue 14): the rate
 * limits of an agent defined in code, once per agent key and limits, so that claims honour them;
 * nothing for an agent built from a stored config (claims read the config) or without limits.
 */
import { expect, it } from 'vitest';
import type { Agent } from '../../src/domain/agent.js';
import type { RateLimit } from '../../src/domain/rate-limit.js';
import { CodeRateLimits } from '../../src/engine/code-rate-limits.js';
import { resolveWorkerOptions } from '../../src/engine/worker.js';

const agent = (fields: Partial<Agent>): Agent => ({ id: 'coded', execute: async () => null, ...fields });

it('records the limits of an agent in code once per key and limits, and no others', async () => {
  const saved: Array<[string, readonly RateLimit[], number]> = [];
  const limits = new CodeRateLimits(
    { saveAgentRateLimits: async (key, rateLimits, now) => void saved.push([key, rateLimits, now]) },
    () => 7,
  );
  const two = [{ requests: 2, per: 1_000 }];
  await limits.note('coded', agent({ rateLimits: two }));
  await limits.note('coded', agent({ rateLimits: [{ requests: 2, per: 1_000 }] }));
  await limits.note('configured', agent({ configId: 'configured', rateLimits: two }));
  await limits.note('free', agent({}));
  expect(saved).toEqual([['coded', two, 7]]);
  // A worker deployed with other limits records them.
  await limits.note('coded', agent({ rateLimits: [{ requests: 5, per: 1_000 }] }));
  expect(saved.map(([key, rateLimits]) => [key, rateLimits])).toEqual([
    ['coded', two],
    ['coded', [{ requests: 5, per: 1_000 }]],
  ]);
});

it('resolves a task to the agent of `agents` named by its agent key before `resolveAgent`', async () => {
  const coded = agent({ rateLimits: [{ requests: 2, per: 1_000 }] });
  const other = agent({ id: 'other' });
  const { resolveAgent } = resolveWorkerOptions(
    { agents: [coded], resolveAgent: () => other },
    () => undefined,
  );
  const task = (agentKey: string) => ({ execution: { agentKey } }) as Parameters<typeof resolveAgent>[0];
  expect(await resolveAgent(task('coded'))).toBe(coded);
  expect(await resolveAgent(task('else'))).toBe(other);
  expect(() => resolveWorkerOptions({ agents: [{} as Agent] }, () => undefined)).toThrow(/agents/);
});
