/**
 * The example of docs/guides/stores.md: store specs, a workflow on a SQLite file whose engine
 * stops in the middle of it, and a second engine on the same file that recovers and finishes it.
 * Everything lives in a temporary folder, removed at the end.
 *
 * Run: npx tsx examples/guide-stores.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ServiceRegistry,
  createStore,
  openStore,
  type AgentBuilder,
  type StoreKind,
  type Task,
  type WorkflowStatus,
} from '../src/index.js';

export interface StoresGuideOutcome {
  /** The kind of store each spec names (building a store does no I/O). */
  kinds: Record<string, StoreKind>;
  /** What the first engine's promise rejected with when it stopped mid-run. */
  stopError: string;
  /** The tasks as the file had them after the stop, and after the second engine finished. */
  afterStop: Pick<Task, 'name' | 'status' | 'attempts'>[];
  recovered: number;
  afterRecovery: Pick<Task, 'name' | 'status' | 'attempts'>[];
  /** Error codes recorded for the task whose attempt was interrupted. */
  interruptedErrors: (string | undefined)[];
  workflowStatus: WorkflowStatus;
  completionRecords: number;
}

export async function main(log: (line: string) => void = console.log): Promise<StoresGuideOutcome> {
  // A spec names a store; createStore builds it without opening it, openStore opens it too.
  const specs = [':memory:', 'runs/symphony.db', 'postgres://app@db.internal:5432/app?schema=symphony'];
  const kinds = Object.fromEntries(specs.map((spec) => [spec, createStore(spec).kind]));
  log(`Store kinds: ${JSON.stringify(kinds)}`);

  const dir = mkdtempSync(join(tmpdir(), 'symphony-guide-'));
  const path = join(dir, 'symphony.db');
  const summary = (tasks: Task[]) => tasks.map(({ name, status, attempts }) => ({ name, status, attempts }));
  try {
    // First engine, on the SQLite file. Its agent finishes one task, then hangs on the next.
    const first = new ServiceRegistry({ store: path });
    let begun!: () => void;
    const secondAttemptBegun = new Promise<void>((resolve) => (begun = resolve));
    let calls = 0;
    const stalling: AgentBuilder = () => ({
      execute: (task, context) => {
        calls += 1;
        if (calls === 1) return Promise.resolve({ summary: `summary of ${task.name}` });
        begun();
        return new Promise((_, reject) =>
          context.signal.addEventListener('abort', () => reject(context.signal.reason)),
        );
      },
    });
    first.getAgentFactory().registerAgentType('summarizer', stalling);
    const config = await first
      .getAgentFactory()
      .createAgentConfig({ name: 'Summarizer', type: 'summarizer' });
    const workflow = await first.getWorkflowTracker().createWorkflow({ name: 'Reports' });
    const tasks = [];
    for (const name of ['january', 'february', 'march']) {
      tasks.push(await first.getTaskManager().createTask({ name, workflowId: workflow.id }));
    }
    const agent = await first.getAgentFactory().createAgent(config.id); // one at a time (maxConcurrency 1)
    const run = first
      .getEnhancedExecutor()
      .batchExecute(tasks.map((task) => [task.id, agent] as const))
      .then(
        () => 'none',
        (error: { code?: string }) => String(error.code),
      );
    await secondAttemptBegun; // 'january' is done, 'february' is running, 'march' waits

    // A graceful stop: running attempts get graceMs (0 here), then are aborted and recorded as
    // interrupted; waiting work stays in the file. The run's promise rejects with ENGINE_STOPPED.
    await first.stop({ graceMs: 0 });
    const stopError = await run;

    // The file is the record: read it with a store of its own.
    const store = await openStore(path);
    const afterStop = summary(await store.tasks.find({ where: { workflowId: workflow.id } }));
    await store.close();
    log(`After the stop (${stopError}): ${JSON.stringify(afterStop)}`);

    // Second engine (a restart), same file, given as a { kind } spec this time. Register the agent
    // types, then recover(): it resumes every unfinished task that has an execution plan.
    const second = new ServiceRegistry({ store: { kind: 'sqlite', path, synchronous: 'FULL' } });
    second.getAgentFactory().registerAgentType('summarizer', () => ({
      execute: async (task) => ({ summary: `summary of ${task.name}` }),
    }));
    const report = await second.recover();
    const results = await report.results;
    log(`Recovered ${report.recovered.length} task(s): ${results.map((result) => result.status).join(', ')}`);
    const afterRecovery = summary(await second.getWorkflowTracker().getWorkflowTasks(workflow.id));
    const interrupted = await second.getTaskManager().getTask(tasks[1]!.id);
    const workflowStatus = await second.getWorkflowTracker().getWorkflowStatus(workflow.id);
    await second.stop();

    const check = await openStore(path);
    const completionRecords = (await check.completions()).length;
    await check.close();
    log(`Workflow ${workflowStatus}; ${completionRecords} completion record(s) in ${path}`);
    return {
      kinds,
      stopError,
      afterStop,
      recovered: report.recovered.length,
      afterRecovery,
      interruptedErrors: interrupted.errors.map((error) => error.code),
      workflowStatus,
      completionRecords,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
