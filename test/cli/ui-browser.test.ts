/**
 * The dashboard in a real browser (issue 15): Debian's chromium driven by playwright-core, against
 * `symphony ui` and `symphony run` as child processes on one store, SQLite and PostgreSQL. The four
 * scenarios of the issue: counts (and graph colours) change without a reload while a workflow
 * runs; a pause from the page that the CLI and the store then agree on (and a resume); a failed
 * task's error history; and the pages at 320 px. The runs wait at a gate file the test opens; the
 * test waits for page content and stored state, never for time.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../../src/repositories/open-store.js';
import {
  describePostgres,
  dropTestSchemas,
  nextSchema,
  PG_URL,
  withUser,
} from '../repositories/pg-helpers.js';
import { launchChromium } from '../support/chromium.js';
import { cli, FIXTURES, startCli, tempDir, WORKFLOW_LINE, type CliProcess } from './helpers.js';

const CHROMIUM = process.env.SYMPHONY_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Generous: a loaded machine answers late, and nothing here waits longer than it must. */
const WAIT = { timeout: 60_000 };
const SETTLE = { timeout: 60_000, interval: 20 };
/** A test starts processes and a browser page or two: give it room on a loaded machine. */
const TEST = { timeout: 240_000 };

let browser: Browser;
const processes: CliProcess[] = [];
const contexts: BrowserContext[] = [];
const temps: Array<() => void> = [];

beforeAll(async () => {
  browser = await launchChromium({ executablePath: CHROMIUM });
});
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
  for (const run of processes.splice(0)) if (run.child.exitCode === null) run.child.kill('SIGKILL');
  temps.splice(0).forEach((cleanup) => cleanup());
});
afterAll(async () => {
  await browser?.close();
});

/** `symphony ui` on `db` (port 0), and its URL once it listens. */
async function startUi(db: string): Promise<{ ui: CliProcess; url: string }> {
  const ui = startCli(['ui', '--db', db, '--port', '0', '--poll-ms', '200', '--json']);
  processes.push(ui);
  const { input } = await ui.waitForLine(/"event":"started"/);
  return { ui, url: (JSON.parse(input!) as { url: string }).url.replace(/\/$/, '') };
}

/** `symphony run <fixture>` whose held attempts wait at a gate; resolves once it named its workflow. */
async function startRun(db: string, fixture: string, gate: string) {
  const run = startCli(['run', join(FIXTURES, fixture), '--db', db], { env: { SYMPHONY_TEST_GATE: gate } });
  processes.push(run);
  const [, workflowId] = await run.waitForLine(WORKFLOW_LINE);
  return { run, workflowId: workflowId!, open: () => writeFileSync(gate, '') };
}

/** A page that fails the test on any script error or dialog (a hostile name that ran would open one). */
async function newPage(width = 1100): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('dialog', (dialog) => problems.push(`dialog: ${dialog.message()}`));
  (page as Page & { problems: string[] }).problems = problems;
  return page;
}

const problemsOf = (page: Page) => (page as Page & { problems: string[] }).problems;

/** Reads the store directly, as a process of its own would. */
async function stored(db: string, workflowId: string) {
  const store = createStore(db);
  await store.open();
  try {
    return await store.workflows.get(workflowId);
  } finally {
    await store.close();
  }
}

