import { visible } from './visible.js';

/** A stream the CLI writes to; `isTTY` picks the live view over plain lines. */
export interface OutputStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  on?(event: 'resize', listener: () => void): unknown;
  off?(event: 'resize', listener: () => void): unknown;
}

/** The outside world of one CLI invocation; `main` takes the process's, tests may pass their own. */
export interface CliIO {
  stdout: OutputStream;
  stderr: OutputStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

/**
 * Writes one line of human-readable output: control characters in it (from names, descriptions,
 * error messages) are shown as escapes (`visible`), so it stays one line and moves no cursor.
 */
export function println(stream: OutputStream, line = ''): void {
  stream.write(`${visible(line)}\n`);
}

/** Writes one JSON line as it is (JSON escapes its own control characters). */
export function printJsonLine(stream: OutputStream, line: string): void {
  stream.write(`${line}\n`);
}

/** Writes a value as pretty JSON, for `--json`. */
export function printJson(stream: OutputStream, value: unknown): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`);
}
