/**
 * The README's main job: a workflow of text-analysis tasks over the sample documents in
 * examples/documents, routed to four local agents by capability and by content, with a flaky
 * agent whose failures are retried.
 *
 * Run: npm run demo (that is `symphony demo`: the same workflow on the SQLite store, with a live
 * view), or `npx tsx examples/demo.ts` for this file alone on an in-memory store.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ServiceRegistry,
  type Agent,
  type AgentBuilder,
  type AgentFactory,
  type CreateAgentConfigInput,
  type EngineOptions,
  type ExecutionResult,
  type Task,
  type TaskAgentPair,
  type Workflow,
} from '../src/index.js';
import { createFlakySentiment, keywordExtractor, statistics, summarizer } from './agents/text-analysis.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The sample documents: beside this file, or (compiled into dist/examples/) in the package's examples/. */
const DOCUMENTS = [join(here, 'documents'), join(here, '../../examples/documents')].find((dir) =>
  existsSync(dir),
)!;

/** Engine options of the demo: a global limit of 8 and quick retries. */
export const DEMO_ENGINE_OPTIONS = {
  maxConcurrency: 8,
  retry: { maxAttempts: 3, initialDelayMs: 20 },
} satisfies EngineOptions;

/** Executions of the demo's batch at once. */
export const DEMO_BATCH_CONCURRENCY = 6;

/** Four agents with different capabilities and limits; the descriptions feed CONTENT_MATCH. */
export const DEMO_AGENT_CONFIGS: readonly CreateAgentConfigInput[] = [
  {
    name: 'Summarizer',
    type: 'summarizer',
    capabilities: ['summarize'],
    maxConcurrency: 2,
    description: 'summarize a document into its key sentences, short summary',
  },
  {
    name: 'Keyword extractor',
    type: 'keywords',
    capabilities: ['keywords'],
    maxConcurrency: 3,
    description: 'extract keywords topics and main terms',
  },
  {
    name: 'Statistician',
    type: 'statistics',
    capabilities: ['stats'],
    maxConcurrency: 4,
    description: 'count words sentences length and reading time statistics',
  },
  {
    name: 'Sentiment (flaky)',
    type: 'sentiment',
    capabilities: ['sentiment'],
    maxConcurrency: 1,
    description: 'sentiment mood tone positive negative opinion',
  },
];

/**
 * The sentiment agent, failing the first attempt of every third task it gets with a transient
 * error. Each task fails at most once, so with three attempts every task completes, whatever the
 * timing (a shared "every third call" counter could hit one task three times in a row).
 */
function flakySentiment(): AgentBuilder {
  let tasks = 0;
  return (config) => ({
    execute: async (task, context) => {
      if (context.attempt === 1 && ++tasks % 3 === 0) {
        throw Object.assign(new Error('sentiment service is overloaded, try again'), { code: 'OVERLOADED' });
      }
      // A fresh lexicon agent's first call always succeeds.
      const lexicon = await createFlakySentiment()(config);
      return lexicon.execute(task, context);
    },
  });
}

/** Registers the demo's agent types (the flaky sentiment agent fails the first try of every third task). */
export function registerDemoAgents(factory: AgentFactory): void {
  factory.registerAgentType('summarizer', summarizer);
  factory.registerAgentType('keywords', keywordExtractor);
  factory.registerAgentType('statistics', statistics);
  factory.registerAgentType('sentiment', flakySentiment());
}

export interface DemoPlan {
  workflow: Workflow;
  /** Each task with the agent the router chose for it. */
  pairs: TaskAgentPair[];
  documents: string[];
}

/**
 * Creates the demo workflow and its tasks (five per document) and routes each among `configIds`:
 * tagged tasks by capability, free-form questions by content.
 */
