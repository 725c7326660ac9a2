import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { median, max, min } from './stats.js';
import type { Figures } from './types.js';
import type { WorkloadId } from './workloads/throughput.js';

export interface EntrantResult {
  id: string;
  label: string;
  /** What is timed, or how the contender is set up. */
  note: string;
  /** Why the contender did not run, when it did not. */
  unavailable?: string;
  /** One entry per round that succeeded. */
  rounds: Figures[];
  errors: string[];
}

export interface WorkloadResult {
  id: WorkloadId;
  kind: 'throughput' | 'memory' | 'recovery' | 'graph' | 'scale-out';
  title: string;
  /** Tasks, concurrency and the like, as one line. */
  params: string;
  entrants: EntrantResult[];
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  flags: string;
  versions: Record<string, string>;
  services: string[];
  /** The commit measured, and whether src/ or machines/ had uncommitted changes. */
  revision: string;
  /** 1-minute load averages at the start and the end of the run (other work on the machine). */
  load: [number, number];
}

export interface BenchReport {
  startedAt: string;
  durationMs: number;
  rounds: number;
  scale: number;
  tasks?: number;
  machine: MachineInfo;
  workloads: WorkloadResult[];
}

export type TargetStatus = 'met' | 'missed' | 'not measured';

export interface Target {
  workload: WorkloadId;
  text: string;
  figure: string;
  status: TargetStatus;
}

/** The median of one figure over an entrant's rounds (NaN when it never ran). */
export function figure(entrant: EntrantResult | undefined, key: string): number {
  if (!entrant) return Number.NaN;
  return median(entrant.rounds.map((round) => round[key]).filter((v): v is number => typeof v === 'number'));
}

function entrant(report: BenchReport, workload: WorkloadId, id: string): EntrantResult | undefined {
  return report.workloads.find((w) => w.id === workload)?.entrants.find((e) => e.id === id);
}

