#!/usr/bin/env node
// The `symphony` command. It runs the TypeScript sources through tsx, so it works from a clone
// without a build step; agents modules written in TypeScript load the same way.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Exit once the output is flushed, even if an agents module left a handle open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
