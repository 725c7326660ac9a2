import { beforeEach, describe, expect, it } from 'vitest';
import { sampleTask, sampleWorkflow } from '../samples.js';
import type { Task } from '../../domain/task.js';
import {
  HOSTILE_STRINGS,
  codeOf,
  ids,
  repositoryCases,
  type ContractContext,
  type Entity,
} from './shared.js';

/** CRUD on the three repositories, getMany, queries (find and count). */
export function describeRepositories(ctx: ContractContext): void {
  describe.each(repositoryCases)('$label repository', ({ label, make }) => {
    it('creates a row, reads back an equal copy, and finds nothing under an unknown id', async () => {
      const row = make('a');
      await expect(ctx.repo(label).create(row)).resolves.toEqual(row);
      await expect(ctx.repo(label).get('a')).resolves.toEqual(row);
      await expect(ctx.repo(label).get('missing')).resolves.toBeUndefined();
    });

    it('rejects a second create with the same id with DUPLICATE_ID and keeps the first', async () => {
      await ctx.repo(label).create(make('a', 'first'));
      expect(await codeOf(ctx.repo(label).create(make('a', 'second')))).toBe('DUPLICATE_ID');
      expect((await ctx.repo(label).get('a'))?.name).toBe('first');
      await expect(ctx.repo(label).count()).resolves.toBe(1);
    });

    it('saveMany inserts new rows and replaces existing ones in their place in creation order', async () => {
      await ctx.repo(label).saveMany([make('a', 'a1'), make('b', 'b1')]);
      await ctx.repo(label).saveMany([make('c', 'c1'), make('a', 'a2')]);
      const rows = await ctx.repo(label).find();
      expect(rows.map((row) => [row.id, row.name])).toEqual([
        ['a', 'a2'],
        ['b', 'b1'],
        ['c', 'c1'],
      ]);
    });

    it('deletes by id and says whether a row was there', async () => {
      await ctx.repo(label).create(make('a'));
      await expect(ctx.repo(label).delete('a')).resolves.toBe(true);
      await expect(ctx.repo(label).delete('a')).resolves.toBe(false);
      await expect(ctx.repo(label).get('a')).resolves.toBeUndefined();
    });

    it('returns copies: changing a returned row does not change the stored one', async () => {
      await ctx.repo(label).create(make('a', 'kept'));
      const row = await ctx.repo(label).get('a');
      (row as Entity).name = 'changed';
      expect((await ctx.repo(label).get('a'))?.name).toBe('kept');
      const [many] = await ctx.repo(label).getMany(['a']);
      (many as Entity).name = 'changed';
      expect((await ctx.repo(label).get('a'))?.name).toBe('kept');
    });

    it('getMany returns the rows that exist in the order of the ids, each once', async () => {
      await ctx.repo(label).saveMany([make('a'), make('b'), make('c')]);
      const rows = await ctx.repo(label).getMany(['c', 'missing', 'a', 'c', 'b', 'a', 'gone']);
      expect(rows).toEqual([make('c'), make('a'), make('b')]);
      await expect(ctx.repo(label).getMany(['b'])).resolves.toEqual([make('b')]);
      await expect(ctx.repo(label).getMany(['missing'])).resolves.toEqual([]);
      await expect(ctx.repo(label).getMany([])).resolves.toEqual([]);
      await ctx.repo(label).delete('a');
      expect(ids(await ctx.repo(label).getMany(['a', 'b', 'c']))).toEqual(['b', 'c']);
    });
  });

  describe('getMany', () => {
    it('reads hostile and array-literal-breaking ids verbatim and matches nothing else', async () => {
      const awkward = ['a,b', '{a,b}', '{}', 'NULL', '', ' ', '\\', '"', "'", 'a"b\\c', '(1)', 'id IN (1)'];
      const stored = [...HOSTILE_STRINGS, ...awkward];
      await ctx.store.tasks.saveMany(stored.map((id) => sampleTask(id)));
      await ctx.store.tasks.saveMany([sampleTask('victim')]);
      const asked = [
        ...[...stored].reverse(),
        "victim' OR '1'='1",
        "') OR 1=1 --",
        'victim"',
        ' victim',
        'null',
        '%',
        'victim\u0000',
      ];
      const rows = await ctx.store.tasks.getMany(asked);
      expect(ids(rows)).toEqual([...stored].reverse());
      expect(rows).toEqual([...stored].reverse().map((id) => sampleTask(id)));
      await expect(ctx.store.tasks.count()).resolves.toBe(stored.length + 1);
    });

    it('reads 1,200 ids at once in their order, across any chunking, with missing and repeated ids', async () => {
      const tasks = Array.from({ length: 1_000 }, (_, i) => sampleTask(`bulk-${i}`, { priority: i }));
      await ctx.store.tasks.saveMany(tasks);
      const asked = Array.from({ length: 1_200 }, (_, i) =>
        i % 5 === 4 ? `missing-${i}` : `bulk-${(i * 7_919) % 1_000}`,
      );
      asked[10] = 'bulk-999';
      asked[700] = 'bulk-999';
      asked[1_199] = 'bulk-0';
      const expected = [...new Set(asked)].filter((id) => id.startsWith('bulk-'));
      const byId = new Map(tasks.map((task) => [task.id, task]));
      const rows = await ctx.store.tasks.getMany(asked);
      expect(ids(rows)).toEqual(expected);
      expect(rows).toEqual(expected.map((id) => byId.get(id)));
      const all = tasks.map((task) => task.id).reverse();
      expect(ids(await ctx.store.tasks.getMany(all))).toEqual(all);
      expect(ids(await ctx.store.tasks.getMany(all.slice(0, 501)))).toEqual(all.slice(0, 501));
    });

    it('rejects ids that are not an array of strings with INVALID_ARGUMENT', async () => {
      expect(await codeOf(ctx.store.tasks.getMany('t1' as unknown as string[]))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(ctx.store.tasks.getMany(null as unknown as string[]))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(ctx.store.tasks.getMany(['t1', 2] as unknown as string[]))).toBe(
        'INVALID_ARGUMENT',
      );
      expect(await codeOf(ctx.store.workflows.getMany([undefined] as unknown as string[]))).toBe(
        'INVALID_ARGUMENT',
      );
    });
  });

  describe('find and count', () => {
    beforeEach(async () => {
      await ctx.store.tasks.saveMany([
        sampleTask('t1', {
          name: 'delta',
          priority: 2,
          status: 'PENDING',
          workflowId: 'w1',
          startedAt: 30,
        }),
        sampleTask('t2', {
          name: 'alpha',
          priority: 5,
          status: 'RUNNING',
          workflowId: 'w1',
          startedAt: null,
        }),
        sampleTask('t3', {
          name: 'charlie',
          priority: 2,
          status: 'PENDING',
          workflowId: null,
          startedAt: 10,
        }),
        sampleTask('t4', {
          name: 'bravo',
          priority: -1,
          status: 'COMPLETED',
          workflowId: 'w2',
          startedAt: null,
        }),
        sampleTask('t5', { name: 'echo', priority: 2, status: 'PENDING', workflowId: 'w1', startedAt: 20 }),
      ]);
    });

    it('filters on several fields at once, null included, and ignores undefined values', async () => {
      expect(ids(await ctx.store.tasks.find({ where: { status: 'PENDING', workflowId: 'w1' } }))).toEqual([
        't1',
        't5',
      ]);
      expect(ids(await ctx.store.tasks.find({ where: { workflowId: null } }))).toEqual(['t3']);
      expect(ids(await ctx.store.tasks.find({ where: { priority: 2, agentId: undefined } }))).toEqual([
        't1',
        't3',
        't5',
      ]);
      expect(await ctx.store.tasks.find({ where: { status: 'FAILED' } })).toEqual([]);
    });

    it('lists in creation order by default and in reverse with descending', async () => {
      expect(ids(await ctx.store.tasks.find())).toEqual(['t1', 't2', 't3', 't4', 't5']);
      expect(ids(await ctx.store.tasks.find({ descending: true }))).toEqual(['t5', 't4', 't3', 't2', 't1']);
    });

    it('sorts by a field both ways, ties in creation order, nulls lowest', async () => {
      expect(ids(await ctx.store.tasks.find({ orderBy: 'name' }))).toEqual(['t2', 't4', 't3', 't1', 't5']);
      expect(ids(await ctx.store.tasks.find({ orderBy: 'priority' }))).toEqual([
        't4',
        't1',
        't3',
        't5',
        't2',
      ]);
      expect(ids(await ctx.store.tasks.find({ orderBy: 'priority', descending: true }))).toEqual([
        't2',
        't1',
        't3',
        't5',
        't4',
      ]);
      expect(ids(await ctx.store.tasks.find({ orderBy: 'startedAt' }))).toEqual([
        't2',
        't4',
        't3',
        't5',
        't1',
      ]);
      expect(ids(await ctx.store.tasks.find({ orderBy: 'startedAt', descending: true }))).toEqual([
        't1',
        't5',
        't3',
        't2',
        't4',
      ]);
    });

    it('applies offset and limit after filtering and sorting', async () => {
      expect(ids(await ctx.store.tasks.find({ orderBy: 'name', offset: 1, limit: 2 }))).toEqual(['t4', 't3']);
      expect(ids(await ctx.store.tasks.find({ orderBy: 'name', offset: 3 }))).toEqual(['t1', 't5']);
      expect(ids(await ctx.store.tasks.find({ where: { status: 'PENDING' }, limit: 0 }))).toEqual([]);
      expect(ids(await ctx.store.tasks.find({ offset: 10 }))).toEqual([]);
    });

    it('pages by id with after: the rows after an id, both ways, filtered, whether or not it exists', async () => {
      expect(ids(await ctx.store.tasks.find({ orderBy: 'id', after: 't2' }))).toEqual(['t3', 't4', 't5']);
      expect(ids(await ctx.store.tasks.find({ orderBy: 'id', after: 't2', descending: true }))).toEqual([
        't1',
      ]);
      expect(
        ids(await ctx.store.tasks.find({ where: { status: 'PENDING' }, orderBy: 'id', after: 't1' })),
      ).toEqual(['t3', 't5']);
      expect(ids(await ctx.store.tasks.find({ orderBy: 'id', after: 't25', limit: 1 }))).toEqual(['t3']);
      expect(ids(await ctx.store.tasks.find({ orderBy: 'id', after: '' }))).toEqual([
        't1',
        't2',
        't3',
        't4',
        't5',
      ]);
      expect(await ctx.store.tasks.find({ orderBy: 'id', after: 't5' })).toEqual([]);
      // Walking pages: a row deleted and rows added behind the cursor between pages change nothing ahead.
      const first = ids(
        await ctx.store.tasks.find({ where: { status: 'PENDING' }, orderBy: 'id', limit: 2 }),
      );
      expect(first).toEqual(['t1', 't3']);
      await ctx.store.tasks.delete('t3');
      await ctx.store.tasks.saveMany([
        sampleTask('t0', { status: 'PENDING' }),
        sampleTask('t6', { status: 'PENDING' }),
      ]);
      expect(
        ids(
          await ctx.store.tasks.find({
            where: { status: 'PENDING' },
            orderBy: 'id',
            after: first[1],
            limit: 2,
          }),
        ),
      ).toEqual(['t5', 't6']);
    });

    it('rejects after without orderBy id, or not a string, with INVALID_ARGUMENT', async () => {
      expect(await codeOf(ctx.store.tasks.find({ after: 't1' }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(ctx.store.tasks.find({ orderBy: 'name', after: 't1' }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(ctx.store.tasks.find({ orderBy: 'id', after: 1 as unknown as string }))).toBe(
        'INVALID_ARGUMENT',
      );
    });

    it('counts all rows or the rows matching a filter', async () => {
      await expect(ctx.store.tasks.count()).resolves.toBe(5);
      await expect(ctx.store.tasks.count({ status: 'PENDING' })).resolves.toBe(3);
      await expect(ctx.store.tasks.count({ workflowId: null })).resolves.toBe(1);
    });

    it('filters booleans', async () => {
      await ctx.store.workflows.saveMany([
        sampleWorkflow('w1', { paused: true }),
        sampleWorkflow('w2'),
        sampleWorkflow('w3', { paused: true, cancelled: true }),
      ]);
      expect(ids(await ctx.store.workflows.find({ where: { paused: true } }))).toEqual(['w1', 'w3']);
      expect(ids(await ctx.store.workflows.find({ where: { paused: true, cancelled: false } }))).toEqual([
        'w1',
      ]);
      await expect(ctx.store.workflows.count({ cancelled: false })).resolves.toBe(2);
    });

    it('rejects unknown and JSON fields in where and orderBy with INVALID_ARGUMENT', async () => {
      const where = (value: Record<string, unknown>) => ({ where: value as Partial<Task> });
      expect(await codeOf(ctx.store.tasks.find(where({ nope: 1 })))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(ctx.store.tasks.find(where({ 'id" OR 1=1 --': 'x' })))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(ctx.store.tasks.find(where({ tags: [] })))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(ctx.store.tasks.count({ nope: 1 } as Partial<Task>))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(ctx.store.tasks.find({ orderBy: 'name; DROP TABLE tasks' as 'name' }))).toBe(
        'INVALID_ARGUMENT',
      );
      expect(await codeOf(ctx.store.tasks.find({ orderBy: 'inputData' }))).toBe('INVALID_ARGUMENT');
      await expect(ctx.store.tasks.count()).resolves.toBe(5);
    });

    it('rejects a negative or fractional limit or offset and a filter value of the wrong type', async () => {
      expect(await codeOf(ctx.store.tasks.find({ limit: -1 }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(ctx.store.tasks.find({ limit: 1.5 }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(ctx.store.tasks.find({ offset: -2 }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(ctx.store.tasks.find({ where: { priority: '2' as unknown as number } }))).toBe(
        'INVALID_ARGUMENT',
      );
      expect(await codeOf(ctx.store.tasks.find({ where: { name: { $ne: '' } as unknown as string } }))).toBe(
        'INVALID_ARGUMENT',
      );
    });
  });
}
