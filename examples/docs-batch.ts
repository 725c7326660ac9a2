/**
 * The "Batch Execution" usage example of docs/api.md: five tasks of one workflow run on one agent,
 * at most three at once. One task fails for good; the others still run, and the failure comes back
 * as data in its ExecutionResult.
 *
 * Run: npx tsx examples/docs-batch.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  NonRetryableError,
  ServiceRegistry,
  type Agent,
  type ExecutionResult,
  type TaskAgentPair,
  type WorkflowStatus,
} from '../src/index.js';

export interface BatchOutcome {
  results: ExecutionResult[];
  /** The most executions the agent ran at once. */
  peakConcurrency: number;
  workflowStatus: WorkflowStatus;
}

export async function main(log: (line: string) => void = console.log): Promise<BatchOutcome> {
  const registry = new ServiceRegistry({ store: ':memory:' });
  const workflowTracker = registry.getWorkflowTracker();
  const executor = registry.getEnhancedExecutor();
  const taskManager = registry.getTaskManager();

  let running = 0;
  let peakConcurrency = 0;
  const agent: Agent = {
    id: 'batch-worker',
    execute: async (task) => {
      running += 1;
      peakConcurrency = Math.max(peakConcurrency, running);
      try {
        await sleep(5);
        const item = Number(task.inputData.item);
        // A NonRetryableError stops the retry policy at once: this task fails after one attempt.
        if (item === 3) throw new NonRetryableError(`Batch item ${item} is malformed`);
        return { processed: item };
      } finally {
        running -= 1;
      }
    },
  };

  const workflow = await workflowTracker.createWorkflow({ name: 'Batch workflow' });
  const taskIds: string[] = [];
  const names = new Map<string, string>();
  for (let i = 0; i < 5; i += 1) {
    const task = await taskManager.createTask({
      name: `Batch Task ${i}`,
      description: `Task ${i} in batch execution`,
      inputData: { query: `Process batch item ${i}`, item: i },
    });
    taskIds.push(task.id);
    names.set(task.id, task.name);
    await workflowTracker.addTaskToWorkflow(workflow.id, task.id);
  }

  // Task-agent pairs; results come back in the same order, whatever order they finish in.
  const pairs: TaskAgentPair[] = taskIds.map((taskId) => [taskId, agent] as const);
  const results = await executor.batchExecute(pairs, { workflowId: workflow.id, maxConcurrent: 3 });

  for (const result of results) {
    const detail = result.status === 'COMPLETED' ? JSON.stringify(result.output) : result.error?.message;
    log(`${names.get(result.taskId)}: ${result.status} after ${result.attempts} attempt(s), ${detail}`);
  }
  const workflowStatus = await workflowTracker.getWorkflowStatus(workflow.id);
  log(`At most ${peakConcurrency} ran at once; workflow "${workflow.name}" is ${workflowStatus}`);
  await registry.stop();
  return { results, peakConcurrency, workflowStatus };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
