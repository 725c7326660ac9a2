import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compiledFixture } from '../support/fixtures.js';

// docs/inspector.md shows the two fixtures verbatim (imports as a user writes them); this runs
// the example program against the console viewer, as the doc describes. Both run as compiled
// JavaScript (the integration setup compiles them), and the test waits on what they print, with
// bounds that only a hang reaches (issue 9: no bet on how fast the machine is).

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const read = (path: string) => readFileSync(path, 'utf8');
const SETTLE = { timeout: 60_000, interval: 20 };

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGTERM');
});

function start(file: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [compiledFixture(file)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk: Buffer) => (output.stdout += String(chunk)));
  child.stderr!.on('data', (chunk: Buffer) => (output.stderr += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, output, exited };
}

describe('docs/inspector.md', () => {
  it('shows the example program and the console viewer as written', () => {
    const doc = read(`${ROOT}docs/inspector.md`);
    const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    const example = read(fixture('inspector-doc-example.ts'))
      .replace("'../../../src/index.js'", "'symphony-engine'")
      .replace("'../../../src/inspect/index.js'", "'symphony-engine/inspect'");
    expect(blocks, 'update docs/inspector.md from test/inspect/fixtures').toContain(example);
    expect(blocks, 'update docs/inspector.md from test/inspect/fixtures').toContain(
      read(fixture('console-viewer.ts')),
    );
  });

  it('the example streams every kind of actor to the viewer and exits by itself', async () => {
    const viewer = start(fixture('console-viewer.ts'), { PORT: '0' });
    await vi.waitFor(() => expect(viewer.output.stdout).toMatch(/listening on ws:\/\/localhost:\d+/), SETTLE);
    const port = /localhost:(\d+)/.exec(viewer.output.stdout)![1];

    const program = start(fixture('inspector-doc-example.ts'), { INSPECT_URL: `ws://127.0.0.1:${port}` });
    expect(await program.exited, program.output.stderr).toBe(0);

    await vi.waitFor(() => {
      const lines = viewer.output.stdout.split('\n');
      for (const name of ['engine', 'executor', 'router', 'agent:echo']) {
        expect(lines.some((line) => line.startsWith(`actor  ${name} (x:`))).toBe(true);
      }
      expect(
        lines.some((line) => /^actor {2}task:\S+ \(x:\d+\) parent: agent:echo \(x:\d+\)$/.test(line)),
      ).toBe(true);
      expect(
        lines.some((line) => /^actor {2}workflow:\S+ \(x:\d+\) parent: engine \(x:\d+\)$/.test(line)),
      ).toBe(true);
      expect(lines.filter((line) => /^state {2}task:\S+ \(x:\d+\) = "COMPLETED"$/.test(line))).toHaveLength(
        3,
      );
      expect(lines.some((line) => /^state {2}workflow:\S+ \(x:\d+\) = "COMPLETED"$/.test(line))).toBe(true);
      expect(
        lines.some((line) => /^event {2}agent:echo \(x:\d+\) <- RUN from executor \(x:\d+\)$/.test(line)),
      ).toBe(true);
      expect(
        lines.some((line) => /^event {2}task:\S+ \(x:\d+\) <- START from agent:echo \(x:\d+\)$/.test(line)),
      ).toBe(true);
    }, SETTLE);
  });
});
