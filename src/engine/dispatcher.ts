import type { Actor } from 'xstate';
import type { agentMachine, StartingExecution } from '../../machines/agent.machine.js';
import type { RuntimeEvent } from '../../machines/engine.machine.js';
import type { AgentBatch, ExecutorMachine } from '../../machines/executor.machine.js';
import type { Execution } from './execution.js';
import type { RateWait } from './engine-events.js';
import { KeyedQueue, keyLimit, ServeMarks, type StartVerdict } from './key-queue.js';
import { agentGate, keyGate, keyLimitsGate, type RateGate } from './rate-limits.js';

export type AgentRef = Actor<typeof agentMachine>;

/** What the dispatcher needs of the engine around it. */
export interface DispatchDeps {
  /** Read for its counts; events reach it through `send`. */
  executor: Actor<ExecutorMachine>;
  /** Sends an event into the actor system (see Runtime.send). */
  send(event: RuntimeEvent): void;
  /** The agent actor of an agent key (registered before anything of it is queued). */
  agent(key: string): AgentRef;
  /** Executions whose task actors took START from their agent: their attempts begin. */
  started(executions: readonly Execution[]): void;
  isStopping(): boolean;
  /** Rate limits (src/engine/rate-limits.ts): the gate on a limited agent's queue. */
  rates?: RateGate;
}

/**
 * The queues of executions waiting to start, one per agent key, highest priority first, and the
 * pump that moves them into free slots within the executor's and each agent's limit. An execution
 * is queued exactly while its task actor is in PENDING.ready: the task machine's entry and exit
 * actions of that state call `enqueue` and `unqueue`. The executor actor is told of queue changes
 * in batches (ENQUEUED, DEQUEUED); each pump sends one DISPATCH, which the executor passes on as
 * one RUN per agent, and each agent as START to its task actors.
 */
export class Dispatcher {
  private readonly queues = new Map<string, KeyedQueue<Execution>>();
  /** The serve order of fairness keys, across agents (a key's tasks may run on several). */
  private readonly marks = new ServeMarks();
  /** Marks held before the next prune of them (see `pruneMarks`). */
  private markBudget = 64;
  /** Started executions per fairness key, until their attempts settle (see `settled`). */
  private readonly running = new Map<string, number>();
  private readonly runningOf = (key: string): number => this.running.get(key) ?? 0;
  /** The `keyConcurrency` of the started executions per fairness key (limit -> count; 0 not kept). */
  private readonly runningLimits = new Map<string, Map<number, number>>();
  private readonly runningLimitOf = (key: string): number => {
    let least = 0;
    for (const limit of this.runningLimits.get(key)?.keys() ?? []) least = keyLimit(least, limit);
    return least;
  };
  private readonly dropEntry = (exec: Execution): void => {
    this.entered.delete(exec);
  };
  private readonly withWork = new Set<string>();
  /** The executions queued now; a queue entry of one no longer here is skipped when its turn comes. */
  private readonly queued = new Set<Execution>();
  /**
   * The executions with an entry in a queue (at most one each): one taken out and queued again
   * before its entry came up keeps that entry, so pausing and resuming adds none.
   */
  private readonly entered = new Set<Execution>();
  /** Executions queued less those taken out since the executor was last told (ENQUEUED or DEQUEUED). */
  private unannounced = 0;
  private pumpScheduled = false;
  private pumping = false;
  private repump = false;

  constructor(private readonly deps: DispatchDeps) {}

  /**
   * Queues an execution for its agent (its task actor entered PENDING.ready). Sends nothing at
   * once: it may be called inside a task actor's transition.
   */
  enqueue(exec: Execution): void {
    if (this.queued.has(exec)) return;
    // Rate limits: the gate learns a limited agent's and a limited key's buckets from their executions.
    const rates = this.deps.rates;
    if (rates !== undefined && (exec.agent.rateLimits !== undefined || exec.keyRateLimits.length > 0)) {
      if (exec.agent.rateLimits !== undefined)
        rates.register(agentGate(exec.agentKey), exec.agent.rateLimits);
      if (exec.keyRateLimits.length > 0 && exec.concurrencyKey !== null)
        rates.register(
          keyLimitsGate(exec.concurrencyKey, exec.keyRateLimits),
          exec.keyRateLimits,
          keyGate(exec.concurrencyKey),
        );
      exec.readyAt = rates.now();
    }
    this.queued.add(exec);
    this.push(exec);
    this.unannounced += 1;
    this.schedulePump();
  }

  /**
   * Takes an execution out of its queue (its task actor left PENDING.ready other than by START,
   * or it is let go). Sends nothing at once, like `enqueue`.
   */
  unqueue(exec: Execution): void {
    if (!this.queued.delete(exec)) return;
    this.unannounced -= 1;
    this.schedulePump();
  }

