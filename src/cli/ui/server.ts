import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SymphonyError } from '../../errors/symphony-error.js';
import type { ActorEventSource } from '../overview/actor-events.js';
import { ACTOR_KINDS, type ActorKind } from '../overview/actors.js';
import type { Session } from '../store.js';
import { ACTIONS, runAction, type Action, type ActionContext } from './actions.js';
import { UiPortInUseError } from './errors.js';
import { CliUsageError } from '../cli-error.js';
import { html, raw } from './html.js';
import { layout, mainOf, statusCss, type Page } from './layout.js';
import { LiveViews, versionOf, type Rendered } from './live.js';
import type { DashboardOptions } from './options.js';
import { agentsPage, workersPage } from './pages/agents.js';
import { machinePage, machinesPage } from './pages/machines.js';
import { taskPage } from './pages/task.js';
import { workflowPage } from './pages/workflow.js';
import { workflowsPage } from './pages/workflows.js';
import { Guard, secure } from './security.js';

/** Largest request body accepted (a signal's payload is the largest thing posted). */
export const MAX_BODY = 256 * 1024;

/** How often an idle event stream gets a comment, so that proxies keep it open. */
const KEEPALIVE_MS = 20_000;

export interface DashboardDeps {
  session: Session;
  events: ActorEventSource;
  /** Carries out the buttons (src/cli/ui/actions.ts). */
  actions: Omit<ActionContext, 'session'>;
}

/** A dashboard listening: its address, and the way to stop it. */
export interface Dashboard {
  url: string;
  port: number;
  guard: Guard;
  close(): Promise<void>;
}

/** The folder of the static files: beside this module in src/, from dist/ the one in src/. */
function assetsDir(): string {
  const near = fileURLToPath(new URL('./assets/', import.meta.url));
  if (existsSync(near)) return near;
  return fileURLToPath(new URL('../../../../src/cli/ui/assets/', import.meta.url));
}

/** The static files, read once: a fixed list, so no path of a request ever reaches the file system. */
function loadAssets(): Map<string, { type: string; body: string }> {
  const dir = assetsDir();
  return new Map([
    [
      '/assets/app.js',
      { type: 'text/javascript; charset=utf-8', body: readFileSync(`${dir}app.js`, 'utf8') },
    ],
    ['/assets/app.css', { type: 'text/css; charset=utf-8', body: readFileSync(`${dir}app.css`, 'utf8') }],
    ['/assets/status.css', { type: 'text/css; charset=utf-8', body: statusCss() }],
  ]);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = 'HTTP_ERROR',
  ) {
    super(message);
  }
}

const NOT_FOUND_CODES = new Set([
  'WORKFLOW_NOT_FOUND',
  'TASK_NOT_FOUND',
  'AGENT_CONFIG_NOT_FOUND',
  'ENGINE_NOT_FOUND',
]);

function segmentsOf(path: string): string[] {
  try {
    return path.split('/').slice(1).map(decodeURIComponent);
  } catch {
    throw new HttpError(400, `Not a valid path: ${path}`);
  }
}

/** The page a path names (and its query), read from the store now. */
async function pageFor(deps: DashboardDeps, path: string, query: URLSearchParams): Promise<Page> {
  const { session } = deps;
  const parts = segmentsOf(path);
  if (path === '/') return workflowsPage(session, query);
  if (parts.length === 2 && parts[0] === 'workflows') return workflowPage(session, parts[1]!);
  if (parts.length === 2 && parts[0] === 'tasks') return taskPage(session, parts[1]!);
  if (path === '/agents') return agentsPage(session);
  if (path === '/workers') return workersPage(session);
  if (path === '/machines') return machinesPage(session);
  if (parts.length === 3 && parts[0] === 'machines' && (ACTOR_KINDS as readonly string[]).includes(parts[1]!))
    return machinePage(session, deps.events, parts[1] as ActorKind, parts[2]!);
  throw new HttpError(404, `Nothing at ${path}`, 'NOT_FOUND');
}

/** An error as a page: 404 for an unknown id or path, 500 for the rest. */
function errorPage(error: unknown): Page {
  const code = error instanceof HttpError || SymphonyError.isInstance(error) ? error.code : 'INTERNAL';
  const status = error instanceof HttpError ? error.status : NOT_FOUND_CODES.has(code) ? 404 : 500;
  const message = error instanceof Error ? error.message : String(error);
  return {
    title: status === 404 ? 'Not found' : 'Error',
    status,
    main: html`<h1>${status === 404 ? 'Not found' : 'Something went wrong'}</h1>
      <p class="error"><code>${code}</code>: ${message}</p>
      <p><a href="/">Back to the workflows</a></p>`,
  };
}

/** Renders a view (a path and query) as its `<main>`, an error as an error page's. */
async function renderView(deps: DashboardDeps, view: string): Promise<{ page: Page; rendered: Rendered }> {
  const url = new URL(view, 'http://dashboard');
  let page: Page;
  try {
    page = await pageFor(deps, url.pathname, url.searchParams);
  } catch (error) {
    if (!(error instanceof HttpError) && !SymphonyError.isInstance(error)) throw error;
    page = errorPage(error);
  }
  const inner = mainOf(page, view, '').text;
  const version = versionOf(inner);
  return { page, rendered: { html: mainOf(page, view, version).text, version } };
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.statusCode = status;
  response.setHeader('Content-Type', type);
  response.end(body);
}

const sendJson = (response: ServerResponse, status: number, body: unknown) =>
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(body));

