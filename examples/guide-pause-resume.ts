/**
 * The example of docs/guides/pause-resume.md. In one process: pause and resume a workflow, pause
 * and resume one task, cancel a running task. Across processes: two engines on one SQLite file
 * (standing for two processes) where one runs a workflow and the other pauses, resumes and
 * cancels it through the store.
 *
 * Run: npx tsx examples/guide-pause-resume.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceRegistry, type ExecutionResult, type TaskStatus, type WorkflowStatus } from '../src/index.js';
import { flushEngine, manualAgent } from '../src/testing/index.js';

export interface PauseResumeGuideOutcome {
  local: {
    /** Attempts the agent had started at each step. */
    callsWhilePaused: number;
    callsAfterResume: number;
    callsWhileTaskPaused: number;
    callsAfterTaskResume: number;
    statusWhilePaused: WorkflowStatus;
    statusWhileTaskPaused: WorkflowStatus;
    pausedTaskStatus: TaskStatus;
    cancelledAttemptAborted: boolean;
    results: ExecutionResult[];
    finalStatus: WorkflowStatus;
  };
  crossProcess: {
    /** What the other engine's pauseWorkflow returned, and what the running engine then had. */
    pausedByOther: WorkflowStatus;
    seenByRunner: WorkflowStatus;
    callsWhilePaused: number;
    callsAfterResume: number;
    cancelledByOther: WorkflowStatus;
    runningAttemptAborted: boolean;
    results: ExecutionResult[];
  };
}

async function inOneProcess(log: (line: string) => void): Promise<PauseResumeGuideOutcome['local']> {
  const registry = new ServiceRegistry({ store: ':memory:' });
  const tracker = registry.getWorkflowTracker();
  const taskManager = registry.getTaskManager();
  // A test-kit agent whose calls wait until we settle them; one call at a time.
  const agent = manualAgent('writer', { maxConcurrency: 1 });

  const workflow = await tracker.createWorkflow({ name: 'Newsletter' });
  const tasks = await Promise.all(
    ['intro', 'body', 'outro'].map((name) => taskManager.createTask({ name, workflowId: workflow.id })),
  );
  const running = registry.getEnhancedExecutor().batchExecute(
    tasks.map((task) => [task.id, agent] as const),
    { workflowId: workflow.id },
  );
  await flushEngine(); // 'intro' is running

  // pauseWorkflow: the running attempt finishes, nothing new starts.
  const statusWhilePaused = (await tracker.pauseWorkflow(workflow.id)).status;
  agent.resolveNext({ text: 'intro' });
  await flushEngine();
  const callsWhilePaused = agent.calls.length;
  log(`Workflow ${statusWhilePaused}: ${callsWhilePaused} attempt(s) started`);
  await tracker.resumeWorkflow(workflow.id);
  await flushEngine(); // 'body' starts
  const callsAfterResume = agent.calls.length;

  // pauseTask holds one waiting task; the workflow itself keeps running.
  const pausedTaskStatus = (await taskManager.pauseTask(tasks[2]!.id)).status;
  agent.resolveNext({ text: 'body' });
  await flushEngine();
  const callsWhileTaskPaused = agent.calls.length;
  const statusWhileTaskPaused = await tracker.getWorkflowStatus(workflow.id);
  log(`Task 'outro' ${pausedTaskStatus}, workflow ${statusWhileTaskPaused}: ${callsWhileTaskPaused} started`);
  await taskManager.resumeTask(tasks[2]!.id);
  await flushEngine(); // 'outro' starts
  const callsAfterTaskResume = agent.calls.length;

  // cancelTask on a running task aborts its attempt's signal; its result is CANCELLED.
  await taskManager.cancelTask(tasks[2]!.id);
  const cancelledAttemptAborted = agent.calls[2]!.context.signal.aborted;
  const results = await running;
  const finalStatus = await tracker.getWorkflowStatus(workflow.id);
  log(`Results: ${results.map((result) => result.status).join(', ')}; workflow ${finalStatus}`);
  await registry.stop();
  return {
    callsWhilePaused,
    callsAfterResume,
    callsWhileTaskPaused,
    callsAfterTaskResume,
    statusWhilePaused,
    statusWhileTaskPaused,
    pausedTaskStatus,
    cancelledAttemptAborted,
    results,
    finalStatus,
  };
}

async function acrossProcesses(
  log: (line: string) => void,
): Promise<PauseResumeGuideOutcome['crossProcess']> {
  const dir = mkdtempSync(join(tmpdir(), 'symphony-guide-'));
  const path = join(dir, 'runs.db');
  // Two engines on one SQLite file, as two processes would be. Each beats on the store and reads
  // the control commands every `controlPollMs` (default 500 ms; 10 ms here to be quick).
  const runner = new ServiceRegistry({ store: path, controlPollMs: 10 });
  const other = new ServiceRegistry({ store: path, controlPollMs: 10 });
  try {
    await runner.start();
    await other.start();
    const agent = manualAgent('translator', { maxConcurrency: 1 });
    const workflow = await runner.getWorkflowTracker().createWorkflow({ name: 'Translations' });
    const tasks = await Promise.all(
      ['page 1', 'page 2', 'page 3'].map((name) =>
        runner.getTaskManager().createTask({ name, workflowId: workflow.id }),
      ),
    );
    const running = runner.getEnhancedExecutor().batchExecute(
      tasks.map((task) => [task.id, agent] as const),
      { workflowId: workflow.id },
    );
    await flushEngine(); // 'page 1' is running in the runner

    // The other engine writes a PAUSE command; the runner applies it at its next poll and
    // acknowledges it; pauseWorkflow returns the workflow as the runner left it.
    const othersTracker = other.getWorkflowTracker();
    const pausedByOther = (await othersTracker.pauseWorkflow(workflow.id)).status;
    const seenByRunner = await runner.getWorkflowTracker().getWorkflowStatus(workflow.id);
    log(`Paused from the other engine: ${pausedByOther}; the runner has ${seenByRunner}`);
    agent.resolveNext({ text: 'page 1' });
    await flushEngine();
    const callsWhilePaused = agent.calls.length;

    await othersTracker.resumeWorkflow(workflow.id);
    await flushEngine(); // 'page 2' starts in the runner
    const callsAfterResume = agent.calls.length;

    // Cancel: the runner aborts the running attempt and cancels what waits.
    const cancelledByOther = (await othersTracker.cancelWorkflow(workflow.id)).status;
    const runningAttemptAborted = agent.calls[1]!.context.signal.aborted;
    const results = await running;
    log(`Cancelled from the other engine: ${results.map((result) => result.status).join(', ')}`);
    return {
      pausedByOther,
      seenByRunner,
      callsWhilePaused,
      callsAfterResume,
      cancelledByOther,
      runningAttemptAborted,
      results,
    };
  } finally {
    await runner.stop({ graceMs: 0 });
    await other.stop({ graceMs: 0 });
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(log: (line: string) => void = console.log): Promise<PauseResumeGuideOutcome> {
  const local = await inOneProcess(log);
  const crossProcess = await acrossProcesses(log);
  return { local, crossProcess };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
