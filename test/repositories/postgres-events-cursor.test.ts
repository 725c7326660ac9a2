/**
 * The cursor of stored events on PostgreSQL (issue 15): `seq` is taken from a sequence when a row is
 * inserted, but transactions commit in any order, so a reader that took `seq > cursor` would pass
 * over an event committed late with a smaller `seq`. The store hands out rows in `(xid, seq)` order,
 * only those of transactions older than the reading snapshot's xmin (src/repositories/postgres/events.ts).
 */
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import type { EventRecord, StoredEventRecord } from '../../src/repositories/events.js';
import { sampleEvent } from '../../src/testing/store-contract/events.js';
import { codeOf } from '../../src/testing/store-contract/shared.js';
import { sampleTask, sampleWorkflow } from '../../src/testing/samples.js';
import { describePostgres, dropTestSchemas, nextSchema, PG_URL, withAdmin, withUser } from './pg-helpers.js';
import { eventually, until } from '../support/wait.js';

/** Every event after `cursor` the store hands out now, page by page. */
async function drain(store: PostgresStore, cursor: string | null, limit: number) {
  const events: StoredEventRecord[] = [];
  for (;;) {
    const page = await store.readEvents({ after: cursor, limit });
    events.push(...page.events);
    cursor = page.cursor;
    if (page.events.length < limit) return { events, cursor };
  }
}

/** The `events` column of a row of one event, as a store writes it (migration 17). */
const eventsOf = (name: string, taskId: string | null, payload: object) =>
  JSON.stringify([{ name, workflowId: null, taskId, at: 0, payload }]);

const labels = (events: readonly { payload: object }[]) =>
  events.map((event) => (event.payload as { label: string }).label);

