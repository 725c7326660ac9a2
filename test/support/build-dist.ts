/**
 * Global setup of the `integration` project: compiles `dist/` (incrementally; a no-op when nothing
 * changed), so that the CLI and the other child processes the tests start run the current sources as
 * compiled JavaScript, as users run them. The scripts that tests start as child processes
 * (`test/**\/fixtures/*.ts`) are compiled beside it, into `dist/test/` (not published), where their
 * relative imports of `src/` resolve to the compiled sources; `compiledFixture()` names them.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { transformSync } from 'esbuild';
import { ROOT, compiledFixture } from './fixtures.js';

function fixtureSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return fixtureSources(path);
    return entry.name.endsWith('.ts') && relative(ROOT, path).split('/').includes('fixtures') ? [path] : [];
  });
}

export default function setup(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  for (const source of fixtureSources(join(ROOT, 'test'))) {
    const { code } = transformSync(readFileSync(source, 'utf8'), {
      loader: 'ts',
      format: 'esm',
      target: 'node20',
      sourcefile: source,
    });
    const target = compiledFixture(source);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, code);
  }
}
