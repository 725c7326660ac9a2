import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultRetryPolicy, type Task } from '../../src/index.js';
import { SqliteStore } from '../../src/sqlite.js';
import { sampleTask } from '../../src/testing/samples.js';
import type { Figures } from '../types.js';

const CHILD = fileURLToPath(new URL('./recovery-child.ts', import.meta.url));
/** The V8 flags of the child: the same as `npm run bench` pins. */
export const CHILD_FLAGS = ['--max-semi-space-size=32'];

/** A pending task as the engine leaves it once submitted: PENDING, with its execution plan. */
function pendingTask(i: number, now: number): Task {
  return sampleTask(`w5-${i.toString(36).padStart(6, '0')}`, {
    name: `task ${i}`,
    createdAt: now,
    updatedAt: now,
    execution: {
      agentKey: 'bench-noop',
      attemptLimit: 1,
      maxAttempts: 1,
      initialDelayMs: defaultRetryPolicy.initialDelayMs,
      backoffFactor: defaultRetryPolicy.backoffFactor,
      maxDelayMs: defaultRetryPolicy.maxDelayMs,
      jitter: defaultRetryPolicy.jitter,
      nonRetryableErrors: [],
      timeoutMs: 0,
      priority: 0,
      metadata: {},
    },
  });
}

/** A SQLite file holding `tasks` pending tasks, written with `store.commit`; copied for each round. */
export interface RecoveryTemplate {
  tasks: number;
  path: string;
  dispose(): void;
}

export async function createRecoveryTemplate(tasks: number): Promise<RecoveryTemplate> {
  const dir = mkdtempSync(join(tmpdir(), 'symphony-bench-w5-'));
  const path = join(dir, 'template.db');
  const store = new SqliteStore({ path });
  await store.open();
  const now = Date.now();
  for (let start = 0; start < tasks; start += 5000) {
    const batch: Task[] = [];
    for (let i = start; i < Math.min(tasks, start + 5000); i += 1) batch.push(pendingTask(i, now));
    await store.commit({ tasks: batch });
  }
  await store.close();
  return { tasks, path, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

interface ChildReport {
  loadedMs: number;
  firstMs: number;
  recoveredMs: number;
  doneMs: number;
  recovered: number;
  completed: number;
}

/**
 * One W5 round: a child process on a copy of the template. Times from the spawn (parent clock)
 * to the child's FIRST and DONE lines and to its exit, and the child's own times since its start.
 */
export async function measureRecovery(template: RecoveryTemplate): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'symphony-bench-w5-run-'));
  const path = join(dir, 'run.db');
  copyFileSync(template.path, path);
  try {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...CHILD_FLAGS, '--import', 'tsx', CHILD, path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let errors = '';
    let firstSeen = Number.NaN;
    let doneSeen = Number.NaN;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (Number.isNaN(firstSeen) && output.includes('FIRST ')) firstSeen = performance.now() - t0;
      if (Number.isNaN(doneSeen) && output.includes('DONE ')) doneSeen = performance.now() - t0;
    });
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const exitMs = performance.now() - t0;
    const line = output.trim().split('\n').pop() ?? '';
    if (code !== 0 || !line.startsWith('{')) {
      throw new Error(
        `The recovery child exited with ${code}: ${errors.slice(-2000) || output.slice(-2000)}`,
      );
    }
    const report = JSON.parse(line) as ChildReport;
    return {
      firstTaskMs: firstSeen,
      allDoneMs: doneSeen,
      exitMs,
      childLoadedMs: report.loadedMs,
      childFirstTaskMs: report.firstMs,
      childRecoveredMs: report.recoveredMs,
      childAllDoneMs: report.doneMs,
      recovered: report.recovered,
      completed: report.completed,
      tasksPerSec: report.recovered / ((report.doneMs - report.firstMs) / 1000),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
