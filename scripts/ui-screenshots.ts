// Makes the screenshots of the dashboard in docs/images (ui-*.png): a store with a finished demo,
// a failed run and a graph run in progress (its attempts held at a gate file), the dashboard served
// from it in this process, and Debian's chromium (playwright-core) on its pages, one of them 320 px
// wide. Run with `npm run screenshots` (CHROMIUM=/path overrides /usr/bin/chromium).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { main } from '../src/cli/main.js';
import { storedActorEvents } from '../src/cli/overview/stored-actor-events.js';
import { openSession } from '../src/cli/store.js';
import { resolveDashboardOptions } from '../src/cli/ui/options.js';
import { startDashboard } from '../src/cli/ui/server.js';
import { launchChromium } from '../test/support/chromium.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'docs/images');

const AGENTS = `
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
const usage = (n) => ({ inputTokens: 800 + n * 37, outputTokens: 120 + n * 11, totalTokens: 920 + n * 48 });
export const agents = {
  researcher: () => ({
    execute: async (task, context) => {
      const gate = process.env.SCREENSHOT_GATE;
      if (task.inputData.hold === true || task.inputData.item !== undefined) {
        while (gate && !existsSync(gate)) await sleep(20, undefined, { signal: context.signal });
      }
      if (task.inputData.step === 'fetch') return { documents: ['harbor report', 'council minutes', 'lab journal'], usage: usage(1), modelId: 'demo-model' };
      return { text: task.name + ' done', usage: usage(task.name.length), modelId: 'demo-model' };
    },
  }),
  flaky: () => ({
    execute: async () => {
      throw Object.assign(new Error('The provider answered 503: overloaded, try again later'), { code: 'PROVIDER_OVERLOADED' });
    },
  }),
};
`;

const DIGEST = `
name: Research digest
description: Fetch the sources, summarise each, review, wait for an editor, publish
concurrency: 4
prices: { '*': { inputPerMTok: 3, outputPerMTok: 15 } }
agents:
  module: ./agents.mjs
  configs:
    - { name: Researcher, type: researcher, maxConcurrency: 4, rateLimits: [{ requests: 60, per: 60000 }] }
tasks:
  - { key: fetch, name: Fetch the sources, inputData: { step: fetch } }
  - { key: summaries, name: Summarise, dependsOn: [fetch], forEach: outputs.fetch.documents }
  - { key: review, name: Review the summaries, dependsOn: [summaries] }
  - { key: approval, name: Editor approval, dependsOn: [review], waitFor: { signals: [approval] } }
  - { key: publish, name: Publish, dependsOn: [approval], when: outputs.approval.payload.approved == true }
  - { key: archive, name: Archive the sources, dependsOn: [fetch], inputData: { hold: true } }
`;

const NIGHTLY = `
name: Nightly report
description: A report whose provider is down
retry: { maxAttempts: 3, initialDelayMs: 10 }
agents:
  module: ./agents.mjs
  configs:
    - { name: Reporter, type: flaky, circuitBreaker: { failureThreshold: 2, cooldownMs: 600000 } }
tasks:
  - { name: Write the nightly report }
`;

async function cli(argv: string[]): Promise<string> {
  let out = '';
  const sink = { write: (chunk: string) => ((out += chunk), true) };
  await main(argv, { stdout: sink, stderr: { write: () => true }, env: process.env, cwd: ROOT });
  return out;
}

async function shoot(page: Page, name: string, path: string, width: number, ready: string): Promise<void> {
  await page.setViewportSize({ width, height: 900 });
  await page.goto(path);
  await page.waitForSelector(ready);
  await page.waitForSelector('#live[data-state="on"]');
  await page.screenshot({ path: join(OUT, `ui-${name}.png`), fullPage: true });
  process.stdout.write(`wrote docs/images/ui-${name}.png\n`);
}

const dir = mkdtempSync(join(tmpdir(), 'symphony-screens-'));
const db = join(dir, 'screens.db');
const gate = join(dir, 'gate');
process.env.SCREENSHOT_GATE = gate;
writeFileSync(join(dir, 'agents.mjs'), AGENTS);
writeFileSync(join(dir, 'digest.yaml'), DIGEST);
writeFileSync(join(dir, 'nightly.yaml'), NIGHTLY);
try {
  await cli(['demo', '--db', db]);
  const nightly = JSON.parse(await cli(['run', join(dir, 'nightly.yaml'), '--db', db, '--json'])) as {
    results: Array<{ taskId: string }>;
  };
  const digestRun = cli(['run', join(dir, 'digest.yaml'), '--db', db]);
  const session = await openSession(db, { mustExist: true, engine: { engineId: 'symphony-ui:screenshots' } });
  const dashboard = await startDashboard(
    {
      session,
      events: storedActorEvents(session),
      actions: { spec: db, cli: main, io: { env: {}, cwd: ROOT } },
    },
    resolveDashboardOptions({ port: 0, pollMs: 200 }),
  );
  const browser = await launchChromium({
    ...(process.env.CHROMIUM === undefined ? {} : { executablePath: process.env.CHROMIUM }),
    extraArgs: ['--hide-scrollbars'],
  });
  try {
    const page = await browser.newPage();
    const base = dashboard.url.replace(/\/$/, '');
    // The digest's summaries wait at the gate: its page shows them RUNNING.
    await page.goto(`${base}/`);
    await page.waitForFunction("document.querySelectorAll('#workflows tbody tr').length === 3");
    const digest = await page.locator('#workflows a', { hasText: 'Research digest' }).getAttribute('href');
    await page.goto(`${base}${digest}`);
    await page.waitForFunction(
      'document.querySelectorAll(\'svg.graph a.node[data-status="RUNNING"]\').length >= 3',
    );
    await shoot(page, 'workflows', `${base}/`, 1200, '#workflows');
    await shoot(page, 'workflow', `${base}${digest}`, 1200, 'svg.graph');
    await shoot(page, 'workflow-320', `${base}${digest}`, 320, 'svg.graph');
    await shoot(page, 'task', `${base}/tasks/${nightly.results[0]!.taskId}`, 1000, '#errors');
    await shoot(page, 'agents', `${base}/agents`, 1200, '#agents');
    const summary = (
      await session.registry.getRepository('tasks').find({ where: { status: 'RUNNING' }, limit: 1 })
    )[0]!;
    await shoot(page, 'machine', `${base}/machines/task/${summary.id}`, 1200, 'svg.machine');
    writeFileSync(gate, '');
    await cli(['signal', (digest ?? '').split('/').pop()!, 'approval', '{"approved": true}', '--db', db]);
    await digestRun;
  } finally {
    await browser.close();
    await dashboard.close();
    await session.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
