import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { buildProgram } from '../../src/cli/main.js';
import { parseWorkflowText, validateWorkflowFile } from '../../src/cli/workflow-file/load.js';
import { EXAMPLES, ROOT } from './helpers.js';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const cliDoc = read('docs/cli.md');
const gettingStarted = read('docs/getting-started.md');

/** The fenced code blocks of a markdown text in the given language. */
function blocks(markdown: string, language: string): string[] {
  return [...markdown.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

describe('docs/cli.md', () => {
  it('has a section for every command of the program', () => {
    const sink = { write: () => true };
    const program = buildProgram(
      { stdout: sink, stderr: sink, env: {}, cwd: ROOT },
      { code: 0, json: false },
    );
    const names = program.commands.map((command) => command.name());
    expect(names.length).toBeGreaterThanOrEqual(8);
    const headings = cliDoc.split('\n').filter((line) => line.startsWith('### `symphony '));
    for (const name of names)
      expect(
        headings.some((heading) => heading.includes(name)),
        name,
      ).toBe(true);
  });

  it('documents exactly the exit codes the CLI uses', () => {
    const section = cliDoc.slice(cliDoc.indexOf('## Exit codes'), cliDoc.indexOf('## Commands'));
    const codes = [...section.matchAll(/^\| (\d+) +\|/gm)].map((m) => Number(m[1]));
    expect(codes).toEqual(Object.values(ExitCode));
  });

  it('shows workflow file examples that pass validation', () => {
    const section = cliDoc.slice(cliDoc.indexOf('## Workflow files'), cliDoc.indexOf('## Agents modules'));
    const examples = [
      ...blocks(section, 'yaml').map((text) => parseWorkflowText(text, 'doc.yaml')),
      ...blocks(section, 'json').map((text) => parseWorkflowText(text, 'doc.json')),
    ];
    expect(examples).toHaveLength(3);
    for (const example of examples) expect(() => validateWorkflowFile(example, 'doc')).not.toThrow();
  });
});

describe('docs/getting-started.md', () => {
  it('shows the example agents module and workflow file as they are', () => {
    expect(blocks(gettingStarted, 'ts')).toContain(readFileSync(join(EXAMPLES, 'my-agents.ts'), 'utf8'));
    expect(blocks(gettingStarted, 'yaml')).toContain(
      readFileSync(join(EXAMPLES, 'my-workflow.yaml'), 'utf8'),
    );
  });
});

describe('links in the CLI docs', () => {
  it.each(['docs/cli.md', 'docs/getting-started.md'])('every relative link of %s points at a file', (doc) => {
    const links = [...read(doc).matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)]
      .map((m) => m[1]!)
      .filter((link) => !/^[a-z]+:/.test(link));
    expect(links.length).toBeGreaterThan(3);
    for (const link of links) expect(existsSync(join(ROOT, dirname(doc), link)), link).toBe(true);
  });
});
