import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../../src/domain/task.js';
import { MemoryStore } from '../../src/repositories/memory/memory-store.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import { isEmptyBatch, type Signal, type Store, type StoredSignal } from '../../src/repositories/store.js';
import { SAMPLE_TIME as T0, sampleTask } from '../../src/testing/samples.js';
import { describeStoreContract } from '../../src/testing/store-contract.js';
import { codeOf } from '../../src/testing/store-contract/shared.js';
import { PG_URL, describePostgres, dropTestSchemas, nextSchema } from './pg-helpers.js';

describeStoreContract('MemoryStore', async () => new MemoryStore());

const dir = mkdtempSync(join(tmpdir(), 'symphony-contract-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract(
  'SqliteStore',
  async () => new SqliteStore({ path: join(dir, `store-${++files}.db`) }),
  {
    reopen: async (closed) => new SqliteStore({ path: (closed as SqliteStore).path }),
  },
);

describePostgres('PostgresStore', () => {
  afterAll(dropTestSchemas);
  describeStoreContract(
    'PostgresStore',
    async () => new PostgresStore({ connectionString: PG_URL, schema: nextSchema(), poolSize: 2 }),
    {
      reopen: async (closed) =>
        new PostgresStore({
          connectionString: PG_URL,
          schema: (closed as PostgresStore).schema,
          poolSize: 2,
        }),
    },
  );
});

// Durable signals (the wait-for-signal nodes): StoreBatch.signals / signalTakes, Store.signals.

function signal(id: string, overrides: Partial<Signal> = {}): Signal {
  return { id, workflowId: 'w1', name: 'approve', payload: { by: 'ann' }, sentAt: T0, ...overrides };
}

function pending(from: Signal): StoredSignal {
  return { ...from, seq: expect.any(Number) as number, takenBy: null, takenAt: null };
}

const ids = (rows: readonly StoredSignal[]) => rows.map((row) => row.id);

describe('isEmptyBatch with signals', () => {
  it('counts signals and signal takes as writes', () => {
    expect(isEmptyBatch({ signals: [], signalTakes: [] })).toBe(true);
    expect(isEmptyBatch({ signals: [signal('s1')] })).toBe(false);
    expect(isEmptyBatch({ signalTakes: [{ signalId: 's1', taskId: 't1', at: T0 }] })).toBe(false);
  });
});

function describeSignals(name: string, makeStore: () => Store, reopen?: (closed: Store) => Store): void {
  describe(`Store contract: ${name} signals`, () => {
    let store: Store;

    beforeEach(async () => {
      store = makeStore();
      await store.open();
    });

    afterEach(async () => {
      await store.close();
    });

    it('appends signals and reads a workflow’s signals oldest first, with growing seq', async () => {
      await store.commit({ signals: [signal('s1'), signal('s2', { name: 'reject', sentAt: T0 + 1 })] });
      await store.commit({ signals: [signal('s0', { sentAt: T0 - 5 })] });
      const all = await store.signals('w1');
      expect(all).toEqual([
        pending(signal('s1')),
        pending(signal('s2', { name: 'reject', sentAt: T0 + 1 })),
        pending(signal('s0', { sentAt: T0 - 5 })),
      ]);
      const seqs = all.map((s) => s.seq);
      expect(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!)).toBe(true);
      await expect(store.signals('w1', { pending: true })).resolves.toEqual(all);
      await expect(store.signals('nobody')).resolves.toEqual([]);
    });

    it('marks a signal taken by a take, and leaves it out of the pending ones', async () => {
      await store.commit({ signals: [signal('s1'), signal('s2'), signal('s3')] });
      await store.commit({ signalTakes: [{ signalId: 's2', taskId: 't-wait', at: T0 + 10 }] });
      const all = await store.signals('w1');
      expect(all.find((s) => s.id === 's2')).toMatchObject({ takenBy: 't-wait', takenAt: T0 + 10 });
      expect(all.filter((s) => s.id !== 's2').every((s) => s.takenBy === null && s.takenAt === null)).toBe(
        true,
      );
      expect(ids(await store.signals('w1', { pending: true }))).toEqual(['s1', 's3']);
      await store.commit({ signalTakes: [{ signalId: 's1', taskId: 't-other', at: T0 + 11 }] });
      expect(ids(await store.signals('w1', { pending: true }))).toEqual(['s3']);
      expect(ids(await store.signals('w1'))).toEqual(['s1', 's2', 's3']);
    });

    it('never takes a signal twice: a later take, by the same task or another, changes nothing', async () => {
      await store.commit({ signals: [signal('s1')] });
      await store.commit({ signalTakes: [{ signalId: 's1', taskId: 't1', at: T0 + 1 }] });
      await store.commit({ signalTakes: [{ signalId: 's1', taskId: 't2', at: T0 + 2 }] });
      await store.commit({ signalTakes: [{ signalId: 's1', taskId: 't1', at: T0 + 3 }] });
      // Two takes of one signal in one batch: the first one takes it.
      await store.commit({
        signals: [signal('s2')],
        signalTakes: [
          { signalId: 's2', taskId: 't3', at: T0 + 4 },
          { signalId: 's2', taskId: 't4', at: T0 + 5 },
        ],
      });
      const [s1, s2] = await store.signals('w1');
      expect(s1).toMatchObject({ id: 's1', takenBy: 't1', takenAt: T0 + 1 });
      expect(s2).toMatchObject({ id: 's2', takenBy: 't3', takenAt: T0 + 4 });
      // A take of a signal never sent changes nothing and fails nothing.
      await store.commit({ signalTakes: [{ signalId: 'missing', taskId: 't5', at: T0 + 6 }] });
      await expect(store.signals('w1', { pending: true })).resolves.toEqual([]);
    });

    it('writes nothing of a batch that fails: no signal, no take, no task', async () => {
      await store.commit({ signals: [signal('s1')] });
      const before = await store.signals('w1');
      const broken = sampleTask('t-bad', { status: 'BOGUS' as Task['status'] });
      expect(
        await codeOf(
          store.commit({
            tasks: [sampleTask('t1'), broken],
            signals: [signal('s2')],
            signalTakes: [{ signalId: 's1', taskId: 't1', at: T0 + 1 }],
          }),
        ),
      ).toBe('INVALID_ARGUMENT');
      await expect(store.signals('w1')).resolves.toEqual(before);
      // A signal id already stored fails its batch (DUPLICATE_ID), with everything else in it.
      expect(
        await codeOf(
          store.commit({
            tasks: [sampleTask('t2')],
            signals: [signal('s3'), signal('s1', { name: 'again' })],
            signalTakes: [{ signalId: 's1', taskId: 't2', at: T0 + 2 }],
          }),
        ),
      ).toBe('DUPLICATE_ID');
      // So does an id twice in one batch.
      expect(await codeOf(store.commit({ signals: [signal('s4'), signal('s4')] }))).toBe('DUPLICATE_ID');
      // And a payload JSON cannot write.
      expect(await codeOf(store.commit({ signals: [signal('s5', { payload: { n: 1n } })] }))).toBe(
        'INVALID_ARGUMENT',
      );
      await expect(store.signals('w1')).resolves.toEqual(before);
      await expect(store.tasks.count()).resolves.toBe(0);
    });

    it('keeps payloads as JSON: objects, strings, null, nested values', async () => {
      const payloads: Array<[string, unknown]> = [
        ['object', { approved: true, by: 'ann', score: 0.5 }],
        ['string', "'; DROP TABLE signals; -- Ünïcödé ✓ 🚀 \u0000"],
        ['null', null],
        ['nested', { a: [1, { b: [null, 'x', { c: { d: -1e-7 } }] }], e: {} }],
        ['array', [[], [[1]], 'two']],
        ['number', 42],
        ['false', false],
      ];
      await store.commit({ signals: payloads.map(([id, payload]) => signal(id, { payload })) });
      // No payload reads back as null, as the SQL stores write it.
      await store.commit({ signals: [signal('none', { payload: undefined })] });
      const stored = await store.signals('w1');
      expect(stored.map((s) => [s.id, s.payload])).toEqual([...payloads, ['none', null]]);
      const hostile = JSON.parse('{"__proto__":{"polluted":"yes"},"k":1}') as unknown;
      await store.commit({ signals: [signal('proto', { payload: hostile })] });
      const [proto] = await store.signals('w1').then((rows) => rows.filter((s) => s.id === 'proto'));
      expect(Object.hasOwn(proto!.payload as object, '__proto__')).toBe(true);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    });

    it('copies the batch before the first await: later changes to its objects are not stored', async () => {
      const live = signal('s1', { payload: { step: 1, list: [1] } });
      const take = { signalId: 's1', taskId: 't1', at: T0 + 1 };
      const commit = store.commit({ signals: [live], signalTakes: [take] });
      live.name = 'changed';
      (live.payload as { step: number; list: number[] }).step = 2;
      (live.payload as { step: number; list: number[] }).list.push(2);
      take.taskId = 't-changed';
      await commit;
      const [stored] = await store.signals('w1');
      expect(stored).toMatchObject({ name: 'approve', payload: { step: 1, list: [1] }, takenBy: 't1' });
      // What a read returns is a copy too.
      (stored!.payload as { step: number }).step = 3;
      expect((await store.signals('w1'))[0]!.payload).toEqual({ step: 1, list: [1] });
    });

    it('keeps the signals of two workflows apart', async () => {
      await store.commit({
        signals: [
          signal('a1', { workflowId: 'wa' }),
          signal('b1', { workflowId: 'wb' }),
          signal('a2', { workflowId: 'wa', name: 'reject' }),
          signal('b2', { workflowId: 'wb' }),
        ],
      });
      await store.commit({ signalTakes: [{ signalId: 'a1', taskId: 'ta', at: T0 + 1 }] });
      expect(ids(await store.signals('wa'))).toEqual(['a1', 'a2']);
      expect(ids(await store.signals('wb'))).toEqual(['b1', 'b2']);
      expect(ids(await store.signals('wa', { pending: true }))).toEqual(['a2']);
      expect(ids(await store.signals('wb', { pending: true }))).toEqual(['b1', 'b2']);
      await expect(store.signals('w1')).resolves.toEqual([]);
    });

    if (reopen) {
      it('keeps signals and takes when the store is opened again', async () => {
        await store.commit({
          signals: [signal('s1'), signal('s2', { payload: 'x' })],
          signalTakes: [{ signalId: 's1', taskId: 't1', at: T0 + 1 }],
        });
        const before = await store.signals('w1');
        await store.close();
        store = reopen(store);
        await store.open();
        await expect(store.signals('w1')).resolves.toEqual(before);
        await store.commit({ signals: [signal('s3')] });
        const after = await store.signals('w1', { pending: true });
        expect(ids(after)).toEqual(['s2', 's3']);
        expect(after[1]!.seq).toBeGreaterThan(after[0]!.seq);
      });
    }
  });
}

describeSignals('MemoryStore', () => new MemoryStore());

describeSignals(
  'SqliteStore',
  () => new SqliteStore({ path: join(dir, `signals-${++files}.db`) }),
  (closed) => new SqliteStore({ path: (closed as SqliteStore).path }),
);

describePostgres('PostgresStore signals', () => {
  afterAll(dropTestSchemas);
  describeSignals(
    'PostgresStore',
    () => new PostgresStore({ connectionString: PG_URL, schema: nextSchema(), poolSize: 2 }),
    (closed) =>
      new PostgresStore({ connectionString: PG_URL, schema: (closed as PostgresStore).schema, poolSize: 2 }),
  );
});
