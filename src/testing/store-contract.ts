import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type { Repository } from '../repositories/repository.js';
import type { Store } from '../repositories/store.js';
import { SAMPLE_TIME as T0, sampleAgentConfig, sampleTask, sampleWorkflow } from './samples.js';

export { sampleAgentConfig, sampleTask, sampleWorkflow };

export interface StoreContractOptions {
  /**
   * Opens a new Store on the data of `closed` (same file, same schema), for the durability tests.
   * Leave out for stores that keep nothing after `close()`.
   */
  reopen?: (closed: Store) => Promise<Store>;
}

type Entity = Task | Workflow | AgentConfig;

interface RepositoryCase {
  label: 'tasks' | 'workflows' | 'agentConfigs';
  make: (id: string, name?: string) => Entity;
}

const repositoryCases: RepositoryCase[] = [
  { label: 'tasks', make: (id, name) => sampleTask(id, name === undefined ? {} : { name }) },
  { label: 'workflows', make: (id, name) => sampleWorkflow(id, name === undefined ? {} : { name }) },
  { label: 'agentConfigs', make: (id, name) => sampleAgentConfig(id, name === undefined ? {} : { name }) },
];

/** Strings that break naive SQL building, quoting or LIKE matching; none has a NUL character. */
export const HOSTILE_STRINGS: readonly string[] = [
  "'; DROP TABLE tasks; --",
  "Robert'); DROP TABLE workflows;--",
  '" OR "1"="1',
  "' OR '1'='1",
  "\\'; SELECT 1; --",
  '%',
  '_',
  '*',
  '$1',
  '?',
  ':name',
  '@p1',
  '`backtick`',
  'line\nbreak\ttab\r',
  'Ünïcödé ✓ 🚀 中文 עברית \u202e reversed',
  '\u2028\u2029',
  'e\u0301 vs \u00e9',
];

function pollutingPayload(): Record<string, unknown> {
  return JSON.parse(
    '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"},"nested":[{"__proto__":{"polluted":"yes"}}]}',
  ) as Record<string, unknown>;
}

function ids(rows: readonly { id: string }[]): string[] {
  return rows.map((row) => row.id);
}

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
  return 'resolved';
}

/**
 * The behaviour every Store must have, as a vitest suite: CRUD on the three repositories, queries,
 * atomic batches, unique completion records, hostile strings and JSON kept verbatim. Run it on your
 * own store with a factory that returns a new, empty, unopened store for each test.
 *
 * @example
 * import { describeStoreContract } from 'symphony/testing/store-contract';
 * describeStoreContract('MyStore', async () => new MyStore(), { reopen: async (s) => new MyStore(s.url) });
 */
