/**
 * `symphony ui` at the HTTP level (issue 15): the server on port 0 over a SQLite store, spoken to
 * with node:http so that every header is the test's. The token and host checks, the checks of a
 * state-changing request, 404s, escaping of hostile names, outputs and errors, the SSE framing,
 * and an SSE message once the store changes. Nothing waits on time: the SSE test reads until the
 * message comes.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ServiceRegistry } from '../../src/index.js';
import { main } from '../../src/cli/main.js';
import { storedActorEvents } from '../../src/cli/overview/stored-actor-events.js';
import { openSession, type Session } from '../../src/cli/store.js';
import { resolveDashboardOptions } from '../../src/cli/ui/options.js';
import { startDashboard, type Dashboard } from '../../src/cli/ui/server.js';
import { CSRF_HEADER } from '../../src/cli/ui/security.js';
import { cli, FIXTURES, ROOT, tempDir } from './helpers.js';

const TOKEN = 'a-token-of-twenty-chars';

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One HTTP request with exactly these headers. */
function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The CLI in this process, its output kept. */
async function runMain(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (chunk: string) => ((stdout += chunk), true) },
    stderr: { write: (chunk: string) => ((stderr += chunk), true) },
    env: {},
    cwd: ROOT,
  };
  return { code: await main(argv, io), stdout, stderr };
}

const temp = tempDir();
let workflowId = '';
let session: Session;
const started: Dashboard[] = [];

async function dashboard(input: { token?: string; pollMs?: number } = {}): Promise<Dashboard> {
  const options = resolveDashboardOptions({ port: 0, pollMs: input.pollMs ?? 100, token: input.token });
  const server = await startDashboard(
    {
      session,
      events: storedActorEvents(session),
      actions: { spec: temp.db, cli: main, io: { env: {}, cwd: ROOT } },
    },
    options,
  );
  started.push(server);
  return server;
}

beforeAll(async () => {
  const run = await cli(['run', join(FIXTURES, 'ui-hostile.yaml'), '--db', temp.db, '--json']);
  expect(run.code, run.stderr).toBe(1);
  workflowId = (JSON.parse(run.stdout) as { workflow: { id: string } }).workflow.id;
  session = await openSession(temp.db, { mustExist: true, engine: { engineId: 'symphony-ui:test' } });
}, 60_000);

afterEach(async () => {
  for (const server of started.splice(0)) await server.close();
});

afterAll(async () => {
  await session?.stop();
  temp.cleanup();
});

