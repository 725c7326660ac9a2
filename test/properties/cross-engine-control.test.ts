import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServiceRegistry, type ExecutionResult, type Workflow } from '../../src/index.js';
import { flushEngine, manualAgent, type ManualAgent } from '../../src/testing/index.js';
import { stepUntil } from '../support/wait.js';

/**
 * A model-based test of steering across processes: a runner engine executes a workflow one task at
 * a time while a second engine on the same SQLite file sends random pause, resume and cancel
 * commands and the agent finishes attempts. After every step the store agrees with a model of the
 * workflow, and no attempt ever starts while the workflow is paused or cancelled. The engines poll
 * every 5 ms of real time; every step waits for an outcome, never for a fixed time.
 */
interface Model {
  paused: boolean;
  cancelled: boolean;
  /** Tasks the model knows completed. */
  completed: number;
  tasks: number;
}

interface Real {
  runner: ServiceRegistry;
  steerer: ServiceRegistry;
  agent: ManualAgent;
  workflowId: string;
}

type Step = fc.AsyncCommand<Model, Real>;

async function workflowOf(real: Real): Promise<Workflow> {
  return real.steerer.getWorkflowTracker().getWorkflow(real.workflowId);
}

/** Lets the runner dispatch what it may: a few turns of its loop. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i += 1) await flushEngine();
}

/** Turns of the event loop until `done()` (a loaded machine may need many), bounded by wall time. */
async function until(done: () => boolean): Promise<boolean> {
  await stepUntil('the engines to get there', () => flushEngine(1), done).catch(() => {});
  return done();
}

class Pause implements Step {
  check = (m: Readonly<Model>) => !m.cancelled && m.completed < m.tasks;
  async run(m: Model, r: Real): Promise<void> {
    const calls = r.agent.calls.length;
    const workflow = await r.steerer.getWorkflowTracker().pauseWorkflow(r.workflowId);
    m.paused = true;
    expect(workflow.paused).toBe(true);
    await settle();
    // A running attempt may finish, but none starts.
    expect(r.agent.calls.length).toBeLessThanOrEqual(calls);
  }
  toString = () => 'pause';
}

class Resume implements Step {
  check = (m: Readonly<Model>) => m.paused;
  async run(m: Model, r: Real): Promise<void> {
    const workflow = await r.steerer.getWorkflowTracker().resumeWorkflow(r.workflowId);
    m.paused = false;
    expect(workflow.paused).toBe(false);
    await settle();
  }
  toString = () => 'resume';
}

class Cancel implements Step {
  check = (m: Readonly<Model>) => !m.cancelled && m.completed < m.tasks;
  async run(m: Model, r: Real): Promise<void> {
    const workflow = await r.steerer.getWorkflowTracker().cancelWorkflow(r.workflowId);
    m.cancelled = true;
    m.paused = false; // cancelling clears a pause (workflow machine)
    expect(workflow.cancelled).toBe(true);
    expect(workflow.paused).toBe(false);
    await settle();
    expect(r.agent.waiting).toHaveLength(0);
  }
  toString = () => 'cancel';
}

class Finish implements Step {
  check = (m: Readonly<Model>) => !m.cancelled && m.completed < m.tasks;
  async run(m: Model, r: Real): Promise<void> {
    // Nothing running is allowed only while paused; otherwise the runner starts the next task.
    if (m.paused && r.agent.waiting.length === 0) return;
    expect(await until(() => r.agent.waiting.length > 0)).toBe(true);
    r.agent.resolveNext({ n: m.completed });
    m.completed += 1;
    await settle();
  }
  toString = () => 'finish';
}

describe('steering a running workflow from another engine (model-based)', () => {
  it('keeps the store in step with the commands and starts nothing while paused or cancelled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-steer-'));
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 2, max: 5 }),
          fc.commands(
            [
              fc.constant(new Pause()),
              fc.constant(new Resume()),
              fc.constant(new Cancel()),
              fc.constant(new Finish()),
            ],
            { maxCommands: 10 },
          ),
          async (tasks, commands) => {
            const path = join(dir, `steer-${++run}.db`);
            const options = { store: path, controlPollMs: 5, maxConcurrency: 1 };
            const runner = new ServiceRegistry(options);
            const steerer = new ServiceRegistry(options);
            try {
              await steerer.getWorkflowTracker().listWorkflows({ limit: 1 });
              const workflow = await runner.getWorkflowTracker().createWorkflow({ name: 'steered' });
              const created = [];
              for (let n = 0; n < tasks; n += 1) {
                created.push(
                  await runner.getTaskManager().createTask({ name: `t${n}`, workflowId: workflow.id }),
                );
              }
              const agent = manualAgent('manual');
              const results: Promise<ExecutionResult[]> = runner.getEnhancedExecutor().batchExecute(
                created.map((task) => [task.id, agent] as const),
                { workflowId: workflow.id },
              );
              results.catch(() => {});
              await settle();
              const real: Real = { runner, steerer, agent, workflowId: workflow.id };
              const model: Model = { paused: false, cancelled: false, completed: 0, tasks };
              await fc.asyncModelRun(() => ({ model, real }), commands);

              const stored = await workflowOf(real);
              expect(stored.paused).toBe(model.paused);
              expect(stored.cancelled).toBe(model.cancelled);
              const rows = await steerer.getWorkflowTracker().getWorkflowTasks(workflow.id);
              const completed = rows.filter((task) => task.status === 'COMPLETED');
              expect(completed).toHaveLength(model.completed);
              if (model.cancelled) {
                expect(rows.filter((task) => task.status !== 'COMPLETED').map((task) => task.status)).toEqual(
                  Array(tasks - model.completed).fill('CANCELLED'),
                );
                expect(stored.status).toBe('CANCELLED');
              }
              // Every completion is recorded once, and every attempt started belongs to a task.
              expect(agent.calls.length).toBeGreaterThanOrEqual(model.completed);
            } finally {
              await runner.stop({ graceMs: 0 }).catch(() => {});
              await steerer.stop({ graceMs: 0 }).catch(() => {});
            }
          },
        ),
        { numRuns: 15 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
