import { createLogUpdate } from 'log-update';
import type { AgentConfig } from '../../index.js';
import { agentName, formatDuration, table, taskDuration, truncate } from '../format.js';
import type { CommandHints } from '../hints.js';
import type { OutputStream } from '../io.js';
import { visible } from '../visible.js';
import { waitingFor } from './plain-reporter.js';
import { statusOf, type Reporter, type WatchEvent, type WatchState } from './watcher.js';

const BAR_WIDTH = 30;
const RECENT = 6;

/** One line of the "recent" list for an event, or null for events not worth a line there. */
function recentLine(
  event: WatchEvent,
  agents: ReadonlyMap<string, AgentConfig>,
  hints?: CommandHints,
): string | null {
  if (event.kind === 'workflow') return `• workflow ${statusOf(event)}`;
  const { task } = event;
  if (event.kind === 'waiting') return `… ${task.name} waits for ${waitingFor(task, event.signals, hints)}`;
  if (event.kind === 'attempt-failed') {
    const next = event.willRetry ? 'will retry' : 'no retry';
    return `↻ ${task.name}: attempt ${event.error.attempt} failed: ${event.error.message} (${next})`;
  }
  switch (statusOf(event)) {
    case 'COMPLETED': {
      const agent = agentName(agents, event.agentId === undefined ? task.agentId : event.agentId);
      return `✓ ${task.name} (${agent}, ${formatDuration(taskDuration(task))})`;
    }
    case 'FAILED':
      return `✗ ${task.name} failed after ${event.attempt ?? task.attempts} attempts`;
    case 'CANCELLED':
      return `⊘ ${task.name} cancelled`;
    case 'SKIPPED':
      return `↷ ${task.name} skipped`;
    case 'PAUSED':
      return `‖ ${task.name} paused`;
    default:
      return null;
  }
}

/** The live view's frame: workflow line, progress bar, counts, agents with their load, recent events. */
export function renderFrame(state: WatchState, recent: readonly string[], width = 80): string {
  const { workflow, counts } = state;
  const total = state.tasks.length;
  const finished = counts.COMPLETED + counts.SKIPPED + counts.FAILED + counts.CANCELLED;
  const filled = total === 0 ? 0 : Math.round((finished / total) * BAR_WIDTH);
  const lines = [
    `${workflow.name} · ${workflow.status} · ${formatDuration(state.elapsedMs)} · workflow ${workflow.id}`,
    `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${finished}/${total} finished`,
    `done ${counts.COMPLETED}  running ${counts.RUNNING}  waiting ${counts.PENDING}  failed ${counts.FAILED}  paused ${counts.PAUSED}  cancelled ${counts.CANCELLED}${counts.SKIPPED > 0 ? `  skipped ${counts.SKIPPED}` : ''}`,
    '',
  ];
  const rows = [['agent', 'running', 'done', 'failed attempts']];
  for (const agent of state.agents) {
    const load = state.load.get(agent.id);
    rows.push([
      agent.name,
      `${load?.inFlight ?? 0}/${agent.maxConcurrency}`,
      String(load?.completed ?? 0),
      String(load?.failed ?? 0),
    ]);
  }
  lines.push(...table(rows, new Set([1, 2, 3])));
  if (recent.length > 0) lines.push('', 'recent', ...recent.map((line) => `  ${line}`));
  return lines.map((line) => truncate(visible(line), Math.max(20, width - 1))).join('\n');
}

/** Redraws one frame in place on a terminal (log-update), at every poll. */
export class LiveReporter implements Reporter {
  private readonly log: ReturnType<typeof createLogUpdate>;
  private readonly recent: string[] = [];
  private agents = new Map<string, AgentConfig>();

  /** @param hints writes the commands a line suggests (a wait's `symphony signal`) */
  constructor(
    private readonly stream: OutputStream,
    private readonly hints?: CommandHints,
  ) {
    // A terminal that reports no size (0 rows, as under `script`) still gets the whole frame.
    const sized = {
      isTTY: true,
      write: (chunk: string) => stream.write(chunk),
      get columns() {
        return stream.columns || 80;
      },
      get rows() {
        return stream.rows || 40;
      },
    };
    this.log = createLogUpdate(sized as unknown as NodeJS.WriteStream);
  }

  update(state: WatchState, events: readonly WatchEvent[]): void {
    if (this.agents.size !== state.agents.length) this.agents = new Map(state.agents.map((a) => [a.id, a]));
    for (const event of events) {
      const line = recentLine(event, this.agents, this.hints);
      if (line !== null) this.recent.push(line);
    }
    this.recent.splice(0, Math.max(0, this.recent.length - RECENT));
    this.log(renderFrame(state, this.recent, this.stream.columns || 80));
  }

  close(state: WatchState | null): void {
    if (state) this.log(renderFrame(state, this.recent, this.stream.columns || 80));
    this.log.done();
  }
}
