import type { Actor } from 'xstate';
import type { agentMachine, StartingExecution } from '../../machines/agent.machine.js';
import type { RuntimeEvent } from '../../machines/engine.machine.js';
import type { AgentBatch, ExecutorMachine } from '../../machines/executor.machine.js';
import type { Execution } from './execution.js';
import { PriorityQueue } from './priority-queue.js';

export type AgentRef = Actor<typeof agentMachine>;

/** What the dispatcher needs of the engine around it. */
export interface DispatchDeps {
  /** Read for its counts; events reach it through `send`. */
  executor: Actor<ExecutorMachine>;
  /** Sends an event into the actor system (see Runtime.send). */
  send(event: RuntimeEvent): void;
  /** The agent actor of an agent key (registered before anything of it is queued). */
  agent(key: string): AgentRef;
  /** The task actor of an execution, created from its row when it has none yet. */
  taskActor(exec: Execution): NonNullable<Execution['actor']>;
  /** Executions whose task actors took START from their agent: their attempts begin. */
  started(executions: readonly Execution[]): void;
  isStopping(): boolean;
}

/**
 * The queues of executions waiting to start, one per agent key, highest priority first, and the
 * pump that moves them into free slots within the executor's and each agent's limit. The executor
 * actor is told of queue changes in batches (ENQUEUED, DEQUEUED); each pump sends one DISPATCH,
 * which the executor passes on as one RUN per agent, and each agent as START to its task actors.
 */
export class Dispatcher {
  private readonly queues = new Map<string, PriorityQueue<Execution>>();
  private readonly withWork = new Set<string>();
  /** Executions queued since the executor was last told (sent as one ENQUEUED). */
  private unannounced = 0;
  private pumpScheduled = false;
  private pumping = false;
  private repump = false;

  constructor(private readonly deps: DispatchDeps) {}

  /** Queues an execution for its agent. */
  enqueue(exec: Execution): void {
    exec.phase = 'queued';
    this.push(exec);
    this.unannounced += 1;
    this.schedulePump();
  }

  /** Tells the executor about executions queued since it last heard. */
  announce(): void {
    if (this.unannounced === 0) return;
    const count = this.unannounced;
    this.unannounced = 0;
    this.deps.send({ type: 'ENQUEUED', count });
  }

  /**
   * Takes a queued execution out of the count of queued work (it is paused, cancelled or let go;
   * the pump skips it in its queue). Any other phase is not counted as queued.
   */
  unqueue(exec: Execution): void {
    this.announce();
    if (exec.phase === 'queued') this.deps.send({ type: 'DEQUEUED', count: 1 });
  }

  /** Puts executions an agent refused back at the head of their queues, still counted as queued. */
  requeue(executions: readonly Execution[]): void {
    // Refused during a dispatch: the executor's pump then finds the dispatch still running.
    if (this.pumping) this.repump = true;
    for (const exec of executions) {
      this.push(exec);
      exec.phase = 'queued';
    }
    if (executions.length === 0) return;
    this.deps.send({ type: 'SETTLED', count: executions.length, agents: [] });
    this.deps.send({ type: 'ENQUEUED', count: executions.length });
  }

  schedulePump(): void {
    if (this.pumpScheduled || this.pumping) return;
    this.pumpScheduled = true;
    queueMicrotask(() => this.pump());
  }

  private push(exec: Execution): void {
    let queue = this.queues.get(exec.agentKey);
    if (!queue) {
      queue = new PriorityQueue<Execution>();
      this.queues.set(exec.agentKey, queue);
    }
    queue.push(exec, exec.priority);
    this.withWork.add(exec.agentKey);
  }

  /** Moves queued executions into free slots, within the global and each agent's limit. */
  private pump(): void {
    this.pumpScheduled = false;
    this.pumping = true;
    try {
      this.announce();
      this.dispatch();
    } finally {
      this.pumping = false;
      if (this.repump) {
        this.repump = false;
        this.schedulePump();
      }
    }
  }

  private dispatch(): void {
    const { executor } = this.deps;
    const snapshot = executor.getSnapshot();
    if (snapshot.status !== 'active' || this.deps.isStopping()) return;
    let free = snapshot.context.maxConcurrency - snapshot.context.inFlight;
    let paused = 0;
    const runs: AgentBatch<StartingExecution>[] = [];
    const dispatched: Execution[] = [];
    const served: string[] = [];
    for (const key of this.withWork) {
      if (free <= 0) break;
      const queue = this.queues.get(key)!;
      const agent = this.deps.agent(key);
      const { maxConcurrency, inFlight } = agent.getSnapshot().context;
      let room = maxConcurrency - inFlight;
      const batch: StartingExecution[] = [];
      while (room > 0 && free > 0 && queue.size > 0) {
        const exec = queue.shift()!;
        if (exec.phase !== 'queued') continue;
        // The task machine decides: one held by its paused workflow waits in PENDING.held.
        exec.actor ??= this.deps.taskActor(exec);
        if (!exec.actor.getSnapshot().hasTag('startable')) {
          exec.phase = 'paused';
          paused += 1;
          continue;
        }
        exec.phase = 'running';
        batch.push({ executionId: exec.id, taskId: exec.task.id, timeoutMs: exec.timeoutMs });
        dispatched.push(exec);
        room -= 1;
        free -= 1;
      }
      served.push(key);
      if (batch.length > 0) runs.push({ agentId: key, executions: batch });
    }
    for (const key of served) {
      this.withWork.delete(key);
      if (this.queues.get(key)!.size > 0) this.withWork.add(key);
    }
    if (paused > 0) this.deps.send({ type: 'DEQUEUED', count: paused });
    if (runs.length === 0) return;
    this.deps.send({ type: 'DISPATCH', runs });
    this.deps.started(dispatched);
  }
}
