import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors/index.js';
import { createLoadTable, loadWithQueued, snapshotOf } from '../../src/routing/load-table.js';

const observe = (
  table: ReturnType<typeof createLoadTable>,
  agentId: string,
  inFlight: number,
  completed = 0,
  failed = 0,
) => table.trigger.observed({ agentId, inFlight, completed, failed });

describe('load table', () => {
  it('holds the last observation of each agent actor', () => {
    const table = createLoadTable();
    observe(table, 'a', 4);
    observe(table, 'b', 1);
    observe(table, 'a', 1, 2, 1);
    const load = snapshotOf(table);
    expect(load.get('a')).toEqual({ inFlight: 1, queued: 0, completed: 2, failed: 1 });
    expect(load.get('b')).toEqual({ inFlight: 1, queued: 0, completed: 0, failed: 0 });
    expect(load.get('c')).toBeUndefined();
    expect(new Map(load)).toEqual(
      new Map([
        ['a', { inFlight: 1, queued: 0, completed: 2, failed: 1 }],
        ['b', { inFlight: 1, queued: 0, completed: 0, failed: 0 }],
      ]),
    );
  });

  it('bumps version on each change and not on an equal observation', () => {
    const table = createLoadTable();
    const version = () => table.getSnapshot().context.version;
    expect(version()).toBe(0);
    observe(table, 'a', 2);
    observe(table, 'a', 1, 1);
    expect(version()).toBe(2);
    observe(table, 'a', 1, 1);
    expect(version()).toBe(2);
    table.trigger.reset();
    expect(version()).toBe(3);
  });

  it('notifies subscribers selecting the version', () => {
    const table = createLoadTable();
    const seen: number[] = [];
    const subscription = table.select((context) => context.version).subscribe((v) => seen.push(v));
    observe(table, 'a', 1);
    observe(table, 'a', 0, 1);
    subscription.unsubscribe();
    expect(seen).toEqual([1, 2]);
  });

  it('reset forgets every entry, and the view stays live', () => {
    const table = createLoadTable();
    const load = snapshotOf(table);
    observe(table, 'a', 1);
    expect(load.size).toBe(1);
    table.trigger.reset();
    expect(load.size).toBe(0);
    expect(snapshotOf(table)).toBe(load);
  });

  it('keeps an entry read earlier unchanged and frozen', () => {
    const table = createLoadTable();
    observe(table, 'a', 1);
    const before = snapshotOf(table).get('a')!;
    observe(table, 'a', 2);
    expect(before.inFlight).toBe(1);
    expect(snapshotOf(table).get('a')!.inFlight).toBe(2);
    expect(Object.isFrozen(before)).toBe(true);
  });

  it('gives no way to write through the snapshot', () => {
    const table = createLoadTable();
    const load = snapshotOf(table) as unknown as Record<string, unknown>;
    expect(load['set']).toBeUndefined();
    expect(load['delete']).toBeUndefined();
    expect(load['clear']).toBeUndefined();
  });

  it.each([-1, 1.5, Number.NaN, Infinity])('rejects the count %s, changing nothing', (bad) => {
    const table = createLoadTable();
    expect(() => observe(table, 'a', bad)).toThrow(InvalidArgumentError);
    expect(() => observe(table, 'a', 0, bad)).toThrow(/Expected `completed` to be an integer >= 0/);
    expect(() => observe(table, 'a', 0, 0, bad)).toThrow(/Expected `failed` to be an integer >= 0/);
    expect(snapshotOf(table).size).toBe(0);
  });

  it('rejects an empty agent id', () => {
    expect(() => observe(createLoadTable(), '', 1)).toThrow(InvalidArgumentError);
  });

  it('keeps separate tables separate', () => {
    const one = createLoadTable();
    const two = createLoadTable();
    observe(one, 'a', 1);
    expect(snapshotOf(two).size).toBe(0);
  });
});

// Issue #9: immer makes the snapshot entries routing reads (loadWithQueued); the hot path
// (observed) stays hand-written, measured in bench/load-table.ts.
describe('loadWithQueued', () => {
  it('lays queued counts over a copy: new frozen entries, the table and its entries untouched', () => {
    const table = createLoadTable();
    observe(table, 'a', 2);
    observe(table, 'b', 1);
    const before = snapshotOf(table).get('a');
    const loads = loadWithQueued(
      table,
      new Map([
        ['a', 3],
        ['c', 1],
        ['d', 0],
      ]),
    );
    expect(loads.get('a')).toEqual({ inFlight: 2, queued: 3, completed: 0, failed: 0 });
    expect(loads.get('c')).toEqual({ inFlight: 0, queued: 1, completed: 0, failed: 0 });
    expect(loads.has('d')).toBe(false);
    expect(loads.get('b')).toBe(snapshotOf(table).get('b'));
    expect(Object.isFrozen(loads.get('a'))).toBe(true);
    expect(Object.isFrozen(loads.get('c'))).toBe(true);
    expect(snapshotOf(table).get('a')).toBe(before);
    expect(before).toEqual({ inFlight: 2, queued: 0, completed: 0, failed: 0 });
    loads.delete('a');
    expect(snapshotOf(table).has('a')).toBe(true);
  });

  it('the package declares and uses immer, as the design card says', () => {
    const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');
    expect(read('../../src/routing/load-table.ts')).toMatch(/from 'immer'/);
    const pkg = JSON.parse(read('../../package.json')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.immer).toBeDefined();
  });
});