describe('symphony ui: starting', () => {
  it('refuses an address other than loopback without a token, a short token and a bad port', async () => {
    const open = await runMain(['ui', '--db', temp.db, '--host', '0.0.0.0', '--json']);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/give it a token with --token or \$SYMPHONY_UI_TOKEN/);
    expect(JSON.parse(open.stdout)).toMatchObject({ error: { code: 'UI_TOKEN_REQUIRED' } });
    expect(() => resolveDashboardOptions({ host: '0.0.0.0' })).toThrow(
      expect.objectContaining({ code: 'UI_TOKEN_REQUIRED' }),
    );
    expect(() => resolveDashboardOptions({ host: '0.0.0.0', token: 'short' })).toThrow(/at least 16/);
    expect(resolveDashboardOptions({ host: '0.0.0.0' }, { SYMPHONY_UI_TOKEN: TOKEN }).token).toBe(TOKEN);
    expect(resolveDashboardOptions({ host: '::1' }).loopback).toBe(true);
    const port = await runMain(['ui', '--db', temp.db, '--port', '70000', '--json']);
    expect(port.code).toBe(2);
    expect(JSON.parse(port.stdout)).toMatchObject({ error: { code: 'UI_BAD_PORT' } });
    expect(port.stderr).toContain('Expected --port to be an integer from 0 to 65535, got "70000"');
  });

  it('refuses a store that does not exist and a port in use, with their codes', async () => {
    const missing = await runMain(['ui', '--db', join(temp.dir, 'nope.db')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('No Symphony store at');
    const first = await dashboard();
    await expect(
      startDashboard(
        {
          session,
          events: storedActorEvents(session),
          actions: { spec: temp.db, cli: main, io: { env: {}, cwd: ROOT } },
        },
        resolveDashboardOptions({ port: first.port }),
      ),
    ).rejects.toMatchObject({ code: 'UI_PORT_IN_USE' });
  });
});

describe('symphony ui: requests', () => {
  it('asks for the token on every request, pages, assets and events alike, and takes it from ?token=, the cookie or a bearer header', async () => {
    const server = await dashboard({ token: TOKEN });
    for (const path of ['/', '/assets/app.js', '/events?view=/', `/workflows/${workflowId}`]) {
      expect((await request(`${server.url}${path.slice(1)}`)).status, path).toBe(401);
    }
    expect((await request(`${server.url}?token=wrong-token-but-long-enough`)).status).toBe(401);
    const login = await request(`${server.url}agents?token=${TOKEN}&x=1`);
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/agents?x=1');
    const cookie = login.headers['set-cookie']![0]!;
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict; Path=\//);
    const withCookie = await request(`${server.url}agents`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(withCookie.status).toBe(200);
    expect(withCookie.body).toContain('Mean &lt;b&gt;agent&lt;/b&gt;');
    const bearer = await request(`${server.url}assets/app.css`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(bearer.status).toBe(200);
    const wrongCookie = await request(server.url, { headers: { cookie: `${server.guard.cookieName}=nope` } });
    expect(wrongCookie.status).toBe(401);
  });

  it('answers on loopback only to its own host names (no DNS rebinding), with its security headers', async () => {
    const server = await dashboard();
    const rebound = await request(server.url, { headers: { host: `evil.example:${server.port}` } });
    expect(rebound.status).toBe(421);
    const ok = await request(server.url, { headers: { host: `localhost:${server.port}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-security-policy']).toContain("script-src 'self'");
    expect(ok.headers['x-frame-options']).toBe('DENY');
  });

  it('answers 404 for an unknown workflow, task or path, and 405 for other methods', async () => {
    const server = await dashboard();
    const unknown = await request(`${server.url}workflows/no-such-workflow`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('WORKFLOW_NOT_FOUND');
    expect((await request(`${server.url}tasks/no-such-task`)).status).toBe(404);
    expect((await request(`${server.url}machines/engine/nobody`)).status).toBe(404);
    expect((await request(`${server.url}nothing/here`)).status).toBe(404);
    expect((await request(server.url, { method: 'PUT' })).status).toBe(405);
  });

  it('shows names, outputs and errors as text, never as markup', async () => {
    const server = await dashboard();
    const pages = [
      '/',
      `/workflows/${workflowId}`,
      '/agents',
      `/machines/workflow/${workflowId}`,
      ...(await session.registry.getWorkflowTracker().getWorkflowTasks(workflowId)).map(
        (task) => `/tasks/${task.id}`,
      ),
    ];
    for (const path of pages) {
      const { status, body } = await request(`${server.url}${path.slice(1)}`);
      expect(status, path).toBe(200);
      // The only script element is the dashboard's own; no attribute of the data's ever opens.
      expect(body.match(/<script/g), path).toHaveLength(1);
      expect(body, path).not.toMatch(/<img|<b>agent|<i>INPUT|onerror="/);
    }
    const failed = (await session.registry.getWorkflowTracker().getWorkflowTasks(workflowId)).find((task) =>
      task.name.startsWith('fails'),
    )!;
    const page = (await request(`${server.url}tasks/${failed.id}`)).body;
    expect(page).toContain('BAD_&lt;i&gt;INPUT&lt;/i&gt;');
    expect(page).toContain('&lt;img src=x onerror=&quot;window.__pwned = &#39;error&#39;&quot;&gt; refused');
    const done = (await session.registry.getWorkflowTracker().getWorkflowTasks(workflowId)).find((task) =>
      task.name.startsWith('<script>'),
    )!;
    expect((await request(`${server.url}tasks/${done.id}`)).body).toContain(
      '&lt;script&gt;window.__pwned = \\&quot;output\\&quot;&lt;/script&gt;',
    );
  });
});

describe('symphony ui: changes', () => {
  it('refuses a change without the same origin and the CSRF header, and pauses through symphony pause with them', async () => {
    const server = await dashboard();
    const registry = session.registry;
    const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'to pause' });
    await registry.getTaskManager().createTask({ name: 'waits', workflowId: workflow.id });
    const url = `${server.url}api/workflows/${workflow.id}/pause`;
    const origin = `http://127.0.0.1:${server.port}`;
    const json = { 'content-type': 'application/json' };
    const none = await request(url, { method: 'POST', headers: json, body: '{}' });
    expect(none.status).toBe(403);
    const crossSite = await request(url, {
      method: 'POST',
      headers: { ...json, origin: 'http://evil.example', [CSRF_HEADER]: server.guard.csrf },
      body: '{}',
    });
    expect(crossSite.status).toBe(403);
    const noCsrf = await request(url, { method: 'POST', headers: { ...json, origin }, body: '{}' });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body).toContain(CSRF_HEADER);
    const wrongCsrf = await request(url, {
      method: 'POST',
      headers: { ...json, origin, [CSRF_HEADER]: 'guessed' },
      body: '{}',
    });
    expect(wrongCsrf.status).toBe(403);
    const get = await request(url);
    expect(get.status).toBe(404);
    expect((await registry.getWorkflowTracker().getWorkflow(workflow.id)).paused).toBe(false);

    const paused = await request(url, {
      method: 'POST',
      headers: { ...json, origin, [CSRF_HEADER]: server.guard.csrf },
      body: '{}',
    });
    expect(paused.status, paused.body).toBe(200);
    expect(JSON.parse(paused.body)).toMatchObject({ id: workflow.id, status: 'PAUSED', paused: true });
    expect((await registry.getWorkflowTracker().getWorkflow(workflow.id)).paused).toBe(true);
    // The command's own refusals come back with its code: a second pause of a paused workflow is fine,
    // a signal with a bad name is not.
    const badSignal = await request(`${server.url}api/workflows/${workflow.id}/signal`, {
      method: 'POST',
      headers: { ...json, origin, [CSRF_HEADER]: server.guard.csrf },
      body: JSON.stringify({ name: '-bad', payload: 'null' }),
    });
    expect(badSignal.status).toBe(400);
    expect(JSON.parse(badSignal.body)).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    const fileRead = await request(`${server.url}api/workflows/${workflow.id}/signal`, {
      method: 'POST',
      headers: { ...json, origin, [CSRF_HEADER]: server.guard.csrf },
      body: JSON.stringify({ name: 'go', payload: '@/etc/passwd' }),
    });
    expect(fileRead.status).toBe(409);
    expect((await session.signals(workflow.id)).length).toBe(0);
    // Retry hands tasks to workers: refused for a workflow that a symphony run process ran.
    const retry = await request(`${server.url}api/workflows/${workflowId}/retry`, {
      method: 'POST',
      headers: { ...json, origin, [CSRF_HEADER]: server.guard.csrf },
      body: '{}',
    });
    expect(retry.status).toBe(409);
    expect(JSON.parse(retry.body)).toMatchObject({
      error: { code: 'CLI_USAGE', message: expect.stringContaining(`symphony retry ${workflowId}`) },
    });
  });

  it('frames Server-Sent Events and sends the page again once the store changes it', async () => {
    const server = await dashboard({ pollMs: 100 });
    const page = await request(server.url);
    const version = /data-version="([0-9a-f]+)"/.exec(page.body)![1]!;
    let text = '';
    let headers: IncomingMessage['headers'] = {};
    const stream = httpRequest(`${server.url}events?view=${encodeURIComponent('/')}&v=${version}`, (res) => {
      headers = res.headers;
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
    });
    stream.end();
    await vi.waitFor(() => expect(text).toContain('retry: 2000\n\n'), { timeout: 20_000 });
    expect(headers['content-type']).toBe('text/event-stream; charset=utf-8');
    // Nothing changed since the page was read: no message.
    expect(text).not.toContain('event: main');

    const other = new ServiceRegistry({ store: temp.db, controlPollMs: 0 });
    await other.getWorkflowTracker().createWorkflow({ name: 'a <new> workflow' });
    await other.stop();
    await vi.waitFor(() => expect(text).toContain('event: main\ndata: '), { timeout: 20_000, interval: 20 });
    const frame = text.slice(text.indexOf('event: main'));
    const data = frame.slice('event: main\n'.length, frame.indexOf('\n\n'));
    expect(data.split('\n').every((line) => line.startsWith('data: '))).toBe(true);
    const message = JSON.parse(data.replace(/^data: /gm, '')) as { version: string; html: string };
    expect(message.version).not.toBe(version);
    expect(message.html).toContain('a &lt;new&gt; workflow');
    expect(message.html).toContain(`data-version="${message.version}"`);
    stream.destroy();
  });
});
