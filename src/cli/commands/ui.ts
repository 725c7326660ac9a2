import { hostname } from 'node:os';
import { ExitCode } from '../exit-codes.js';
import { printJsonLine, println, type CliIO } from '../io.js';
import { storedActorEvents } from '../overview/stored-actor-events.js';
import { listenForInterrupts } from '../execute.js';
import { openSession, resolveDbSpec } from '../store.js';
import { resolveDashboardOptions, type DashboardInput } from '../ui/options.js';
import { startDashboard } from '../ui/server.js';

export interface UiOptions extends DashboardInput {
  db?: string;
  /** The start line as JSON: `{ "event": "started", "url", "store", "token" }` (token: whether one is needed). */
  json?: boolean;
}

/**
 * `symphony ui`: serves the dashboard of the store until SIGINT or SIGTERM (exit 0). The options
 * are checked before the store is opened, the store before the port is taken: a bad option, store
 * or port ends it at once with its error.
 */
export async function uiCommand(io: CliIO, options: UiOptions): Promise<number> {
  const dashboardOptions = resolveDashboardOptions(options, io.env);
  const spec = resolveDbSpec(options.db, io);
  const session = await openSession(spec, {
    mustExist: true,
    readOnly: true,
    cwd: io.cwd,
    env: io.env,
    engine: { engineId: `symphony-ui:${hostname()}:${process.pid}` },
  });
  try {
    const { main } = await import('../main.js');
    const dashboard = await startDashboard(
      { session, events: storedActorEvents(session), actions: { spec, cli: main, io } },
      dashboardOptions,
    );
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const stopListening = listenForInterrupts(() => stop());
    if (options.json) {
      const started = {
        event: 'started',
        url: dashboard.url,
        store: session.storeName,
        token: dashboardOptions.token !== null,
      };
      printJsonLine(io.stdout, JSON.stringify(started));
    } else {
      println(io.stdout, `Dashboard of ${session.storeName} at ${dashboard.url}`);
      println(
        io.stdout,
        dashboardOptions.token === null
          ? 'Only this machine can reach it. Ctrl-C stops it.'
          : 'Open it once with ?token=<token> (a cookie keeps it), or send Authorization: Bearer <token>. Ctrl-C stops it.',
      );
    }
    try {
      await stopped;
    } finally {
      stopListening();
      await dashboard.close();
    }
    return ExitCode.OK;
  } finally {
    await session.stop();
  }
}
