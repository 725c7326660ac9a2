import { access, readFile, readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { main as pauseResume } from '../../examples/guide-pause-resume.js';
import { main as retries } from '../../examples/guide-retries.js';
import { main as routing } from '../../examples/guide-routing.js';
import { main as scaleOut } from '../../examples/guide-scale-out.js';
import { main as stores } from '../../examples/guide-stores.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFile(new URL(path, root), 'utf8');
const GUIDES = ['routing', 'retries', 'pause-resume', 'stores', 'scale-out'] as const;

function collect(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

describe('guide examples', () => {
  it('guide-routing routes by capability, content, load and a custom function, and says why none fits', async () => {
    const { lines, log } = collect();
    const outcome = await routing(log);
    expect(outcome.chosen).toEqual({
      capability: 'Reviewer',
      content: 'Summarizer',
      loadBalanced: 'Reviewer',
      custom: 'Summarizer',
    });
    expect(outcome.loadWhileBusy).toEqual({ inFlight: 1, queued: 0, completed: 0, failed: 0 });
    expect(outcome.loadAfter).toEqual({ inFlight: 0, queued: 0, completed: 1, failed: 0 });
    expect(outcome.noAgent).toEqual({ missingCapability: 'missing-capabilities', busy: 'all-at-limit' });
    expect(outcome.strategyAfterSwitch).toBe('LOAD_BALANCED');
    expect(outcome.batch).toEqual({ Translator: 2, Reviewer: 2 });
    expect(lines).toHaveLength(9);
  });

  it('guide-retries backs off 100, 200, then 250 ms (capped), never retries listed or NonRetryable errors, and times out', async () => {
    const { lines, log } = collect();
    const outcome = await retries(log);
    expect(outcome.attemptTimes).toEqual([0, 100, 300, 550]);
    expect(outcome.flaky.status).toBe('COMPLETED');
    expect(outcome.flaky.attempts).toBe(4);
    expect(outcome.flaky.errors.map((error) => [error.attempt, error.code, error.retryable])).toEqual([
      [1, 'OVERLOADED', true],
      [2, 'OVERLOADED', true],
      [3, 'OVERLOADED', true],
    ]);

    expect(outcome.listed.status).toBe('FAILED');
    expect(outcome.listed.attempts).toBe(1);
    expect(outcome.listed.error).toMatchObject({ code: 'UNSUPPORTED_LANGUAGE', retryable: false });

    expect(outcome.refused.status).toBe('FAILED');
    expect(outcome.refused.attempts).toBe(1);
    expect(outcome.refused.error).toMatchObject({ name: 'NonRetryableError', code: 'NON_RETRYABLE' });
    // retryTask kept the history: the new run's result still lists the first failure.
    expect(outcome.retried.status).toBe('COMPLETED');
    expect(outcome.retried.attempts).toBe(2);
    expect(outcome.retried.errors.map((error) => error.code)).toEqual(['NON_RETRYABLE']);

    expect(outcome.timedOut.status).toBe('FAILED');
    expect(outcome.timedOut.errors.map((error) => [error.code, error.retryable])).toEqual([
      ['EXECUTION_TIMEOUT', true],
      ['EXECUTION_TIMEOUT', false],
    ]);
    expect(outcome.abortsSeen).toEqual([true, true]);
    expect(lines).toHaveLength(5);
  });

  it('guide-pause-resume holds and releases work in one process and from another engine on the store', async () => {
    const { local, crossProcess } = await pauseResume(() => {});
    expect(local.statusWhilePaused).toBe('PAUSED');
    expect(local.callsWhilePaused).toBe(1);
    expect(local.callsAfterResume).toBe(2);
    expect(local.pausedTaskStatus).toBe('PAUSED');
    expect(local.statusWhileTaskPaused).toBe('RUNNING');
    expect(local.callsWhileTaskPaused).toBe(2);
    expect(local.callsAfterTaskResume).toBe(3);
    expect(local.cancelledAttemptAborted).toBe(true);
    expect(local.results.map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED', 'CANCELLED']);
    expect(local.results[2]!.error?.code).toBe('EXECUTION_CANCELLED');
    expect(local.finalStatus).toBe('CANCELLED');

    expect(crossProcess.pausedByOther).toBe('PAUSED');
    expect(crossProcess.seenByRunner).toBe('PAUSED');
    expect(crossProcess.callsWhilePaused).toBe(1);
    expect(crossProcess.callsAfterResume).toBe(2);
    expect(crossProcess.cancelledByOther).toBe('CANCELLED');
    expect(crossProcess.runningAttemptAborted).toBe(true);
    expect(crossProcess.results.map((result) => result.status)).toEqual([
      'COMPLETED',
      'CANCELLED',
      'CANCELLED',
    ]);
  });

  it('guide-stores keeps a stopped run in the SQLite file and a second engine recovers and finishes it', async () => {
    const outcome = await stores(() => {});
    expect(Object.values(outcome.kinds)).toEqual(['memory', 'sqlite', 'postgres']);
    expect(outcome.stopError).toBe('ENGINE_STOPPED');
    expect(outcome.afterStop).toEqual([
      { name: 'january', status: 'COMPLETED', attempts: 1 },
      { name: 'february', status: 'PENDING', attempts: 1 },
      { name: 'march', status: 'PENDING', attempts: 0 },
    ]);
    expect(outcome.recovered).toBe(2);
    expect(outcome.afterRecovery).toEqual([
      { name: 'january', status: 'COMPLETED', attempts: 1 },
      { name: 'february', status: 'COMPLETED', attempts: 2 },
      { name: 'march', status: 'COMPLETED', attempts: 1 },
    ]);
    expect(outcome.interruptedErrors).toEqual(['ATTEMPT_INTERRUPTED']);
    expect(outcome.workflowStatus).toBe('COMPLETED');
    expect(outcome.completionRecords).toBe(3);
  });

  it('guide-scale-out: a submitted workflow is run by two workers sharing a SQLite file, and ends COMPLETED', async () => {
    const outcome = await scaleOut(() => {});
    expect(outcome.workflowStatus).toBe('COMPLETED');
    expect(outcome.completedTasks).toBe(12);
    expect(Object.values(outcome.ranBy).reduce((a, b) => a + b, 0)).toBe(12);
  });
});

describe('guides show their examples as they are', () => {
  it.each(GUIDES)('docs/guides/%s.md quotes examples/guide-%s.ts verbatim', async (name) => {
    const guide = await read(`docs/guides/${name}.md`);
    const file = `examples/guide-${name}.ts`;
    const quoted = new RegExp(
      `<!-- example: ${file} -->\\n\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n\\n<!-- end example -->`,
    );
    const match = quoted.exec(guide);
    expect(
      match,
      `${name}.md has no block between <!-- example: ${file} --> and <!-- end example -->`,
    ).not.toBeNull();
    // On a mismatch, paste the file's text between the markers again.
    expect(match![1]).toBe(await read(file));
  });

  it('every guide is linked from the README, and every guide example has a guide', async () => {
    const readme = await read('README.md');
    for (const name of GUIDES) expect(readme).toContain(`(docs/guides/${name}.md)`);
    const examples = (await readdir(new URL('examples/', root))).filter((entry) =>
      entry.startsWith('guide-'),
    );
    expect(examples.sort()).toEqual(GUIDES.map((name) => `guide-${name}.ts`).sort());
  });

  it('the links in the guides point at files that exist', async () => {
    const guidesDir = new URL('docs/guides/', root);
    let links = 0;
    for (const name of GUIDES) {
      const guide = await read(`docs/guides/${name}.md`);
      for (const [, target] of guide.matchAll(/\]\(([\w./-]+\.(?:md|ts|yaml))(?:#[\w-]+)?\)/g)) {
        links += 1;
        await expect(
          access(new URL(target!, guidesDir)),
          `${name}.md links ${target}`,
        ).resolves.toBeUndefined();
      }
    }
    expect(links).toBeGreaterThan(15);
  });
});
