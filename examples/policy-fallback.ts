/**
 * The "Fallback agents" example of docs/policies.md: the primary model is down, so a workflow's
 * task fails there for good and is routed again, without the primary, to the backup.
 *
 * Run: npx tsx examples/policy-fallback.ts
 */
import { MemoryStore, ServiceRegistry, type AgentConfig } from '../src/index.js';
import { createTestClock } from '../src/testing/index.js';

export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const registry = new ServiceRegistry({
    store: new MemoryStore(),
    clock: createTestClock(Date.UTC(2026, 0, 1)),
    // The CUSTOM strategy: the best-ranked candidate first.
    customRouting: (_task, candidates: readonly AgentConfig[]) =>
      [...candidates].sort((a, b) => Number(a.metadata.rank) - Number(b.metadata.rank))[0],
  });
  registry.getTaskRouter('CUSTOM');
  const factory = registry.getAgentFactory();
  factory.registerAgentType('llm', (config) => ({
    execute: async (task) => {
      if (config.metadata.down === true) throw new Error(`503 from ${config.name}`);
      return `${task.name}: answered by ${config.name}`;
    },
  }));
  const primary = await factory.createAgentConfig({
    name: 'primary',
    type: 'llm',
    metadata: { rank: 1, down: true },
  });
  await factory.createAgentConfig({ name: 'backup', type: 'llm', metadata: { rank: 2 } });

  const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'answers' });
  const task = await registry.getTaskManager().createTask({ name: 'ask', workflowId: workflow.id });
  const result = await registry.getEnhancedExecutor().executeWorkflow(workflow.id, {
    retry: { maxAttempts: 1 },
    fallback: { maxAgents: 1 },
  });

  const seen: string[] = [];
  const note = (line: string) => {
    seen.push(line);
    log(line);
  };
  note(`workflow: ${result.status}`);
  const done = await registry.getTaskManager().getTask(task.id);
  note(`output: ${String(done.outputData)}`);
  for (const error of done.errors) {
    note(
      `attempt ${error.attempt} on ${error.agentId === primary.id ? 'primary' : 'backup'}: ${error.message}`,
    );
  }
  note(`fell back from primary: ${String((done.metadata.fallbackFrom as string[]).includes(primary.id))}`);
  await registry.stop();
  return seen;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
