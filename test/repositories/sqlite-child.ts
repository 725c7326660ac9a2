import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/sqlite-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const NOBODY = 65534;

export interface ChildOptions {
  /** Run as an unprivileged user (uid/gid 65534) when the tests run as root. */
  unprivileged?: boolean;
}

/** Starts the fixture in its own process; resolves with the process and its first JSON line. */
export function startChild(
  mode: string,
  path: string,
  options: ChildOptions = {},
): Promise<{ child: ChildProcess; line: Record<string, unknown> }> {
  const asNobody = options.unprivileged === true && process.getuid?.() === 0;
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode, path], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asNobody ? { uid: NOBODY, gid: NOBODY } : {}),
  });
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
