import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/fixtures.js';

// Issue #9: `symphony-engine/testing` failed to load without fast-check. This loads the compiled
// entries (dist/, built by the integration project's global setup) in a child `node` whose module
// resolution refuses fast-check, as in a project that never installed it.

const run = promisify(execFile);
const DIST = join(ROOT, 'dist/src/testing');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'symphony-no-fast-check-'));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `export async function resolve(specifier, context, next) {
  if (/^(@fast-check\\/|fast-check(\\/|$))/.test(specifier)) {
    const error = new Error("Cannot find package '" + specifier + "' (hidden by the test)");
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}
`,
  );
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Imports `file` in a child node that cannot resolve fast-check; prints its export names. */
async function importWithoutFastCheck(file: string): Promise<{ ok: boolean; out: string }> {
  const script = `import(${JSON.stringify(pathToFileURL(file).href)}).then(
  (m) => console.log(JSON.stringify(Object.keys(m).sort())),
  (e) => { console.log(String(e && e.message)); process.exitCode = 1; });`;
  try {
    const { stdout } = await run(process.execPath, ['--import', join(dir, 'register.mjs'), '-e', script], {
      cwd: dir,
    });
    return { ok: true, out: stdout.trim() };
  } catch (error) {
    return { ok: false, out: String((error as { stdout?: string }).stdout ?? error).trim() };
  }
}

describe('the compiled testing entries without fast-check installed', () => {
  it('dist has the compiled entries', () => {
    expect(existsSync(join(DIST, 'index.js'))).toBe(true);
    expect(existsSync(join(DIST, 'arbitraries.js'))).toBe(true);
  });

  it('symphony-engine/testing loads and exports the kit', async () => {
    const { ok, out } = await importWithoutFastCheck(join(DIST, 'index.js'));
    expect(ok, out).toBe(true);
    expect(JSON.parse(out)).toEqual(
      expect.arrayContaining(['advance', 'createTestRegistry', 'failingAgent', 'manualAgent', 'TestClock']),
    );
  });

  it('symphony-engine/testing/arbitraries is the one that needs it (the hook does hide it)', async () => {
    const { ok, out } = await importWithoutFastCheck(join(DIST, 'arbitraries.js'));
    expect(ok).toBe(false);
    expect(out).toContain("Cannot find package 'fast-check' (hidden by the test)");
  });
});