  /** Tells the executor how its count of queued executions changed since it last heard. */
  private announce(): void {
    if (this.unannounced === 0) return;
    const count = this.unannounced;
    this.unannounced = 0;
    this.deps.send(count > 0 ? { type: 'ENQUEUED', count } : { type: 'DEQUEUED', count: -count });
  }

  /**
   * Puts executions an agent refused back in their queues (their task actors took no START and
   * stay in PENDING.ready), counted as queued again.
   */
  requeue(executions: readonly Execution[]): void {
    // Refused during a dispatch: the executor's pump then finds the dispatch still running.
    if (this.pumping) this.repump = true;
    this.settled(executions);
    for (const exec of executions) {
      this.queued.add(exec);
      this.push(exec);
    }
    if (executions.length === 0) return;
    this.deps.send({ type: 'SETTLED', count: executions.length, agents: [] });
    this.deps.send({ type: 'ENQUEUED', count: executions.length });
  }

  /**
   * Executions whose attempts settled (or that their agent refused): their fairness keys count
   * them as running no more. The executor's SETTLED, sent with them, pumps again.
   */
  settled(executions: readonly Execution[]): void {
    for (const exec of executions) {
      const key = exec.concurrencyKey;
      if (key === null) continue;
      const left = this.runningOf(key) - 1;
      if (left > 0) this.running.set(key, left);
      else this.running.delete(key);
      this.countLimit(key, exec.keyConcurrency, -1);
    }
  }

  private countLimit(key: string, limit: number, by: 1 | -1): void {
    if (limit === 0) return;
    let counts = this.runningLimits.get(key);
    if (counts === undefined) this.runningLimits.set(key, (counts = new Map()));
    const n = (counts.get(limit) ?? 0) + by;
    if (n > 0) counts.set(limit, n);
    else counts.delete(limit);
    if (counts.size === 0) this.runningLimits.delete(key);
  }

  schedulePump(): void {
    if (this.pumpScheduled || this.pumping) return;
    this.pumpScheduled = true;
    queueMicrotask(() => this.pump());
  }

