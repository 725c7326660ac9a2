/**
 * The "Basic Workflow" usage example of docs/api.md: create a workflow and a task, add the task to
 * the workflow, and execute it with an agent in the workflow's context.
 *
 * Run: npx tsx examples/docs-basic-workflow.ts
 */
import {
  ServiceRegistry,
  type Agent,
  type ExecutionResult,
  type Task,
  type WorkflowStatus,
} from '../src/index.js';

export interface BasicWorkflowOutcome {
  /** The workflow's status before the task ran, and after. */
  statusBefore: WorkflowStatus;
  statusAfter: WorkflowStatus;
  result: ExecutionResult;
  /** The task as stored once the execution has finished. */
  task: Task;
}

export async function main(log: (line: string) => void = console.log): Promise<BasicWorkflowOutcome> {
  // A registry of its own, in memory. ServiceRegistry.getInstance() returns a process-wide default.
  const registry = new ServiceRegistry({ store: ':memory:' });
  const workflowTracker = registry.getWorkflowTracker();
  const executor = registry.getEnhancedExecutor();
  const taskManager = registry.getTaskManager();

  // An agent is any object with an id and execute(task, context); what it returns becomes the output.
  const agent: Agent = {
    id: 'word-counter',
    execute: async (task, context) => {
      const query = typeof task.inputData.query === 'string' ? task.inputData.query : '';
      return { words: query.split(/\s+/).filter(Boolean).length, attempt: context.attempt };
    },
  };

  const workflow = await workflowTracker.createWorkflow({
    name: 'Example Workflow',
    description: 'A demonstration workflow',
  });
  const task = await taskManager.createTask({
    name: 'Example Task',
    description: 'A task to execute',
    inputData: { query: 'Process this information' },
  });
  await workflowTracker.addTaskToWorkflow(workflow.id, task.id);
  const statusBefore = await workflowTracker.getWorkflowStatus(workflow.id);
  log(`Workflow "${workflow.name}" is ${statusBefore} with task "${task.name}"`);

  // Execute the task in the workflow's context; the promise resolves once the result is committed.
  const result = await executor.executeTask(task.id, agent, workflow.id, {
    timeoutMs: 5_000,
    metadata: { requestedBy: 'docs' },
  });
  log(`Task "${task.name}" is ${result.status} after ${result.attempts} attempt(s)`);
  log(`Output: ${JSON.stringify(result.output)}`);

  const statusAfter = await workflowTracker.getWorkflowStatus(workflow.id);
  log(`Workflow "${workflow.name}" is ${statusAfter}`);
  const stored = await taskManager.getTask(task.id);
  await registry.stop();
  return { statusBefore, statusAfter, result, task: stored };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
