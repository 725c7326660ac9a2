/**
 * docs/workflows.md's loop and wait example: a research pipeline. Fetch a list of documents, fan out
 * one summary per document, then a review loop (one writer/reviewer agent: each iteration revises the
 * draft before it, until the reviewer approves, within maxIterations), an escalation branch that runs
 * only when the review flags a risk, and a human approval: a wait for the signal `approval`, which
 * this example sends itself with `registry.signal` once it sees the wait under way. Publishing runs
 * only if the approval says so.
 *
 * Run: npx tsx examples/research-pipeline.ts
 */
import { MemoryStore, ServiceRegistry, type Agent, type Task, type WorkflowResult } from '../src/index.js';
import { nextTurn } from '../src/testing/index.js';

export interface PipelineOutcome {
  result: WorkflowResult;
  /** Each task's final status, by name (fan-out items and loop iterations included). */
  statuses: Record<string, Task['status']>;
  /** The review loop's iterations, oldest first: name and output. */
  iterations: Array<{ name: string; output: unknown }>;
  /** The review loop's own task: its output is the approved iteration's. */
  review: Task;
  /** The approval wait's task: completed unrun, its output `{ signal, payload, sentAt }`. */
  approval: Task;
  /** Which task took the signal (from the store's signal log). */
  signalTakenBy: string | null;
}

interface Draft {
  version: number;
  text: string;
  approved: boolean;
  risk: boolean;
  notes: string;
}

/** The reviewer approves the third draft; every earlier one gets a note to work on. */
const NOTES = ['cite the sources', 'shorten the conclusion'];

export async function main(
  log: (line: string) => void = console.log,
  flagRisk = false,
): Promise<PipelineOutcome> {
  const store = new MemoryStore();
  const registry = new ServiceRegistry({ store });
  const taskManager = registry.getTaskManager();
  const workflowTracker = registry.getWorkflowTracker();
  const executor = registry.getEnhancedExecutor();

  // One agent for every step; a loop iteration finds `iteration` and `previous` in its inputData.
  const agent: Agent = {
    id: 'researcher',
    async execute(task, context) {
      switch (task.inputData.step) {
        case 'fetch':
          log(`fetch: ${(task.inputData.documents as string[]).join(', ')}`);
          return { documents: task.inputData.documents };
        case 'summarise':
          log(`${task.name}: ${String(task.inputData.item)}`);
          return { document: task.inputData.item, summary: `${String(task.inputData.item)} in brief` };
        case 'review': {
          const previous = task.inputData.previous as Draft | null;
          const summaries = context.dependencies.summaries as Array<{ summary: string }>;
          const version = (previous?.version ?? 0) + 1;
          const draft: Draft = {
            version,
            text: `Digest v${version}: ${summaries.map((s) => s.summary).join('; ')}`,
            approved: version > NOTES.length,
            risk: flagRisk,
            notes: NOTES[version - 1] ?? 'approved',
          };
          log(`${task.name}: draft ${version}, ${draft.approved ? 'approved' : `asks to ${draft.notes}`}`);
          return draft;
        }
        case 'escalate':
          log('escalate: the review flagged a risk, legal is told');
          return { escalatedTo: 'legal' };
        case 'publish': {
          const { review, approval } = context.dependencies as {
            review: Draft;
            approval: { payload: { by: string } };
          };
          log(`publish: draft ${review.version}, approved by ${approval.payload.by}`);
          return { published: review.version };
        }
        default:
          throw new Error(`No step ${String(task.inputData.step)}`);
      }
    },
  };

  const workflow = await workflowTracker.createWorkflow({ name: 'Research pipeline with review' });
  const make = (step: string, input: Record<string, unknown> = {}) =>
    taskManager.createTask({ name: step, inputData: { step, ...input } });
  const fetch = await make('fetch', { documents: ['paper-a', 'paper-b', 'paper-c'] });
  const summarise = await make('summarise');
  const review = await make('review');
  const escalate = await make('escalate');
  const approval = await make('approval');
  const publish = await make('publish');
  await workflowTracker.addTasksToWorkflow(workflow.id, [
    { taskId: fetch.id, key: 'fetch' },
    { taskId: summarise.id, key: 'summaries', dependsOn: [fetch.id], forEach: 'outputs.fetch.documents' },
    {
      taskId: review.id,
      key: 'review',
      dependsOn: [summarise.id],
      loop: { until: 'outputs.review.approved == true', maxIterations: 4 },
    },
    { taskId: escalate.id, dependsOn: [review.id], when: 'outputs.review.risk == true' },
    {
      taskId: approval.id,
      key: 'approval',
      dependsOn: [review.id],
      waitFor: { signals: 'approval', timeoutMs: 24 * 60 * 60 * 1000 },
    },
    {
      taskId: publish.id,
      dependsOn: [review.id, approval.id],
      when: 'outputs.approval.payload.approved == true',
    },
  ]);

  const run = executor.executeWorkflow(workflow.id, { agent, maxConcurrent: 3 });

  // The wait has begun once its due time is stored (runAfter): then the human answers. Polled turn by
  // turn of the event loop, never by sleeping; a signal sent earlier would be kept for it anyway.
  for (let turn = 0; ; turn += 1) {
    const waiting = await taskManager.getTask(approval.id);
    if (waiting.status === 'PENDING' && waiting.runAfter !== null) break;
    if (waiting.status !== 'PENDING' || turn === 10_000) {
      throw new Error(`The approval wait did not begin (${waiting.status})`);
    }
    await nextTurn();
  }
  log('approval: waiting for the signal "approval"');
  const signal = await registry.signal(workflow.id, 'approval', { approved: true, by: 'editor' });
  log(`approval: signal sent, ${JSON.stringify(signal.payload)}`);

  const result = await run;
  const tasks = await workflowTracker.getWorkflowTasks(workflow.id);
  const reviewTask = await taskManager.getTask(review.id);
  const iterations = await Promise.all(
    (reviewTask.graph?.children ?? []).map((id) => taskManager.getTask(id)),
  );
  const [taken] = await store.signals(workflow.id);
  log(`Workflow ${result.status}`);
  for (const task of tasks) log(`  ${task.name.padEnd(24)} ${task.status}`);
  const outcome: PipelineOutcome = {
    result,
    statuses: Object.fromEntries(tasks.map((task) => [task.name, task.status])),
    iterations: iterations.map((task) => ({ name: task.name, output: task.outputData })),
    review: reviewTask,
    approval: await taskManager.getTask(approval.id),
    signalTakenBy: taken?.takenBy ?? null,
  };
  await registry.stop();
  return outcome;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
