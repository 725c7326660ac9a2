import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';

/**
 * Child processes of tests: starting a node script that says when it is up, and ending what a
 * failed test left running (only the processes the file started, never by name).
 */

/** A started node script: `ready` once it prints READY (or exits), `exited` with all it printed. */
export interface ScriptRun {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; output: string }>;
}

/** Starts `node <script> ...args`, its stdout and stderr collected as one output. */
export function startScript(script: string, args: readonly string[]): ScriptRun {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('READY')) markReady();
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on('exit', (code) => {
      markReady();
      resolve({ code, output });
    }),
  );
  return { child, ready, exited };
}

/**
 * SIGKILLs each process of `started` that is still running, and empties the list. A stopped one
 * (SIGSTOP) is continued first, so that it dies now rather than whenever it is continued.
 */
export function killLeftOver(started: Array<{ child: ChildProcess }>): void {
  for (const { child } of started.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
}

/** A list for the processes a test file starts: after each test, those still running are killed. */
export function killedAfterEach<P extends { child: ChildProcess }>(): P[] {
  const started: P[] = [];
  afterEach(() => killLeftOver(started));
  return started;
}
