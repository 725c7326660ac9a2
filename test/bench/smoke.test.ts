/**
 * A smoke run of `npm run bench` (issues #5, #12, #13): every contender's code path on every workload,
 * with 50 tasks and one round, so the bench cannot rot (W7, which spawns worker processes, in a run of
 * its own). It asserts that every task completed, never a
 * time. PostgreSQL and Redis contenders must run under CI; elsewhere an unreachable server skips
 * them with a message.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BEGIN,
  END,
  evaluateTargets,
  formatText,
  writeReport,
  type BenchReport,
} from '../../bench/report.js';
import { ALL_WORKLOADS, parseArgs, runBench } from '../../bench/run.js';
import {
  graphTemplate,
  graphThroughApi,
  graphWidth,
  randomDag,
  type GraphTemplate,
} from '../../bench/workloads/graph.js';

/** W1-W6 in one run; W7 (up to 4 worker processes per entrant) in its own. */
const IN_PROCESS = ALL_WORKLOADS.filter((id) => id !== 'W7');
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
const TASKS = 50;
const CONTENDERS = [
  'floor',
  'p-queue',
  'symphony-memory',
  'symphony-sqlite',
  'symphony-postgres',
  'bullmq',
  'bullmq-aof',
  'pg-boss',
];
/** A reason that may skip a contender even under CI: this machine has no redis-server binary. */
const OPTIONAL = /redis-server is not on PATH/;

