import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/fixtures.js';

// Issue #9: `symphony-engine/testing` failed to load without fast-check. Each entry of the test kit
// may import only the packages listed here; esbuild follows the import graph from the sources
// (type-only imports are erased, as tsc erases them) and lists the packages it reaches.

/** The packages (bare specifiers) reached from `entry` by value imports, sorted. */
async function packagesOf(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  const reached = new Set<string>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const imported of output.imports) if (imported.external) reached.add(imported.path);
  }
  return [...reached].sort();
}

const packageName = (specifier: string) =>
  specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;

describe('testing entries import only what they declare', () => {
  it('symphony-engine/testing needs neither fast-check nor vitest (node built-ins, xstate, the engine)', async () => {
    const packages = (await packagesOf('src/testing/index.ts')).map(packageName);
    expect(packages).not.toContain('fast-check');
    expect(packages.filter((name) => name.includes('fast-check'))).toEqual([]);
    expect(packages).not.toContain('vitest');
    expect(packages).not.toContain('ai');
    expect(packages).toContain('xstate');
  });

  it('symphony-engine/testing/arbitraries is the entry that imports fast-check', async () => {
    expect((await packagesOf('src/testing/arbitraries.ts')).map(packageName)).toContain('fast-check');
  });
});
