import type { Task } from '../../index.js';
import type { StoredCommand } from '../../repositories/store.js';
import { formatDate } from '../format.js';
import type { Session } from '../store.js';
import type { ActorRef } from './actors.js';

/**
 * One thing that happened to an actor, as the machine view lists it. `type` uses the names of the
 * engine's events (docs/monitoring.md: `task.started`, `task.attemptFailed`, `workflow.status`...)
 * where one matches, and `command.pause`, `signal.sent`... for what the store records besides.
 */
export interface ActorEvent {
  /** Epoch ms, as the store recorded it (the clock of the engine that wrote it). */
  at: number;
  type: string;
  /** A short description: the attempt, its error, the command's target... */
  text: string;
  /**
   * Where it was read: the events the engines stored (`readEvents`), or derived from rows; absent
   * from a source that does not say.
   */
  from?: 'events' | 'rows';
}

/**
 * Where the machine view's recent events come from: the events the engines stored
 * (`storedActorEvents`, src/cli/overview/stored-actor-events.ts), which falls back on those derived
 * from the rows the store keeps (`storedRowEvents`) for actors with no stored event.
 */
export interface ActorEventSource {
  /** The newest events of the actor, newest first, at most `limit`. */
  recent(actor: ActorRef, limit: number): Promise<ActorEvent[]>;
}

/** How many commands, and tasks of a workflow or agent, a derivation reads at most. */
const READ_LIMIT = 200;

const ENDED: Partial<Record<Task['status'], string>> = {
  COMPLETED: 'task.completed',
  FAILED: 'task.failed',
  CANCELLED: 'task.cancelled',
  SKIPPED: 'task.skipped',
};

/** The events a task row tells of: its creation, first start, failed attempts and end. */
export function taskRowEvents(task: Task, agentId?: string): ActorEvent[] {
  const name = JSON.stringify(task.name);
  const events: ActorEvent[] = [];
  if (agentId === undefined) events.push({ at: task.createdAt, type: 'task.created', text: name });
  if (task.startedAt !== null && (agentId === undefined || task.agentId === agentId)) {
    events.push({ at: task.startedAt, type: 'task.started', text: `${name} first attempt` });
  }
  for (const error of task.errors) {
    if (agentId !== undefined && error.agentId !== agentId) continue;
    events.push({
      at: error.at,
      type: 'task.attemptFailed',
      text: `${name} attempt ${error.attempt}: ${error.code ?? error.name}: ${error.message}${error.retryable ? ' (retried)' : ''}`,
    });
  }
  const ended = ENDED[task.status];
  if (
    ended !== undefined &&
    task.finishedAt !== null &&
    (agentId === undefined || task.agentId === agentId)
  ) {
    events.push({ at: task.finishedAt, type: ended, text: `${name} after ${task.attempts} attempt(s)` });
  }
  return events;
}

const commandEvent = (command: StoredCommand): ActorEvent => ({
  at: command.createdAt,
  type: `command.${command.type.toLowerCase()}`,
  text: command.taskId === null ? `workflow ${command.workflowId ?? '-'}` : `task ${command.taskId}`,
});

const newestFirst = (events: ActorEvent[], limit: number): ActorEvent[] =>
  events.sort((a, b) => b.at - a.at).slice(0, limit);

/**
 * Recent events derived from the rows the store already keeps: tasks' times and error histories,
 * control commands, signals, breaker rows and engine beats. A row keeps the latest of some things
 * only (a task's first start, a breaker's last transition), so this is a partial history: the
 * fallback of `storedActorEvents` where no engine event is stored, and its source of commands,
 * signals and beats.
 */
export function storedRowEvents(session: Session): ActorEventSource {
  const { registry } = session;
  const tasks = registry.getRepository('tasks');
  return {
    async recent(actor, limit) {
      const events: ActorEvent[] = [];
      switch (actor.kind) {
        case 'task': {
          const task = await tasks.get(actor.id);
          if (!task) return [];
          events.push(...taskRowEvents(task));
          for (const command of await session.recentCommands(READ_LIMIT)) {
            const mine = command.taskId === task.id;
            const ofWorkflow = command.taskId === null && command.workflowId === task.workflowId;
            if (mine || (ofWorkflow && task.workflowId !== null)) events.push(commandEvent(command));
          }
          if (task.workflowId !== null) {
            for (const signal of await session.signals(task.workflowId)) {
              if (signal.takenBy === task.id && signal.takenAt !== null)
                events.push({ at: signal.takenAt, type: 'signal.taken', text: signal.name });
            }
          }
          break;
        }
        case 'workflow': {
          const workflow = await registry.getRepository('workflows').get(actor.id);
          if (!workflow) return [];
          events.push({
            at: workflow.createdAt,
            type: 'workflow.created',
            text: JSON.stringify(workflow.name),
          });
          events.push({ at: workflow.updatedAt, type: 'workflow.status', text: `now ${workflow.status}` });
          for (const task of await tasks.find({ where: { workflowId: actor.id }, limit: READ_LIMIT }))
            events.push(...taskRowEvents(task));
          for (const command of await session.recentCommands(READ_LIMIT)) {
            if (command.workflowId === actor.id && command.taskId === null)
              events.push(commandEvent(command));
          }
          for (const signal of await session.signals(actor.id)) {
            events.push({ at: signal.sentAt, type: 'signal.sent', text: signal.name });
            if (signal.takenAt !== null)
              events.push({
                at: signal.takenAt,
                type: 'signal.taken',
                text: `${signal.name} by ${signal.takenBy}`,
              });
          }
          break;
        }
        case 'agent':
        case 'breaker': {
          const ran = await tasks.find({
            where: { agentId: actor.id },
            orderBy: 'updatedAt',
            descending: true,
            limit: READ_LIMIT,
          });
          for (const task of ran) {
            for (const event of taskRowEvents(task, actor.id)) {
              if (actor.kind === 'agent' || event.type === 'task.attemptFailed') events.push(event);
            }
          }
          const breaker = (await session.breakers()).find((row) => row.agentId === actor.id);
          if (breaker)
            events.push({
              at: breaker.changedAt,
              type: 'agent.circuit',
              text: `${breaker.state} by ${breaker.changedBy}`,
            });
          break;
        }
        case 'engine':
        case 'executor':
        case 'router': {
          const engine = (await registry.listEngines()).find((one) => one.engineId === actor.id);
          if (engine) {
            events.push({
              at: engine.beatAt,
              type: engine.stopped ? 'worker.stopped' : 'engine.beat',
              text: engine.stopped ? 'stopped' : `alive until ${formatDate(engine.expiresAt)} UTC`,
            });
          }
          if (actor.kind !== 'router') {
            for (const task of await tasks.find({ where: { leaseOwner: actor.id }, limit: READ_LIMIT })) {
              if (task.startedAt !== null)
                events.push({ at: task.startedAt, type: 'task.started', text: JSON.stringify(task.name) });
            }
          }
          break;
        }
      }
      return newestFirst(events, limit);
    },
  };
}
