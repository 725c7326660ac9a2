import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/fixtures.js';

/** Loads an agents module with the compiled CLI code in plain node (vitest would transform it). */
function load(path: string, dir: string): string {
  const entry = pathToFileURL(join(ROOT, 'dist/src/cli/agents-module.js')).href;
  const script = `import(${JSON.stringify(entry)}).then((m) => m.loadAgentsModule(${JSON.stringify(path)}, ${JSON.stringify(dir)}, 'agents.module')).then(() => console.log('loaded'), (e) => console.log(e.message));`;
  return execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }).trim();
}

describe('agents modules', () => {
  it('an ES module in a .js file of a CommonJS package: the message says how to fix it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-agents-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'commonjs' }));
    const source = 'export const agents = { echo: () => ({ execute: async () => 1 }) };\n';
    writeFileSync(join(dir, 'agents.js'), source);
    writeFileSync(join(dir, 'agents.mjs'), source);
    expect(load('./agents.js', dir)).toMatch(
      /^agents\.module: the agents module \.\/agents\.js could not be loaded: .*name it \.mjs, or set "type": "module"/,
    );
    expect(load('./agents.mjs', dir)).toBe('loaded');
  });
});
