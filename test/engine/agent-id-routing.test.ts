import { describe, expect, it } from 'vitest';
import type { Agent } from '../../src/index.js';
import { advance } from '../../src/testing/index.js';
import { useTestKit } from '../support/kit.js';

/**
 * Review of the actor-to-actor change: the executor now passes RUN / SETTLED / RELEASE to its
 * agent actors with `sendTo(agentId, ...)`, a string that XState resolves as a target expression:
 * `#_parent` is the executor's parent (the engine), `#_internal` the executor itself, `#_<x>` the
 * child `<x>`. An agent id is any non-empty string up to 256 characters, so these ids, valid
 * before the change (the runtime sent to agent actors by reference), now misroute.
 */
describe('review: agent ids are not XState target expressions', () => {
  const tests = useTestKit();

  for (const agentId of ['#_parent', '#_internal', '#_agent', '__proto__', 'constructor', 'plain-agent']) {
    it(`runs a task on an agent whose id is ${JSON.stringify(agentId)}`, async () => {
      const kit = tests.setup();
      const [id] = await tests.createTasks(1);
      const agent: Agent = { id: agentId, execute: async () => 'done' };
      const errors: unknown[] = [];
      const onError = (error: unknown) => errors.push(error);
      process.on('uncaughtException', onError);
      try {
        const done = kit.executor.executeTask(id!, agent);
        let result: unknown;
        done.then(
          (r) => (result = r),
          (error: unknown) => (result = error),
        );
        await advance(kit.clock, 0);
        expect(errors).toEqual([]);
        expect(result).toMatchObject({ status: 'COMPLETED', output: 'done' });
      } finally {
        process.off('uncaughtException', onError);
      }
    });
  }
});