  private push(exec: Execution): void {
    this.withWork.add(exec.agentKey);
    if (this.entered.has(exec)) return;
    this.entered.add(exec);
    let queue = this.queues.get(exec.agentKey);
    if (!queue) {
      queue = new KeyedQueue<Execution>((queued) => this.queued.has(queued), this.marks, this.runningLimitOf);
      this.queues.set(exec.agentKey, queue);
    }
    queue.push(exec);
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

  /**
   * Keeps the serve marks from growing with every key ever served (a key per customer, say): once
   * they pass a budget, those of keys with nothing queued or running that every waiting group was
   * served after go (`ServeMarks.prune`), and the budget becomes twice what is left (at least 64),
   * so pruning costs O(1) a start, amortized.
   */
  private pruneMarks(): void {
    if (this.marks.size <= this.markBudget) return;
    const waiting = new Set<string | null>();
    for (const queue of this.queues.values()) for (const group of queue.groups()) waiting.add(group);
    this.marks.prune(waiting, (key) => waiting.has(key) || this.running.has(key));
    this.markBudget = Math.max(64, 2 * this.marks.size);
  }

  private dispatch(): void {
    const { executor } = this.deps;
    const snapshot = executor.getSnapshot();
    if (snapshot.status !== 'active' || this.deps.isStopping()) return;
    let free = snapshot.context.maxConcurrency - snapshot.context.inFlight;
    const runs: AgentBatch<StartingExecution>[] = [];
    const dispatched: Execution[] = [];
    const served: string[] = [];
    const rates = this.deps.rates;
    // Gates whose unused permits wait for another gate's answer (see `startVerdict`).
    const keep = new Set<string>();
    for (const key of this.withWork) {
      if (free <= 0) break;
      const queue = this.queues.get(key)!;
      const agent = this.deps.agent(key);
      const { maxConcurrency, inFlight } = agent.getSnapshot().context;
      let room = maxConcurrency - inFlight;
      const gate = agentGate(key);
      const agentLimits = rates?.limits(gate) === true ? gate : null;
      // Without rate limits anywhere, shifts ask nothing.
      const verdict =
        rates === undefined || !rates.any()
          ? undefined
          : (exec: Execution, waiting: number) =>
              startVerdict(rates, agentLimits, exec, waiting, Math.min(room, free, queue.size), keep);
      const batch: StartingExecution[] = [];
      while (room > 0 && free > 0) {
        // Entries of executions taken out since they were queued (paused, held, cancelled, let go)
        // are dropped on the way; undefined: none left, each key left runs its limit or waits for
        // a token, or the agent waits for one.
        const exec = queue.shift(this.runningOf, this.dropEntry, verdict);
        if (exec === undefined) break;
        this.entered.delete(exec);
        this.queued.delete(exec);
        if (exec.concurrencyKey !== null) {
          this.running.set(exec.concurrencyKey, this.runningOf(exec.concurrencyKey) + 1);
          this.countLimit(exec.concurrencyKey, exec.keyConcurrency, 1);
        }
        const keyLimits = keyGateOf(exec, rates);
        exec.rateWait =
          agentLimits === null && keyLimits === null
            ? null
            : rateWaitOf(rates!, exec, agentLimits, keyLimits);
        if (exec.actor?.getSnapshot().hasTag('startable') !== true) {
          throw new Error(`Task ${exec.task.id} was queued, but its task machine is not in PENDING.ready`);
        }
        batch.push({ executionId: exec.id, taskId: exec.task.id, timeoutMs: exec.timeoutMs });
        dispatched.push(exec);
        room -= 1;
        free -= 1;
      }
      served.push(key);
      if (batch.length > 0) runs.push({ agentId: key, executions: batch });
    }
    // Tokens a dispatch did not use go back: held for later, they could break a window.
    rates?.giveBack(keep);
    rates?.dispatched();
    this.pruneMarks();
    for (const key of served) {
      this.withWork.delete(key);
      if (this.queues.get(key)!.size > 0) this.withWork.add(key);
    }
    if (runs.length === 0) return;
    this.deps.send({ type: 'DISPATCH', runs });
    this.deps.started(dispatched);
  }
}

/** Takes the permits of an execution's gates; its wait is the longer of the two (the agent's on a tie). */
function rateWaitOf(rates: RateGate, exec: Execution, agent: string | null, key: string | null): RateWait {
  const byAgent = agent === null ? null : { ...rates.use(agent, exec.readyAt), gate: 'agent' as const };
  const byKey = key === null ? null : { ...rates.use(key, exec.readyAt), gate: 'key' as const };
  if (byAgent === null) return byKey!;
  return byKey === null || byAgent.ms >= byKey.ms ? byAgent : byKey;
}

/** The rate gate of an execution's fairness key, or null when its key has no rate limits. */
function keyGateOf(exec: Execution, rates: RateGate | undefined): string | null {
  if (exec.keyRateLimits.length === 0 || exec.concurrencyKey === null) return null;
  const gate = keyLimitsGate(exec.concurrencyKey, exec.keyRateLimits);
  return rates?.limits(gate) === true ? gate : null;
}

/**
 * Rate limits (src/engine/rate-limits.ts) on the head of a queue about to start: it needs a permit
 * of its agent's gate (`agentLimits`, when limited) and of its key's. A key without one is passed
 * over (its tokens are asked for, up to `waiting` starts) and the queue's other keys may start;
 * an agent without one starts nothing of its queue (its tokens are asked for, up to `wanted`,
 * unless its head's key waits for a refill). A gate's permits are kept past the dispatch (`keep`)
 * while the other gate the head needs is asking: its answer pumps at once, and neither gate's
 * tokens wait for the other's in a loop.
 */
function startVerdict(
  rates: RateGate,
  agentLimits: string | null,
  exec: Execution,
  waiting: number,
  wanted: number,
  keep: Set<string>,
): StartVerdict {
  const agent = agentLimits === null ? 'permit' : rates.state(agentLimits);
  // Without a permit a gate holds its start back: the start's rate wait runs (see RateGate.held).
  // Waiting for its refill, the agent starts nothing: its head's key asks nothing meanwhile.
  if (agent === 'waiting') {
    rates.held(agentLimits!);
    return 'stop';
  }
  const keyLimits = keyGateOf(exec, rates);
  let key = keyLimits === null ? 'permit' : rates.state(keyLimits);
  if (key === 'idle') {
    rates.request(keyLimits!, Math.min(waiting, wanted));
    key = rates.state(keyLimits!);
  }
  if (key !== 'permit') rates.held(keyLimits!);
  if (key !== 'permit' && key !== 'asking') return 'pass';
  if (agent === 'permit') {
    if (key === 'permit') return 'start';
    if (agentLimits !== null) keep.add(agentLimits);
    return 'pass';
  }
  rates.held(agentLimits!);
  if (agent === 'idle') rates.request(agentLimits!, wanted);
  if (key === 'permit' && keyLimits !== null && rates.state(agentLimits!) === 'asking') keep.add(keyLimits);
  return 'stop';
}
