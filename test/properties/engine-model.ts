import type { TaskStatus, WorkflowStatus } from '../../machines/status.js';
import { workflowStatusOracle } from './workflow-status-oracle.js';

/**
 * A reference model of the whole engine for test/properties/engine-model.test.ts, written from
 * docs/status-rules.md, docs/api.md and docs/persistence.md (retries, timeouts, pause, cancel,
 * retryTask, stop and recover): per task its status, attempts, interruptions and the execution in
 * progress (waiting, running or backing off), per workflow its two flags. Time is the simulated
 * clock's; the model fires timers as `advance` from the test kit does.
 */

/** What one attempt of the scripted agent does. */
export type Behaviour = 'succeed' | 'fail' | 'fatal' | 'hang' | 'hold';

/** The execute options of one execution (jitter is 0: `random` is fixed at 0.5 as well). */
export interface Plan {
  maxAttempts: number;
  initialDelayMs: number;
  backoffFactor: number;
  maxInterruptions: number;
  /** 0: no limit. */
  timeoutMs: number;
}

export const MAX_DELAY_MS = 30_000;

interface ExecModel {
  plan: Plan;
  /** Attempts allowed in all: the task's attempts when executeTask was called plus maxAttempts. */
  limit: number;
  /** waiting: queued or held (task or workflow paused); running: an attempt in flight. */
  phase: 'waiting' | 'running' | 'backoff';
  /** The armed timer: a backoff's due time, or a running attempt's deadline. */
  due: number | null;
  /** What the running attempt does (hang or hold; the others settle at once). */
  behaviour: Behaviour | null;
}

export interface TaskModel {
  workflow: number | null;
  status: TaskStatus;
  attempts: number;
  /** Stored ATTEMPT_INTERRUPTED errors (TOO_MANY_INTERRUPTIONS ones do not count). */
  interruptions: number;
  exec: ExecModel | null;
  /** The attempt whose output the task holds, once COMPLETED. */
  completedAttempt: number | null;
}

export interface WorkflowModel {
  paused: boolean;
  cancelled: boolean;
}

/** What a steering call should do in the model's current state. */
export type Expectation = 'ok' | 'invalid' | 'either';

const TERMINAL: readonly TaskStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

export function retryDelayOf(plan: Plan, failedAttempt: number): number {
  return Math.min(MAX_DELAY_MS, plan.initialDelayMs * plan.backoffFactor ** (failedAttempt - 1));
}

export class EngineModel {
  now = 0;
  readonly tasks: TaskModel[] = [];
  readonly workflows: WorkflowModel[];
  /** Behaviour by task index and attempt number; an attempt without a script succeeds. */
  private readonly script = new Map<string, Behaviour>();

  constructor(workflows: number) {
    this.workflows = Array.from({ length: workflows }, () => ({ paused: false, cancelled: false }));
  }

  toString(): string {
    return JSON.stringify({ now: this.now, tasks: this.tasks, workflows: this.workflows });
  }

  behaviourOf(task: number, attempt: number): Behaviour {
    return this.script.get(`${task}#${attempt}`) ?? 'succeed';
  }

  // ------------------------------------------------------------------------------------------
  // Reading
  // ------------------------------------------------------------------------------------------

  workflowStatus(index: number): WorkflowStatus {
    const flags = this.workflows[index]!;
    const mine = this.tasks.filter((task) => task.workflow === index);
    // `started` (status-rules.md): some task went RUNNING, COMPLETED or FAILED; a task counts an
    // attempt exactly when it goes RUNNING, so that is "some task has attempts".
    const started = mine.some((task) => task.attempts > 0);
    return workflowStatusOracle(
      mine.map((task) => task.status),
      { started, paused: flags.paused, cancelled: flags.cancelled },
    ).status;
  }

  /** Tasks running an attempt that only the test settles. */
  heldAttempts(): number[] {
    return this.tasks.flatMap((task, index) =>
      task.exec?.phase === 'running' && task.exec.behaviour === 'hold' ? [index] : [],
    );
  }

  // ------------------------------------------------------------------------------------------
  // Calls: each returns what the engine should answer; `apply*` changes the model
  // ------------------------------------------------------------------------------------------

  expectCreate(workflow: number | null): Expectation {
    // status-rules.md ("Cancel"): a cancelled workflow takes no new task.
    return workflow !== null && this.workflows[workflow]!.cancelled ? 'invalid' : 'ok';
  }

