import type { StoredEvent } from '../engine/stored-events.js';
import { formatClock } from './format.js';
import { visible } from './visible.js';

/** `task <id> "<name>"`: who a task event is about. */
function taskOf(payload: { taskId: string; name: string }): string {
  return `task ${payload.taskId} ${JSON.stringify(payload.name)}`;
}

const plural = (n: number) => `${n} attempt${n === 1 ? '' : 's'}`;

/** What a stored event says, after its time and name. */
export function eventDetail(event: StoredEvent): string {
  switch (event.name) {
    case 'task.started':
      return `${taskOf(event.payload)} attempt ${event.payload.attempt} on ${event.payload.agentId ?? '-'} (engine ${event.engineId})`;
    case 'task.attemptFailed': {
      const { attempt, error, willRetry, retryAt } = event.payload;
      const why =
        error === null ? '' : `: ${error.code === undefined ? '' : `${error.code}: `}${error.message}`;
      const next = willRetry ? `retry${retryAt === null ? '' : ` at ${formatClock(retryAt)}`}` : 'no retry';
      return `${taskOf(event.payload)} attempt ${attempt} failed${why} (${next})`;
    }
    case 'task.completed': {
      const tokens = event.payload.usage?.totalTokens;
      return `${taskOf(event.payload)} after ${plural(event.payload.attempts)}${tokens == null ? '' : `, ${tokens} tokens`}`;
    }
    case 'task.failed': {
      const { attempts, error } = event.payload;
      return `${taskOf(event.payload)} after ${plural(attempts)}${error === null ? '' : `: ${error.message}`}`;
    }
    case 'workflow.status':
      return `workflow ${event.payload.workflowId} ${JSON.stringify(event.payload.name)} ${event.payload.from} -> ${event.payload.to}`;
    case 'agent.circuit':
      return `agent ${event.payload.agentId} ${event.payload.from} -> ${event.payload.to}`;
    case 'agent.load': {
      const { agentId, inFlight, maxConcurrency, state } = event.payload;
      return `agent ${agentId} ${inFlight}/${maxConcurrency ?? '-'} running, ${state} (engine ${event.engineId})`;
    }
    case 'worker.started':
    case 'worker.stopped':
      return `engine ${event.payload.engineId}`;
    default:
      return taskOf(event.payload);
  }
}

/**
 * One line for a stored event, stamped with the time of its change (UTC, as the progress lines):
 * @example
 * 12:04:05.120 task.started task V1StGXR8Z5jdHi6B "summarize" attempt 1 on summarizer (engine worker-1)
 */
export function eventLine(event: StoredEvent): string {
  return visible(`${formatClock(event.at)} ${event.name} ${eventDetail(event)}`);
}

/** One JSON line for `--json`: the event as `readEvents` gives it, cursor included. */
export function eventJson(event: StoredEvent): string {
  const { cursor, name, engineId, workflowId, taskId, at, payload } = event;
  return JSON.stringify({ cursor, name, engineId, workflowId, taskId, at, payload });
}
