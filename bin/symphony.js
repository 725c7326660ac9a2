#!/usr/bin/env node
// The `symphony` command. It runs the TypeScript sources through tsx, so it works from a clone
// without a build step; agents modules written in TypeScript load the same way (ESM or CommonJS).
import process from 'node:process';
import { register as registerCommonJs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

registerCommonJs();
register();
// Output piped into a reader that quits early (`symphony list | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Exit once the output is flushed, even if an agents module left a handle open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