export function describeStoreContract(
  name: string,
  makeStore: () => Promise<Store>,
  options: StoreContractOptions = {},
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    const repo = (label: RepositoryCase['label']) => store[label] as unknown as Repository<Entity>;

    beforeEach(async () => {
      store = await makeStore();
      await store.open();
    });

    afterEach(async () => {
      await store.close();
    });

    describe.each(repositoryCases)('$label repository', ({ label, make }) => {
      it('creates a row, reads back an equal copy, and finds nothing under an unknown id', async () => {
        const row = make('a');
        await expect(repo(label).create(row)).resolves.toEqual(row);
        await expect(repo(label).get('a')).resolves.toEqual(row);
        await expect(repo(label).get('missing')).resolves.toBeUndefined();
      });

      it('rejects a second create with the same id with DUPLICATE_ID and keeps the first', async () => {
        await repo(label).create(make('a', 'first'));
        expect(await codeOf(repo(label).create(make('a', 'second')))).toBe('DUPLICATE_ID');
        expect((await repo(label).get('a'))?.name).toBe('first');
        await expect(repo(label).count()).resolves.toBe(1);
      });

      it('saveMany inserts new rows and replaces existing ones in their place in creation order', async () => {
        await repo(label).saveMany([make('a', 'a1'), make('b', 'b1')]);
        await repo(label).saveMany([make('c', 'c1'), make('a', 'a2')]);
        const rows = await repo(label).find();
        expect(rows.map((row) => [row.id, row.name])).toEqual([
          ['a', 'a2'],
          ['b', 'b1'],
          ['c', 'c1'],
        ]);
      });

      it('deletes by id and says whether a row was there', async () => {
        await repo(label).create(make('a'));
        await expect(repo(label).delete('a')).resolves.toBe(true);
        await expect(repo(label).delete('a')).resolves.toBe(false);
        await expect(repo(label).get('a')).resolves.toBeUndefined();
      });

      it('returns copies: changing a returned row does not change the stored one', async () => {
        await repo(label).create(make('a', 'kept'));
        const row = await repo(label).get('a');
        (row as Entity).name = 'changed';
        expect((await repo(label).get('a'))?.name).toBe('kept');
        const [many] = await repo(label).getMany(['a']);
        (many as Entity).name = 'changed';
        expect((await repo(label).get('a'))?.name).toBe('kept');
      });

      it('getMany returns the rows that exist in the order of the ids, each once', async () => {
        await repo(label).saveMany([make('a'), make('b'), make('c')]);
        const rows = await repo(label).getMany(['c', 'missing', 'a', 'c', 'b', 'a', 'gone']);
        expect(rows).toEqual([make('c'), make('a'), make('b')]);
        await expect(repo(label).getMany(['b'])).resolves.toEqual([make('b')]);
        await expect(repo(label).getMany(['missing'])).resolves.toEqual([]);
        await expect(repo(label).getMany([])).resolves.toEqual([]);
        await repo(label).delete('a');
        expect(ids(await repo(label).getMany(['a', 'b', 'c']))).toEqual(['b', 'c']);
      });
    });

    describe('getMany', () => {
      it('reads hostile and array-literal-breaking ids verbatim and matches nothing else', async () => {
        const awkward = ['a,b', '{a,b}', '{}', 'NULL', '', ' ', '\\', '"', "'", 'a"b\\c', '(1)', 'id IN (1)'];
        const stored = [...HOSTILE_STRINGS, ...awkward];
        await store.tasks.saveMany(stored.map((id) => sampleTask(id)));
        await store.tasks.saveMany([sampleTask('victim')]);
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
        const rows = await store.tasks.getMany(asked);
        expect(ids(rows)).toEqual([...stored].reverse());
        expect(rows).toEqual([...stored].reverse().map((id) => sampleTask(id)));
        await expect(store.tasks.count()).resolves.toBe(stored.length + 1);
      });

      it('reads 1,200 ids at once in their order, across any chunking, with missing and repeated ids', async () => {
        const tasks = Array.from({ length: 1_000 }, (_, i) => sampleTask(`bulk-${i}`, { priority: i }));
        await store.tasks.saveMany(tasks);
        const asked = Array.from({ length: 1_200 }, (_, i) =>
          i % 5 === 4 ? `missing-${i}` : `bulk-${(i * 7_919) % 1_000}`,
        );
        asked[10] = 'bulk-999';
        asked[700] = 'bulk-999';
        asked[1_199] = 'bulk-0';
        const expected = [...new Set(asked)].filter((id) => id.startsWith('bulk-'));
        const byId = new Map(tasks.map((task) => [task.id, task]));
        const rows = await store.tasks.getMany(asked);
        expect(ids(rows)).toEqual(expected);
        expect(rows).toEqual(expected.map((id) => byId.get(id)));
        const all = tasks.map((task) => task.id).reverse();
        expect(ids(await store.tasks.getMany(all))).toEqual(all);
        expect(ids(await store.tasks.getMany(all.slice(0, 501)))).toEqual(all.slice(0, 501));
      });

      it('rejects ids that are not an array of strings with INVALID_ARGUMENT', async () => {
        expect(await codeOf(store.tasks.getMany('t1' as unknown as string[]))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.tasks.getMany(null as unknown as string[]))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.tasks.getMany(['t1', 2] as unknown as string[]))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.workflows.getMany([undefined] as unknown as string[]))).toBe(
          'INVALID_ARGUMENT',
        );
      });
    });

    describe('find and count', () => {
      beforeEach(async () => {
        await store.tasks.saveMany([
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
        expect(ids(await store.tasks.find({ where: { status: 'PENDING', workflowId: 'w1' } }))).toEqual([
          't1',
          't5',
        ]);
        expect(ids(await store.tasks.find({ where: { workflowId: null } }))).toEqual(['t3']);
        expect(ids(await store.tasks.find({ where: { priority: 2, agentId: undefined } }))).toEqual([
          't1',
          't3',
          't5',
        ]);
        expect(await store.tasks.find({ where: { status: 'FAILED' } })).toEqual([]);
      });

      it('lists in creation order by default and in reverse with descending', async () => {
        expect(ids(await store.tasks.find())).toEqual(['t1', 't2', 't3', 't4', 't5']);
        expect(ids(await store.tasks.find({ descending: true }))).toEqual(['t5', 't4', 't3', 't2', 't1']);
      });

      it('sorts by a field both ways, ties in creation order, nulls lowest', async () => {
        expect(ids(await store.tasks.find({ orderBy: 'name' }))).toEqual(['t2', 't4', 't3', 't1', 't5']);
        expect(ids(await store.tasks.find({ orderBy: 'priority' }))).toEqual(['t4', 't1', 't3', 't5', 't2']);
        expect(ids(await store.tasks.find({ orderBy: 'priority', descending: true }))).toEqual([
          't2',
          't1',
          't3',
          't5',
          't4',
        ]);
        expect(ids(await store.tasks.find({ orderBy: 'startedAt' }))).toEqual(['t2', 't4', 't3', 't5', 't1']);
        expect(ids(await store.tasks.find({ orderBy: 'startedAt', descending: true }))).toEqual([
          't1',
          't5',
          't3',
          't2',
          't4',
        ]);
      });

      it('applies offset and limit after filtering and sorting', async () => {
        expect(ids(await store.tasks.find({ orderBy: 'name', offset: 1, limit: 2 }))).toEqual(['t4', 't3']);
        expect(ids(await store.tasks.find({ orderBy: 'name', offset: 3 }))).toEqual(['t1', 't5']);
        expect(ids(await store.tasks.find({ where: { status: 'PENDING' }, limit: 0 }))).toEqual([]);
        expect(ids(await store.tasks.find({ offset: 10 }))).toEqual([]);
      });

      it('pages by id with after: the rows after an id, both ways, filtered, whether or not it exists', async () => {
        expect(ids(await store.tasks.find({ orderBy: 'id', after: 't2' }))).toEqual(['t3', 't4', 't5']);
        expect(ids(await store.tasks.find({ orderBy: 'id', after: 't2', descending: true }))).toEqual(['t1']);
        expect(
          ids(await store.tasks.find({ where: { status: 'PENDING' }, orderBy: 'id', after: 't1' })),
        ).toEqual(['t3', 't5']);
        expect(ids(await store.tasks.find({ orderBy: 'id', after: 't25', limit: 1 }))).toEqual(['t3']);
        expect(ids(await store.tasks.find({ orderBy: 'id', after: '' }))).toEqual([
          't1',
          't2',
          't3',
          't4',
          't5',
        ]);
        expect(await store.tasks.find({ orderBy: 'id', after: 't5' })).toEqual([]);
        // Walking pages: a row deleted and rows added behind the cursor between pages change nothing ahead.
        const first = ids(await store.tasks.find({ where: { status: 'PENDING' }, orderBy: 'id', limit: 2 }));
        expect(first).toEqual(['t1', 't3']);
        await store.tasks.delete('t3');
        await store.tasks.saveMany([
          sampleTask('t0', { status: 'PENDING' }),
          sampleTask('t6', { status: 'PENDING' }),
        ]);
        expect(
          ids(
            await store.tasks.find({
              where: { status: 'PENDING' },
              orderBy: 'id',
              after: first[1],
              limit: 2,
            }),
          ),
        ).toEqual(['t5', 't6']);
      });

      it('rejects after without orderBy id, or not a string, with INVALID_ARGUMENT', async () => {
        expect(await codeOf(store.tasks.find({ after: 't1' }))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.tasks.find({ orderBy: 'name', after: 't1' }))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.tasks.find({ orderBy: 'id', after: 1 as unknown as string }))).toBe(
          'INVALID_ARGUMENT',
        );
      });

      it('counts all rows or the rows matching a filter', async () => {
        await expect(store.tasks.count()).resolves.toBe(5);
        await expect(store.tasks.count({ status: 'PENDING' })).resolves.toBe(3);
        await expect(store.tasks.count({ workflowId: null })).resolves.toBe(1);
      });

      it('filters booleans', async () => {
        await store.workflows.saveMany([
          sampleWorkflow('w1', { paused: true }),
          sampleWorkflow('w2'),
          sampleWorkflow('w3', { paused: true, cancelled: true }),
        ]);
        expect(ids(await store.workflows.find({ where: { paused: true } }))).toEqual(['w1', 'w3']);
        expect(ids(await store.workflows.find({ where: { paused: true, cancelled: false } }))).toEqual([
          'w1',
        ]);
        await expect(store.workflows.count({ cancelled: false })).resolves.toBe(2);
      });

      it('rejects unknown and JSON fields in where and orderBy with INVALID_ARGUMENT', async () => {
        const where = (value: Record<string, unknown>) => ({ where: value as Partial<Task> });
        expect(await codeOf(store.tasks.find(where({ nope: 1 })))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.tasks.find(where({ 'id" OR 1=1 --': 'x' })))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.tasks.find(where({ tags: [] })))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.tasks.count({ nope: 1 } as Partial<Task>))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.tasks.find({ orderBy: 'name; DROP TABLE tasks' as 'name' }))).toBe(
          'INVALID_ARGUMENT',
        );
        expect(await codeOf(store.tasks.find({ orderBy: 'inputData' }))).toBe('INVALID_ARGUMENT');
        await expect(store.tasks.count()).resolves.toBe(5);
      });

      it('rejects a negative or fractional limit or offset and a filter value of the wrong type', async () => {
        expect(await codeOf(store.tasks.find({ limit: -1 }))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.tasks.find({ limit: 1.5 }))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.tasks.find({ offset: -2 }))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.tasks.find({ where: { priority: '2' as unknown as number } }))).toBe(
          'INVALID_ARGUMENT',
        );
        expect(await codeOf(store.tasks.find({ where: { name: { $ne: '' } as unknown as string } }))).toBe(
          'INVALID_ARGUMENT',
        );
      });
    });

    describe('commit', () => {
      it('writes the tasks, workflows, agent configs and completion records of a batch', async () => {
        await store.commit({
          tasks: [sampleTask('t1', { status: 'COMPLETED' })],
          workflows: [sampleWorkflow('w1')],
          agentConfigs: [sampleAgentConfig('a1')],
          completions: [{ taskId: 't1', executionId: 'e1', attempt: 1, completedAt: T0 + 5 }],
        });
        expect((await store.tasks.get('t1'))?.status).toBe('COMPLETED');
        await expect(store.workflows.get('w1')).resolves.toEqual(sampleWorkflow('w1'));
        await expect(store.agentConfigs.get('a1')).resolves.toEqual(sampleAgentConfig('a1'));
        await expect(store.completions('t1')).resolves.toEqual([
          { taskId: 't1', executionId: 'e1', attempt: 1, completedAt: T0 + 5 },
        ]);
      });

      it('accepts an empty batch and changes nothing', async () => {
        await store.commit({});
        await store.commit({ tasks: [], workflows: [], agentConfigs: [], completions: [] });
        await expect(store.tasks.count()).resolves.toBe(0);
        await expect(store.completions()).resolves.toEqual([]);
      });

      it('keeps the latest version of a row written twice in one batch', async () => {
        await store.commit({ tasks: [sampleTask('t1', { attempts: 1 }), sampleTask('t1', { attempts: 2 })] });
        expect((await store.tasks.get('t1'))?.attempts).toBe(2);
        await expect(store.tasks.count()).resolves.toBe(1);
      });

      it('writes a large batch in order: each row once, its last version, in the place of its first', async () => {
        await store.commit({ tasks: [sampleTask('t-50', { attempts: 9 })] });
        const batch = Array.from({ length: 101 }, (_, i) => sampleTask(`t-${i}`, { attempts: 1 }));
        batch.push(sampleTask('t-3', { attempts: 2 }), sampleTask('t-70', { attempts: 2 }));
        batch.push(sampleTask('t-3', { attempts: 3 }));
        await store.commit({ tasks: batch });
        const rows = await store.tasks.find();
        const order = [
          't-50',
          ...Array.from({ length: 101 }, (_, i) => `t-${i}`).filter((id) => id !== 't-50'),
        ];
        expect(ids(rows)).toEqual(order);
        const attempts = new Map(rows.map((row) => [row.id, row.attempts]));
        expect([
          attempts.get('t-3'),
          attempts.get('t-70'),
          attempts.get('t-50'),
          attempts.get('t-0'),
        ]).toEqual([3, 2, 1, 1]);
      });

      it('lets a later row of a batch take the idempotency key an earlier row gave up', async () => {
        await store.commit({ tasks: [sampleTask('k1', { idempotencyKey: 'x' })] });
        const fillers = Array.from({ length: 20 }, (_, i) => sampleTask(`f-${i}`));
        await store.commit({
          tasks: [
            sampleTask('k1', { idempotencyKey: null }),
            ...fillers,
            sampleTask('k2', { idempotencyKey: 'x' }),
            sampleTask('k3', { idempotencyKey: 'y' }),
          ],
        });
        expect(ids(await store.tasks.find({ where: { idempotencyKey: 'x' } }))).toEqual(['k2']);
        expect(ids(await store.tasks.find({ where: { idempotencyKey: 'y' } }))).toEqual(['k3']);
        await expect(store.tasks.count()).resolves.toBe(23);
      });

      it('writes nothing of a batch in which one row breaks a constraint', async () => {
        await store.commit({ tasks: [sampleTask('old', { attempts: 1 })] });
        const invalid = sampleTask('t2', { status: 'BOGUS' as Task['status'] });
        const code = await codeOf(
          store.commit({
            agentConfigs: [sampleAgentConfig('a1')],
            workflows: [sampleWorkflow('w1')],
            tasks: [sampleTask('old', { attempts: 2 }), sampleTask('t1'), invalid],
            completions: [{ taskId: 't1', executionId: 'e1', attempt: 1, completedAt: T0 }],
          }),
        );
        expect(code).toBe('INVALID_ARGUMENT');
        expect(await store.tasks.find()).toEqual([sampleTask('old', { attempts: 1 })]);
        await expect(store.workflows.count()).resolves.toBe(0);
        await expect(store.agentConfigs.count()).resolves.toBe(0);
        await expect(store.completions()).resolves.toEqual([]);
      });

      it('saveMany writes nothing when one row breaks a constraint', async () => {
        const bad = sampleWorkflow('w2', { status: 'DONE' as Workflow['status'] });
        expect(await codeOf(store.workflows.saveMany([sampleWorkflow('w1'), bad]))).toBe('INVALID_ARGUMENT');
        await expect(store.workflows.count()).resolves.toBe(0);
      });

      it('keeps one completion record per task, the first, within a batch and across batches', async () => {
        const first = { taskId: 't1', executionId: 'e1', attempt: 1, completedAt: T0 };
        await store.commit({ completions: [first, { ...first, executionId: 'e2', attempt: 2 }] });
        await store.commit({ completions: [{ ...first, executionId: 'e3', attempt: 3 }] });
        await expect(store.completions('t1')).resolves.toEqual([first]);
        await expect(store.completions()).resolves.toEqual([first]);
      });

      it('lists the completion records of one task or of all, in the order written', async () => {
        const record = (taskId: string, completedAt: number) => ({
          taskId,
          executionId: `e-${taskId}`,
          attempt: 1,
          completedAt,
        });
        await store.commit({ completions: [record('t2', 2), record('t1', 1)] });
        await store.commit({ completions: [record('t3', 3)] });
        await expect(store.completions()).resolves.toEqual([
          record('t2', 2),
          record('t1', 1),
          record('t3', 3),
        ]);
        await expect(store.completions('t3')).resolves.toEqual([record('t3', 3)]);
        await expect(store.completions('none')).resolves.toEqual([]);
      });

      it('allows many tasks without an idempotency key but one task per key (INVALID_STATE)', async () => {
        await store.commit({
          tasks: [sampleTask('t1'), sampleTask('t2'), sampleTask('k1', { idempotencyKey: 'key' })],
        });
        expect(await codeOf(store.tasks.create(sampleTask('k2', { idempotencyKey: 'key' })))).toBe(
          'INVALID_STATE',
        );
        expect(
          await codeOf(
            store.commit({ tasks: [sampleTask('t3'), sampleTask('k3', { idempotencyKey: 'key' })] }),
          ),
        ).toBe('INVALID_STATE');
        await expect(store.tasks.count()).resolves.toBe(3);
        expect(ids(await store.tasks.find({ where: { idempotencyKey: 'key' } }))).toEqual(['k1']);
        await store.commit({ tasks: [sampleTask('k1', { idempotencyKey: 'key', attempts: 1 })] });
        expect((await store.tasks.get('k1'))?.attempts).toBe(1);
      });
    });

    describe('control commands', () => {
      const command = (
        id: string,
        type: 'PAUSE' | 'RESUME' | 'CANCEL' = 'PAUSE',
        target: { workflowId: string | null; taskId: string | null } = { workflowId: 'w1', taskId: null },
      ) => ({ id, ...target, type, createdAt: T0 });

      it('appends commands with growing seq, reads them after a seq, and skips an id already stored', async () => {
        await expect(store.latestCommandSeq()).resolves.toBe(0);
        await store.commit({ commands: [command('c1'), command('c2', 'RESUME')] });
        await store.commit({ commands: [command('c1', 'CANCEL'), command('c3', 'CANCEL')] });
        const all = await store.commandsAfter(0);
        expect(all.map(({ seq: _seq, ...rest }) => rest)).toEqual([
          command('c1'),
          command('c2', 'RESUME'),
          command('c3', 'CANCEL'),
        ]);
        const seqs = all.map((c) => c.seq);
        expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
        expect(new Set(seqs).size).toBe(3);
        await expect(store.latestCommandSeq()).resolves.toBe(seqs[2]);
        expect(ids(await store.commandsAfter(seqs[0] as number))).toEqual(['c2', 'c3']);
        expect(ids(await store.commandsAfter(0, 1))).toEqual(['c1']);
      });

      it('keeps task commands, with or without a workflow, and refuses a command with no target', async () => {
        const forTask = command('c1', 'CANCEL', { workflowId: null, taskId: 't1' });
        const inWorkflow = command('c2', 'PAUSE', { workflowId: 'w1', taskId: 't2' });
        await store.commit({ commands: [forTask, inWorkflow] });
        expect((await store.commandsAfter(0)).map(({ seq: _seq, ...rest }) => rest)).toEqual([
          forTask,
          inWorkflow,
        ]);
        const nowhere = command('c3', 'PAUSE', { workflowId: null, taskId: null });
        expect(await codeOf(store.commit({ commands: [nowhere] }))).toBe('INVALID_ARGUMENT');
        expect(ids(await store.commandsAfter(0))).toEqual(['c1', 'c2']);
      });

      it('writes nothing of a batch with a command of unknown type', async () => {
        const bad = { ...command('c2'), type: 'STOP' as 'PAUSE' };
        expect(
          await codeOf(store.commit({ tasks: [sampleTask('t1')], commands: [command('c1'), bad] })),
        ).toBe('INVALID_ARGUMENT');
        await expect(store.commandsAfter(0)).resolves.toEqual([]);
        await expect(store.tasks.count()).resolves.toBe(0);
      });

      it('keeps the last beat of each engine', async () => {
        const beat = (engineId: string, beatAt: number, stopped = false) => ({
          engineId,
          beatAt,
          expiresAt: beatAt + 5_000.5,
          stopped,
        });
        await expect(store.engineBeats()).resolves.toEqual([]);
        await store.commit({ beats: [beat('e2', T0), beat('e1', T0)] });
        await store.commit({ beats: [beat('e1', T0 + 500), beat('e2', T0 + 900, true)] });
        await expect(store.engineBeats()).resolves.toEqual([
          beat('e1', T0 + 500),
          beat('e2', T0 + 900, true),
        ]);
      });

      it("keeps each engine's first acknowledgement of a command", async () => {
        const ack = (engineId: string, applied: boolean, ackedAt: number) => ({
          commandId: 'c1',
          engineId,
          applied,
          ackedAt,
        });
        await store.commit({ commands: [command('c1')], acks: [ack('e1', false, T0)] });
        await store.commit({ acks: [ack('e2', true, T0 + 1), ack('e1', true, T0 + 2)] });
        await expect(store.commandAcks('c1')).resolves.toEqual([
          ack('e1', false, T0),
          ack('e2', true, T0 + 1),
        ]);
        await expect(store.commandAcks('c2')).resolves.toEqual([]);
      });
    });

    describe('data kept verbatim', () => {
      it('stores the rows as they were when commit was called, though they change before it settles', async () => {
        const task = sampleTask('t1', { status: 'RUNNING', attempts: 1, errors: [] });
        const workflow = sampleWorkflow('w1', { status: 'RUNNING' });
        const committing = store.commit({ tasks: [task], workflows: [workflow] });
        // The engine's rows are live: they move on while the commit is in flight.
        task.status = 'COMPLETED';
        task.attempts = 2;
        task.errors.push({ name: 'Error', message: 'late', attempt: 1, at: T0, retryable: true });
        task.outputData = { late: true };
        workflow.status = 'COMPLETED';
        await committing;
        expect(await store.tasks.get('t1')).toMatchObject({
          status: 'RUNNING',
          attempts: 1,
          errors: [],
          outputData: null,
        });
        expect((await store.workflows.get('w1'))?.status).toBe('RUNNING');
      });

      it('stores hostile strings in ids, fields and filters verbatim', async () => {
        const tasks = HOSTILE_STRINGS.map((text, i) =>
          sampleTask(text, {
            name: text,
            description: text,
            workflowId: text,
            inputData: { [text]: text },
            priority: i,
          }),
        );
        await store.commit({
          tasks,
          workflows: HOSTILE_STRINGS.map((text) => sampleWorkflow(text, { name: text })),
        });
        for (const task of tasks) {
          await expect(store.tasks.get(task.id)).resolves.toEqual(task);
          await expect(store.tasks.find({ where: { name: task.name } })).resolves.toEqual([task]);
          await expect(store.tasks.count({ workflowId: task.workflowId })).resolves.toBe(1);
        }
        await expect(store.tasks.count()).resolves.toBe(HOSTILE_STRINGS.length);
        await expect(store.workflows.count()).resolves.toBe(HOSTILE_STRINGS.length);
        await expect(store.tasks.delete("'; DROP TABLE tasks; --")).resolves.toBe(true);
        await expect(store.tasks.count()).resolves.toBe(HOSTILE_STRINGS.length - 1);
      });

      it('keeps __proto__, constructor and prototype keys as own data and never touches Object.prototype', async () => {
        const payload = pollutingPayload();
        await store.tasks.create(sampleTask('t1', { inputData: payload, outputData: pollutingPayload() }));
        await store.commit({
          workflows: [sampleWorkflow('w1', { metadata: pollutingPayload() })],
          agentConfigs: [sampleAgentConfig('a1', { metadata: pollutingPayload() })],
        });
        const task = (await store.tasks.find({ where: { id: 't1' } }))[0];
        const rows = [
          task?.inputData,
          task?.outputData,
          (await store.workflows.get('w1'))?.metadata,
          (await store.agentConfigs.get('a1'))?.metadata,
        ] as Record<string, unknown>[];
        for (const data of rows) {
          expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
          expect(Object.keys(data)).toEqual(['__proto__', 'constructor', 'prototype', 'nested']);
          expect(Object.getOwnPropertyDescriptor(data, '__proto__')?.value).toEqual({ polluted: 'yes' });
          expect(JSON.stringify(data)).toBe(JSON.stringify(pollutingPayload()));
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty('polluted');
      });

      it('round-trips JSON values, fractional times and negative numbers', async () => {
        const outputs: unknown[] = [
          'plain text',
          0,
          false,
          null,
          [],
          [1, 'two', { three: 3 }],
          { a: { b: { c: [] } } },
        ];
        const tasks = outputs.map((outputData, i) =>
          sampleTask(`t${i}`, {
            outputData,
            priority: -1.25 * (i + 1),
            createdAt: T0 + i + 0.5,
            tags: ['x', `${i}`],
          }),
        );
        let deep: Record<string, unknown> = { leaf: 'bottom' };
        for (let i = 0; i < 60; i += 1) deep = { [`level${i}`]: deep, list: [i] };
        tasks.push(
          sampleTask('deep', {
            inputData: deep,
            metadata: { 'key with "quotes"': "it's", emoji: '🚀', nul: 'a\u0000b' },
          }),
        );
        await store.commit({ tasks });
        for (const task of tasks) await expect(store.tasks.get(task.id)).resolves.toEqual(task);
      });

      it('stores large payloads and large batches', async () => {
        const big = sampleTask('big', {
          inputData: {
            text: 'x'.repeat(1_000_000),
            items: Array.from({ length: 10_000 }, (_, i) => ({ i, s: `item ${i}` })),
          },
        });
        const many = Array.from({ length: 2_500 }, (_, i) => sampleTask(`bulk-${i}`, { priority: i % 7 }));
        await store.commit({ tasks: [big, ...many] });
        await expect(store.tasks.get('big')).resolves.toEqual(big);
        await expect(store.tasks.count()).resolves.toBe(2_501);
        await expect(store.tasks.count({ priority: 3 })).resolves.toBe(
          many.filter((t) => t.priority === 3).length,
        );
      });
    });

    if (options.reopen) {
      const reopen = options.reopen;
      describe('durability', () => {
        it('keeps every committed row and completion record after close and reopen', async () => {
          const task = sampleTask('t1', {
            inputData: pollutingPayload(),
            status: 'COMPLETED',
            finishedAt: T0 + 9,
          });
          await store.commit({
            tasks: [task],
            workflows: [sampleWorkflow('w1', { paused: true })],
            agentConfigs: [sampleAgentConfig('a1')],
            completions: [{ taskId: 't1', executionId: 'e1', attempt: 1, completedAt: T0 + 9 }],
          });
          await store.close();
          store = await reopen(store);
          await store.open();
          await expect(store.tasks.get('t1')).resolves.toEqual(task);
          await expect(store.workflows.get('w1')).resolves.toEqual(sampleWorkflow('w1', { paused: true }));
          await expect(store.agentConfigs.get('a1')).resolves.toEqual(sampleAgentConfig('a1'));
          await expect(store.completions()).resolves.toHaveLength(1);
          await store.commit({
            completions: [{ taskId: 't1', executionId: 'e2', attempt: 2, completedAt: T0 + 10 }],
          });
          expect((await store.completions('t1'))[0]?.executionId).toBe('e1');
        });
      });
    }
  });
}