describePostgres('PostgresStore events: the cursor under concurrent commits', () => {
  afterAll(dropTestSchemas);

  it('hands out an event that commits after a later-numbered one, once, before it; a seq cursor skips it', async () => {
    const schema = nextSchema();
    const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
    await store.open();
    try {
      await withAdmin(async (slow) => {
        // A transaction takes seq 1 and stays open while another commits seq 2.
        await slow.query('BEGIN');
        await slow.query(
          `INSERT INTO "${schema}".events (engine_id, count, at, events) VALUES ('slow', 1, 0, '${eventsOf('task.created', null, { label: 'slow' })}')`,
        );
        await store.commit({ events: [sampleEvent('t2', { payload: { label: 'fast' } })] });
        // What a reader of `seq > cursor` would do: it sees seq 2 and moves its cursor past 1.
        const naive = await withAdmin((c) => c.query(`SELECT seq FROM "${schema}".events ORDER BY seq`));
        expect(naive.rows.map((row) => Number(row.seq))).toEqual([2]);
        // The store hands out nothing yet: the slow transaction is older than `fast`'s and still open.
        const early = await store.readEvents({ after: null, limit: 10 });
        expect(early.events).toEqual([]);
        await slow.query('COMMIT');
        const naiveAfter = await withAdmin((c) =>
          c.query(`SELECT seq FROM "${schema}".events WHERE seq > 2`),
        );
        expect(naiveAfter.rows).toEqual([]); // the seq cursor has lost `slow` for good
        // Handed out once every older transaction has ended (other sessions' too): wait for them.
        const late = await eventually('both events handed out', async () => {
          const page = await drain(store, early.cursor, 10);
          return page.events.length >= 2 ? page : undefined;
        });
        expect(labels(late.events)).toEqual(['slow', 'fast']);
        await expect(store.readEvents({ after: late.cursor, limit: 10 })).resolves.toMatchObject({
          events: [],
        });
      });
    } finally {
      await store.close();
    }
  });

  it('gives a reader following the cursor every event of concurrent writers exactly once, each task in order', async () => {
    const schema = nextSchema();
    const open = async () => {
      const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
      await store.open();
      return store;
    };
    const writers = [await open(), await open(), await open()];
    const reader = await open();
    // A raw connection whose transactions stay open until a fast writer has committed after them.
    const slow = new pg.Client({ connectionString: withUser(PG_URL) });
    await slow.connect();
    const tasksPerWriter = 4;
    const eventsPerTask = 30;
    let committed = 0;
    const expected = new Map<string, number>();
    const write = async (w: number) => {
      const store = writers[w]!;
      const ids = Array.from({ length: tasksPerWriter }, (_, t) => `w${w}-t${t}`);
      await store.commit({ tasks: ids.map((id) => sampleTask(id)) });
      for (let n = 1; n <= eventsPerTask; n += 1) {
        // Each commit carries the next event of every task of this writer, in a random order of tasks.
        const batch: EventRecord[] = [];
        for (let t = 0; t < tasksPerWriter; t += 1) {
          const taskId = `w${w}-t${t}`;
          batch.push(sampleEvent(taskId, { payload: { label: `${taskId}#${n}`, n }, engineId: `e${w}` }));
          expected.set(taskId, n);
        }
        batch.sort(() => Math.random() - 0.5);
        // With state writes (the events go in the UPDATE's statement), with a row (a transaction), alone.
        const rows =
          n % 3 === 1
            ? { taskStates: ids.map((id) => sampleTask(id, { attempts: n })) }
            : n % 3 === 2
              ? { workflows: [sampleWorkflow(`wf-${w}`, { updatedAt: n })] }
              : {};
        await store.commit({ ...rows, events: batch });
        committed += 1;
      }
    };
    const slowWrites = async () => {
      for (let n = 1; n <= 20; n += 1) {
        await slow.query('BEGIN');
        await slow.query(
          `INSERT INTO "${schema}".events (engine_id, count, at, events) VALUES ('slow', 1, 0, $1)`,
          [eventsOf('task.started', 'slow', { label: `slow#${n}`, n })],
        );
        const seen = committed;
        // Committed later than a transaction that began after it: its seq is the smaller one.
        await until('a fast commit', () => committed > seen || committed >= writers.length * eventsPerTask);
        await slow.query('COMMIT');
      }
      expected.set('slow', 20);
    };
    const total = writers.length * tasksPerWriter * eventsPerTask + 20;
    const read: StoredEventRecord[] = [];
    let cursor: string | null = null;
    const follow = async () => {
      while (read.length < total) {
        const page = await reader.readEvents({ after: cursor, limit: 1 + Math.floor(Math.random() * 40) });
        read.push(...page.events);
        cursor = page.cursor;
      }
    };
    try {
      await Promise.all([...writers.map((_, w) => write(w)), slowWrites(), follow()]);
      // Exactly once: no label twice, none missing, nothing more to read.
      const seen = labels(read);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBe(total);
      await expect(reader.readEvents({ after: cursor, limit: 10 })).resolves.toMatchObject({ events: [] });
      // Each task's events in the order they were written.
      const byTask = new Map<string, number[]>();
      for (const event of read) {
        const list = byTask.get(event.taskId!) ?? [];
        list.push((event.payload as { n: number }).n);
        byTask.set(event.taskId!, list);
      }
      for (const [taskId, last] of expected)
        expect(byTask.get(taskId), taskId).toEqual(Array.from({ length: last }, (_, i) => i + 1));
      // The order handed out is not the seq order: events committed late came after larger seqs,
      // which a `seq > cursor` reader would have skipped.
      const { rows } = await withAdmin((c) =>
        c.query(
          `SELECT e->'payload'->>'label' AS label, seq FROM "${schema}".events, json_array_elements(events) AS e`,
        ),
      );
      const seqOf = new Map(rows.map((row: { label: string; seq: string }) => [row.label, Number(row.seq)]));
      let highest = 0;
      let behind = 0;
      for (const label of seen) {
        const seq = seqOf.get(label)!;
        if (seq < highest) behind += 1;
        highest = Math.max(highest, seq);
      }
      expect(behind).toBeGreaterThan(0);
    } finally {
      await slow.end();
      for (const store of [...writers, reader]) await store.close();
    }
  });

  it('refuses a cursor naming a transaction still open: read from it, the older open ones would be passed over', async () => {
    const store = new PostgresStore({ connectionString: PG_URL, schema: nextSchema(), poolSize: 2 });
    await store.open();
    try {
      const cursor = await withAdmin(async (open) => {
        await open.query('BEGIN');
        const { rows } = await open.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
        const named = `${rows[0]!.xid}:0`;
        // At or past the horizon: no read of this store has handed it out.
        expect(await codeOf(store.readEvents({ after: named, limit: 10 }))).toBe('INVALID_ARGUMENT');
        await open.query('COMMIT');
        return named;
      });
      // Once every transaction up to it has ended, it is a position a read may have handed out.
      await eventually('the horizon past the transaction', async () =>
        (await codeOf(store.readEvents({ after: cursor, limit: 10 }))) === 'resolved' ? true : undefined,
      );
    } finally {
      await store.close();
    }
  });
});
