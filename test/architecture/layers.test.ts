import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, tsFiles, under } from '../support/source-files.js';

/**
 * The layers, checked on the source text: src/engine/ (the runtime) and machines/ (pure XState)
 * sit below src/services/ and src/cli/, which build on them; the composition root that wires
 * them together is src/service-registry.ts. machines/ does not depend on src/ at all.
 */

/**
 * The module specifiers of `source`: `import ... from '...'`, `export ... from '...'`,
 * `import '...'` and `import('...')`, with or without `type`.
 */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const pattern = /\bfrom\s*(['"])([^'"]+)\1|\bimport\s*\(?\s*(['"])([^'"]+)\3/g;
  for (const match of source.matchAll(pattern)) found.push((match[2] ?? match[4]) as string);
  return found;
}

/** True when `file` is `dir` or lies inside it. */
const inside = (file: string, dir: string) => {
  const relative = path.relative(dir, file);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
};

interface Violation {
  file: string;
  specifier: string;
}

/**
 * The imports of `file` (with text `source`) that land in one of `forbidden` (absolute
 * directories). Relative specifiers are resolved against the file's directory. The package's own
 * name (`symphony-engine`, `symphony-engine/...`) is always forbidden: its entry points re-export
 * the services, so a lower layer importing it depends on everything.
 */
function forbiddenImports(file: string, source: string, forbidden: string[]): Violation[] {
  const violations: Violation[] = [];
  for (const specifier of specifiers(source)) {
    const self = specifier === 'symphony-engine' || specifier.startsWith('symphony-engine/');
    const relative = specifier.startsWith('.');
    const target = relative ? path.resolve(path.dirname(file), specifier) : null;
    if (self || (target !== null && forbidden.some((dir) => inside(target, dir))))
      violations.push({ file: path.relative(root, file), specifier });
  }
  return violations;
}

async function scan(
  dirs: string[],
  forbidden: string[],
): Promise<{ files: number; violations: Violation[] }> {
  const files = (await Promise.all(dirs.map((dir) => tsFiles(dir)))).flat();
  const violations: Violation[] = [];
  for (const file of files) {
    violations.push(...forbiddenImports(file, await readFile(file, 'utf8'), forbidden));
  }
  return { files: files.length, violations };
}

describe('layers', () => {
  it('src/engine/ and machines/ import nothing from src/services/, src/cli/ or src/index.ts', async () => {
    const { files, violations } = await scan(
      [under('src', 'engine'), under('machines')],
      [under('src', 'services'), under('src', 'cli'), under('src', 'index.ts')],
    );
    expect(files).toBeGreaterThan(10);
    expect(violations).toEqual([]);
  });

  it('machines/ imports nothing from src/', async () => {
    const { files, violations } = await scan([under('machines')], [under('src')]);
    expect(files).toBeGreaterThan(3);
    expect(violations).toEqual([]);
  });

  it('the composition root lives outside src/engine/', async () => {
    const registry = await readFile(under('src', 'service-registry.ts'), 'utf8');
    expect(registry).toMatch(/export class ServiceRegistry\b/);
    expect((await tsFiles(under('src', 'engine'))).map((file) => path.basename(file))).not.toContain(
      'service-registry.ts',
    );
  });

  describe('the check itself', () => {
    const file = under('src', 'engine', 'example.ts');
    const forbidden = [under('src', 'services'), under('src', 'cli')];

    it('finds every form of import and export', () => {
      const source = [
        "import { a } from '../services/a.js';",
        'import type { B } from "../cli/b.js";',
        "export { c } from '../services/c.js';",
        "export * from '../cli/d.js';",
        "import '../services/e.js';",
        "const f = await import('../cli/f.js');",
        'import {',
        '  g,',
        "} from '../services/g.js';",
      ].join('\n');
      expect(forbiddenImports(file, source, forbidden).map((v) => v.specifier)).toEqual([
        '../services/a.js',
        '../cli/b.js',
        '../services/c.js',
        '../cli/d.js',
        '../services/e.js',
        '../cli/f.js',
        '../services/g.js',
      ]);
    });

    it('resolves paths instead of matching text', () => {
      const source = [
        "import { a } from './services/a.js';", // src/engine/services/, not src/services/
        "import { b } from '../domain/../services/b.js';", // src/services/
        "import { c } from '../services-extra/c.js';", // a sibling whose name starts alike
        "import { d } from 'xstate';",
        "import { e } from 'symphony-engine';", // the package itself, which re-exports the services
      ].join('\n');
      expect(forbiddenImports(file, source, forbidden)).toEqual([
        { file: 'src/engine/example.ts', specifier: '../domain/../services/b.js' },
        { file: 'src/engine/example.ts', specifier: 'symphony-engine' },
      ]);
    });
  });
});

describe('narrow dependencies', () => {
  it('services, recovery, steering and the control poller name what they need of the engine, not the whole Runtime', async () => {
    const files = [
      ...(await tsFiles(under('src/services'))),
      under('src/engine/recovery.ts'),
      under('src/engine/workflow-control.ts'),
      under('src/engine/control-poller.ts'),
    ];
    const wide: string[] = [];
    for (const file of files) {
      const source = await readFile(file, 'utf8');
      // `Runtime` may appear only inside a Pick<Runtime, ...> that lists the members used.
      const uses = source.match(/\bRuntime\b(?!,)/g) ?? [];
      const picks = source.match(/Pick<\s*Runtime,/g) ?? [];
      const imports = source.match(/import type \{ Runtime \}/g) ?? [];
      if (uses.length > imports.length) wide.push(path.relative(root, file));
      if (source.includes('Runtime') && picks.length === 0 && imports.length > 0)
        wide.push(path.relative(root, file));
    }
    expect(wide).toEqual([]);
  });
});
