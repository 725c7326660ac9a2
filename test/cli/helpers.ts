import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CliUsageError } from '../../src/cli/cli-error.js';
import { validateWorkflowFile } from '../../src/cli/workflow-file/load.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';

export const ROOT = join(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/symphony.js');
export const FIXTURES = join(import.meta.dirname, 'fixtures');
export const EXAMPLES = join(ROOT, 'examples/workflows');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
}

/** The environment of a spawned CLI: this one without SYMPHONY_DB, plus `extra`. */
function envOf(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!('SYMPHONY_DB' in extra)) delete env.SYMPHONY_DB;
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  return env;
}

/** A running `node bin/symphony.js ...` whose output is collected as it comes. */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  /** Resolves with the first stdout line matching `pattern` (rejects if the process exits first). */
  waitForLine(pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<CliResult>;
}

export function startCli(args: readonly string[], options: SpawnOptions = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: envOf(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const match = stdout
        .split('\n')
        .map((line) => line.match(waiter.pattern))
        .find(Boolean);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    check();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CliResult>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    child,
    stdout: () => stdout,
    exited,
    waitForLine(pattern) {
      return new Promise<RegExpMatchArray>((resolve, reject) => {
        waiters.push({ pattern, resolve });
        check();
        void exited.then((result) =>
          reject(
            new Error(
              `exited (${result.code}) before a line matched ${pattern}:\n${result.stdout}\n${result.stderr}`,
            ),
          ),
        );
      });
    },
  };
}

/** Runs `node bin/symphony.js ...args` to its end. */
export function cli(args: readonly string[], options: SpawnOptions = {}): Promise<CliResult> {
  return startCli(args, options).exited;
}

/** A fresh temporary folder with a database path in it; `cleanup()` removes it. */
export function tempDir(): { dir: string; db: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'symphony-cli-'));
  return { dir, db: join(dir, 'test.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens the SQLite store at `path` (read beside a running CLI: WAL allows it), runs `read`, closes it. */
export async function readStore<T>(path: string, read: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore({ path });
  await store.open();
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}

/** The workflow id a `run`/`demo` prints in its first line ("Workflow <id>: ..."). */
export const WORKFLOW_LINE = /^Workflow (\S+): /;

/** A plain progress line (stdout not a terminal). */
export const PLAIN_LINE =
  /^\d\d:\d\d:\d\d\.\d{3} (workflow|task) \S+ (PENDING|RUNNING|COMPLETED|FAILED|PAUSED|CANCELLED|ATTEMPT_FAILED|WAITING) "[^"]*"/;

/** The message the loader refuses `data` with (a usage error, as file w.yaml); throws if it loads. */
export function refusalOf(data: unknown): string {
  try {
    validateWorkflowFile(data, 'w.yaml');
  } catch (error) {
    expect(CliUsageError.isInstance(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected the file to be refused');
}
