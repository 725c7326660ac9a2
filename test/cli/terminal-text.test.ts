/**
 * Stored text in the human-readable output (docs/cli.md, "Output"): names, descriptions, agent
 * names, error codes and messages holding terminal escapes, carriage returns and line breaks are
 * printed with their control characters made visible, so each stays on its line and moves no
 * cursor. Regression: hostile names forged progress lines and cleared the screen through `run`'s
 * piped lines, `show`, `list`, `top`, `watch` and `dead-letter list`. The CLI runs in this process.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { visible } from '../../src/cli/visible.js';
import { FIXTURES, tempDir } from './helpers.js';
import { runMain } from './in-process.js';

/** What a terminal would act on: C0 and C1 controls, DEL, line separators, lone surrogates. */
const CONTROL = /[\p{Cc}\p{Cs}\u2028\u2029]/u;
const EVIL = 'evil\u001b[2J\u001b[31m\r\n12:00:00.000 task FAKE COMPLETED "forged"\u0007\u007f\u009b';

describe('visible', () => {
  it('writes control characters as escapes and leaves printable text alone', () => {
    expect(visible('a\u001b[2J\r\n\t\u0007\u007f\u009b\u2028b')).toBe(
      'a\\x1b[2J\\r\\n\\t\\x07\\x7f\\x9b\\u2028b',
    );
    expect(visible('\ud800 lone, \ud83c\udfb5 pair, é, \\x1b as typed')).toBe(
      '\\ud800 lone, \ud83c\udfb5 pair, é, \\x1b as typed',
    );
  });

  it('leaves no control character, and changes nothing the second time', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const shown = visible(text);
        expect(shown).not.toMatch(CONTROL);
        expect(visible(shown)).toBe(shown);
      }),
    );
  });
});

/** Lines of output that hold a control character, or that a stored value forged. */
function badLines(text: string): string[] {
  return text.split('\n').filter((line) => CONTROL.test(line) || /^12:00:00\.000 task FAKE/.test(line));
}

describe('hostile stored text in the human-readable output', () => {
  const made = tempDir();
  let workflowId = '';
  let taskId = '';
  let runOutput = '';

  beforeAll(async () => {
    const file = join(made.dir, 'hostile.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: EVIL,
        description: EVIL,
        retry: { maxAttempts: 1 },
        agents: {
          module: join(FIXTURES, 'terminal-agents.mjs'),
          configs: [{ name: `Agent ${EVIL}`, type: 'hostile' }],
        },
        tasks: [{ name: `task ${EVIL}` }],
      }),
    );
    const run = await runMain(['run', file, '--db', made.db], { cwd: made.dir });
    expect(run.code).toBe(1);
    runOutput = run.stdout + run.stderr;
    const list = await runMain(['list', '--db', made.db, '--json'], { cwd: made.dir });
    workflowId = (JSON.parse(list.stdout) as Array<{ id: string }>)[0]!.id;
    const shown = await runMain(['show', workflowId, '--db', made.db, '--json'], { cwd: made.dir });
    taskId = (JSON.parse(shown.stdout) as { tasks: Array<{ id: string }> }).tasks[0]!.id;
    return made.cleanup;
  });

  it("keeps run's piped progress lines and summary one line per value", () => {
    expect(badLines(runOutput)).toEqual([]);
    expect(runOutput).toContain('FAILED "task evil\\u001b[2J');
    expect(runOutput).toContain('BAD\\x1b[0m: boom\\x1b[2J\\x1b[31m\\r\\n12:00:00.000 task FAKE');
    expect(runOutput).toContain('Agent evil\\x1b[2J');
  });

  it.each([
    ['list', () => ['list']],
    ['show <workflow>', () => ['show', workflowId]],
    ['show <task>', () => ['show', taskId]],
    ['top --once', () => ['top', '--once']],
    ['watch --until-done', () => ['watch', '--workflow', workflowId, '--until-done']],
    ['dead-letter list', () => ['dead-letter', 'list']],
  ])('%s prints the stored text with its control characters made visible', async (_, args) => {
    const result = await runMain([...args(), '--db', made.db], { cwd: made.dir });
    const output = result.stdout + result.stderr;
    expect(badLines(output)).toEqual([]);
    expect(output).toMatch(/evil\\(x1b|u001b)\[2J/);
  });

  it('leaves the JSON outputs as JSON (which escapes control characters itself)', async () => {
    const watch = await runMain(
      ['watch', '--workflow', workflowId, '--until-done', '--json', '--db', made.db],
      {
        cwd: made.dir,
      },
    );
    const names = watch.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { payload: { name?: string } }).payload.name)
      .filter((name) => name !== undefined);
    expect(names).toContain(EVIL);
  });
});
