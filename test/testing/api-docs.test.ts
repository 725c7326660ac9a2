import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ROOT } from '../support/fixtures.js';

// Issue #9: docs/api.md gave no signatures for the test kit (`failingAgent(id, times)` was guessed
// as `failingAgent({ times })`). Every export of the three testing entries must be declared in the
// testing sections of docs/api.md, functions with the parameters and types of the sources, and
// the examples there are the fixtures this test runs.

const ENTRIES = {
  'symphony-engine/testing': 'src/testing/index.ts',
  'symphony-engine/testing/arbitraries': 'src/testing/arbitraries.ts',
  'symphony-engine/testing/store-contract': 'src/testing/store-contract.ts',
} as const;

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const apiDoc = read('docs/api.md');

/** The testing sections of api.md: from `symphony-engine/testing` up to the machines' section. */
function testingSections(): string {
  const start = apiDoc.indexOf('## `symphony-engine/testing`');
  const end = apiDoc.indexOf('## `symphony-engine/machines`');
  if (start < 0 || end < start) throw new Error('docs/api.md has no testing section before the machines');
  return apiDoc.slice(start, end);
}

/** One parameter or a return type, as comparable text. */
const normal = (type: string) =>
  type
    .replace(/\s+/g, '')
    .replace(/\|undefined/g, '')
    .replace(/\bfc\./g, '')
    .replace(/;}/g, '}')
    .replace(/,([)}\]])/g, '$1');

interface Signature {
  params: string[];
  returns: string;
}

interface Declared {
  kind: 'function' | 'interface' | 'type' | 'class' | 'const';
  signature?: Signature;
  members?: string[];
}

/** What the ts blocks of the testing sections declare, parsed by TypeScript. */
function docDeclarations(): Map<string, Declared> {
  const declared = new Map<string, Declared>();
  const blocks = [...testingSections().matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
  for (const block of blocks) {
    const file = ts.createSourceFile('doc.ts', block, ts.ScriptTarget.ES2022, true);
    for (const node of file.statements) {
      if (ts.isFunctionDeclaration(node) && node.name) {
        declared.set(node.name.text, {
          kind: 'function',
          signature: {
            params: node.parameters.map(
              (p) => `${p.name.getText()}${p.questionToken ? '?' : ''}:${normal(p.type?.getText() ?? '')}`,
            ),
            returns: normal(node.type?.getText() ?? ''),
          },
        });
      } else if (ts.isInterfaceDeclaration(node)) {
        const members = node.members.map((member) => member.name?.getText() ?? '');
        declared.set(node.name.text, { kind: 'interface', members: members.sort() });
      } else if (ts.isTypeAliasDeclaration(node)) {
        declared.set(node.name.text, { kind: 'type' });
      } else if (ts.isClassDeclaration(node) && node.name) {
        declared.set(node.name.text, { kind: 'class' });
      } else if (ts.isVariableStatement(node)) {
        for (const variable of node.declarationList.declarations) {
          declared.set(variable.name.getText(), { kind: 'const' });
        }
      }
    }
  }
  return declared;
}

/** Every export of each entry (values and types), as the sources declare it. */
function sourceExports(): Map<string, Map<string, Declared>> {
  const program = ts.createProgram(
    Object.values(ENTRIES).map((file) => join(ROOT, file)),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      skipLibCheck: true,
      types: ['node'],
    },
  );
  const checker = program.getTypeChecker();
  const text = (type: ts.Type) =>
    normal(checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation));
  const entries = new Map<string, Map<string, Declared>>();
  for (const [entry, file] of Object.entries(ENTRIES)) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(join(ROOT, file))!)!;
    const exports = new Map<string, Declared>();
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const declaration = symbol.declarations![0]!;
      if (symbol.flags & ts.SymbolFlags.Function) {
        const [signature] = checker.getTypeOfSymbolAtLocation(symbol, declaration).getCallSignatures();
        exports.set(exported.name, {
          kind: 'function',
          signature: {
            params: signature!.parameters.map((param) => {
              const node = param.valueDeclaration as ts.ParameterDeclaration;
              const optional = checker.isOptionalParameter(node) ? '?' : '';
              return `${param.name}${optional}:${text(checker.getTypeOfSymbolAtLocation(param, node))}`;
            }),
            returns: text(signature!.getReturnType()),
          },
        });
      } else if (symbol.flags & ts.SymbolFlags.Interface) {
        const members = [...(symbol.members?.keys() ?? [])].map(String);
        exports.set(exported.name, { kind: 'interface', members: members.sort() });
      } else if (symbol.flags & ts.SymbolFlags.TypeAlias) {
        exports.set(exported.name, { kind: 'type' });
      } else if (symbol.flags & ts.SymbolFlags.Class) {
        exports.set(exported.name, { kind: 'class' });
      } else {
        exports.set(exported.name, { kind: 'const' });
      }
    }
    entries.set(entry, exports);
  }
  return entries;
}

const show = (name: string, signature: Signature | undefined) =>
  signature ? `${name}(${signature.params.join(', ')}): ${signature.returns}` : `${name}: no signature`;

describe('docs/api.md documents the test kit', () => {
  let documented: Map<string, Declared>;
  let exported: Map<string, Map<string, Declared>>;
  beforeAll(() => {
    documented = docDeclarations();
    exported = sourceExports();
  });

  it('has a section per testing entry', () => {
    for (const entry of Object.keys(ENTRIES)) expect(testingSections()).toContain(`## \`${entry}\``);
    expect(exported.get('symphony-engine/testing')!.size).toBeGreaterThan(15);
  });

  it.each(Object.keys(ENTRIES))(
    'declares every export of %s, functions with their exact signature',
    (entry) => {
      for (const [name, source] of exported.get(entry)!) {
        const doc = documented.get(name);
        expect(doc?.kind, `docs/api.md does not declare ${name} (a ${source.kind} of ${entry})`).toBe(
          source.kind,
        );
        if (source.signature) expect(show(name, doc!.signature)).toBe(show(name, source.signature));
        if (source.members) expect(doc!.members, `the members of ${name}`).toEqual(source.members);
      }
    },
  );

  it.each([
    ['testing-kit-example.ts', ['COMPLETED 3', 'done', 'EXECUTION_TIMEOUT', 'ABC 2']],
    ['arbitraries-example.ts', ['20 inputs stored as given']],
  ])('shows %s verbatim and it prints what its comments say', async (fixture, expected) => {
    const source = read(`test/testing/fixtures/${fixture}`)
      .replace("'../../../src/testing/index.js'", "'symphony-engine/testing'")
      .replace("'../../../src/testing/arbitraries.js'", "'symphony-engine/testing/arbitraries'");
    const blocks = [...testingSections().matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    expect(blocks, `update docs/api.md from test/testing/fixtures/${fixture}`).toContain(source);
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    });
    try {
      await import(/* @vite-ignore */ `./fixtures/${fixture.replace(/\.ts$/, '.js')}`);
    } finally {
      log.mockRestore();
    }
    expect(lines).toEqual(expected);
  });
});