  create(workflow: number | null): void {
    this.tasks.push({
      workflow,
      status: 'PENDING',
      attempts: 0,
      interruptions: 0,
      exec: null,
      completedAttempt: null,
    });
  }

  /** executeTask, naming workflow `join` (null: the task's own). */
  expectExecute(index: number, join: number | null): Expectation | 'wrong-workflow' {
    const task = this.tasks[index]!;
    if (task.exec !== null) return 'invalid'; // already being executed
    if (task.status !== 'PENDING' && task.status !== 'PAUSED') return 'invalid';
    // api.md: "workflowId, when given, must be the task's workflow or the task must have none".
    if (join !== null && task.workflow !== null && join !== task.workflow) return 'wrong-workflow';
    const workflow = join ?? task.workflow;
    if (workflow !== null && this.workflows[workflow]!.cancelled) return 'invalid';
    return 'ok';
  }

  applyExecute(
    index: number,
    plan: Plan,
    behaviours: readonly Behaviour[],
    join: number | null = null,
  ): void {
    const task = this.tasks[index]!;
    task.workflow = join ?? task.workflow; // a standalone task joins the workflow named
    behaviours.forEach((behaviour, i) => this.script.set(`${index}#${task.attempts + 1 + i}`, behaviour));
    task.exec = {
      plan,
      limit: task.attempts + plan.maxAttempts,
      phase: 'waiting',
      due: null,
      behaviour: null,
    };
    this.settle();
  }

  expectTask(index: number, op: 'pause' | 'resume' | 'cancel' | 'retry'): Expectation {
    const task = this.tasks[index]!;
    switch (op) {
      case 'pause':
        return task.status === 'PENDING' ? 'ok' : 'invalid';
      case 'resume':
        return task.status === 'PAUSED' ? 'ok' : 'invalid';
      case 'cancel':
        return TERMINAL.includes(task.status) ? 'invalid' : 'ok';
      case 'retry': {
        const workflowCancelled = task.workflow !== null && this.workflows[task.workflow]!.cancelled;
        if (task.status === 'FAILED') return workflowCancelled ? 'invalid' : 'ok';
        // The task machine's RETRY: a CANCELLED task gets a new run too.
        if (task.status === 'CANCELLED') return workflowCancelled ? 'invalid' : 'ok';
        return 'invalid';
      }
    }
  }

  applyTask(index: number, op: 'pause' | 'resume' | 'cancel' | 'retry'): void {
    const task = this.tasks[index]!;
    switch (op) {
      case 'pause':
        // A waiting retry's delay is dropped; the execution is held until resumeTask.
        task.status = 'PAUSED';
        if (task.exec) Object.assign(task.exec, { phase: 'waiting', due: null });
        break;
      case 'resume':
        // The held execution is queued again at once, even if it had been waiting for a retry.
        task.status = 'PENDING';
        break;
      case 'cancel':
        task.status = 'CANCELLED';
        task.exec = null;
        break;
      case 'retry':
        // A new run: attempts and errors kept, no execution until executeTask.
        task.status = 'PENDING';
        task.exec = null;
        break;
    }
    this.settle();
  }

  expectWorkflow(index: number, op: 'pause' | 'resume' | 'cancel'): Expectation {
    const flags = this.workflows[index]!;
    if (op !== 'pause') return 'ok';
    if (flags.cancelled) return 'invalid';
    const status = this.workflowStatus(index);
    if (status === 'COMPLETED') return 'invalid';
    // status-rules.md: the machine refuses PAUSE for a COMPLETED or cancelled workflow only; one
    // CANCELLED by rule 6 (its tasks all COMPLETED or CANCELLED, never cancelled itself) may be paused.
    return 'ok';
  }

  applyWorkflow(index: number, op: 'pause' | 'resume' | 'cancel'): void {
    const flags = this.workflows[index]!;
    if (op === 'pause') flags.paused = true;
    if (op === 'resume') flags.paused = false;
    if (op === 'cancel') {
      flags.cancelled = true;
      flags.paused = false;
      for (const task of this.tasks) {
        if (task.workflow !== index || TERMINAL.includes(task.status)) continue;
        task.status = 'CANCELLED';
        task.exec = null;
      }
    }
    this.settle();
  }

  /** The agent settles the held attempt of a task. */
  applySettle(index: number, outcome: 'succeed' | 'fail' | 'fatal'): void {
    this.finishAttempt(index, outcome);
    this.settle();
  }