const int = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-');
const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(value < 10 ? 2 : 1)}x` : '-');

function status(value: number, ok: (v: number) => boolean): TargetStatus {
  return Number.isFinite(value) ? (ok(value) ? 'met' : 'missed') : 'not measured';
}

/** The issue's targets against this run's medians. Printed, never an exit code. */
export function evaluateTargets(report: BenchReport): Target[] {
  const targets: Target[] = [];
  const w1 = figure(entrant(report, 'W1', 'symphony-memory'), 'tasksPerSec');
  targets.push({
    workload: 'W1',
    text: 'Symphony in memory >= 20,000 tasks/s',
    figure: `${int(w1)} tasks/s`,
    status: status(w1, (v) => v >= 20_000),
  });
  const w2 = figure(entrant(report, 'W2', 'symphony-memory'), 'ms');
  const w2q = figure(entrant(report, 'W2', 'p-queue'), 'ms');
  targets.push({
    workload: 'W2',
    text: "Symphony's wall time <= 4x p-queue's",
    figure: `${int(w2)} ms vs ${int(w2q)} ms = ${ratio(w2 / w2q)}`,
    status: status(w2 / w2q, (v) => v <= 4),
  });
  const sqlite = figure(entrant(report, 'W3', 'symphony-sqlite'), 'tasksPerSec');
  targets.push({
    workload: 'W3',
    text: 'Symphony on SQLite >= 12,000 durable tasks/s',
    figure: `${int(sqlite)} tasks/s`,
    status: status(sqlite, (v) => v >= 12_000),
  });
  const aof = figure(entrant(report, 'W3', 'bullmq-aof'), 'tasksPerSec');
  targets.push({
    workload: 'W3',
    text: 'Symphony on SQLite >= 2x BullMQ with AOF',
    figure: `${int(sqlite)} vs ${int(aof)} tasks/s = ${ratio(sqlite / aof)}`,
    status: status(sqlite / aof, (v) => v >= 2),
  });
  const pgSymphony = figure(entrant(report, 'W3', 'symphony-postgres'), 'tasksPerSec');
  const pgBoss = figure(entrant(report, 'W3', 'pg-boss'), 'tasksPerSec');
  targets.push({
    workload: 'W3',
    text: "Symphony on PostgreSQL >= pg-boss's rate",
    figure: `${int(pgSymphony)} vs ${int(pgBoss)} tasks/s = ${ratio(pgSymphony / pgBoss)}`,
    status: status(pgSymphony / pgBoss, (v) => v >= 1),
  });
  const inFlight = Math.max(
    figure(entrant(report, 'W4', 'symphony-memory'), 'inFlightB'),
    figure(entrant(report, 'W4', 'symphony-sqlite'), 'inFlightB'),
  );
  targets.push({
    workload: 'W4',
    text: '<= 8 KB heap per task in flight (worse of memory and SQLite)',
    figure: `${fixed(inFlight / 1024, 2)} KB`,
    status: status(inFlight, (v) => v <= 8 * 1024),
  });
  const sqliteW4 = entrant(report, 'W4', 'symphony-sqlite');
  const growth = Math.max(figure(sqliteW4, 'growthPerFinishedB'), figure(sqliteW4, 'retainedPerTaskB'));
  targets.push({
    workload: 'W4',
    text: '< 1 KB heap growth per finished task on SQLite (worse of in-run slope and retained after)',
    figure: `${int(growth)} B`,
    status: status(growth, (v) => v < 1024),
  });
  const first = figure(entrant(report, 'W5', 'symphony-sqlite'), 'firstTaskMs');
  targets.push({
    workload: 'W5',
    text: 'first task running within 2 s of process start',
    figure: `${fixed(first / 1000, 2)} s`,
    status: status(first, (v) => v <= 2000),
  });
  const graphMemory = figure(entrant(report, 'W6', 'symphony-memory'), 'ratio');
  const graphSqlite = figure(entrant(report, 'W6', 'symphony-sqlite'), 'ratio');
  const graphWorse = Math.max(graphMemory, graphSqlite);
  targets.push({
    workload: 'W6',
    text: 'graph <= 1.5x flat: scheduling cost per node (wall / nodes), worse of memory and SQLite',
    figure: `memory ${ratio(graphMemory)}, SQLite ${ratio(graphSqlite)}`,
    status: status(graphWorse, (v) => v <= 1.5),
  });
  targets.push(...scaleOutTargets(report));
  return targets.filter((t) => report.workloads.some((w) => w.id === t.workload));
}

/** W7's targets (issue 13): Symphony's scaling with worker processes, and Symphony / pg-boss at every count. */
function scaleOutTargets(report: BenchReport): Target[] {
  const rate = (engine: string, kind: string, processes: number) =>
    figure(entrant(report, 'W7', `w7-${engine}-${kind}-${processes}`), 'tasksPerSec');
  const targets: Target[] = [];
  const scaling: ReadonlyArray<[string, string, number, number]> = [
    ['io', 'I/O tasks', 2, 1.8],
    ['io', 'I/O tasks', 4, 3],
    ['noop', 'no-op tasks', 2, 1.5],
  ];
  for (const [kind, name, processes, goal] of scaling) {
    const one = rate('symphony', kind, 1);
    const many = rate('symphony', kind, processes);
    targets.push({
      workload: 'W7',
      text: `Symphony, ${name}: ${processes} worker processes >= ${goal}x one`,
      figure: `${int(many)} vs ${int(one)} tasks/s = ${ratio(many / one)}`,
      status: status(many / one, (v) => v >= goal),
    });
  }
  const counts: ReadonlyArray<[string, string, number]> = [
    ['io', 'I/O', 1],
    ['io', 'I/O', 2],
    ['io', 'I/O', 4],
    ['noop', 'no-op', 1],
    ['noop', 'no-op', 2],
  ];
  for (const [kind, name, processes] of counts) {
    const ours = rate('symphony', kind, processes);
    const boss = rate('pg-boss', kind, processes);
    targets.push({
      workload: 'W7',
      text: `Symphony >= pg-boss, ${name}, ${processes} process${processes > 1 ? 'es' : ''}`,
      figure: `${int(ours)} vs ${int(boss)} tasks/s = ${ratio(ours / boss)}`,
      status: status(ours / boss, (v) => v >= 1),
    });
  }
  return targets;
}

type Row = string[];

interface Table {
  head: Row;
  rows: Row[];
  /** Columns aligned right. */
  right: number[];
}

function throughputTable(workload: WorkloadResult): Table {
  const floor = figure(
    workload.entrants.find((e) => e.id === 'floor'),
    'ms',
  );
  const queue = figure(
    workload.entrants.find((e) => e.id === 'p-queue'),
    'ms',
  );
  const rows = workload.entrants.map((e) => {
    if (e.unavailable || e.rounds.length === 0) {
      return [e.label, e.unavailable ? `not run: ${e.unavailable}` : `failed: ${e.errors[0] ?? '?'}`];
    }
    const ms = figure(e, 'ms');
    const rates = e.rounds.map((r) => r.tasksPerSec!);
    const completed = min(e.rounds.map((r) => r.completed!));
    const tasks = e.rounds[0]!.tasks!;
    return [
      e.label,
      int(ms),
      int(figure(e, 'tasksPerSec')),
      ratio(ms / floor),
      ratio(ms / queue),
      `${int(min(rates))}-${int(max(rates))}`,
      int(figure(e, 'setupMs')),
      completed === tasks ? 'all' : `${completed}/${tasks}`,
    ];
  });
  return {
    head: ['contender', 'wall ms', 'tasks/s', 'x floor', 'x p-queue', 'tasks/s range', 'setup ms', 'done'],
    rows,
    right: [1, 2, 3, 4, 5, 6],
  };
}

function memoryTable(workload: WorkloadResult): Table {
  const rows = workload.entrants.map((e) => {
    if (e.unavailable || e.rounds.length === 0) return [e.label, `not run: ${e.unavailable ?? e.errors[0]}`];
    return [
      e.label,
      int(figure(e, 'tasksPerSec')),
      fixed(figure(e, 'baseHeapMB')),
      fixed(figure(e, 'peakHeapMB')),
      fixed(figure(e, 'inFlightB') / 1024, 2),
      int(figure(e, 'growthPerFinishedB')),
      int(figure(e, 'retainedPerTaskB')),
    ];
  });
  return {
    head: [
      'store',
      'tasks/s',
      'heap before MB',
      'peak heap MB',
      'KB per task in flight',
      'B growth per finished task (in run)',
      'B retained per task (after run)',
    ],
    rows,
    right: [1, 2, 3, 4, 5, 6],
  };
}

function recoveryTable(workload: WorkloadResult): Table {
  const rows = workload.entrants.map((e) => {
    if (e.unavailable || e.rounds.length === 0) return [e.label, `not run: ${e.unavailable ?? e.errors[0]}`];
    const s = (key: string) => fixed(figure(e, key) / 1000, 2);
    return [
      e.label,
      s('firstTaskMs'),
      s('allDoneMs'),
      s('childLoadedMs'),
      s('childFirstTaskMs'),
      s('childRecoveredMs'),
      int(figure(e, 'tasksPerSec')),
      `${int(figure(e, 'completed'))}/${int(figure(e, 'recovered'))}`,
    ];
  });
  return {
    head: [
      'store',
      'first task s',
      'all done s',
      'child: modules loaded s',
      'child: first task s',
      'child: recover() returned s',
      'tasks/s after first',
      'done/recovered',
    ],
    rows,
    right: [1, 2, 3, 4, 5, 6, 7],
  };
}

function graphTable(workload: WorkloadResult): Table {
  const rows = workload.entrants.map((e) => {
    if (e.unavailable || e.rounds.length === 0) return [e.label, `not run: ${e.unavailable ?? e.errors[0]}`];
    const ratios = e.rounds.map((r) => r.ratio!);
    const completed = min(e.rounds.map((r) => r.completed!));
    const tasks = e.rounds[0]!.tasks!;
    return [
      e.label,
      int(figure(e, 'graphMs')),
      int(figure(e, 'graphTasksPerSec')),
      int(figure(e, 'flatMs')),
      int(figure(e, 'flatTasksPerSec')),
      int(figure(e, 'graphUsPerNode')),
      int(figure(e, 'flatUsPerNode')),
      ratio(figure(e, 'ratio')),
      `${ratio(min(ratios))}-${ratio(max(ratios))}`,
      int(figure(e, 'graphSetupMs')),
      completed === tasks ? 'all' : `${completed}/${tasks}`,
    ];
  });
  return {
    head: [
      'store',
      'graph wall ms',
      'graph tasks/s',
      'flat wall ms',
      'flat tasks/s',
      'graph µs/node',
      'flat µs/node',
      'graph / flat',
      'ratio range',
      'graph setup ms',
      'done',
    ],
    rows,
    right: [1, 2, 3, 4, 5, 6, 7, 8, 9],
  };
}

function scaleOutTable(workload: WorkloadResult): Table {
  const rows = workload.entrants.map((e) => {
    if (e.unavailable || e.rounds.length === 0) {
      return [e.label, e.unavailable ? `not run: ${e.unavailable}` : `failed: ${e.errors[0] ?? '?'}`];
    }
    const rates = e.rounds.map((r) => r.tasksPerSec!);
    const completed = min(e.rounds.map((r) => r.completed!));
    const ran = max(e.rounds.map((r) => r.ran!));
    const tasks = e.rounds[0]!.tasks!;
    return [
      e.label,
      int(figure(e, 'ms')),
      int(figure(e, 'tasksPerSec')),
      `${int(min(rates))}-${int(max(rates))}`,
      int(figure(e, 'setupMs')),
      int(figure(e, 'readyMs')),
      completed === tasks ? 'all' : `${completed}/${tasks}`,
      int(ran),
    ];
  });
  return {
    head: [
      'engine, tasks, worker processes',
      'wall ms',
      'tasks/s',
      'tasks/s range',
      'setup ms',
      'spawn to ready ms',
      'done',
      'runs (most)',
    ],
    rows,
    right: [1, 2, 3, 4, 5, 7],
  };
}

function tableOf(workload: WorkloadResult): Table {
  if (workload.kind === 'scale-out') return scaleOutTable(workload);
  if (workload.kind === 'memory') return memoryTable(workload);
  if (workload.kind === 'graph') return graphTable(workload);
  if (workload.kind === 'recovery') return recoveryTable(workload);
  return throughputTable(workload);
}

function textTable({ head, rows, right }: Table): string {
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r.length === 2 && i > 0 ? 0 : (r[i] ?? '').length))),
  );
  const line = (row: Row) =>
    row.length === 2 && head.length > 2
      ? `${row[0]!.padEnd(widths[0]!)}  ${row[1]}`
      : row
          .map((cell, i) => (right.includes(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
          .join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function markdownTable({ head, rows, right }: Table): string {
  const cells = (row: Row) => `| ${row.join(' | ')} |`;
  const align = head.map((_, i) => (right.includes(i) ? '---:' : '---'));
  const padded = rows.map((row) =>
    row.length === 2 && head.length > 2 ? [...row, ...head.slice(2).map(() => '')] : row,
  );
  return [cells(head), cells(align), ...padded.map(cells)].join('\n');
}

const mark = (s: TargetStatus) => (s === 'met' ? 'met' : s === 'missed' ? 'MISSED' : 'not measured');

/** The console form: one table per workload, then the targets. */
export function formatText(report: BenchReport): string {
  const parts: string[] = [];
  for (const workload of report.workloads) {
    parts.push(`\n${workload.id} ${workload.title} (${workload.params})\n${textTable(tableOf(workload))}`);
  }
  const targets = evaluateTargets(report);
  if (targets.length) {
    parts.push(
      `\nTargets (issues #5, #12 and #13; medians of ${report.rounds} round(s); never an exit code)\n` +
        targets.map((t) => `  ${mark(t.status).padEnd(12)} ${t.workload} ${t.text}: ${t.figure}`).join('\n'),
    );
  }
  return parts.join('\n');
}

