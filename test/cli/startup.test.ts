/**
 * Start-up (issue 9): `src/cli/main.ts` loads a command's module only when that command runs, so
 * `symphony list` loads no demo, no inspector, no workflow-file parser and no code that runs work.
 * The CLI runs as a child process (compiled `dist/`), with a loader hook that records every module.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, FIXTURES, tempDir } from './helpers.js';

const temps: Array<() => void> = [];
afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));

/** The modules (paths under dist/, or package names) a `symphony ...args` process loaded. */
async function modulesLoadedBy(args: string[]): Promise<{ code: number | null; modules: string[] }> {
  const { dir, cleanup } = tempDir();
  temps.push(cleanup);
  const log = join(dir, 'loads.txt');
  const result = await cli(args, {
    cwd: dir,
    env: {
      NODE_OPTIONS: `--import ${pathToFileURL(join(FIXTURES, 'record-loads.mjs')).href}`,
      SYMPHONY_TEST_LOADS: log,
    },
  });
  const modules = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((url) => url.replace(/^file:\/\/.*?\/dist\//, 'dist/').replace(/^file:\/\/.*\/node_modules\//, ''));
  return { code: result.code, modules };
}

/** What `list` must not load: other commands, the demo, the inspector, run-time progress, parsers. */
const NOT_FOR_LIST = [
  /^dist\/src\/cli\/commands\/(demo|run|resume|retry|show|control)\.js$/,
  /^dist\/src\/cli\/(execute|agents-module|workflow-agents)\.js$/,
  /^dist\/src\/cli\/(progress|workflow-file)\//,
  /^dist\/examples\//,
  /^dist\/src\/inspect\//,
  /^(yaml|zod|log-update|@statelyai)\//,
];

describe('symphony start-up', () => {
  it('list loads only what listing needs', async () => {
    const { code, modules } = await modulesLoadedBy(['list', '--db', ':memory:']);
    expect(code).toBe(0);
    expect(modules).toContain('dist/src/cli/commands/list.js');
    expect(modules.filter((module) => NOT_FOR_LIST.some((pattern) => pattern.test(module)))).toEqual([]);
  });

  it('--help loads no command and no engine', async () => {
    const { code, modules } = await modulesLoadedBy(['--help']);
    expect(code).toBe(0);
    expect(modules.filter((module) => /^dist\/src\/(cli\/commands|engine|services)\//.test(module))).toEqual(
      [],
    );
  });
});
