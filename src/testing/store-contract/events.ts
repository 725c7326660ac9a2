import { describe, expect, it } from 'vitest';
import type { EventPage, EventQuery, EventRecord } from '../../repositories/events.js';
import type { Store, TaskFence, WorkflowDerivation } from '../../repositories/store.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { SAMPLE_TIME as T0, sampleTask, sampleWorkflow } from '../samples.js';
import { codeOf, HOSTILE_STRINGS, type ContractContext, type StoreContractOptions } from './shared.js';

/** An event record with `overrides`; a task event of `taskId` by default. */
export function sampleEvent(taskId: string | null, overrides: Partial<EventRecord> = {}): EventRecord {
  return {
    name: 'task.started',
    payload: { taskId, workflowId: null, name: `task ${taskId}`, at: T0, attempt: 1, agentId: 'a1' },
    engineId: 'e1',
    workflowId: null,
    taskId,
    at: T0,
    ...overrides,
  };
}

/** How long a read waits for events the test committed (see `readEvents`). */
const SETTLE_MS = 10_000;

/**
 * A page of events, read again (for up to SETTLE_MS) until it holds at least `least` of them: a
 * store may hand out an event some time after its commit (PostgreSQL: once every transaction that
 * began before it has ended, other sessions' included), never before it, and never out of order.
 */
async function readEvents(store: Store, query: Partial<EventQuery> = {}, least = 0): Promise<EventPage> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const page = await store.readEvents!({ after: null, limit: 1_000, ...query });
    if (page.events.length >= Math.min(least, query.limit ?? 1_000) || Date.now() > deadline) return page;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Every event after `after` (at least `least` of them), page by page (pages of `limit`). */
async function readAll(store: Store, after: string | null, limit: number, least: number): Promise<EventPage> {
  const events: EventPage['events'] = [];
  let cursor = after;
  for (;;) {
    const page = await readEvents(store, { after: cursor, limit }, least - events.length);
    events.push(...page.events);
    cursor = page.cursor;
    if (page.events.length < limit) return { events, cursor };
  }
}

const taskIds = (page: EventPage) => page.events.map((event) => event.taskId);

/**
 * Stored events (`StoreBatch.events`, `Store.readEvents`): written with their batch or not at all,
 * never for a fenced-out write, read after a cursor in commit order, pruned by age and count.
 */