describe('bench smoke run', () => {
  let report: BenchReport;
  const lines: string[] = [];

  beforeAll(async () => {
    report = await runBench({
      rounds: 1,
      only: IN_PROCESS,
      scale: 1,
      tasks: TASKS,
      warmup: false,
      out: null,
      log: (line) => lines.push(line),
    });
  }, 180_000);

  it.for(CONTENDERS)('runs %s on each of its workloads and completes every task', (id, ctx) => {
    const entries = report.workloads.flatMap((w) =>
      w.entrants.filter((e) => e.id === id).map((e) => ({ workload: w, entrant: e })),
    );
    expect(entries.length).toBeGreaterThan(0);
    const reason = entries.find((e) => e.entrant.unavailable)?.entrant.unavailable;
    if (reason !== undefined) {
      if (inCi && !OPTIONAL.test(reason)) throw new Error(`${id} must run under CI: ${reason}`);
      console.warn(`[bench smoke] SKIPPING ${id}: ${reason}`);
      ctx.skip();
    }
    for (const { workload, entrant } of entries) {
      expect(entrant.errors, `${workload.id} ${id}: ${lines.join('\n')}`).toEqual([]);
      expect(entrant.rounds).toHaveLength(1);
      const round = entrant.rounds[0]!;
      if (workload.kind === 'throughput') {
        expect(round.completed, `${workload.id} ${id}`).toBe(TASKS);
        expect(round.ms).toBeGreaterThan(0);
      } else if (workload.kind === 'graph') {
        expect(round.graphCompleted, `W6 graph ${id}`).toBe(TASKS);
        expect(round.flatCompleted, `W6 flat ${id}`).toBe(TASKS);
        expect(round.ratio).toBeCloseTo(round.graphMs! / round.flatMs!);
      } else if (workload.kind === 'memory') {
        expect(round.completed).toBe(TASKS);
        expect(Number.isFinite(round.inFlightB)).toBe(true);
        expect(round.peakHeapMB).toBeGreaterThan(0);
      } else {
        expect(round.recovered).toBe(TASKS);
        expect(round.completed).toBe(TASKS);
        expect(round.firstTaskMs).toBeLessThanOrEqual(round.allDoneMs!);
      }
    }
  });

  it('prints every workload and a status for every target', () => {
    const text = formatText(report);
    for (const id of IN_PROCESS) expect(text).toContain(`\n${id} `);
    const targets = evaluateTargets(report);
    expect(targets.map((t) => t.workload)).toEqual(['W1', 'W2', 'W3', 'W3', 'W3', 'W4', 'W4', 'W5', 'W6']);
    for (const target of targets) expect(['met', 'missed', 'not measured']).toContain(target.status);
  });

  it('rewrites only the results block of the performance doc', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-bench-doc-'));
    try {
      const path = join(dir, 'performance.md');
      writeFileSync(
        path,
        `# Performance\n\nHand-written intro.\n\n${BEGIN}\nold\n${END}\n\n## Profile\n\nKept.\n`,
      );
      await writeReport(path, report);
      const doc = readFileSync(path, 'utf8');
      expect(doc).toContain('Hand-written intro.');
      expect(doc).toContain('## Profile\n\nKept.');
      expect(doc).not.toContain('\nold\n');
      expect(doc).toContain('### W3: durable no-op tasks');
      expect(doc).toMatch(/Machine: .+, \d+ cores/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench smoke run of W7 (worker processes on PostgreSQL)', () => {
  let report: BenchReport;
  const lines: string[] = [];

  beforeAll(async () => {
    report = await runBench({
      rounds: 1,
      only: ['W7'],
      scale: 1,
      tasks: TASKS,
      warmup: false,
      out: null,
      log: (line) => lines.push(line),
    });
  }, 600_000);

  it('runs both engines at every process count, every task completed and run once', (ctx) => {
    const w7 = report.workloads.find((w) => w.id === 'W7')!;
    expect(w7.entrants.map((e) => e.id)).toEqual([
      'w7-symphony-io-1',
      'w7-pg-boss-io-1',
      'w7-symphony-io-2',
      'w7-pg-boss-io-2',
      'w7-symphony-io-4',
      'w7-pg-boss-io-4',
      'w7-symphony-noop-1',
      'w7-pg-boss-noop-1',
      'w7-symphony-noop-2',
      'w7-pg-boss-noop-2',
    ]);
    const reason = w7.entrants.find((e) => e.unavailable)?.unavailable;
    if (reason !== undefined) {
      if (inCi) throw new Error(`W7 must run under CI: ${reason}`);
      console.warn(`[bench smoke] SKIPPING W7: ${reason}`);
      ctx.skip();
    }
    for (const e of w7.entrants) {
      expect(e.errors, `${e.id}: ${lines.join('\n')}`).toEqual([]);
      expect(e.rounds).toHaveLength(1);
      const round = e.rounds[0]!;
      expect(round.completed, e.id).toBe(TASKS);
      expect(round.ran, e.id).toBe(TASKS);
      expect(round.processes).toBe(Number(e.id.split('-').pop()));
      expect(round.ms).toBeGreaterThan(0);
    }
  });

  it('prints W7 and a status for each of its targets', () => {
    expect(formatText(report)).toContain('\nW7 ');
    const targets = evaluateTargets(report);
    expect(targets).toHaveLength(8);
    for (const target of targets) {
      expect(target.workload).toBe('W7');
      expect(['met', 'missed', 'not measured']).toContain(target.status);
    }
  });
});

describe('W6 graph', () => {
  it('builds the same seeded DAG every time: layers of the width, 1-3 nodes of the layer before', () => {
    const dag = randomDag(10_000);
    expect(randomDag(10_000)).toEqual(dag);
    expect(graphWidth(10_000)).toBe(100);
    dag.forEach((dependsOn, i) => {
      const layer = Math.floor(i / 100);
      if (layer === 0) return expect(dependsOn).toEqual([]);
      expect(dependsOn.length).toBeGreaterThanOrEqual(1);
      expect(dependsOn.length).toBeLessThanOrEqual(3);
      expect(new Set(dependsOn).size).toBe(dependsOn.length);
      for (const d of dependsOn) expect(Math.floor(d / 100)).toBe(layer - 1);
    });
    expect(graphWidth(TASKS)).toBe(8);
  });

  it('seeds the stores with the rows addTaskToWorkflow leaves', async () => {
    const dag = randomDag(TASKS);
    const [api, template] = await Promise.all([graphThroughApi(dag), graphTemplate(dag)]);
    // Ids differ between the two builds: compare with each id replaced by its task's position.
    const shape = ({ workflow, tasks }: GraphTemplate) => {
      const index = new Map(tasks.map((task, i) => [task.id, i]));
      return {
        workflow: { ...workflow, id: 'w', createdAt: 0, updatedAt: 0 },
        tasks: tasks.map((task) => ({
          ...task,
          id: index.get(task.id),
          workflowId: task.workflowId === workflow.id ? 'w' : task.workflowId,
          graph: task.graph && { ...task.graph, dependsOn: task.graph.dependsOn.map((d) => index.get(d)) },
          createdAt: 0,
          updatedAt: 0,
        })),
      };
    };
    expect(shape(template)).toEqual(shape(api));
  });
});

describe('bench command line', () => {
  it('writes the doc only for a full-size run unless told', () => {
    expect(parseArgs([]).out).toMatch(/docs\/performance\.md$/);
    expect(parseArgs(['--only', 'W1,w3']).only).toEqual(['W1', 'W3']);
    expect(parseArgs(['--only', 'W1']).out).toBeNull();
    expect(parseArgs(['--only', 'w7']).only).toEqual(['W7']);
    expect(parseArgs(['--scale', '0.1', '--write']).out).toMatch(/performance\.md$/);
    expect(parseArgs(['--no-write']).out).toBeNull();
  });

  it('rejects an unknown workload or option with the usage', () => {
    expect(() => parseArgs(['--only', 'W9'])).toThrow(/Unknown workload W9[\s\S]*Usage/);
    expect(() => parseArgs(['--rounds', '0'])).toThrow(/--rounds to be a number >= 1/);
    expect(() => parseArgs(['--fast'])).toThrow(/Unknown option --fast/);
  });
});