  // ------------------------------------------------------------------------------------------
  // Time and engines
  // ------------------------------------------------------------------------------------------

  /**
   * As `advance(clock, ms)`: timers due before the end fire one time at a time (what they arm
   * fires too if due in the window); at the end time the timers armed by then fire, and what those
   * arm waits for the next advance.
   */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const due = this.nextDue();
      if (due === undefined || due >= target) break;
      this.now = Math.max(due, this.now);
      this.fire(this.dueTasks());
      this.settle();
    }
    this.now = target;
    this.fire(this.dueTasks());
    this.settle();
  }

  /**
   * The engine goes away and a new one on the same store recovers, `jump` ms later (past every
   * lease). `kill`: dropped without a word, its running attempts stay RUNNING in the store and the
   * new engine counts them interrupted. `stop`: stop({ graceMs: 0 }) records them interrupted,
   * the task back to PENDING at once (or FAILED), before the new engine recovers.
   */
  crash(kind: 'kill' | 'stop', jump: number): void {
    if (kind === 'stop') {
      for (const task of this.tasks) {
        if (task.exec?.phase === 'running') this.fail(task, true, true, 0);
      }
    }
    this.now += jump;
    for (const task of this.tasks) {
      const exec = task.exec;
      if (!exec) continue;
      if (exec.phase === 'running') this.fail(task, true, true);
      else if (exec.phase === 'backoff' && exec.due! <= this.now)
        Object.assign(exec, { phase: 'waiting', due: null });
    }
    this.settle();
  }

  // ------------------------------------------------------------------------------------------
  // Internals
  // ------------------------------------------------------------------------------------------

  private nextDue(): number | undefined {
    let earliest: number | undefined;
    for (const task of this.tasks) {
      const due = task.exec?.due;
      if (due !== null && due !== undefined && (earliest === undefined || due < earliest)) earliest = due;
    }
    return earliest;
  }

  private dueTasks(): number[] {
    return this.tasks.flatMap((task, index) =>
      task.exec?.due !== null && task.exec?.due !== undefined && task.exec.due <= this.now ? [index] : [],
    );
  }

  private fire(indices: readonly number[]): void {
    for (const index of indices) {
      const task = this.tasks[index]!;
      const exec = task.exec!;
      if (exec.phase === 'running')
        this.fail(task, true); // EXECUTION_TIMEOUT is retryable
      else Object.assign(exec, { phase: 'waiting', due: null });
    }
  }

  /** Starts every execution that may start: its task PENDING, its workflow not paused. */
  private settle(): void {
    for (let changed = true; changed;) {
      changed = false;
      this.tasks.forEach((task, index) => {
        if (task.exec?.phase !== 'waiting' || task.status !== 'PENDING') return;
        if (task.workflow !== null && this.workflows[task.workflow]!.paused) return;
        changed = true;
        task.attempts += 1;
        task.status = 'RUNNING';
        const behaviour = this.behaviourOf(index, task.attempts);
        if (behaviour === 'hang' || behaviour === 'hold') {
          const timeout = task.exec.plan.timeoutMs;
          Object.assign(task.exec, {
            phase: 'running',
            behaviour,
            due: timeout > 0 ? this.now + timeout : null,
          });
        } else {
          task.exec.phase = 'running';
          this.finishAttempt(index, behaviour);
        }
      });
    }
  }

  private finishAttempt(index: number, outcome: 'succeed' | 'fail' | 'fatal'): void {
    const task = this.tasks[index]!;
    if (outcome === 'succeed') {
      task.status = 'COMPLETED';
      task.completedAttempt = task.attempts;
      task.exec = null;
    } else {
      this.fail(task, outcome === 'fail');
    }
  }

  /**
   * A failed attempt through the task machine: a retry if retryable with attempts left (and, for
   * an interrupted one, fewer interruptions so far than allowed), else FAILED.
   */
  private fail(task: TaskModel, retryable: boolean, interrupted = false, delay?: number): void {
    const exec = task.exec!;
    let retry = retryable && task.attempts < exec.limit;
    if (interrupted) {
      if (task.interruptions >= exec.plan.maxInterruptions) retry = false;
      else task.interruptions += 1;
    }
    if (retry) {
      task.status = 'PENDING';
      Object.assign(exec, {
        phase: 'backoff',
        behaviour: null,
        due: this.now + (delay ?? retryDelayOf(exec.plan, task.attempts)),
      });
    } else {
      task.status = 'FAILED';
      task.exec = null;
    }
  }
}
