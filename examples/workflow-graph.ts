/**
 * docs/workflows.md's example: a research pipeline as a workflow graph. Two documents are summarised
 * in parallel once they are fetched; a review reads both summaries; a conditional branch escalates
 * (only when the review flags a risk, a CEL condition) and another publishes (only when it does not,
 * a function condition). The branch not taken ends SKIPPED, and so does everything after it.
 *
 * Run: npx tsx examples/workflow-graph.ts
 */
import { ServiceRegistry, type Agent, type Task, type WorkflowResult } from '../src/index.js';

export interface GraphOutcome {
  result: WorkflowResult;
  /** Each task's final status, by name. */
  statuses: Record<string, Task['status']>;
  /** The names of the tasks in the order their agents ran. */
  ran: string[];
  /** What the review saw in `context.dependencies`. */
  reviewSaw: Record<string, unknown>;
}

export async function main(
  log: (line: string) => void = console.log,
  flagRisk = false,
): Promise<GraphOutcome> {
  const registry = new ServiceRegistry({ store: ':memory:' });
  const taskManager = registry.getTaskManager();
  const workflowTracker = registry.getWorkflowTracker();
  const executor = registry.getEnhancedExecutor();

  const ran: string[] = [];
  let reviewSaw: Record<string, unknown> = {};
  // One agent for every step here; each step's output depends on its name and its dependencies.
  const agent: Agent = {
    id: 'researcher',
    async execute(task, context) {
      ran.push(task.name);
      switch (task.name) {
        case 'fetch':
          return { documents: ['paper-a', 'paper-b'] };
        case 'summarise A':
        case 'summarise B':
          return { summary: `${task.name.slice(-1)}: ${String(task.inputData.topic)} works` };
        case 'review':
          reviewSaw = { ...context.dependencies };
          return { risk: flagRisk, score: 0.8 };
        default:
          return { done: task.name };
      }
    },
  };

  const workflow = await workflowTracker.createWorkflow({ name: 'Research pipeline' });
  const add = async (name: string, options: Parameters<typeof workflowTracker.addTaskToWorkflow>[2] = {}) => {
    const task = await taskManager.createTask({ name, inputData: { topic: 'graph engines' } });
    await workflowTracker.addTaskToWorkflow(workflow.id, task.id, options);
    return task.id;
  };
  const fetch = await add('fetch', { key: 'fetch' });
  const a = await add('summarise A', { dependsOn: [fetch], key: 'a' });
  const b = await add('summarise B', { dependsOn: [fetch], key: 'b' });
  const review = await add('review', { dependsOn: [a, b], key: 'review' });
  const escalate = await add('escalate', { dependsOn: [review], when: 'outputs.review.risk == true' });
  await add('notify legal', { dependsOn: [escalate] });
  await add('publish', {
    dependsOn: [review],
    when: (dependencies) => (dependencies.review as { risk: boolean }).risk === false,
  });

  const result = await executor.executeWorkflow(workflow.id, { agent, maxConcurrent: 2 });
  const tasks = await workflowTracker.getWorkflowTasks(workflow.id);
  const statuses = Object.fromEntries(tasks.map((task) => [task.name, task.status]));
  log(`Workflow ${result.status}: ran ${ran.join(', ')}`);
  for (const task of tasks) log(`  ${task.name.padEnd(12)} ${task.status}`);
  await registry.stop();
  return { result, statuses, ran, reviewSaw };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
