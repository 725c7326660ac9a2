/**
 * Global setup of the `integration` project: compiles `dist/` (incrementally; a no-op when nothing
 * changed), so that the CLI and the other child processes the tests start run the current sources as
 * compiled JavaScript, as users run them.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

export default function setup(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}
