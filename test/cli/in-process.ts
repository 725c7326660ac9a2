/**
 * The CLI run in the test's own process, through `main(argv, io)`: no child process to start, and
 * the output collected from the `io` streams.
 */
import { main } from '../../src/cli/main.js';
import type { CliIO, OutputStream } from '../../src/cli/io.js';
import type { CliResult } from './helpers.js';

/** A stream that keeps what is written (not a terminal: the CLI prints plain lines). */
export function collector(): OutputStream & { text(): string } {
  let text = '';
  return {
    write(chunk: string) {
      text += chunk;
      return true;
    },
    text: () => text,
  };
}

export interface InProcessOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
}

/** Runs `symphony ...args` in this process; resolves when the command has returned. */
export async function runMain(args: readonly string[], options: InProcessOptions): Promise<CliResult> {
  const stdout = collector();
  const stderr = collector();
  const io: CliIO = { stdout, stderr, env: options.env ?? {}, cwd: options.cwd };
  const code = await main(args, io);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
