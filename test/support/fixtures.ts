import { join, relative } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');

/**
 * The compiled JavaScript of a TypeScript script under `test/` that a test starts as a child process
 * (`node <compiledFixture(path)>`); the integration project's global setup writes it.
 */
export function compiledFixture(source: string): string {
  return join(ROOT, 'dist', relative(ROOT, source)).replace(/\.ts$/, '.js');
}
