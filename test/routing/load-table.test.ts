import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidStateError } from '../../src/errors/index.js';
import { createLoadTable, loadWithQueued, snapshotOf } from '../../src/routing/load-table.js';

describe('load table', () => {
  it('counts started and settled executions per agent', () => {
    const table = createLoadTable();
    table.trigger.started({ agentId: 'a' });
    table.trigger.started({ agentId: 'a', count: 3 });
    table.trigger.started({ agentId: 'b' });
    table.trigger.settled({ agentId: 'a', ok: 2, failed: 1 });
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

  it('bumps version on each change and not on a no-op', () => {
    const table = createLoadTable();
    const version = () => table.getSnapshot().context.version;
    expect(version()).toBe(0);
    table.trigger.started({ agentId: 'a', count: 2 });
    table.trigger.settled({ agentId: 'a', ok: 1, failed: 0 });
    expect(version()).toBe(2);
    table.trigger.started({ agentId: 'a', count: 0 });
    table.trigger.settled({ agentId: 'a', ok: 0, failed: 0 });
    expect(version()).toBe(2);
    table.trigger.reset();
    expect(version()).toBe(3);
  });

  it('notifies subscribers selecting the version', () => {
    const table = createLoadTable();
    const seen: number[] = [];
    const subscription = table.select((context) => context.version).subscribe((v) => seen.push(v));
    table.trigger.started({ agentId: 'a' });
    table.trigger.settled({ agentId: 'a', ok: 1, failed: 0 });
    subscription.unsubscribe();
    expect(seen).toEqual([1, 2]);
  });

  it('reset forgets every counter, and the view stays live', () => {
    const table = createLoadTable();
    const load = snapshotOf(table);
    table.trigger.started({ agentId: 'a' });
    expect(load.size).toBe(1);
    table.trigger.reset();
    expect(load.size).toBe(0);
    expect(snapshotOf(table)).toBe(load);
  });

  it('keeps an entry read earlier unchanged and frozen', () => {
    const table = createLoadTable();
    table.trigger.started({ agentId: 'a' });
    const before = snapshotOf(table).get('a')!;
    table.trigger.started({ agentId: 'a' });
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

  it('refuses to settle more executions than are in flight, changing nothing', () => {
    const table = createLoadTable();
    table.trigger.started({ agentId: 'a' });
    expect(() => table.trigger.settled({ agentId: 'a', ok: 1, failed: 1 })).toThrow(InvalidStateError);
    expect(() => table.trigger.settled({ agentId: 'ghost', ok: 1, failed: 0 })).toThrow(
      /at most 0 executions/,
    );
    expect(snapshotOf(table).get('a')).toEqual({ inFlight: 1, queued: 0, completed: 0, failed: 0 });
    expect(table.getSnapshot().context.version).toBe(1);
  });

  it.each([-1, 1.5, Number.NaN, Infinity])('rejects the count %s', (bad) => {
    const table = createLoadTable();
    expect(() => table.trigger.started({ agentId: 'a', count: bad })).toThrow(InvalidArgumentError);
    expect(() => table.trigger.settled({ agentId: 'a', ok: bad, failed: 0 })).toThrow(
      /Expected `ok` to be an integer >= 0/,
    );
    expect(snapshotOf(table).size).toBe(0);
  });

  it('rejects an empty agent id', () => {
    expect(() => createLoadTable().trigger.started({ agentId: '' })).toThrow(InvalidArgumentError);
  });

  it('keeps separate tables separate', () => {
    const one = createLoadTable();
    const two = createLoadTable();
    one.trigger.started({ agentId: 'a' });
    expect(snapshotOf(two).size).toBe(0);
  });
});

// Issue #9: immer makes the snapshot entries routing reads (loadWithQueued); the hot path
// (started/settled) stays hand-written, measured in bench/load-table.ts.
describe('loadWithQueued', () => {
  it('lays queued counts over a copy: new frozen entries, the table and its entries untouched', () => {
    const table = createLoadTable();
    table.trigger.started({ agentId: 'a', count: 2 });
    table.trigger.started({ agentId: 'b' });
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