function scenarios(backend: () => string): void {
  const fresh = () => {
    const temp = tempDir();
    temps.push(temp.cleanup);
    return {
      db: backend() === 'sqlite' ? temp.db : withUser(PG_URL, { schema: nextSchema() }),
      gate: join(temp.dir, 'gate'),
    };
  };

  it("shows a running workflow's counts and graph colours change, without a reload", TEST, async () => {
    const { db, gate } = fresh();
    const { run, workflowId, open } = await startRun(db, 'graph-gated.yaml', gate);
    const { url } = await startUi(db);
    const list = await newPage();
    await list.goto(`${url}/`);
    await list.evaluate('window.sameDocument = true');
    const row = list.locator(`#workflows tbody tr:has(a[href="/workflows/${workflowId}"])`);
    // triage done, fix and log at the gate (two at once), answer and close skipped.
    await expect.poll(() => row.locator('td').nth(4).textContent(), SETTLE).toBe('2');
    const graph = await newPage();
    await graph.goto(`${url}/workflows/${workflowId}`);
    await graph.evaluate('window.sameDocument = true');
    const fix = graph.locator('svg.graph a.node[aria-label^="fix:"]');
    await expect.poll(() => fix.getAttribute('data-status'), SETTLE).toBe('RUNNING');
    expect(await graph.locator('svg.graph a.node[aria-label^="answer:"]').getAttribute('data-status')).toBe(
      'SKIPPED',
    );

    open();
    await expect.poll(() => row.locator('.badge').textContent(), SETTLE).toBe('COMPLETED');
    expect(await row.locator('td').nth(3).textContent()).toBe('4');
    expect(await row.locator('td').nth(4).textContent()).toBe('0');
    await expect.poll(() => fix.getAttribute('data-status'), SETTLE).toBe('COMPLETED');
    await expect
      .poll(
        () => graph.locator('svg.graph a.node[aria-label^="notify:"]').getAttribute('data-status'),
        SETTLE,
      )
      .toBe('COMPLETED');
    for (const page of [list, graph]) {
      expect(await page.evaluate('window.sameDocument')).toBe(true);
      expect(await page.locator('#live').getAttribute('data-state')).toBe('on');
      expect(problemsOf(page)).toEqual([]);
    }
    expect((await run.exited).code).toBe(0);
  });

  it(
    'pauses a workflow from the page (keyboard only), and the CLI and the store agree; resumes it',
    TEST,
    async () => {
      const { db, gate } = fresh();
      const { run, workflowId, open } = await startRun(db, 'gated.yaml', gate);
      const { url } = await startUi(db);
      const page = await newPage();
      await page.goto(`${url}/workflows/${workflowId}`);
      await page.waitForSelector('#live[data-state="on"]', WAIT);
      const status = page.locator('.facts .badge');
      await expect.poll(() => status.textContent(), SETTLE).toBe('RUNNING');

      // Escape closes the confirmation without doing anything.
      await page.locator('button[data-action="pause"]').focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector('dialog[open]', WAIT);
      expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('confirm-ok');
      await page.keyboard.press('Escape');
      await page.waitForFunction('!document.getElementById("confirm").open', undefined, WAIT);
      expect((await stored(db, workflowId))?.paused).toBe(false);

      await page.locator('button[data-action="pause"]').focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector('dialog[open]', WAIT);
      await page.keyboard.press('Enter');
      await expect.poll(() => status.textContent(), SETTLE).toBe('PAUSED');
      await expect.poll(() => page.locator('#toast').textContent(), SETTLE).toContain('Now PAUSED');

      const shown = await cli(['show', workflowId, '--db', db, '--json']);
      expect(JSON.parse(shown.stdout)).toMatchObject({ workflow: { status: 'PAUSED', paused: true } });
      const listed = await cli(['list', '--db', db, '--json']);
      expect(JSON.parse(listed.stdout)).toEqual([
        expect.objectContaining({ id: workflowId, status: 'PAUSED' }),
      ]);
      expect(await stored(db, workflowId)).toMatchObject({ status: 'PAUSED', paused: true });

      await page.locator('button[data-action="resume"]').click();
      await page.locator('#confirm-ok').click();
      await expect.poll(() => status.textContent(), SETTLE).toBe('RUNNING');
      expect(await stored(db, workflowId)).toMatchObject({ paused: false });
      open();
      await expect.poll(() => status.textContent(), SETTLE).toBe('COMPLETED');
      expect((await run.exited).code).toBe(0);
      expect(problemsOf(page)).toEqual([]);
    },
  );

  it("opens a failed task's error history, with hostile names and errors shown as text", TEST, async () => {
    const { db } = fresh();
    const ran = await cli(['run', join(FIXTURES, 'ui-hostile.yaml'), '--db', db, '--json']);
    expect(ran.code, ran.stderr).toBe(1);
    const { workflowId } = {
      workflowId: (JSON.parse(ran.stdout) as { workflow: { id: string } }).workflow.id,
    };
    const { url } = await startUi(db);
    const page = await newPage();
    await page.goto(`${url}/`);
    await page.locator(`a[href="/workflows/${workflowId}"]`).click();
    await page.waitForSelector('h1', WAIT);
    expect(await page.locator('h1').textContent()).toBe(
      '<script>window.__pwned = "workflow"</script> hostile',
    );
    await page.locator('#tasks a', { hasText: 'fails <img' }).click();
    const rows = page.locator('#errors tbody tr');
    await expect.poll(() => rows.count(), SETTLE).toBe(2);
    const cells = (await rows.allInnerTexts()).map((row) => row.split('\t'));
    expect(cells.map((row) => row[0])).toEqual(['1', '2']);
    expect(cells[0]![2]).toBe('BAD_<i>INPUT</i>');
    expect(cells[0]![3]).toBe('<img src=x onerror="window.__pwned = \'error\'"> refused');
    expect(cells.map((row) => row[4])).toEqual(['retried', 'not retried']);
    expect(await page.locator('.facts .badge').textContent()).toBe('FAILED');
    await page.goBack();
    await page.locator('#tasks a', { hasText: '<script>' }).click();
    await expect
      .poll(() => page.locator('pre.json').first().textContent(), SETTLE)
      .toContain('"html": "<script>window.__pwned = \\"output\\"</script>"');
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(problemsOf(page)).toEqual([]);
  });

  it('is readable at 320 px: nothing but tables and graphs scrolls sideways', TEST, async () => {
    const { db, gate } = fresh();
    const { workflowId, open, run } = await startRun(db, 'graph-gated.yaml', gate);
    const { url } = await startUi(db);
    const page = await newPage(320);
    for (const path of [
      '/',
      `/workflows/${workflowId}`,
      '/agents',
      '/workers',
      '/machines',
      `/machines/workflow/${workflowId}`,
    ]) {
      await page.goto(`${url}${path}`);
      await page.waitForSelector('main h1', WAIT);
      const width = await page.evaluate('document.documentElement.scrollWidth');
      expect(width, path).toBeLessThanOrEqual(320);
    }
    open();
    expect((await run.exited).code).toBe(0);
    expect(problemsOf(page)).toEqual([]);
  });
}

describe('the dashboard in chromium, on SQLite', () => {
  scenarios(() => 'sqlite');
});

describePostgres('the dashboard in chromium, on PostgreSQL', () => {
  afterAll(() => dropTestSchemas());
  scenarios(() => 'postgres');
});
