import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compiledFixture } from '../support/fixtures.js';

const fixture = fileURLToPath(new URL('./fixtures/sqlite-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const NOBODY = 65534;

export interface ChildOptions {
  /** Run without the power to write files that permissions forbid, even when the tests run as root. */
  unprivileged?: boolean;
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path));

/**
 * How to start node so that file permissions bind it. Root ignores them (CAP_DAC_OVERRIDE), so as
 * root the child runs under `setpriv` without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (still uid 0,
 * so it reads the repository wherever it is), or, without setpriv, as uid/gid 65534 (nobody).
 */
function command(
  args: string[],
  unprivileged: boolean,
): { file: string; args: string[]; options: SpawnOptions } {
  if (!unprivileged || process.getuid?.() !== 0) return { file: process.execPath, args, options: {} };
  if (SETPRIV) {
    const caps = '-dac_override,-dac_read_search';
    return {
      file: SETPRIV,
      args: [`--inh-caps=${caps}`, `--bounding-set=${caps}`, '--', process.execPath, ...args],
      options: {},
    };
  }
  return { file: process.execPath, args, options: { uid: NOBODY, gid: NOBODY } };
}

/** Starts the fixture in its own process; resolves with the process and its first JSON line. */
export function startChild(
  mode: string,
  path: string,
  options: ChildOptions = {},
): Promise<{ child: ChildProcess; line: Record<string, unknown> }> {
  const run = command([compiledFixture(fixture), mode, path], options.unprivileged === true);
  const child = spawn(run.file, run.args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...run.options });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline >= 0)
        resolve({ child, line: JSON.parse(out.slice(0, newline)) as Record<string, unknown> });
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (!out.includes('\n'))
        reject(new Error(`fixture ${mode} exited (${code ?? signal}) without output: ${err}`));
    });
  });
}

/** Runs the fixture to its end and returns its JSON line. */
export async function runChild(
  mode: string,
  path: string,
  options: ChildOptions = {},
): Promise<Record<string, unknown>> {
  const { child, line } = await startChild(mode, path, options);
  if (child.exitCode === null && child.signalCode === null)
    await new Promise((resolve) => child.once('exit', resolve));
  return line;
}

/** Kills a fixture process and waits until it is gone (its locks with it). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
