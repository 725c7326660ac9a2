import type { AgentConfig, ServiceRegistry } from '../../index.js';
import type { RunOutcome } from '../execute.js';
import { printJson, type CliIO } from '../io.js';
import { exitCodeOf, printSummary, summarize, type RunSummary } from '../summary.js';
import { openSession, resolveDbSpec, type Session } from '../store.js';

/** The options every command takes. */
export interface CommonOptions {
  /** Store: a SQLite file, `:memory:` or a postgres:// URL. */
  db?: string;
  /** Print JSON for scripts. */
  json?: boolean;
  /** Stream every actor to a Stately inspector WebSocket (`true`: the default URL). */
  inspect?: string | boolean;
}

/** Looks up agent configs by id, skipping ids the store does not know. */
export async function configsById(registry: ServiceRegistry, ids: readonly string[]): Promise<AgentConfig[]> {
  const repository = registry.getRepository('agentConfigs');
  const configs: AgentConfig[] = [];
  for (const id of new Set(ids)) {
    const config = await repository.get(id);
    if (config) configs.push(config);
  }
  return configs;
}

/**
 * Prints the summary of a run (text or JSON) and returns the exit code (`exitCodeOf`): 0 when every
 * watched task completed, 1 when one failed or was cancelled, 4 when the workflow was left PAUSED
 * with tasks unfinished, 130 when interrupted.
 */
export async function finishRun(
  io: CliIO,
  json: boolean,
  session: Session,
  workflowId: string,
  agents: readonly AgentConfig[],
  outcome: RunOutcome,
  options: { taskIds?: ReadonlySet<string>; print?: (summary: RunSummary) => void } = {},
): Promise<number> {
  const summary = await summarize(session, workflowId, agents, outcome, options.taskIds);
  if (json) printJson(io.stdout, summary);
  else {
    printSummary(io, summary, session.hints);
    options.print?.(summary);
  }
  return exitCodeOf(summary);
}

/**
 * Runs `use` on a session of the command's store (which must exist), stopped afterwards;
 * `readOnly` for a command that only reads (see OpenOptions.readOnly).
 */
export async function withSession<T>(
  io: CliIO,
  options: CommonOptions,
  use: (session: Session) => Promise<T>,
  readOnly = false,
): Promise<T> {
  const session = await openSession(resolveDbSpec(options.db, io), {
    mustExist: true,
    readOnly,
    cwd: io.cwd,
    env: io.env,
  });
  try {
    return await use(session);
  } finally {
    await session.stop();
  }
}
