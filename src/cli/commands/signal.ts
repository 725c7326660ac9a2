import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isTerminalStatus } from '../../../machines/status.js';
import { expectSignalName } from '../../graph/node-options.js';
import type { Signal } from '../../repositories/store.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { formatDate } from '../format.js';
import { printJson, println, type CliIO } from '../io.js';
import { openSession, resolveDbSpec } from '../store.js';
import { formatOutput } from './show.js';
import type { CommonOptions } from './common.js';

export interface SignalOptions extends CommonOptions {
  /** A file whose content (JSON) is the payload, relative to the current directory. */
  payloadFile?: string;
}

/** The payload argument of `symphony signal`, parsed: JSON; null when not given. */
export function parsePayload(text: string | undefined, from = 'the payload'): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliUsageError(
      `Expected ${from} to be JSON, such as '{"approved": true}', '"yes"' or 42, got ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text)}: ${(error as Error).message}`,
    );
  }
}

/**
 * The payload of `symphony signal`: the `json` argument, or the content of a file named by
 * `--payload-file <path>` or by the argument `@<path>` (for payloads larger than a shell argument
 * allows); null when none is given.
 */
export async function readPayload(
  io: Pick<CliIO, 'cwd'>,
  json: string | undefined,
  file: string | undefined,
): Promise<unknown> {
  if (file !== undefined && json !== undefined) {
    throw new CliUsageError(
      `Expected the payload as the json argument or as --payload-file, not both; got ${JSON.stringify(json.length > 60 ? `${json.slice(0, 60)}...` : json)} and --payload-file ${file}`,
    );
  }
  const path = file ?? (json?.startsWith('@') ? json.slice(1) : undefined);
  if (path === undefined) return parsePayload(json);
  if (path === '') throw new CliUsageError('Expected a file path after @, got nothing');
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, path), 'utf8');
  } catch (error) {
    throw new CliUsageError(`Cannot read the payload file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parsePayload(text, `the payload file ${path}`);
}

/**
 * `symphony signal <workflowId> <name> [json | @file]`: stores a signal for the workflow. The first wait
 * (`waitFor`) naming it takes it: a wait of the process running the workflow at that process's next
 * control poll (about 0.5 s), or a wait that begins later. Prints the signal and the task that took
 * it, or the tasks that name it.
 */
export async function signalCommand(
  io: CliIO,
  workflowId: string,
  name: string,
  json: string | undefined,
  options: SignalOptions,
): Promise<number> {
  // Checked before the store is opened: a mistake in the arguments needs no store.
  const signalName = expectSignalName('name', name);
  const payload = await readPayload(io, json, options.payloadFile);
  const session = await openSession(resolveDbSpec(options.db, io), {
    mustExist: true,
    cwd: io.cwd,
    env: io.env,
  });
  try {
    const { registry } = session;
    const signal: Signal = await registry.signal(workflowId, signalName, payload);
    if (options.json) {
      printJson(io.stdout, signal);
      return ExitCode.OK;
    }
    println(
      io.stdout,
      `Signal ${signal.name} sent to workflow ${workflowId} at ${formatDate(signal.sentAt)} UTC (id ${signal.id})`,
    );
    println(io.stdout, `  payload ${formatOutput(signal.payload)}`);
    const tasks = await registry.getWorkflowTracker().getWorkflowTasks(workflowId);
    const takenBy = (await session.signals(workflowId)).find((stored) => stored.id === signal.id)?.takenBy;
    const taker = tasks.find((task) => task.id === takenBy);
    const waiting = tasks.filter(
      (task) => task.graph?.waitFor?.signals.includes(signal.name) === true && !isTerminalStatus(task.status),
    );
    if (taker) {
      println(io.stdout, `Taken by task ${taker.id} ${JSON.stringify(taker.name)}.`);
    } else if (waiting.length === 0) {
      println(
        io.stdout,
        `No unfinished task of the workflow waits for ${signal.name}: the signal is kept for a wait added later.`,
      );
    } else {
      println(
        io.stdout,
        `Tasks that wait for ${signal.name}: ${waiting.map((task) => `${task.id} ${JSON.stringify(task.name)}`).join(', ')}; the first to begin waiting takes it (in the process running the workflow, within its control poll).`,
      );
    }
    return ExitCode.OK;
  } finally {
    await session.stop();
  }
}
