import { afterEach, beforeEach, describe } from 'vitest';
import type { Repository } from '../repositories/repository.js';
import type { Store } from '../repositories/store.js';
import { sampleAgentConfig, samplePlan, sampleTask, sampleWorkflow } from './samples.js';
import { describeAgentConfigs } from './store-contract/agent-configs.js';
import { describeBreakers } from './store-contract/breakers.js';
import { describeCommits } from './store-contract/commits.js';
import { describeControl } from './store-contract/control.js';
import { describeCoordination } from './store-contract/coordination.js';
import { describeEvents } from './store-contract/events.js';
import { describeRateBuckets } from './store-contract/rate-buckets.js';
import { describeTaskKeys } from './store-contract/task-keys.js';
import { describeWorkflowKeys } from './store-contract/workflow-keys.js';
import { describeRepositories } from './store-contract/repositories.js';
import type { ContractContext, Entity, StoreContractOptions } from './store-contract/shared.js';
import { describeTaskGraphs } from './store-contract/task-graphs.js';
import { describeVerbatim } from './store-contract/verbatim.js';

export { HOSTILE_STRINGS, type StoreContractOptions } from './store-contract/shared.js';
export { sampleEvent } from './store-contract/events.js';
export { sampleAgentConfig, samplePlan, sampleTask, sampleWorkflow };

/**
 * The behaviour every Store must have, as a vitest suite: CRUD on the three repositories, queries,
 * atomic batches, unique completion records, hostile strings and JSON kept verbatim, SKIPPED
 * tasks, task graphs, agent config quotas, rate buckets and stored events (for a store with `readEvents`). Run it on your
 * own store with a factory that returns a new, empty, unopened store for each test.
 *
 * @example
 * import { describeStoreContract } from 'symphony-engine/testing/store-contract';
 * describeStoreContract('MyStore', async () => new MyStore(), { reopen: async (s) => new MyStore(s.url) });
 */
export function describeStoreContract(
  name: string,
  makeStore: () => Promise<Store>,
  options: StoreContractOptions = {},
): void {
  describe(`Store contract: ${name}`, () => {
    const ctx: ContractContext = {
      store: undefined as unknown as Store,
      repo: (label) => ctx.store[label] as unknown as Repository<Entity>,
    };

    beforeEach(async () => {
      ctx.store = await makeStore();
      await ctx.store.open();
    });

    afterEach(async () => {
      await ctx.store.close();
    });

    describeRepositories(ctx);
    describeCommits(ctx);
    describeControl(ctx);
    describeCoordination(ctx);
    describeVerbatim(ctx, options);
    describeTaskGraphs(ctx, options);
    describeBreakers(ctx);
    describeAgentConfigs(ctx, options);
    describeRateBuckets(ctx);
    describeTaskKeys(ctx);
    describeWorkflowKeys(ctx);
    describeEvents(ctx, options);
  });
}
