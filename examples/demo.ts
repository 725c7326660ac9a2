/**
 * The README's main job: a workflow of text-analysis tasks over the sample documents in
 * examples/documents, routed to four local agents by capability and by content, with a flaky
 * agent whose failures are retried.
 *
 * Run: npm run demo
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceRegistry, type ExecutionResult } from '../src/index.js';
import { createFlakySentiment, keywordExtractor, statistics, summarizer } from './agents/text-analysis.js';

const here = dirname(fileURLToPath(import.meta.url));

export async function main(log: (line: string) => void = console.log): Promise<ExecutionResult[]> {
  const registry = new ServiceRegistry({ maxConcurrency: 8, retry: { maxAttempts: 3, initialDelayMs: 20 } });
  const factory = registry.getAgentFactory();
  const tasks = registry.getTaskManager();
  const workflows = registry.getWorkflowTracker();
  const executor = registry.getEnhancedExecutor();
  const router = registry.getTaskRouter();

  factory.registerAgentType('summarizer', summarizer);
  factory.registerAgentType('keywords', keywordExtractor);
  factory.registerAgentType('statistics', statistics);
  factory.registerAgentType('sentiment', createFlakySentiment());
  const configs = [
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
  for (const config of configs) await factory.createAgentConfig(config);

  const workflow = await workflows.createWorkflow({
    name: 'Document analysis',
    description: 'Summaries, keywords, statistics and sentiment for every sample document',
  });
  const files = (await readdir(join(here, 'documents'))).filter((f) => f.endsWith('.txt')).sort();
  const kinds = ['summarize', 'keywords', 'stats', 'sentiment'] as const;
  const questions = ['What is the mood and tone of this text?', 'Give me a short summary of this document'];
  const pairs: Array<[string, Awaited<ReturnType<typeof factory.createAgent>>]> = [];
  for (const file of files) {
    const text = await readFile(join(here, 'documents', file), 'utf8');
    const planned = [
      ...kinds.map((kind) => ({
        name: `${kind} ${file}`,
        tags: [kind],
        query: undefined as string | undefined,
      })),
      { name: `question about ${file}`, tags: [], query: questions[files.indexOf(file) % questions.length] },
    ];
    for (const plan of planned) {
      const task = await tasks.createTask({
        name: plan.name,
        tags: plan.tags,
        inputData:
          plan.query === undefined ? { text, document: file } : { text, document: file, query: plan.query },
        workflowId: workflow.id,
      });
      // Tagged tasks go by capability; free-form questions by content.
      const configId = await router.routeTask(task, {
        strategy: plan.tags.length > 0 ? 'CAPABILITY_MATCH' : 'CONTENT_MATCH',
      });
      pairs.push([task.id, await factory.createAgent(configId)]);
    }
  }
  log(
    `Workflow ${workflow.id}: ${pairs.length} tasks over ${files.length} documents, ${configs.length} agents`,
  );

  await executor.addPostHook((outcome, context) => {
    const status =
      outcome.status === 'COMPLETED'
        ? 'done'
        : `failed (attempt ${outcome.attempt}): ${String((outcome.error as Error).message)}`;
    log(`  ${context.task.name} -> ${status}`);
  });
  const results = await executor.batchExecute(pairs, { workflowId: workflow.id, maxConcurrent: 6 });

  const byStatus = new Map<string, number>();
  for (const result of results) byStatus.set(result.status, (byStatus.get(result.status) ?? 0) + 1);
  const retried = results.filter((r) => r.attempts > 1).length;
  log('');
  log(`Workflow status: ${await workflows.getWorkflowStatus(workflow.id)}`);
  log(
    `Results: ${[...byStatus].map(([status, n]) => `${n} ${status}`).join(', ')}; ${retried} needed a retry`,
  );
  const load = await router.getLoad();
  for (const config of await factory.listAgentConfigs()) {
    const entry = load.get(config.id);
    log(
      `  ${config.name.padEnd(20)} completed ${entry?.completed ?? 0}, failed attempts ${entry?.failed ?? 0}`,
    );
  }
  const sample = await tasks.getTask(pairs[0]![0]);
  log(`Example output (${sample.name}): ${JSON.stringify(sample.outputData)}`);
  await registry.stop();
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
