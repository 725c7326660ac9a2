import type { FallbackDoors } from './fallback.js';
import { WorkflowRun, type ExecuteOne, type WorkflowRunEngine } from './workflow-run.js';
import type { ExecuteWorkflowOptions, WorkflowAgentResolver, WorkflowResult } from './workflow-options.js';

/**
 * The graph runs of one engine, by workflow id: `executeWorkflow` starts one, or joins the one under
 * way (a later call's options replace the earlier ones).
 */
export class WorkflowRuns {
  private readonly runs = new Map<string, WorkflowRun>();

  constructor(
    private readonly executeOne: ExecuteOne,
    private readonly defaultAgent: WorkflowAgentResolver,
    private readonly fallback: FallbackDoors,
  ) {}

  /** Ends the workflow's run under way here, if any: its callers get `error`. */
  abandon(workflowId: string, error: Error): void {
    this.runs.get(workflowId)?.abandon(error);
  }

  /** Runs (or joins the run of) a workflow's graph; resolves at the run's next stop. */
  async run(
    runtime: WorkflowRunEngine,
    workflowId: string,
    options: ExecuteWorkflowOptions,
  ): Promise<WorkflowResult> {
    // Before the workflow is loaded: loading it may decide nodes whose functions these are.
    runtime.graphs.provide(workflowId, {
      conditions: options.conditions ?? {},
      lists: options.forEach ?? {},
      untils: options.until ?? {},
    });
    const entry = await runtime.workflows.get(workflowId);
    const current = this.runs.get(workflowId);
    if (current && !current.ended) {
      current.configure(options);
      return current.wait();
    }
    // Made before the next await: the run keeps the workflow loaded.
    const run: WorkflowRun = new WorkflowRun(
      runtime,
      entry,
      options,
      this.executeOne,
      this.defaultAgent,
      this.fallback,
      () => {
        if (this.runs.get(workflowId) === run) this.runs.delete(workflowId);
      },
      (childId, childOptions) => this.run(runtime, childId, childOptions),
    );
    this.runs.set(workflowId, run);
    try {
      if (!entry.graph) {
        // A workflow without a graph yet: its tasks become nodes with no dependencies.
        await runtime.committer.settle();
        const tasks = await runtime.store.tasks.find({ where: { workflowId } });
        runtime.workflows.addNodes(
          entry,
          tasks.map((task) => runtime.executionOf(task.id)?.task ?? task),
        );
      }
      run.configure(options);
    } catch (error) {
      run.end();
      throw error;
    }
    run.seed();
    runtime.graphs.armWaits(entry);
    return run.wait();
  }
}
