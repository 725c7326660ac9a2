import { Session } from 'node:inspector/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where `--profile DIR` writes one CPU profile per timed phase; null when not profiling. */
let directory: string | null = null;

export function profileInto(dir: string | null): void {
  directory = dir;
  if (dir) mkdirSync(dir, { recursive: true });
}

/**
 * Runs `fn`, recording a V8 CPU profile of it alone (setup and teardown excluded) when profiling
 * is on. Read the file with `bench/tools/cpuprofile-top.ts` or Chrome DevTools.
 */
export async function profiled<R>(name: string, fn: () => Promise<R>): Promise<R> {
  if (!directory) return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(directory, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}
