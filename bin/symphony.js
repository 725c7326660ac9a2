#!/usr/bin/env node
// The `symphony` command. It runs the compiled JavaScript in dist/ (built by `npm run build`, which
// `npm ci` runs through `prepare` in a clone and which the published package ships). TypeScript agents
// modules are loaded through tsx when it is installed (src/cli/agents-module.ts).
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const args = process.argv.slice(2);
// `--version` alone needs nothing but the package file: answer before loading the CLI.
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
  process.exit(0);
}
// Output piped into a reader that quits early (`symphony list | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const entry = new URL('../dist/src/cli/main.js', import.meta.url);
let main;
try {
  ({ main } = await import(entry.href));
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(entry.pathname)) {
    process.stderr.write(
      'symphony: the compiled CLI is missing (dist/src/cli/main.js); in a clone, run `npm run build` (npm ci runs it)\n',
    );
    process.exit(3);
  }
  throw error;
}
const code = await main(args);
// Exit once the output is flushed, even if an agents module left a handle open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
