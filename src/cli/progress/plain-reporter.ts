import type { AgentConfig, Task } from '../../index.js';
import { agentName, formatClock, formatDuration, taskDuration } from '../format.js';
import type { CommandHints } from '../hints.js';
import { println, type OutputStream } from '../io.js';
import { eventTime, statusOf, type Reporter, type WatchEvent, type WatchState } from './watcher.js';

/**
 * What a wait for a signal waits for, with the command that answers it (none when no other process
 * can read the store): `signal approval or rejection (symphony signal <id> approval [json])`.
 */
export function waitingFor(task: Task, signals: readonly string[], hints: CommandHints | undefined): string {
  const names = `signal ${signals.join(' or ')}`;
  const answer = hints?.command(`signal ${task.workflowId} ${signals[0]} [json]`) ?? null;
  return answer === null ? names : `${names} (${answer})`;
}

/**
 * One line per state change, for logs and pipes: `<time> workflow|task <id> <STATUS> "<name>" ...`,
 * stamped with the time the store recorded for it (`eventTime`).
 * @example
 * 12:04:05.120 task V1StGXR8_Z RUNNING "summarize city-council.txt" attempt 1 on "Summarizer"
 */
export function formatEvent(
  event: WatchEvent,
  agents: ReadonlyMap<string, AgentConfig>,
  hints?: CommandHints,
): string {
  const time = formatClock(eventTime(event));
  if (event.kind === 'workflow') {
    const { workflow } = event;
    return `${time} workflow ${workflow.id} ${statusOf(event)} ${JSON.stringify(workflow.name)}`;
  }
  const { task } = event;
  const head = `${time} task ${task.id}`;
  const name = JSON.stringify(task.name);
  if (event.kind === 'waiting')
    return `${head} WAITING ${name} for ${waitingFor(task, event.signals, hints)}`;
  if (event.kind === 'attempt-failed') {
    const { error } = event;
    const next = event.willRetry ? 'will retry' : 'no retry';
    return `${head} ATTEMPT_FAILED ${name} attempt ${error.attempt}: ${codeOf(error)}${error.message} (${next})`;
  }
  const plural = (n: number) => `${n} attempt${n === 1 ? '' : 's'}`;
  const status = statusOf(event);
  const attempts = event.attempt ?? task.attempts;
  switch (status) {
    case 'RUNNING': {
      const agent = agentName(agents, event.agentId === undefined ? task.agentId : event.agentId);
      return `${head} RUNNING ${name} attempt ${attempts} on ${JSON.stringify(agent)}`;
    }
    case 'COMPLETED':
      return `${head} COMPLETED ${name} after ${plural(attempts)} in ${formatDuration(taskDuration(task))}`;
    case 'FAILED': {
      const last = event.error === undefined ? task.errors.at(-1) : event.error;
      return `${head} FAILED ${name} after ${plural(attempts)}${last ? `: ${codeOf(last)}${last.message}` : ''}`;
    }
    case 'PENDING':
      return `${head} PENDING ${name}${event.from === 'RUNNING' ? ' waiting to retry' : ''}`;
    default:
      return `${head} ${status} ${name}`;
  }
}

/** Prints every event as one plain line; no escape codes, nothing redrawn. */
export class PlainReporter implements Reporter {
  private agents = new Map<string, AgentConfig>();

  /** @param hints writes the commands a line suggests (a wait's `symphony signal`) */
  constructor(
    private readonly stream: OutputStream,
    private readonly hints?: CommandHints,
  ) {}

  update(state: WatchState, events: readonly WatchEvent[]): void {
    if (this.agents.size !== state.agents.length) this.agents = new Map(state.agents.map((a) => [a.id, a]));
    for (const event of events) println(this.stream, formatEvent(event, this.agents, this.hints));
  }

  close(): void {}
}

/** Shows nothing (for `--json`). */
export const silentReporter: Reporter = { update() {}, close() {} };

/** An error's code as a line shows it before its message (`DEADLINE_EXCEEDED: `), or nothing. */
const codeOf = (error: { code?: string | null }): string => (error.code == null ? '' : `${error.code}: `);
