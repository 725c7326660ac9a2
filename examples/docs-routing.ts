/**
 * The "Task Routing" usage example of docs/api.md: agent configs describe agents, the router picks
 * one for a task, the agent factory builds it, and the executor runs the task on it.
 *
 * Run: npx tsx examples/docs-routing.ts
 */
import { RoutingStrategy, ServiceRegistry, type ExecutionResult } from '../src/index.js';

export interface RoutingOutcome {
  /** Names of the agent configs chosen, by strategy. */
  byCapability: string;
  byContent: string;
  result: ExecutionResult;
  /** Executions the chosen agent has completed, from the router's load table. */
  completedByChosen: number;
}

export async function main(log: (line: string) => void = console.log): Promise<RoutingOutcome> {
  const registry = new ServiceRegistry({ store: ':memory:' });
  const taskManager = registry.getTaskManager();
  const executor = registry.getEnhancedExecutor();

  // Agent types are code; agent configs are data that name a type.
  const agentFactory = registry.getAgentFactory();
  agentFactory.registerAgentType('translator', (config) => ({
    execute: async (task) => ({ translatedBy: config.name, text: `[fr] ${String(task.inputData.text)}` }),
  }));
  agentFactory.registerAgentType('summarizer', (config) => ({
    execute: async (task) => ({ summarizedBy: config.name, text: String(task.inputData.text).slice(0, 20) }),
  }));
  await agentFactory.createAgentConfig({
    name: 'Translator',
    type: 'translator',
    description: 'translates text between languages',
    capabilities: ['translate'],
    maxConcurrency: 2,
  });
  await agentFactory.createAgentConfig({
    name: 'Summarizer',
    type: 'summarizer',
    description: 'summarizes long documents into a short text',
    capabilities: ['summarize'],
  });

  // Get the router with a strategy: naming one switches the router actor to it.
  const router = registry.getTaskRouter(RoutingStrategy.CAPABILITY_MATCH);
  const task = await taskManager.createTask({
    name: 'Translate the notice',
    tags: ['translate'],
    inputData: { text: 'The library opens at nine.' },
  });

  // Route the task to an agent config, build the agent, execute the task with it.
  const agentConfigId = await router.routeTask(task);
  const agent = await agentFactory.createAgent(agentConfigId);
  const result = await executor.executeTask(task.id, agent);
  const byCapability = (await agentFactory.getAgentConfig(agentConfigId)).name;
  log(`${await router.getStrategy()}: "${task.name}" -> ${byCapability} (${result.status})`);
  log(`Output: ${JSON.stringify(result.output)}`);

  // A strategy can also be named for one call; CONTENT_MATCH searches the task's text.
  const untagged = await taskManager.createTask({
    name: 'Shorten the report',
    inputData: { query: 'Please summarize this long document', text: 'A long document.' },
  });
  const contentId = await router.routeTask(untagged, { strategy: RoutingStrategy.CONTENT_MATCH });
  const byContent = (await agentFactory.getAgentConfig(contentId)).name;
  log(`CONTENT_MATCH: "${untagged.name}" -> ${byContent}`);

  // The load table counts executions per agent config id.
  const completedByChosen = (await router.getLoad()).get(agentConfigId)?.completed ?? 0;
  log(`${byCapability} has completed ${completedByChosen} execution(s)`);
  await registry.stop();
  return { byCapability, byContent, result, completedByChosen };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
