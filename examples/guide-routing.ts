/**
 * The example of docs/guides/routing.md: three agent configs, a task routed by capability, by
 * content, by load and by a custom function, the load table while an agent is busy, the
 * NoAgentAvailableError you get when no agent fits, and a batch spread by routeTasks.
 *
 * Run: npx tsx examples/guide-routing.ts
 */
import {
  ErrorCode,
  RoutingStrategy,
  ServiceRegistry,
  SymphonyError,
  type AgentLoad,
  type CustomRoutingFunction,
} from '../src/index.js';

export interface RoutingGuideOutcome {
  /** Name of the agent config each route chose. */
  chosen: {
    capability: string;
    content: string;
    loadBalanced: string;
    custom: string;
  };
  /** The Translator's load while its run was in flight, and after it finished. */
  loadWhileBusy: AgentLoad | undefined;
  loadAfter: AgentLoad | undefined;
  /** How many tasks of a LOAD_BALANCED batch of four routeTasks gave each agent config, by name. */
  batch: Record<string, number>;
  /** `details.reason` of each NoAgentAvailableError, by case. */
  noAgent: { missingCapability: string; busy: string };
  strategyAfterSwitch: RoutingStrategy;
}

// CUSTOM: any function of (task, candidates, load); here the team named in the task's metadata.
const byTeam: CustomRoutingFunction = (task, candidates) =>
  candidates.find((config) => config.metadata.team === task.metadata.team)?.id;

export async function main(log: (line: string) => void = console.log): Promise<RoutingGuideOutcome> {
  const registry = new ServiceRegistry({ store: ':memory:', customRouting: byTeam });
  const taskManager = registry.getTaskManager();
  const agentFactory = registry.getAgentFactory();
  const executor = registry.getEnhancedExecutor();
  const router = registry.getTaskRouter(); // CAPABILITY_MATCH unless `routingStrategy` says otherwise

  // One agent type; each run waits for `release()` so that we can look at the load meanwhile.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  agentFactory.registerAgentType('worker', (config) => ({
    execute: async (task) => {
      started();
      await gate;
      return { by: config.name, task: task.name };
    },
  }));
  const translator = await agentFactory.createAgentConfig({
    name: 'Translator',
    type: 'worker',
    description: 'translates letters and notices between languages',
    capabilities: ['translate'],
    maxConcurrency: 1,
    metadata: { team: 'emea' },
  });
  const summarizer = await agentFactory.createAgentConfig({
    name: 'Summarizer',
    type: 'worker',
    description: 'summarizes long reports into a few sentences',
    capabilities: ['summarize'],
    maxConcurrency: 2,
    metadata: { team: 'apac' },
  });
  const reviewer = await agentFactory.createAgentConfig({
    name: 'Reviewer',
    type: 'worker',
    description: 'proofreads translations for tone and accuracy',
    capabilities: ['review', 'translate'],
    maxConcurrency: 1,
  });
  const names = new Map([translator, summarizer, reviewer].map((config) => [config.id, config.name]));
  const nameOf = (id: string) => names.get(id) ?? id;

  // CAPABILITY_MATCH: the task's tags are the capabilities it needs; only Reviewer has both.
  const checked = await taskManager.createTask({ name: 'Check the notice', tags: ['translate', 'review'] });
  const capability = nameOf(await router.routeTask(checked));
  log(`CAPABILITY_MATCH: "${checked.name}" -> ${capability}`);

  // CONTENT_MATCH (this call only): the task's text against each config's name, description and capabilities.
  const digest = await taskManager.createTask({
    name: 'Quarterly digest',
    inputData: { query: 'Summarize the quarterly report in a few sentences' },
  });
  const content = nameOf(await router.routeTask(digest, { strategy: RoutingStrategy.CONTENT_MATCH }));
  log(`CONTENT_MATCH: "${digest.name}" -> ${content}`);

  // Run a task on the Translator and keep it busy: the load table counts it in flight.
  const letter = await taskManager.createTask({ name: 'Translate the letter', tags: ['translate'] });
  const run = executor.executeTask(letter.id, await agentFactory.createAgent(translator.id));
  await running;
  const load = await router.getLoad(); // read-only, taken now: call again for fresh numbers
  const loadWhileBusy = load.get(translator.id);
  log(`Load of Translator while busy: ${JSON.stringify(loadWhileBusy)}`);

  // LOAD_BALANCED among two candidates: the one with fewer executions in flight.
  const notice = await taskManager.createTask({ name: 'Translate the notice', tags: ['translate'] });
  const loadBalanced = nameOf(
    await router.routeTask(notice, {
      strategy: RoutingStrategy.LOAD_BALANCED,
      candidates: [translator.id, reviewer.id],
    }),
  );
  log(`LOAD_BALANCED among Translator and Reviewer: "${notice.name}" -> ${loadBalanced}`);

  // No agent fits: a rejection with code NO_AGENT_AVAILABLE and a reason in its details.
  const reasonOf = async (promise: Promise<unknown>): Promise<string> => {
    try {
      await promise;
      return 'routed';
    } catch (error) {
      if (!(SymphonyError.isInstance(error) && error.code === ErrorCode.NO_AGENT_AVAILABLE)) throw error;
      log(error.message);
      return String(error.details.reason);
    }
  };
  const contract = await taskManager.createTask({ name: 'Check the contract', tags: ['legal'] });
  const missingCapability = await reasonOf(router.routeTask(contract));
  const busy = await reasonOf(router.routeTask(notice, { candidates: [translator.id] }));

  // CUSTOM: the function given as `customRouting` (or router.setCustomStrategy(fn)).
  const tokyo = await taskManager.createTask({ name: 'Tokyo briefing', metadata: { team: 'apac' } });
  const custom = nameOf(await router.routeTask(tokyo, { strategy: RoutingStrategy.CUSTOM }));
  log(`CUSTOM: "${tokyo.name}" (team apac) -> ${custom}`);

  // setStrategy switches the router for every later call that names none.
  await router.setStrategy(RoutingStrategy.LOAD_BALANCED);
  const strategyAfterSwitch = await router.getStrategy();

  release();
  await run;
  const loadAfter = (await router.getLoad()).get(translator.id);
  log(`Load of Translator after its run: ${JSON.stringify(loadAfter)}`);

  // routeTasks plans a batch as a whole: each choice counts as queued for the next ones, so
  // LOAD_BALANCED spreads the batch instead of sending it all to the agent idle right now.
  const letters: string[] = [];
  for (const n of [1, 2, 3, 4]) {
    letters.push((await taskManager.createTask({ name: `Letter ${n}`, tags: ['translate'] })).id);
  }
  const batch: Record<string, number> = {};
  const ids = await router.routeTasks(letters, { candidates: [translator.id, reviewer.id] });
  for (const id of ids) batch[nameOf(id)] = (batch[nameOf(id)] ?? 0) + 1;
  log(`routeTasks, LOAD_BALANCED, 4 letters: Translator ${batch.Translator}, Reviewer ${batch.Reviewer}`);
  await registry.stop();
  return {
    chosen: { capability, content, loadBalanced, custom },
    loadWhileBusy,
    loadAfter,
    batch,
    noAgent: { missingCapability, busy },
    strategyAfterSwitch,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
