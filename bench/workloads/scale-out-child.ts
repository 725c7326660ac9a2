/**
 * W7's worker process: one engine (a Symphony worker or a pg-boss fetch/complete loop) on the
 * PostgreSQL schema given, whose tasks the parent has already written. It opens its connections,
 * prints READY, waits for GO on stdin, then takes and runs tasks until STOP on stdin, stops, and
 * prints one JSON line with its counts.
 *
 * Usage: node --import tsx bench/workloads/scale-out-child.ts <symphony|pg-boss> <io|noop> <schema>
 *        <concurrency> <pollMs>
 */
import { createInterface } from 'node:readline';
import PgBoss from 'pg-boss';
import { ServiceRegistry, type Agent } from '../../src/index.js';
import { PostgresStore } from '../../src/postgres.js';
import { pgUrl } from '../services.js';
import { SCALE_OUT_QUEUE, scaleOutAgentKey, scaleOutWork, type ScaleOutKind } from './scale-out-work.js';

const [engine, kind, schema, concurrencyArg, pollArg] = process.argv.slice(2);
if ((engine !== 'symphony' && engine !== 'pg-boss') || (kind !== 'io' && kind !== 'noop') || !schema) {
  throw new Error('Usage: scale-out-child.ts <symphony|pg-boss> <io|noop> <schema> <concurrency> <pollMs>');
}
const concurrency = Number(concurrencyArg);
const pollMs = Number(pollArg);
const work = scaleOutWork(kind as ScaleOutKind);

/** Resolves at the first stdin line equal to `word`. */
const lines = createInterface({ input: process.stdin });
const seen = new Set<string>();
const waiters = new Map<string, () => void>();
lines.on('line', (line) => {
  const word = line.trim();
  seen.add(word);
  waiters.get(word)?.();
});
// The parent gone (stdin closed before STOP): stop at once rather than work on unwatched.
lines.on('close', () => {
  if (!seen.has('STOP')) process.exit(1);
});
const command = (word: string) =>
  new Promise<void>((resolve) => {
    if (seen.has(word)) resolve();
    else waiters.set(word, resolve);
  });

interface Counts {
  completed: number;
  claims: number;
  errors: number;
}

async function symphony(): Promise<Counts> {
  const registry = new ServiceRegistry({
    store: new PostgresStore({ connectionString: pgUrl(), schema }),
    maxConcurrency: concurrency,
    retry: { maxAttempts: 1 },
  });
  await registry.start();
  const agent: Agent = { id: scaleOutAgentKey(kind as ScaleOutKind), execute: () => work() };
  process.stdout.write('READY\n');
  await command('GO');
  const worker = await registry.startWorker({
    resolveAgent: () => agent,
    batchSize: concurrency,
    prefetch: concurrency,
    pollMs,
  });
  await command('STOP');
  // Read once stopped: a task's count goes up when its result settles, after the commit the parent
  // already counted (under load STOP can arrive before this process has settled its last tasks).
  await worker.stop();
  const stats = worker.stats();
  return { completed: stats.completed, claims: stats.claims, errors: stats.claimErrors + stats.ended };
}

async function pgBoss(): Promise<Counts> {
  const boss = new PgBoss({ connectionString: pgUrl(), schema, supervise: false, schedule: false });
  let errors = 0;
  boss.on('error', () => (errors += 1));
  await boss.start();
  process.stdout.write('READY\n');
  await command('GO');
  let stopping = false;
  void command('STOP').then(() => (stopping = true));
  let completed = 0;
  let claims = 0;
  while (!stopping) {
    const batch = await boss.fetch(SCALE_OUT_QUEUE, { batchSize: concurrency });
    claims += 1;
    if (batch.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      continue;
    }
    await Promise.all(batch.map(() => work()));
    await boss.complete(
      SCALE_OUT_QUEUE,
      batch.map((job) => job.id),
    );
    completed += batch.length;
  }
  await boss.stop({ graceful: false, wait: true });
  return { completed, claims, errors };
}

const counts = engine === 'symphony' ? await symphony() : await pgBoss();
lines.close();
process.stdout.write(`${JSON.stringify(counts)}\n`);
process.exit(0);
