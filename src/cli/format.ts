import type { AgentConfig, Task } from '../index.js';
import { visible } from './visible.js';

/** `850 ms`, `1.2 s`, `3 min 05 s`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1000);
  return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
}

/** `12:04:05.120` (UTC) for plain progress lines. */
export function formatClock(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(11, 23);
}

/** `2024-05-01 12:04:05` (UTC). */
export function formatDate(epochMs: number | null | undefined): string {
  if (epochMs === null || epochMs === undefined) return '-';
  return new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ');
}

/** How long a task ran: first start to finish (or to `now` while unfinished). */
export function taskDuration(task: Task, now?: number): number | null {
  if (task.startedAt === null) return null;
  const end = task.finishedAt ?? now;
  return end === undefined ? null : end - task.startedAt;
}

/** An agent config's name by id, falling back to the id. */
export function agentName(agents: ReadonlyMap<string, AgentConfig>, id: string | null): string {
  if (id === null) return '-';
  return agents.get(id)?.name ?? id;
}

/** One line of at most `width` characters: line breaks become spaces, an ellipsis ends a cut. */
export function truncate(text: string, width: number): string {
  const flat = text.replace(/\s*[\r\n]+\s*/g, ' ');
  return flat.length <= width ? flat : `${flat.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * A text table: the first row is the header; columns are padded to their widest cell, each cell
 * written as `visible` shows it (one line, no control characters).
 */
export function table(
  rows: readonly (readonly string[])[],
  rightAligned: ReadonlySet<number> = new Set(),
): string[] {
  const cells = rows.map((row) => row.map(visible));
  const widths: number[] = [];
  for (const row of cells) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return cells.map((row) =>
    row
      .map((cell, i) => {
        if (i === row.length - 1 && !rightAligned.has(i)) return cell;
        return rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd(),
  );
}
