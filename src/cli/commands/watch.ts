import { SYMPHONY_EVENT_NAMES, type SymphonyEventName } from '../../engine/engine-events.js';
import type { StoredEvent } from '../../engine/stored-events.js';
import { WorkflowNotFoundError, type ServiceRegistry } from '../../index.js';
import { CliUsageError } from '../cli-error.js';
import { eventJson, eventLine } from '../event-lines.js';
import { listenForInterrupts } from '../execute.js';
import { ExitCode } from '../exit-codes.js';
import { printJsonLine, println, type CliIO } from '../io.js';
import { withSession, type CommonOptions } from './common.js';

export interface WatchOptions extends CommonOptions {
  /** Only this workflow's events (its tasks' and its own). */
  workflow?: string;
  /** Start after this cursor (a `--json` line's `cursor`). */
  after?: string;
  /** Only these event names, comma-separated. */
  names?: string;
  /** With `--workflow`: stop once the workflow has ended (COMPLETED, FAILED or CANCELLED). */
  untilDone?: boolean;
  /** Milliseconds between two reads once caught up. */
  pollMs?: string;
}

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
const PAGE = 500;

function parseNames(value: string | undefined): SymphonyEventName[] | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(SYMPHONY_EVENT_NAMES as readonly string[]).includes(name)) {
      throw new CliUsageError(
        `--names: unknown event ${JSON.stringify(name)}; expected some of ${SYMPHONY_EVENT_NAMES.join(', ')}`,
      );
    }
  }
  if (names.length === 0) throw new CliUsageError('--names: expected event names, got none');
  return names as SymphonyEventName[];
}

function parsePollMs(value: string | undefined): number {
  if (value === undefined) return 250;
  const ms = Number(value);
  if (!/^\d+$/.test(value.trim()) || ms < 1 || ms > 60_000) {
    throw new CliUsageError(`--poll-ms: expected an integer from 1 to 60000, got ${JSON.stringify(value)}`);
  }
  return ms;
}

/** A workflow's status as stored now. */
async function statusOf(registry: ServiceRegistry, workflowId: string): Promise<string> {
  const row = await registry.getRepository('workflows').get(workflowId);
  if (!row) throw new WorkflowNotFoundError(workflowId);
  return row.status;
}

/**
 * `symphony watch`: prints the events the engines on the store wrote, one line each (JSON lines
 * with their cursor for `--json`), and follows the store until Ctrl-C or, with `--until-done`,
 * until the watched workflow has ended. From `--after <cursor>` if given; else from the oldest
 * event kept for a `--workflow`, from now for the whole store. Exit code with `--until-done`: 0 when
 * the workflow completed, 1 when it failed or was cancelled; 130 when interrupted.
 */
export async function watchCommand(io: CliIO, options: WatchOptions): Promise<number> {
  const names = parseNames(options.names);
  const pollMs = parsePollMs(options.pollMs);
  const workflowId = options.workflow;
  if (options.untilDone && workflowId === undefined) {
    throw new CliUsageError('--until-done: expected --workflow <id> (the workflow whose end to wait for)');
  }
  return withSession(
    io,
    options,
    async (session) => {
      const { registry } = session;
      // --until-done reads the workflow's status events, whether or not --names prints them.
      const read = names && options.untilDone ? [...new Set([...names, 'workflow.status' as const])] : names;
      const filters = {
        ...(read === undefined ? {} : { names: read }),
        ...(workflowId === undefined ? {} : { workflowId }),
      };
      // Ended before the watch began: done once what is stored has been printed.
      const endedAtStart = workflowId !== undefined && ENDED.has(await statusOf(registry, workflowId));
      let after =
        options.after ??
        (workflowId === undefined ? (await registry.readEvents({ limit: 0 })).cursor : undefined);
      let stopped = false;
      let wake: () => void = () => {};
      const stopListening = listenForInterrupts(() => {
        stopped = true;
        wake();
      });
      try {
        let ended: string | null = null;
        while (!stopped) {
          const page = await registry.readEvents({
            ...filters,
            limit: PAGE,
            ...(after === undefined ? {} : { after }),
          });
          after = page.cursor;
          for (const event of page.events) {
            if (names === undefined || names.includes(event.name))
              if (options.json) printJsonLine(io.stdout, eventJson(event));
              else println(io.stdout, eventLine(event));
            ended = (await endOf(registry, event, workflowId)) ?? ended;
          }
          if (page.events.length === PAGE) continue;
          if (options.untilDone && (ended !== null || endedAtStart)) {
            const status = ended ?? (await statusOf(registry, workflowId!));
            return status === 'COMPLETED' ? ExitCode.OK : ExitCode.WORKFLOW_FAILED;
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => resolve(), pollMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        return ExitCode.INTERRUPTED;
      } finally {
        stopListening();
      }
    },
    true,
  );
}

/**
 * The final status a watched workflow's event reports, if the workflow still has it (a workflow
 * that failed and was retried since goes on).
 */
async function endOf(
  registry: ServiceRegistry,
  event: StoredEvent,
  workflowId: string | undefined,
): Promise<string | null> {
  if (event.name !== 'workflow.status' || event.workflowId !== workflowId || !ENDED.has(event.payload.to))
    return null;
  return (await statusOf(registry, workflowId!)) === event.payload.to ? event.payload.to : null;
}
