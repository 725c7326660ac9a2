import { fromCallback, type Actor, type ActorOptions, type AnyActorLogic } from 'xstate';
import { agentMachine, agentSystemId } from '../../machines/agent.machine.js';
import {
  breakerSystemId,
  type CircuitBreakerMachine,
  type CircuitBreakerOptions,
} from '../../machines/circuit-breaker.machine.js';
import { engineMachine, type RuntimeEvent } from '../../machines/engine.machine.js';
import { executorMachine, type ExecutorMachine } from '../../machines/executor.machine.js';
import type { RouterMachine } from '../../machines/router.machine.js';
import type { Agent } from '../domain/agent.js';
import type { LoadTable } from '../routing/load-table.js';
import { startActor } from './actors.js';
import type { AgentRef } from './dispatcher.js';
import type { ResolvedEngineOptions } from './options.js';

/** What the engine's actors ask of the code around them (the machines' provided actions). */
export interface EngineActorHooks {
  /** The executor asks for a dispatch. */
  pump(): void;
  /** An agent refused executions it had no room for. */
  refuse(executionIds: readonly string[]): void;
  /** An actor failed and took the engine root with it. */
  failed(error: Error): void;
  /** An agent actor's load changed (its attempts in flight or its limit). */
  loadChanged?(agentId: string): void;
}

/**
 * The engine's actor system: the root actor (which invokes the executor, the router and the
 * `runtime` callback actor), one agent actor per agent key, and the way in for the engine's own
 * code (`send`, the runtime actor's `sendBack`). The load table is kept as a read model of the
 * agent actors.
 */
export class EngineActors {
  readonly engine: Actor<typeof engineMachine>;
  readonly executor: Actor<ExecutorMachine>;
  readonly router: Actor<RouterMachine>;
  private readonly agents = new Map<string, AgentRef>();
  /** The runtime actor's `sendBack`; set when the engine starts. */
  private port: (event: RuntimeEvent) => void = () => {};

  constructor(
    options: ResolvedEngineOptions,
    actorOptions: ActorOptions<AnyActorLogic>,
    private readonly load: LoadTable,
    private readonly hooks: EngineActorHooks,
  ) {
    const agentLogic = agentMachine.provide({
      actions: {
        refuseExecutions: (_, { executionIds }) => hooks.refuse(executionIds),
        taskActorFailed: (_, { error }) => options.logger.error({ error }, 'A task actor failed'),
      },
    });
    const logic = engineMachine.provide({
      actors: {
        executor: executorMachine.provide({
          actions: { pump: () => hooks.pump() },
          actors: { agent: agentLogic },
        }),
        runtime: fromCallback(({ sendBack }) => {
          this.port = sendBack;
        }),
      },
    });
    this.engine = startActor(logic, {
      ...actorOptions,
      id: 'engine',
      input: {
        executor: { maxConcurrency: options.maxConcurrency },
        router: { strategy: options.routingStrategy },
      },
    });
    this.engine.subscribe({
      error: (error) => {
        options.logger.error({ error }, 'The engine actor failed');
        hooks.failed(error instanceof Error ? error : new Error(String(error)));
      },
    });
    this.executor = this.engine.system.get('executor') as Actor<ExecutorMachine>;
    this.router = this.engine.system.get('router') as Actor<RouterMachine>;
  }

  /**
   * Sends an event into the actor system through the runtime actor, so that it arrives from an
   * actor (the inspector draws it as runtime -> engine -> ...) and goes on from actor to actor.
   * The actors take it synchronously: their states are up to date when this returns.
   */
  send(event: RuntimeEvent): void {
    // Once the engine root has ended (stopped, or failed) no actor takes events any more.
    if (this.engine.getSnapshot().status !== 'active') return;
    this.port(event);
  }

  /** Spawns the circuit breaker actor of an agent config (a child of the engine root) and returns it. */
  spawnBreaker(agentId: string, options: CircuitBreakerOptions): Actor<CircuitBreakerMachine> | undefined {
    this.send({ type: 'REGISTER_BREAKER', breaker: { agentId, ...options } });
    return this.engine.system.get(breakerSystemId(agentId)) as Actor<CircuitBreakerMachine> | undefined;
  }

  /** The agent actor of an agent key, spawned on its first use. */
  agent(key: string): AgentRef | undefined {
    return this.agents.get(key);
  }

  /** Spawns the agent actor of an agent key if it has none, and copies its counts into the load table. */
  ensureAgent(agent: Agent, key: string): void {
    if (this.agents.has(key)) return;
    const limit = agent.maxConcurrency ?? Number.MAX_SAFE_INTEGER;
    this.send({ type: 'REGISTER_AGENT', agentId: key, maxConcurrency: limit });
    const actor = this.engine.system.get(agentSystemId(key)) as AgentRef;
    this.agents.set(key, actor);
    // The load table is a read model of the agent actors, which hold the one count of their slots.
    let seen: ReturnType<AgentRef['getSnapshot']>['context'] | null = null;
    const observe = ({ context }: ReturnType<AgentRef['getSnapshot']>) => {
      // Events that change no count (a task actor's done event, say) leave the context as it was.
      if (context === seen) return;
      // The first observation (the agent actor was just spawned) changes no load.
      const changed =
        seen !== null &&
        (seen.inFlight !== context.inFlight || seen.maxConcurrency !== context.maxConcurrency);
      seen = context;
      const { inFlight, completed, failed } = context;
      this.load.trigger.observed({ agentId: key, inFlight, completed, failed });
      if (changed) this.hooks.loadChanged?.(key);
    };
    observe(actor.getSnapshot());
    actor.subscribe(observe);
  }
}
