import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { GraphError } from '../../src/errors/errors.js';
import { checkGraph, type GraphNode } from '../../src/graph/validate.js';

// Graph validation of dynamic workflows (issue 12): a cycle or an unknown dependency is refused
// with a typed error that names it. fast-check prints the seed of a failing run.

function errorOf(run: () => unknown): GraphError {
  try {
    run();
  } catch (error) {
    expect(GraphError.isInstance(error)).toBe(true);
    return error as GraphError;
  }
  throw new Error('expected a GraphError');
}

const node = (id: string, dependsOn: string[] = [], key?: string | null): GraphNode => ({
  id,
  dependsOn,
  key,
});

describe('checkGraph', () => {
  it('orders dependencies first and keeps the input order as far as they allow', () => {
    expect(checkGraph([node('b', ['a']), node('a'), node('c')])).toEqual(['a', 'b', 'c']);
    expect(checkGraph([node('a'), node('b', ['a']), node('c')])).toEqual(['a', 'b', 'c']);
    expect(checkGraph([node('d', ['c', 'b']), node('c', ['a']), node('b'), node('a')])).toEqual([
      'a',
      'c',
      'b',
      'd',
    ]);
    expect(checkGraph([])).toEqual([]);
  });

  it('names a cycle in the order of its dependencies, closed', () => {
    const error = errorOf(() =>
      checkGraph([node('a', ['b']), node('b', ['c']), node('c', ['a']), node('d', ['a'])]),
    );
    expect(error.code).toBe('INVALID_GRAPH');
    expect(error.details).toEqual({ problem: 'cycle', cycle: ['a', 'b', 'c', 'a'] });
    expect(error.message).toBe(
      'Dependency cycle: "a" depends on "b", which depends on "c", which depends on "a"',
    );
  });

  it('uses describe for the names in messages', () => {
    const names: Record<string, string> = { t1: 'fetch', t2: 'summarise' };
    const error = errorOf(() =>
      checkGraph([node('t1', ['t2']), node('t2', ['t1'])], (id) => `"${names[id]}" (${id})`),
    );
    expect(error.message).toBe(
      'Dependency cycle: "fetch" (t1) depends on "summarise" (t2), which depends on "fetch" (t1)',
    );
  });

  it('refuses a self-dependency, an unknown dependency, a duplicate key and a duplicate id', () => {
    expect(errorOf(() => checkGraph([node('a', ['a'])])).details).toEqual({
      problem: 'self-dependency',
      taskId: 'a',
    });
    const unknown = errorOf(() => checkGraph([node('a'), node('b', ['a', 'zz'])]));
    expect(unknown.details).toEqual({ problem: 'unknown-dependency', taskId: 'b', dependency: 'zz' });
    expect(unknown.message).toBe('Task "b" depends on "zz", which is not a task of the workflow');
    const keys = errorOf(() => checkGraph([node('a', [], 'k'), node('b', [], null), node('c', [], 'k')]));
    expect(keys.details).toEqual({ problem: 'duplicate-key', key: 'k', taskIds: ['a', 'c'] });
    expect(keys.message).toContain('"a" and "c" have the same key "k"');
    expect(errorOf(() => checkGraph([node('a'), node('a')])).details).toEqual({
      problem: 'duplicate-id',
      taskId: 'a',
    });
  });

  it('takes ids that are names of Object.prototype', () => {
    expect(checkGraph([node('constructor', ['__proto__']), node('__proto__')])).toEqual([
      '__proto__',
      'constructor',
    ]);
    expect(errorOf(() => checkGraph([node('a', ['toString'])])).details).toMatchObject({
      problem: 'unknown-dependency',
    });
  });

  it('counts a dependency listed twice once', () => {
    expect(checkGraph([node('b', ['a', 'a']), node('a')])).toEqual(['a', 'b']);
  });

  it('walks a chain of 10,000 nodes without running out of stack', () => {
    const chain = Array.from({ length: 10_000 }, (_, i) => node(`n${i}`, i === 0 ? [] : [`n${i - 1}`]));
    expect(checkGraph(chain.toReversed())).toEqual(chain.map((n) => n.id));
    const closed = chain.map((n) => (n.id === 'n0' ? node('n0', ['n9999']) : n));
    const cycle = errorOf(() => checkGraph(closed)).details.cycle as string[];
    expect(cycle).toHaveLength(10_001);
  });
});

/** A random DAG: node i may depend on nodes before it; then shuffled. */
const dag = fc
  .integer({ min: 1, max: 40 })
  .chain((size) =>
    fc.tuple(
      fc.tuple(
        ...Array.from({ length: size }, (_, i) =>
          fc.uniqueArray(fc.integer({ min: 0, max: Math.max(0, i - 1) }), { maxLength: i === 0 ? 0 : 4 }),
        ),
      ),
      fc.shuffledSubarray(
        Array.from({ length: size }, (_, i) => i),
        { minLength: size, maxLength: size },
      ),
    ),
  )
  .map(([deps, order]) =>
    order.map((i): GraphNode =>
      node(
        `n${i}`,
        deps[i]!.map((d) => `n${d}`),
      ),
    ),
  );

describe('checkGraph on random DAGs', () => {
  test.prop([dag])('returns every node once, each after its dependencies', (nodes) => {
    const order = checkGraph(nodes);
    expect([...order].sort()).toEqual(nodes.map((n) => n.id).sort());
    const position = new Map(order.map((id, i) => [id, i]));
    for (const n of nodes)
      for (const d of n.dependsOn) expect(position.get(d)!).toBeLessThan(position.get(n.id)!);
  });

  test.prop([dag, fc.nat(), fc.array(fc.nat(), { maxLength: 10 })])(
    'throws a cycle of the input when one back edge is added',
    (nodes, start, steps) => {
      const byId = new Map(nodes.map((n) => [n.id, n]));
      // Walk down dependencies from `start`, then make the node reached depend on `start`.
      const from = nodes[start % nodes.length]!;
      let reached = from;
      for (const step of steps) {
        if (reached.dependsOn.length === 0) break;
        reached = byId.get(reached.dependsOn[step % reached.dependsOn.length]!)!;
      }
      const withBackEdge = nodes.map((n) =>
        n.id === reached.id ? { ...n, dependsOn: [...n.dependsOn, from.id] } : n,
      );
      const error = errorOf(() => checkGraph(withBackEdge));
      const expected = reached === from ? 'self-dependency' : 'cycle';
      expect(error.details.problem).toBe(expected);
      if (expected === 'cycle') {
        const cycle = error.details.cycle as string[];
        expect(cycle[0]).toBe(cycle.at(-1));
        expect(new Set(cycle.slice(1)).size).toBe(cycle.length - 1);
        const edges = new Map(withBackEdge.map((n) => [n.id, n.dependsOn]));
        for (let i = 0; i + 1 < cycle.length; i++) expect(edges.get(cycle[i]!)).toContain(cycle[i + 1]);
      }
    },
  );
});
