/**
 * Start-up of the `symphony` command, against `node -e 0` in the same run: `--version`, `--help`, and
 * `list` on a SQLite store of 1,000 workflows (10 tasks each). Targets (issue 9): `--version` at most 3x
 * `node -e 0`; `list` on 1,000 workflows at most 0.5 s. Needs a build (`npm run build`).
 *
 * Usage: npm run bench:startup [-- --runs N]   (default 15 runs each; medians, min and max in ms)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteStore } from '../src/repositories/sqlite/sqlite-store.js';
import { sampleTask, sampleWorkflow } from '../src/testing/samples.js';
import { max, median, min } from './stats.js';

const BIN = join(import.meta.dirname, '../bin/symphony.js');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 15;

async function storeOf(workflows: number, tasksEach: number, path: string): Promise<void> {
  const store = new SqliteStore({ path });
  await store.open();
  for (let w = 0; w < workflows; w += 1) {
    const id = `wf${String(w).padStart(5, '0')}`;
    const status = w % 7 === 0 ? 'FAILED' : 'COMPLETED';
    await store.commit({
      workflows: [sampleWorkflow(id, { status, createdAt: 1_700_000_000_000 + w })],
      tasks: Array.from({ length: tasksEach }, (_, t) =>
        sampleTask(`${id}-t${t}`, { workflowId: id, status: 'COMPLETED', attempts: 1 }),
      ),
    });
  }
  await store.close();
}

function time(args: readonly string[]): { median: number; min: number; max: number } {
  const samples: number[] = [];
  execFileSync(process.execPath, args, { stdio: 'ignore' }); // warm the file cache
  for (let i = 0; i < RUNS; i += 1) {
    const start = performance.now();
    execFileSync(process.execPath, args, { stdio: 'ignore' });
    samples.push(performance.now() - start);
  }
  return { median: median(samples), min: min(samples), max: max(samples) };
}

const dir = mkdtempSync(join(tmpdir(), 'symphony-startup-'));
try {
  const db = join(dir, 'store.db');
  await storeOf(1_000, 10, db);
  const rows: Array<[string, readonly string[]]> = [
    ['node -e 0', ['-e', '0']],
    ['symphony --version', [BIN, '--version']],
    ['symphony --help', [BIN, '--help']],
    ['symphony list (1,000 workflows, first 50)', [BIN, 'list', '--db', db]],
    ['symphony list --limit 1000', [BIN, 'list', '--db', db, '--limit', '1000']],
    ['symphony show <workflow>', [BIN, 'show', 'wf00042', '--db', db]],
  ];
  console.log(
    `start-up, ${RUNS} runs each, ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(2)} at start`,
  );
  const base = time(rows[0]![1]);
  for (const [name, args] of rows) {
    const t = name === 'node -e 0' ? base : time(args);
    console.log(
      `${name.padEnd(44)} median ${t.median.toFixed(0).padStart(5)} ms  (min ${t.min.toFixed(0)}, max ${t.max.toFixed(0)})  ${(t.median / base.median).toFixed(1)}x node -e 0`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
