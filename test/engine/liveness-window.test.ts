import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceRegistry, type EngineOptions } from '../../src/index.js';
import { advance, createTestClock } from '../../src/testing/index.js';

/**
 * The liveness window (issue 9): how long an engine's beat counts as a sign of life is an engine
 * option, so tests that start processes on a busy machine can widen it instead of racing it.
 * Time is simulated: both engines share one SimulatedClock.
 */
let open: ServiceRegistry[] = [];
afterEach(async () => {
  for (const registry of open) await registry.stop({ graceMs: 0 }).catch(() => {});
  open = [];
});

function engine(path: string, options: Omit<EngineOptions, 'store'>): ServiceRegistry {
  const registry = new ServiceRegistry({ store: path, ...options });
  open.push(registry);
  return registry;
}

const dbPath = () => join(mkdtempSync(join(tmpdir(), 'symphony-liveness-')), 'liveness.db');

/** Whether `observer` counts the engine named `engineId` as alive. */
async function aliveIn(observer: ServiceRegistry, engineId: string): Promise<boolean | undefined> {
  return (await observer.listEngines()).find((engine) => engine.engineId === engineId)?.alive;
}

describe('livenessMs', () => {
  it('writes beats that count for the window the engine declares, whatever its poll', async () => {
    const path = dbPath();
    const clock = createTestClock(1_000_000);
    // A poll of 1 s would make a 10 s window by default; the engine declares 60 s.
    const quiet = engine(path, { clock, controlPollMs: 1_000, livenessMs: 60_000, engineId: 'quiet' });
    await quiet.listEngines();
    const observer = engine(path, { clock, controlPollMs: 0, engineId: 'observer' });
    const beats = (await observer.listEngines()).find((e) => e.engineId === 'quiet')!;
    expect(beats.expiresAt - beats.beatAt).toBe(60_000);
    expect(await aliveIn(observer, 'quiet')).toBe(true);
    // Its later beats (every simulated second) declare the same window.
    await advance(clock, 30_000);
    const later = (await observer.listEngines()).find((e) => e.engineId === 'quiet')!;
    expect(later.beatAt).toBeGreaterThan(beats.beatAt);
    expect(later.expiresAt - later.beatAt).toBe(60_000);
    expect(await aliveIn(observer, 'quiet')).toBe(true);
  });

  it('defaults to ten polls and at least 5 s', async () => {
    const path = dbPath();
    const clock = createTestClock(1_000_000);
    const fast = engine(path, { clock, controlPollMs: 100, engineId: 'fast' });
    const slow = engine(path, { clock, controlPollMs: 2_000, engineId: 'slow' });
    await fast.listEngines();
    await slow.listEngines();
    const windows = Object.fromEntries(
      (await fast.listEngines()).map((e) => [e.engineId, e.expiresAt - e.beatAt] as const),
    );
    expect(windows).toEqual({ fast: 5_000, slow: 20_000 });
  });

  it('refuses a window no longer than a poll, which would make the engine look dead between beats', async () => {
    expect(() => new ServiceRegistry({ store: ':memory:', controlPollMs: 500, livenessMs: 500 })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: 'Expected `livenessMs` to be greater than `controlPollMs` (500), got 500',
      }),
    );
    expect(() => new ServiceRegistry({ store: ':memory:', livenessMs: 0 })).toThrow(/livenessMs/);
    // With the default poll of a SQLite store (500 ms), the check comes when the engine starts.
    const registry = engine(dbPath(), { livenessMs: 200 });
    await expect(registry.listEngines()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