async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type))
    throw new HttpError(415, 'Expected Content-Type: application/json');
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `Expected a body of at most ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'Expected a JSON object as the body');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'Expected a JSON object as the body');
  return body as Record<string, unknown>;
}

/**
 * Serves the dashboard (docs/monitoring.md#dashboard) on `options.host:options.port`: pages
 * rendered from the store on each request, their live updates as Server-Sent Events
 * (`/events?view=<path>`), and the buttons as POSTs to `/api/...`, every request through the
 * guard first (src/cli/ui/security.ts).
 */
export async function startDashboard(deps: DashboardDeps, options: DashboardOptions): Promise<Dashboard> {
  const assets = loadAssets();
  let port = options.port;
  const guard = new Guard(options.token, options.loopback, () => port);
  const live = new LiveViews(async (view) => (await renderView(deps, view)).rendered, options.pollMs);
  const streams = new Set<ServerResponse>();
  let actionsDone: Promise<void> = Promise.resolve();
  const frame = (path: string) => ({ path, csrf: guard.csrf, store: deps.session.storeName });

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    secure(response);
    const url = new URL(request.url ?? '/', 'http://dashboard');
    const verdict = guard.check(request, url);
    if (!verdict.ok) {
      if (verdict.status === 303) {
        response.setHeader('Set-Cookie', verdict.cookie);
        response.setHeader('Location', verdict.location);
        return send(response, 303, 'text/plain; charset=utf-8', 'See the dashboard');
      }
      const page = {
        title: 'Refused',
        status: verdict.status,
        main: html`<h1>Refused</h1>
          <p class="error">${verdict.reason}.</p>`,
      };
      if (verdict.status === 401 && request.headers.accept?.includes('text/html'))
        page.main = html`${page.main}
          <p>
            Open the dashboard with <code>?token=&lt;token&gt;</code> once (a cookie keeps it), or send
            <code>Authorization: Bearer &lt;token&gt;</code>.
          </p>`;
      return send(
        response,
        verdict.status,
        'text/html; charset=utf-8',
        layout(page, frame(url.pathname), mainOf(page, '', '')).text,
      );
    }
    const path = url.pathname;
    if (request.method === 'POST') {
      const change = guard.checkChange(request);
      if (!change.ok)
        return sendJson(response, change.status, { error: { code: 'FORBIDDEN', message: change.reason } });
      const parts = segmentsOf(path);
      const action = parts[3] as Action;
      const onWorkflow =
        parts.length === 4 && parts[0] === 'api' && parts[1] === 'workflows' && ACTIONS.includes(action);
      const onTask = parts.length === 4 && parts[0] === 'api' && parts[1] === 'tasks' && action === 'retry';
      if (!onWorkflow && !onTask) throw new HttpError(404, `No action at ${path}`, 'NOT_FOUND');
      const body = await readBody(request);
      const target = onTask ? { taskId: parts[2]! } : { workflowId: parts[2]! };
      // One action at a time: each opens the command's engine under this process's CLI engine id.
      const turn = actionsDone.then(() =>
        runAction({ session: deps.session, ...deps.actions }, action, target, body),
      );
      actionsDone = turn.then(
        () => undefined,
        () => undefined,
      );
      const result = await turn;
      return sendJson(response, result.status, result.body);
    }
    if (request.method !== 'GET') {
      response.setHeader('Allow', 'GET, POST');
      throw new HttpError(405, `${request.method ?? '?'} is not served: GET pages, POST actions`);
    }
    const asset = assets.get(path);
    if (asset) {
      response.setHeader('Cache-Control', 'no-cache');
      return send(response, 200, asset.type, asset.body);
    }
    if (path === '/favicon.ico') return send(response, 204, 'text/plain', '');
    if (path === '/events') return stream(request, response, url);
    const view = `${path}${url.search}`;
    const { page, rendered } = await renderView(deps, view);
    send(
      response,
      page.status ?? 200,
      'text/html; charset=utf-8',
      layout(page, frame(path), raw(rendered.html)).text,
    );
  };

  const stream = (request: IncomingMessage, response: ServerResponse, url: URL): void => {
    const view = url.searchParams.get('view') ?? '';
    if (!view.startsWith('/') || view.startsWith('//') || /^\/(events|api|assets)\b/.test(view))
      throw new HttpError(400, 'Expected view to be the path of a page, such as /workflows/<id>');
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    response.write('retry: 2000\n\n');
    streams.add(response);
    const unsubscribe = live.subscribe(view, url.searchParams.get('v'), (text) => response.write(text));
    let keepalive: NodeJS.Timeout;
    const beat = () => {
      keepalive = setTimeout(() => {
        response.write(': keepalive\n\n');
        beat();
      }, KEEPALIVE_MS);
    };
    beat();
    const end = () => {
      clearTimeout(keepalive);
      unsubscribe();
      streams.delete(response);
    };
    request.on('close', end);
    response.on('close', end);
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) return response.destroy();
      const known = error instanceof HttpError || SymphonyError.isInstance(error);
      if (!known) process.stderr.write(`symphony ui: ${(error as Error)?.stack ?? String(error)}\n`);
      const page = errorPage(error);
      const status = error instanceof HttpError ? error.status : (page.status ?? 500);
      if (request.url?.startsWith('/api/') || request.url?.startsWith('/events'))
        return sendJson(response, status, {
          error: { code: (error as { code?: string }).code ?? 'INTERNAL', message: (error as Error).message },
        });
      send(response, status, 'text/html; charset=utf-8', layout(page, frame('/'), mainOf(page, '', '')).text);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE' || error.code === 'EACCES'
          ? new UiPortInUseError(options.host, options.port, error)
          : new CliUsageError(`Cannot listen on ${options.host}:${options.port}: ${error.message}`, {
              cause: error,
            }),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const host =
    options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/`,
    port,
    guard,
    async close() {
      await live.close();
      for (const response of streams) response.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
