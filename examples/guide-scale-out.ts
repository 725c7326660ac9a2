/**
 * The example of docs/scale-out.md: one engine submits a workflow (its tasks left to workers), two
 * worker engines on the same store share its tasks, and the workflow ends COMPLETED. Here the store
 * is a SQLite file in a temporary folder (several processes on one machine); on PostgreSQL the same
 * code runs workers on many machines.
 *
 * Run: npx tsx examples/guide-scale-out.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceRegistry, type AgentBuilder, type WorkflowStatus } from '../src/index.js';

export interface ScaleOutGuideOutcome {
  workflowStatus: WorkflowStatus;
  /** How many tasks each worker ran (by engine id). */
  ranBy: Record<string, number>;
  completedTasks: number;
}

const DOCUMENTS = 12;

export async function main(log: (line: string) => void = console.log): Promise<ScaleOutGuideOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'symphony-scale-out-'));
  const store = join(dir, 'symphony.db');
  try {
    // The submitter: stores an agent config, a workflow and its tasks, and leaves them to workers.
    // A stored config's maxConcurrency holds across workers: 8 lets each of the two run 4 at once
    // (with 4, the first worker to claim would fill it and run every task).
    const submitter = new ServiceRegistry({ store });
    const summarizer = await submitter
      .getAgentFactory()
      .createAgentConfig({ name: 'Summarizer', type: 'summarizer', maxConcurrency: 8 });
    const tracker = submitter.getWorkflowTracker();
    const workflow = await tracker.createWorkflow({ name: 'Summaries' });
    for (let i = 1; i <= DOCUMENTS; i += 1) {
      const task = await submitter.getTaskManager().createTask({ name: `document ${i}` });
      await tracker.addTaskToWorkflow(workflow.id, task.id);
    }
    const queued = await submitter
      .getEnhancedExecutor()
      .enqueueWorkflow(workflow.id, { agentKey: summarizer.id, retry: { maxAttempts: 3 } });
    log(`Submitted workflow "${workflow.name}": ${queued.length} tasks left to workers`);
    await submitter.stop();

    // Two workers: each knows how to build a 'summarizer' agent and claims tasks from the store.
    const ranBy: Record<string, number> = {};
    const workers = [];
    for (const engineId of ['worker-a', 'worker-b']) {
      const registry = new ServiceRegistry({ store, engineId, maxConcurrency: 4 });
      const build: AgentBuilder = () => ({
        async execute(task) {
          ranBy[engineId] = (ranBy[engineId] ?? 0) + 1;
          await new Promise((resolve) => setTimeout(resolve, 5));
          return { summary: `summary of ${task.name}` };
        },
      });
      registry.getAgentFactory().registerAgentType('summarizer', build);
      workers.push({ registry, worker: await registry.startWorker({ pollMs: 50 }) });
    }

    // Watch the store until the workflow ends (any engine on the store can read it).
    const reader = workers[0]!.registry.getWorkflowTracker();
    const deadline = Date.now() + 60_000;
    let status = await reader.getWorkflowStatus(workflow.id);
    while (!['COMPLETED', 'FAILED', 'CANCELLED'].includes(status) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      status = await reader.getWorkflowStatus(workflow.id);
    }
    const completedTasks = await workers[0]!.registry
      .getRepository('tasks')
      .count({ workflowId: workflow.id, status: 'COMPLETED' });
    for (const { worker } of workers) await worker.stop({ graceMs: 5_000 });
    log(`Workflow ${status}; tasks run per worker: ${JSON.stringify(ranBy)}`);
    return { workflowStatus: status, ranBy, completedTasks };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
