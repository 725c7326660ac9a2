import { transition } from 'xstate';
import { executorMachine } from '../../../machines/executor.machine.js';
import { TASK_STATUSES } from '../../../machines/status.js';
import { SymphonyError } from '../../errors/symphony-error.js';
import { ErrorCode } from '../../errors/codes.js';
import { MACHINE_SOURCES, type MachineSource } from '../../monitoring/machine-structure.js';
import { describeUsage, tokenUsages } from './details.js';
import { agentStateFor, describeBreaker, loadOf } from './agents.js';
import { engineState } from './workers.js';
import { runRecordOf } from '../run-record.js';
import { formatDate } from '../format.js';
import type { Session } from '../store.js';

/** The kinds of live actor the machine view draws, each from its machine in machines/. */
export const ACTOR_KINDS = ['workflow', 'task', 'agent', 'breaker', 'executor', 'engine', 'router'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

/** An actor by kind and id: a workflow's or task's id, an agent config's id, an engine's id. */
export interface ActorRef {
  kind: ActorKind;
  id: string;
}

/** What the machine view shows of an actor: its machine, its state as the store has it, and why. */
export interface ActorView extends ActorRef {
  /** A name to show: the workflow's, task's or agent config's name, the engine's id. */
  label: string;
  machine: MachineSource;
  /** The path of the state to highlight (`['PENDING']`, `['busy']`); null when the store cannot tell. */
  state: string[] | null;
  /** Where `state` comes from, in a sentence: what of it is stored and what is derived. */
  basis: string;
  /** Facts of the actor that the store holds (its counts, load, limits), as label and value. */
  facts: Array<[string, string]>;
}

/** An actor the store does not know (the dashboard answers 404). */
export class UnknownActorError extends SymphonyError {
  override readonly name = 'UnknownActorError';
  constructor(ref: ActorRef, store: string) {
    super(NOT_FOUND[ref.kind], `No ${ref.kind} ${JSON.stringify(ref.id)} in ${store}`, {
      details: { kind: ref.kind, id: ref.id },
    });
  }
}

/** The code of each kind's unknown id; engines have none among the engine's codes. */
const NOT_FOUND: Record<ActorKind, string> = {
  workflow: ErrorCode.WORKFLOW_NOT_FOUND,
  task: ErrorCode.TASK_NOT_FOUND,
  agent: ErrorCode.AGENT_CONFIG_NOT_FOUND,
  breaker: ErrorCode.AGENT_CONFIG_NOT_FOUND,
  executor: 'ENGINE_NOT_FOUND',
  engine: 'ENGINE_NOT_FOUND',
  router: 'ENGINE_NOT_FOUND',
};

const MACHINE_OF: Record<ActorKind, string> = {
  workflow: 'workflow',
  task: 'task',
  agent: 'agent',
  breaker: 'circuit-breaker',
  executor: 'executor',
  engine: 'engine',
  router: 'router',
};

const machineFor = (kind: ActorKind): MachineSource =>
  MACHINE_SOURCES.find((source) => source.name === MACHINE_OF[kind])!;

/** The executor machine's state for the tasks an engine holds (its own eventless transitions). */
function executorStateFor(running: number, pending: number): string {
  // An engine's concurrency is not stored: with no bound the machine never says saturated.
  const context = {
    maxConcurrency: Number.MAX_SAFE_INTEGER,
    inFlight: running,
    queued: pending,
    agentIds: [],
  };
  const [next] = transition(executorMachine, executorMachine.resolveState({ value: 'idle', context }), {
    type: 'WAKE',
  });
  return String(next.value);
}

/** The machine view of one actor, read from the store; throws UnknownActorError for an unknown one. */
export async function actorView(session: Session, ref: ActorRef): Promise<ActorView> {
  const { registry } = session;
  const unknown = () => new UnknownActorError(ref, session.storeName);
  const base = { ...ref, machine: machineFor(ref.kind) };
  switch (ref.kind) {
    case 'workflow': {
      const workflow = await registry.getRepository('workflows').get(ref.id);
      if (!workflow) throw unknown();
      const tasks = registry.getRepository('tasks');
      const counts: Array<[string, string]> = [];
      for (const status of TASK_STATUSES) {
        const n = await tasks.count({ workflowId: ref.id, status });
        if (n > 0) counts.push([`tasks ${status}`, String(n)]);
      }
      return {
        ...base,
        label: workflow.name,
        state: [workflow.status],
        basis:
          'The stored status: the workflow machine derives it from its tasks (and pause, cancel) and every commit writes it to the workflow row.',
        facts: [['paused', String(workflow.paused)], ['cancelled', String(workflow.cancelled)], ...counts],
      };
    }
    case 'task': {
      const task = await registry.getRepository('tasks').get(ref.id);
      if (!task) throw unknown();
      const usage = tokenUsages([task]).total;
      return {
        ...base,
        label: task.name,
        state: [task.status],
        basis:
          "The stored status, the task machine's top-level state. Its inner state (ready, held or backoff; bounded or unbounded) lives only in the engine holding the task: not highlighted.",
        facts: [
          ['attempts', String(task.attempts)],
          ['errors', String(task.errors.length)],
          ['agent', task.agentId ?? '-'],
          ['held by', task.leaseOwner ?? '-'],
          ['retry due', task.runAfter === null ? '-' : `${formatDate(task.runAfter)} UTC`],
          ...(usage === null ? [] : [['tokens', describeUsage(usage)] as [string, string]]),
        ],
      };
    }
    case 'agent':
    case 'breaker': {
      const config = await registry.getRepository('agentConfigs').get(ref.id);
      if (!config) throw unknown();
      const load = loadOf((await session.heldLoad()) ?? [], config.id);
      if (ref.kind === 'agent') {
        return {
          ...base,
          label: config.name,
          state: [agentStateFor(config.maxConcurrency, load.running)],
          basis:
            "The agent machine's own rule (its eventless transitions) applied to the running attempts of this agent config that live engines hold in the store: every engine has an agent actor of its own, this is their sum.",
          facts: [
            ['limit', String(config.maxConcurrency)],
            ['running', String(load.running)],
            ['pending', String(load.pending)],
            ['held by', load.holders.join(', ') || '-'],
          ],
        };
      }
      const breaker = (await session.breakers()).find((row) => row.agentId === config.id) ?? null;
      const state = describeBreaker({ config, breaker });
      return {
        ...base,
        label: config.name,
        state: state === '-' ? null : [state],
        basis:
          breaker === null
            ? config.circuitBreaker === undefined
              ? 'This agent config has no circuit breaker.'
              : 'No engine has stored a transition of this breaker: it never tripped (CLOSED).'
            : `The last transition an engine stored (${breaker.changedBy}); engines take it over at their next control poll.`,
        facts: breaker
          ? [
              ['failures', String(breaker.failures)],
              ['opened', breaker.openedAt === null ? '-' : `${formatDate(breaker.openedAt)} UTC`],
              ['changed', `${formatDate(breaker.changedAt)} UTC`],
            ]
          : [],
      };
    }
    case 'executor':
    case 'engine':
    case 'router': {
      const engine = (await registry.listEngines()).find((one) => one.engineId === ref.id && !one.self);
      if (!engine) throw unknown();
      const tasks = registry.getRepository('tasks');
      const [running = 0, pending = 0] = await Promise.all(
        (['RUNNING', 'PENDING'] as const).map((status) => tasks.count({ leaseOwner: ref.id, status })),
      );
      const beat = engineState(engine);
      const facts: Array<[string, string]> = [
        ['beat', `${beat}, ${formatDate(engine.beatAt)} UTC`],
        ['running', String(running)],
        ['pending', String(pending)],
      ];
      if (ref.kind === 'engine') {
        return {
          ...base,
          label: ref.id,
          state: beat === 'alive' ? ['running'] : beat === 'stopped' ? ['stopped'] : null,
          basis:
            beat === 'dead'
              ? 'Its beats stopped without a stop (killed or cut off): the store cannot tell its last state.'
              : 'From its last beat in the store: alive (running) or a stop (stopped). Stopping, the drain between, is not stored.',
          facts,
        };
      }
      if (ref.kind === 'executor') {
        return {
          ...base,
          label: ref.id,
          state:
            beat === 'alive' ? [executorStateFor(running, pending)] : beat === 'stopped' ? ['stopped'] : null,
          basis:
            "The executor machine's own rule applied to the tasks the engine holds in the store (running, pending). An engine's concurrency is not stored, so saturated is never shown.",
          facts,
        };
      }
      const strategies = await heldStrategies(session, ref.id);
      return {
        ...base,
        label: ref.id,
        state: strategies.length === 1 ? [strategies[0]!] : null,
        basis:
          strategies.length === 1
            ? 'The routing strategy of the run records of the workflows this engine holds tasks of (symphony run routes with it).'
            : 'An engine does not store its router: its strategy is known only from the run records of the workflows it holds, and those name none or several.',
        facts: [...facts, ['strategies', strategies.join(', ') || '-']],
      };
    }
  }
}

/** The routing strategies of the run records of the workflows whose tasks `engineId` holds. */
async function heldStrategies(session: Session, engineId: string): Promise<string[]> {
  const { registry } = session;
  const held = await registry.getRepository('tasks').find({ where: { leaseOwner: engineId }, limit: 500 });
  const ids = [...new Set(held.flatMap((task) => (task.workflowId === null ? [] : [task.workflowId])))];
  const workflows = await registry.getRepository('workflows').getMany(ids);
  return [...new Set(workflows.flatMap((workflow) => runRecordOf(workflow)?.strategy ?? []))];
}

/**
 * The actors the machine view offers: unfinished workflows and their unfinished tasks (at most
 * `limit` of each), every agent config (and its breaker, if it has one), every live engine (its
 * engine, executor and router).
 */
export async function liveActors(session: Session, limit = 50): Promise<Array<ActorRef & { label: string }>> {
  const { registry } = session;
  const refs: Array<ActorRef & { label: string }> = [];
  const workflows = registry.getRepository('workflows');
  for (const status of ['RUNNING', 'PENDING', 'PAUSED'] as const) {
    for (const workflow of await workflows.find({ where: { status }, limit })) {
      refs.push({ kind: 'workflow', id: workflow.id, label: workflow.name });
    }
  }
  const tasks = registry.getRepository('tasks');
  for (const status of ['RUNNING', 'PENDING', 'PAUSED'] as const) {
    for (const task of await tasks.find({ where: { status }, limit })) {
      refs.push({ kind: 'task', id: task.id, label: task.name });
    }
  }
  for (const config of await registry.getRepository('agentConfigs').find({ orderBy: 'createdAt' })) {
    refs.push({ kind: 'agent', id: config.id, label: config.name });
    if (config.circuitBreaker !== undefined)
      refs.push({ kind: 'breaker', id: config.id, label: config.name });
  }
  for (const engine of await registry.listEngines()) {
    if (engine.self || !engine.alive) continue;
    for (const kind of ['engine', 'executor', 'router'] as const) {
      refs.push({ kind, id: engine.engineId, label: engine.engineId });
    }
  }
  return refs;
}