export async function planDemo(
  registry: ServiceRegistry,
  configIds: readonly string[],
  metadata: Record<string, unknown> = {},
): Promise<DemoPlan> {
  const factory = registry.getAgentFactory();
  const tasks = registry.getTaskManager();
  const router = registry.getTaskRouter();
  const workflow = await registry.getWorkflowTracker().createWorkflow({
    name: 'Document analysis',
    description: 'Summaries, keywords, statistics and sentiment for every sample document',
    metadata,
  });
  const documents = (await readdir(DOCUMENTS)).filter((f) => f.endsWith('.txt')).sort();
  const kinds = ['summarize', 'keywords', 'stats', 'sentiment'] as const;
  const questions = ['What is the mood and tone of this text?', 'Give me a short summary of this document'];
  const created: Array<{ task: Task; byContent: boolean }> = [];
  for (const [index, file] of documents.entries()) {
    const text = await readFile(join(DOCUMENTS, file), 'utf8');
    const planned = [
      ...kinds.map((kind) => ({
        name: `${kind} ${file}`,
        tags: [kind],
        query: undefined as string | undefined,
      })),
      { name: `question about ${file}`, tags: [], query: questions[index % questions.length] },
    ];
    for (const plan of planned) {
      const task = await tasks.createTask({
        name: plan.name,
        tags: plan.tags,
        inputData:
          plan.query === undefined ? { text, document: file } : { text, document: file, query: plan.query },
        workflowId: workflow.id,
      });
      created.push({ task, byContent: plan.tags.length === 0 });
    }
  }
  // Tagged tasks go by capability, free-form questions by content: one batch each, so that tasks
  // for the same kind of agent spread over every agent of that kind.
  const chosen = new Map<string, string>();
  for (const byContent of [false, true]) {
    const batch = created.filter((entry) => entry.byContent === byContent).map((entry) => entry.task);
    const ids = await router.routeTasks(batch, {
      strategy: byContent ? 'CONTENT_MATCH' : 'CAPABILITY_MATCH',
      candidates: configIds,
    });
    batch.forEach((task, index) => chosen.set(task.id, ids[index]!));
  }
  const agents = new Map<string, Agent>();
  const pairs: TaskAgentPair[] = [];
  for (const { task } of created) {
    const configId = chosen.get(task.id)!;
    let agent = agents.get(configId);
    if (!agent) agents.set(configId, (agent = await factory.createAgent(configId)));
    pairs.push([task.id, agent]);
  }
  return { workflow, pairs, documents };
}

/** The demo on an in-memory store, logging each attempt and a summary. */
export async function main(log: (line: string) => void = console.log): Promise<ExecutionResult[]> {
  // This file alone runs on an in-memory store; `symphony demo` keeps the same workflow in SQLite.
  const registry = new ServiceRegistry({ ...DEMO_ENGINE_OPTIONS, store: ':memory:' });
  const factory = registry.getAgentFactory();
  const executor = registry.getEnhancedExecutor();
  registerDemoAgents(factory);
  const configIds: string[] = [];
  for (const config of DEMO_AGENT_CONFIGS) configIds.push((await factory.createAgentConfig(config)).id);
  const { workflow, pairs, documents } = await planDemo(registry, configIds);
  log(
    `Workflow ${workflow.id}: ${pairs.length} tasks over ${documents.length} documents, ${configIds.length} agents`,
  );

  await executor.addPostHook((outcome, context) => {
    const status =
      outcome.status === 'COMPLETED'
        ? 'done'
        : `failed (attempt ${outcome.attempt}): ${String((outcome.error as Error).message)}`;
    log(`  ${context.task.name} -> ${status}`);
  });
  const results = await executor.batchExecute(pairs, {
    workflowId: workflow.id,
    maxConcurrent: DEMO_BATCH_CONCURRENCY,
  });

  const byStatus = new Map<string, number>();
  for (const result of results) byStatus.set(result.status, (byStatus.get(result.status) ?? 0) + 1);
  const retried = results.filter((r) => r.attempts > 1).length;
  log('');
  log(`Workflow status: ${await registry.getWorkflowTracker().getWorkflowStatus(workflow.id)}`);
  log(
    `Results: ${[...byStatus].map(([status, n]) => `${n} ${status}`).join(', ')}; ${retried} needed a retry`,
  );
  const load = await registry.getTaskRouter().getLoad();
  for (const config of await factory.listAgentConfigs()) {
    const entry = load.get(config.id);
    log(
      `  ${config.name.padEnd(20)} completed ${entry?.completed ?? 0}, failed attempts ${entry?.failed ?? 0}`,
    );
  }
  const sample = await registry.getTaskManager().getTask(pairs[0]![0]);
  log(`Example output (${sample.name}): ${JSON.stringify(sample.outputData)}`);
  await registry.stop();
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