export function describeEvents(ctx: ContractContext, options: StoreContractOptions): void {
  describe('events', () => {
    it('stores the events of a batch with it and hands them out after a cursor, in order', async () => {
      await ctx.store.commit({
        tasks: [sampleTask('t1')],
        events: [sampleEvent('t1', { name: 'task.created' })],
      });
      await ctx.store.commit({
        taskStates: [sampleTask('t1', { status: 'RUNNING', attempts: 1 })],
        events: [sampleEvent('t1'), sampleEvent(null, { name: 'agent.circuit', payload: { agentId: 'a' } })],
      });
      const first = await readEvents(ctx.store, {}, 3);
      expect(first.events.map((e) => [e.name, e.taskId])).toEqual([
        ['task.created', 't1'],
        ['task.started', 't1'],
        ['agent.circuit', null],
      ]);
      expect(first.events[1]).toEqual({ ...sampleEvent('t1'), cursor: first.events[1]!.cursor });
      expect(first.cursor).toBe(first.events[2]!.cursor);
      for (const event of first.events) expect(typeof event.cursor).toBe('string');
      // From the cursor on: nothing, then only what came since.
      await expect(readEvents(ctx.store, { after: first.cursor })).resolves.toEqual({
        events: [],
        cursor: first.cursor,
      });
      await ctx.store.commit({ events: [sampleEvent('t2', { name: 'task.created' })] });
      const next = await readEvents(ctx.store, { after: first.cursor }, 1);
      expect(taskIds(next)).toEqual(['t2']);
      // Any event's cursor resumes right after it.
      expect(taskIds(await readEvents(ctx.store, { after: first.events[0]!.cursor }, 3))).toEqual([
        't1',
        null,
        't2',
      ]);
    });

    it('reads in pages of `limit`; limit 0 gives the cursor of the end of the stream', async () => {
      const ids = Array.from({ length: 25 }, (_, i) => `t${i}`);
      for (let i = 0; i < ids.length; i += 5) {
        await ctx.store.commit({ events: ids.slice(i, i + 5).map((id) => sampleEvent(id)) });
      }
      const paged = await readAll(ctx.store, null, 7, ids.length);
      expect(taskIds(paged)).toEqual(ids);
      const end = await readEvents(ctx.store, { limit: 0 });
      expect(end.events).toEqual([]);
      expect(end.cursor).toBe(paged.cursor);
      await ctx.store.commit({ events: [sampleEvent('late')] });
      expect(taskIds(await readEvents(ctx.store, { after: end.cursor }, 1))).toEqual(['late']);
    });

    it('filters by names, workflow and task; a read that reaches the end moves past what it skipped', async () => {
      await ctx.store.commit({
        events: [
          sampleEvent('a', { workflowId: 'w1' }),
          sampleEvent('b', { workflowId: 'w2', name: 'task.completed' }),
          sampleEvent(null, { workflowId: 'w1', name: 'workflow.status' }),
          sampleEvent('c', { name: 'task.completed' }),
        ],
      });
      await readEvents(ctx.store, {}, 4);
      const w1 = await readEvents(ctx.store, { workflowId: 'w1' });
      expect(w1.events.map((e) => e.name)).toEqual(['task.started', 'workflow.status']);
      const completed = await readEvents(ctx.store, { names: ['task.completed', 'task.failed'] });
      expect(taskIds(completed)).toEqual(['b', 'c']);
      expect(taskIds(await readEvents(ctx.store, { taskId: 'b' }))).toEqual(['b']);
      expect(taskIds(await readEvents(ctx.store, { workflowId: 'w2', names: ['task.started'] }))).toEqual([]);
      // Past the end, matching or not: the next read starts after the last event stored.
      const end = await readEvents(ctx.store, { limit: 0 });
      expect(w1.cursor).toBe(end.cursor);
      expect((await readEvents(ctx.store, { taskId: 'nobody' })).cursor).toBe(end.cursor);
      await ctx.store.commit({ events: [sampleEvent('d', { workflowId: 'w1' })] });
      expect(taskIds(await readEvents(ctx.store, { after: w1.cursor, workflowId: 'w1' }, 1))).toEqual(['d']);
    });

    it('writes no event of a fenced-out write, and those of every other change of the batch', async () => {
      await ctx.store.commit({
        tasks: [
          sampleTask('mine', { status: 'RUNNING', attempts: 1, leaseOwner: 'e1' }),
          sampleTask('taken', { status: 'RUNNING', attempts: 1, leaseOwner: 'e2' }),
        ],
      });
      // `missing-*`: a fenced write of a row the store lacks, inserted whole (its events stored).
      const fences = new Map<string, TaskFence>(
        ['mine', 'taken', 'missing-1', 'missing-2'].map((id) => [id, { holder: 'e1' }]),
      );
      const states = (status: 'COMPLETED' | 'PENDING', missing: string) =>
        ['mine', 'taken', missing].map((id) =>
          sampleTask(id, { status, attempts: 1, leaseOwner: status === 'PENDING' ? 'e1' : null }),
        );
      const events = (name: string, missing: string) => [
        sampleEvent('mine', { name, token: `t-${name}` }),
        sampleEvent('taken', { name, token: `t-${name}` }),
        sampleEvent(missing, { name, token: `t-${name}` }),
        sampleEvent(null, { name: 'agent.circuit', token: `t-${name}` }),
      ];
      // State writes alone (one statement on PostgreSQL), then with a workflow row (a transaction).
      const alone = await ctx.store.commit({
        taskStates: states('PENDING', 'missing-1'),
        fences,
        events: events('one', 'missing-1'),
      });
      expect(alone?.fenced).toEqual(['taken']);
      const withRow = await ctx.store.commit({
        taskStates: states('COMPLETED', 'missing-2'),
        fences,
        workflows: [sampleWorkflow('w1')],
        events: events('two', 'missing-2'),
      });
      expect(withRow?.fenced).toEqual(['taken']);
      const stored = await readEvents(ctx.store, {}, 6);
      expect(stored.events.map((e) => `${e.name} ${e.taskId}`).sort()).toEqual(
        [
          'one mine',
          'one missing-1',
          'agent.circuit null',
          'two mine',
          'two missing-2',
          'agent.circuit null',
        ].sort(),
      );
      // Commit by commit (a missing row's events may come after the others of their commit).
      const commitOf = (e: { name: string }) => (e.name === 'agent.circuit' ? null : e.name);
      expect(stored.events.slice(0, 3).map(commitOf).filter(Boolean)).toEqual(['one', 'one']);
      expect(stored.events.slice(3).map(commitOf).filter(Boolean)).toEqual(['two', 'two']);
    });

    it('writes no event of a batch that fails, nor of one whose payload is not JSON', async () => {
      await ctx.store.commit({ events: [sampleEvent('kept')] });
      await readEvents(ctx.store, {}, 1);
      const broken = sampleTask('bad', { status: 'BOGUS' as 'PENDING' });
      expect(
        await codeOf(ctx.store.commit({ tasks: [sampleTask('t1'), broken], events: [sampleEvent('t1')] })),
      ).toBe('INVALID_ARGUMENT');
      const big = sampleEvent('t2', { payload: { n: 1n } });
      expect(
        await codeOf(ctx.store.commit({ tasks: [sampleTask('t2')], events: [sampleEvent('t2'), big] })),
      ).toBe('INVALID_ARGUMENT');
      expect(taskIds(await readEvents(ctx.store))).toEqual(['kept']);
      await expect(ctx.store.tasks.count()).resolves.toBe(0);
    });

    it('keeps payloads verbatim as JSON and copies them before the first await', async () => {
      const payload = {
        strings: HOSTILE_STRINGS,
        nested: { list: [1, null, { deep: [true, -1e-7] }], empty: {} },
        error: { name: 'Error', message: 'x\u0000y', code: null },
      };
      const live = sampleEvent('t1', { payload: structuredClone(payload) });
      const commit = ctx.store.commit({ events: [live] });
      (live.payload as { nested: { list: unknown[] } }).nested.list.push('later');
      live.name = 'changed';
      await commit;
      const [stored] = (await readEvents(ctx.store, {}, 1)).events;
      expect(stored).toMatchObject({ name: 'task.started', payload });
      (stored!.payload as { nested: { empty: Record<string, number> } }).nested.empty.x = 1;
      expect((await readEvents(ctx.store)).events[0]!.payload).toEqual(payload);
    });

    it('stores a workflow.status event for a status its derivation changed, after the batch’s own', async () => {
      const wf = (status: Workflow['status']) => sampleWorkflow('w1', { status });
      const task = (id: string, status: Task['status']) =>
        sampleTask(id, { workflowId: 'w1', status, attempts: 1 });
      await ctx.store.commit({
        workflows: [wf('RUNNING')],
        tasks: [task('t1', 'COMPLETED'), task('t2', 'RUNNING')],
      });
      const derivation = (eventsBy?: string): WorkflowDerivation => ({
        workflowIds: ['w1'],
        status: (_row, tasks) =>
          tasks.counts.PENDING + tasks.counts.RUNNING === 0 ? 'COMPLETED' : 'RUNNING',
        at: T0 + 5,
        ...(eventsBy === undefined ? {} : { eventsBy }),
      });
      const result = await ctx.store.commit({
        taskStates: [task('t2', 'COMPLETED')],
        workflows: [wf('RUNNING')],
        deriveWorkflows: derivation('e1'),
        events: [sampleEvent('t2', { name: 'task.completed', workflowId: 'w1' })],
      });
      const event = {
        name: 'workflow.status',
        payload: { workflowId: 'w1', name: 'workflow w1', from: 'RUNNING', to: 'COMPLETED', at: T0 + 5 },
        engineId: 'e1',
        workflowId: 'w1',
        taskId: null,
        at: T0 + 5,
      };
      expect(result?.derived).toEqual([event]);
      const stored = await readEvents(ctx.store, {}, 2);
      expect(stored.events.map(({ cursor: _cursor, ...rest }) => rest)).toEqual([
        sampleEvent('t2', { name: 'task.completed', workflowId: 'w1' }),
        event,
      ]);
      // Without `eventsBy` the status changes and no event is stored.
      const back = await ctx.store.commit({
        tasks: [task('t3', 'PENDING')],
        workflows: [wf('COMPLETED')],
        deriveWorkflows: derivation(),
      });
      expect(back?.derived ?? []).toEqual([]);
      expect((await ctx.store.workflows.get('w1'))?.status).toBe('RUNNING');
      await expect(readEvents(ctx.store, { after: stored.cursor })).resolves.toMatchObject({ events: [] });
    });

    // The batch's row is one engine's view of the workflow; the event is what the commit changed.
    it('makes the workflow.status event of a derivation from the row’s status before the batch’s writes', async () => {
      const wf = (status: Workflow['status']) => sampleWorkflow('w1', { status });
      const task = (id: string, status: Task['status'], attempts = 1) =>
        sampleTask(id, { workflowId: 'w1', status, attempts });
      await ctx.store.commit({
        workflows: [wf('PENDING')],
        tasks: [task('t1', 'PENDING', 0), task('t2', 'PENDING', 0)],
      });
      const derivation = (eventsBy: string, more: Partial<WorkflowDerivation> = {}): WorkflowDerivation => ({
        workflowIds: ['w1'],
        status: (_row, tasks) =>
          !tasks.started
            ? 'PENDING'
            : tasks.counts.PENDING + tasks.counts.RUNNING === 0
              ? 'COMPLETED'
              : 'RUNNING',
        at: T0 + 5,
        eventsBy,
        ...more,
      });
      const change = (engineId: string, from: string, to: string) => ({
        name: 'workflow.status',
        payload: { workflowId: 'w1', name: 'workflow w1', from, to, at: T0 + 5 },
        engineId,
        workflowId: 'w1',
        taskId: null,
        at: T0 + 5,
      });
      // B starts t1, its row says RUNNING: the commit moves the stored row PENDING -> RUNNING.
      const b = await ctx.store.commit({
        taskStates: [task('t1', 'RUNNING')],
        workflows: [wf('RUNNING')],
        deriveWorkflows: derivation('eB'),
      });
      expect(b?.derived).toEqual([change('eB', 'PENDING', 'RUNNING')]);
      // A, which saw the workflow PENDING, starts t2: RUNNING it was, RUNNING it stays, no event.
      const a = await ctx.store.commit({
        taskStates: [task('t2', 'RUNNING')],
        workflows: [wf('RUNNING')],
        deriveWorkflows: derivation('eA'),
      });
      expect(a?.derived ?? []).toEqual([]);
      // `storeEvents: false`: the change is returned, not stored.
      const done = await ctx.store.commit({
        taskStates: [task('t1', 'COMPLETED'), task('t2', 'COMPLETED')],
        workflows: [wf('RUNNING')],
        deriveWorkflows: derivation('eA', { storeEvents: false }),
      });
      expect(done?.derived).toEqual([change('eA', 'RUNNING', 'COMPLETED')]);
      expect((await ctx.store.workflows.get('w1'))?.status).toBe('COMPLETED');
      const stored = await readEvents(ctx.store, {}, 1);
      expect(stored.events.map(({ cursor: _cursor, ...rest }) => rest)).toEqual([
        change('eB', 'PENDING', 'RUNNING'),
      ]);
    });

    it('writes the events of a commit token once: a batch sent again after a lost reply', async () => {
      const batch = {
        tasks: [sampleTask('t1')],
        events: [
          sampleEvent('t1', { token: 'e1.a' }),
          sampleEvent(null, { name: 'agent.circuit', token: 'e1.a' }),
        ],
      };
      await ctx.store.commit(batch);
      // Sent again, with the events of a later batch: only those are new.
      await ctx.store.commit({ ...batch, events: [...batch.events, sampleEvent('t2', { token: 'e1.b' })] });
      await ctx.store.commit({ events: [sampleEvent('t3'), sampleEvent('t3')] });
      const stored = await readEvents(ctx.store, {}, 5);
      expect(stored.events.map((event) => `${event.name} ${event.taskId}`)).toEqual([
        'task.started t1',
        'agent.circuit null',
        'task.started t2',
        'task.started t3',
        'task.started t3',
      ]);
      expect(stored.events.every((event) => !('token' in event))).toBe(true);
    });

    it('refuses a cursor it did not hand out (INVALID_ARGUMENT)', async () => {
      for (const after of [
        '',
        'abc',
        '-1',
        '1.5',
        ' 1',
        '1:2:3:4',
        '1::2',
        'x:1',
        '99999999999999999999999:1',
      ]) {
        expect(await codeOf(readEvents(ctx.store, { after })), after).toBe('INVALID_ARGUMENT');
      }
    });

    // A well-formed cursor past the end would pass over every event to come (a reader that kept
    // it would silently see nothing): refused, now and after more commits and prunes.
    it('refuses a well-formed cursor past the end of its stream, however far the stream goes on', async () => {
      const ahead = (cursor: string) => cursor.replace(/^\d+/, (n) => String(BigInt(n) + 1_000_000n));
      expect(await codeOf(readEvents(ctx.store, { after: '1000000' }))).toBe('INVALID_ARGUMENT');
      await ctx.store.commit({ events: [sampleEvent('t1', { at: T0 })] });
      const first = await readEvents(ctx.store, {}, 1);
      const forged = [ahead(first.cursor), ahead(first.events[0]!.cursor)];
      for (const after of forged)
        expect(await codeOf(readEvents(ctx.store, { after })), after).toBe('INVALID_ARGUMENT');
      await ctx.store.commit({ events: [sampleEvent('t2', { at: T0 + 10 })] });
      await ctx.store.commit({ events: [sampleEvent('t3', { at: T0 + 20 })] });
      expect(taskIds(await readAll(ctx.store, first.cursor, 1, 2))).toEqual(['t2', 't3']);
      for (const after of forged)
        expect(await codeOf(readEvents(ctx.store, { after })), after).toBe('INVALID_ARGUMENT');
      // Every cursor handed out stays good once what it named is pruned.
      const end = await readEvents(ctx.store, { after: first.cursor }, 2);
      await ctx.store.pruneControl(T0 - 1, { before: T0 + 1_000, maxEvents: 1 });
      for (const after of [first.cursor, first.events[0]!.cursor, end.cursor, end.events[0]!.cursor]) {
        await expect(readEvents(ctx.store, { after }), after).resolves.toHaveProperty('cursor');
      }
    });

    it('prunes events older than a time and beyond a count, and later events still follow every cursor', async () => {
      const times = [T0, T0 + 10, T0 + 20, T0 + 30, T0 + 40, T0 + 50];
      for (const [i, at] of times.entries())
        await ctx.store.commit({ events: [sampleEvent(`t${i}`, { at })] });
      const all = await readEvents(ctx.store, {}, times.length);
      await ctx.store.pruneControl(T0 - 1, { before: T0 + 15, maxEvents: 1_000 });
      expect(taskIds(await readEvents(ctx.store))).toEqual(['t2', 't3', 't4', 't5']);
      await ctx.store.pruneControl(T0 - 1, { before: T0, maxEvents: 3 });
      expect(taskIds(await readEvents(ctx.store))).toEqual(['t3', 't4', 't5']);
      // Everything old: the newest may be kept (so that numbering goes on), nothing else.
      await ctx.store.pruneControl(T0 - 1, { before: T0 + 1_000, maxEvents: 1 });
      expect(taskIds(await readEvents(ctx.store)).filter((id) => id !== 't5')).toEqual([]);
      await ctx.store.commit({ events: [sampleEvent('new', { at: T0 + 60 })] });
      for (const event of all.events) {
        expect(taskIds(await readEvents(ctx.store, { after: event.cursor }, 1)).at(-1)).toBe('new');
      }
      expect(taskIds(await readEvents(ctx.store, { after: all.cursor }, 1))).toEqual(['new']);
    });

    it('keeps at least the newest `maxEvents` events, in whole commits, and resumes inside a commit', async () => {
      const ids = Array.from({ length: 9 }, (_, i) => `t${i}`);
      for (let i = 0; i < ids.length; i += 3) {
        await ctx.store.commit({ events: ids.slice(i, i + 3).map((id) => sampleEvent(id)) });
      }
      const all = await readEvents(ctx.store, {}, ids.length);
      // A cursor inside a commit's events goes on with the next of them.
      expect(taskIds(await readEvents(ctx.store, { after: all.events[4]!.cursor, limit: 2 }))).toEqual([
        't5',
        't6',
      ]);
      await ctx.store.pruneControl(T0 - 1, { before: T0 - 1_000, maxEvents: 4 });
      const kept = taskIds(await readEvents(ctx.store));
      // A SQL store keeps a commit's events together (one row): 4 to 6 of them here.
      expect(kept.length).toBeGreaterThanOrEqual(4);
      expect(kept.length).toBeLessThanOrEqual(6);
      expect(kept).toEqual(ids.slice(ids.length - kept.length));
      expect(taskIds(await readEvents(ctx.store, { after: all.events[7]!.cursor }))).toEqual(['t8']);
    });

    if (options.reopen) {
      it('keeps events when the store is opened again, and the cursors go on', async () => {
        await ctx.store.commit({ events: [sampleEvent('t1'), sampleEvent('t2')] });
        const before = await readEvents(ctx.store, {}, 2);
        await ctx.store.close();
        ctx.store = await options.reopen!(ctx.store);
        await ctx.store.open();
        await expect(readEvents(ctx.store)).resolves.toEqual(before);
        await ctx.store.commit({ events: [sampleEvent('t3')] });
        expect(taskIds(await readEvents(ctx.store, { after: before.cursor }, 1))).toEqual(['t3']);
      });
    }
  });
}
