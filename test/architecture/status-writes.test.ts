import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { TASK_STATUSES } from '../../machines/status.js';
import { root, tsFiles, under } from '../support/source-files.js';

/**
 * One door for state (issue 11): a task's status is assigned only in src/engine/task-door.ts,
 * which takes it from the task machine, and a workflow's only in src/engine/workflows.ts, which
 * takes it from the workflow machine. Checked on the syntax tree of every file in src/: an
 * assignment to a `status` property, or an object literal that spells a status (`status:
 * 'PENDING'`), anywhere else fails. src/testing/ builds sample rows for store tests and is exempt.
 */

const DOORS = [under('src/engine/task-door.ts'), under('src/engine/workflows.ts')];
const EXEMPT = [under('src/testing')];
const STATUS_NAMES = new Set<string>(TASK_STATUSES);

interface Write {
  file: string;
  line: number;
  text: string;
}

const isStatusName = (name: ts.PropertyName | ts.MemberName) =>
  (ts.isIdentifier(name) || ts.isStringLiteral(name)) && name.text === 'status';

/** `{ where: { status: 'FAILED' } }`: a query's filter names a status, it does not write one. */
const isQueryFilter = (literal: ts.ObjectLiteralExpression) =>
  ts.isPropertyAssignment(literal.parent) &&
  ts.isIdentifier(literal.parent.name) &&
  literal.parent.name.text === 'where';

const isAssignment = (kind: ts.SyntaxKind) =>
  kind >= ts.SyntaxKind.FirstAssignment && kind <= ts.SyntaxKind.LastAssignment;

/** The status writes of one source text: `x.status = ...`, `x['status'] = ...`, `{ status: 'PENDING' }`. */
export function statusWrites(file: string, text: string): Write[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const writes: Write[] = [];
  const record = (node: ts.Node) => {
    const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
    writes.push({ file: path.relative(root, file), line: line + 1, text: node.getText(source) });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isBinaryExpression(node) && isAssignment(node.operatorToken.kind)) {
      const left = node.left;
      if (ts.isPropertyAccessExpression(left) && isStatusName(left.name)) record(node);
      if (
        ts.isElementAccessExpression(left) &&
        ts.isStringLiteral(left.argumentExpression) &&
        left.argumentExpression.text === 'status'
      ) {
        record(node);
      }
    }
    if (
      ts.isPropertyAssignment(node) &&
      isStatusName(node.name) &&
      ts.isStringLiteralLike(node.initializer) &&
      STATUS_NAMES.has(node.initializer.text) &&
      ts.isObjectLiteralExpression(node.parent) &&
      !isQueryFilter(node.parent)
    ) {
      record(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return writes;
}

const inside = (file: string, dirs: string[]) =>
  dirs.some((dir) => file === dir || file.startsWith(dir + path.sep));

describe('status writes', () => {
  it('only the task door and the workflow actors assign a status in src/', async () => {
    const writes: Write[] = [];
    for (const file of await tsFiles(under('src'))) {
      if (inside(file, DOORS) || inside(file, EXEMPT)) continue;
      writes.push(...statusWrites(file, await readFile(file, 'utf8')));
    }
    expect(writes).toEqual([]);
  });

  it('the doors do assign statuses (the check would see them)', async () => {
    for (const door of DOORS) {
      expect(statusWrites(door, await readFile(door, 'utf8')).length).toBeGreaterThan(0);
    }
  });

  it('finds each form of status write, and ignores reads and other fields', () => {
    const writes = statusWrites(
      'sample.ts',
      [
        "task.status = 'RUNNING';",
        'row["status"] = next;',
        "const fresh = { id, status: 'PENDING' };",
        'task.status ||= other;',
        "if (task.status === 'FAILED') read(task.status);",
        "const view = { status: task.status, phase: 'PENDING' };",
        "type T = { status: 'PENDING' };",
        "await tasks.find({ where: { status: 'FAILED' } });",
      ].join('\n'),
    );
    expect(writes.map((write) => write.line)).toEqual([1, 2, 3, 4]);
  });
});