/** The Markdown block written between the markers of docs/performance.md. */
export function formatMarkdown(report: BenchReport): string {
  const { machine } = report;
  const lines: string[] = [];
  lines.push(
    `Run of ${report.startedAt} (${fixed(report.durationMs / 60_000, 1)} min), ${report.rounds} round(s), medians.`,
  );
  if (report.scale !== 1 || report.tasks !== undefined) {
    lines.push(
      '',
      `**Scaled run** (scale ${report.scale}${report.tasks ? `, ${report.tasks} tasks` : ''}): not the issue's sizes.`,
    );
  }
  lines.push(
    '',
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${fixed(machine.memoryGiB, 1)} GiB, ${machine.os}`,
    `- Code: ${machine.revision}`,
    `- Node ${machine.node}, flags \`${machine.flags}\``,
    `- Load average (1 min) at start ${fixed(machine.load[0], 2)}, at end ${fixed(machine.load[1], 2)} (${machine.cores} cores)`,
    `- Versions: ${Object.entries(machine.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}`,
    ...machine.services.map((s) => `- ${s}`),
  );
  lines.push('', '### Targets', '', '| workload | target | this run | status |', '| --- | --- | --- | --- |');
  for (const t of evaluateTargets(report))
    lines.push(`| ${t.workload} | ${t.text} | ${t.figure} | ${mark(t.status)} |`);
  for (const workload of report.workloads) {
    lines.push(
      '',
      `### ${workload.id}: ${workload.title}`,
      '',
      workload.params,
      '',
      markdownTable(tableOf(workload)),
    );
    const notes = workload.entrants.filter((e) => e.errors.length > 0);
    for (const e of notes) lines.push('', `${e.label}: ${e.errors.length} round(s) failed: ${e.errors[0]}`);
  }
  return lines.join('\n');
}

export const BEGIN = '<!-- bench:results:begin -->';
export const END = '<!-- bench:results:end -->';

/**
 * Replaces the block between the markers of `path` (the rest of the file is left as written) and
 * formats the file with the project's Prettier settings.
 */
export async function writeReport(path: string, report: BenchReport): Promise<void> {
  const block = `${BEGIN}\n\n${formatMarkdown(report)}\n\n${END}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const begin = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  const next =
    begin >= 0 && end > begin
      ? current.slice(0, begin) + block + current.slice(end + END.length)
      : `${current}${current ? '\n' : '# Performance\n\n'}${block}\n`;
  const options = (await resolveConfig(path)) ?? {};
  writeFileSync(path, await format(next, { ...options, parser: 'markdown' }));
}
