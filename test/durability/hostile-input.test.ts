import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, SymphonyError, type Store } from '../../src/index.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';

const stores: Array<[string, () => Store]> = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), 'symphony-hostile-')), 'h.db') })],
];

const circular: Record<string, unknown> = { a: 1 };
circular.self = circular;

const unfaithful: Array<[string, unknown]> = [
  ['a BigInt', { n: 10n }],
  ['a circular object', circular],
  ['a function', { f: () => 1 }],
  ['a Map', { m: new Map([[1, 2]]) }],
  ['NaN', { x: Number.NaN }],
  ['Infinity', { x: [1, Infinity] }],
  ['a Date', { when: new Date(0) }],
  ['a Symbol', { s: Symbol('x') }],
  ['undefined', { u: undefined }],
];

let registries: ServiceRegistry[] = [];
afterEach(async () => {
  await Promise.all(registries.map((registry) => registry.stop()));
  registries = [];
});

function engine(store: Store, options: ConstructorParameters<typeof ServiceRegistry>[0] = {}) {
  const registry = new ServiceRegistry({ store, retry: { maxAttempts: 1 }, ...options });
  registries.push(registry);
  return registry;
}

describe.each(stores)('hostile and broken input (%s store)', (_name, makeStore) => {
  it.each(unfaithful)(
    'rejects inputData holding %s with INPUT_NOT_SERIALIZABLE and writes nothing',
    async (_, inputData) => {
      const store = makeStore();
      const tasks = engine(store).getTaskManager();
      const error = await tasks
        .createTask({ name: 'bad', inputData: inputData as Record<string, unknown> })
        .catch((e) => e);
      expect(SymphonyError.isInstance(error)).toBe(true);
      expect(error.code).toBe('INPUT_NOT_SERIALIZABLE');
      expect(await store.tasks.count()).toBe(0);
    },
  );

  it.each(unfaithful)(
    'fails an agent output holding %s with OUTPUT_NOT_SERIALIZABLE, not retried',
    async (_, output) => {
      const store = makeStore();
      const registry = engine(store, { retry: { maxAttempts: 3 } });
      const task = await registry.getTaskManager().createTask({ name: 'ok' });
      const result = await registry
        .getEnhancedExecutor()
        .executeTask(task.id, { id: 'a', execute: async () => output });
      expect(result.status).toBe('FAILED');
      expect(result.error?.code).toBe('OUTPUT_NOT_SERIALIZABLE');
      expect(result.attempts).toBe(1);
      const stored = await store.tasks.get(task.id);
      expect(stored?.status).toBe('FAILED');
      expect(stored?.outputData).toBeNull();
    },
  );

  it('keeps __proto__, constructor and prototype keys as plain data through store and reload', async () => {
    const store = makeStore();
    const registry = engine(store);
    const hostile = JSON.parse(
      '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "prototype": 1}',
    );
    const task = await registry
      .getTaskManager()
      .createTask({ name: 'p', inputData: hostile, metadata: hostile });
    const result = await registry.getEnhancedExecutor().executeTask(task.id, {
      id: 'a',
      execute: async () => JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}'),
    });
    expect(result.status).toBe('COMPLETED');
    const failing = await registry.getTaskManager().createTask({ name: 'q' });
    await registry.getEnhancedExecutor().executeTask(failing.id, {
      id: 'b',
      execute: async () => {
        throw Object.assign(new Error('x'), JSON.parse('{"__proto__": {"polluted": true}}'));
      },
    });
    const reloaded = await store.tasks.get(task.id);
    expect(Object.keys(reloaded!.inputData).sort()).toEqual(['__proto__', 'constructor', 'prototype']);
    expect(Object.getPrototypeOf(reloaded!.inputData)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('enforces the payload size cap before any write, with a non-retryable typed error', async () => {
    const store = makeStore();
    const registry = engine(store, { maxPayloadBytes: 1_000, retry: { maxAttempts: 3 } });
    const error = await registry
      .getTaskManager()
      .createTask({ name: 'big', inputData: { text: 'x'.repeat(2_000) } })
      .catch((e) => e);
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.retryable).toBe(false);
    expect(await store.tasks.count()).toBe(0);
    const task = await registry.getTaskManager().createTask({ name: 'small' });
    const result = await registry
      .getEnhancedExecutor()
      .executeTask(task.id, { id: 'a', execute: async () => 'y'.repeat(5_000) });
    expect(result.error?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(result.attempts).toBe(1);
  });

  it('binds injection strings in ids and filters as plain values', async () => {
    const store = makeStore();
    const registry = engine(store);
    const nasty = `'; DROP TABLE tasks; -- " \\ %_`;
    const task = await registry.getTaskManager().createTask({ name: nasty, idempotencyKey: nasty });
    expect(
      await registry
        .getTaskManager()
        .getTask(nasty)
        .catch((e) => e.code),
    ).toBe('TASK_NOT_FOUND');
    expect((await store.tasks.find({ where: { name: nasty } })).map((t) => t.id)).toEqual([task.id]);
    expect((await registry.getTaskManager().createTask({ name: 'again', idempotencyKey: nasty })).id).toBe(
      task.id,
    );
    expect(await store.tasks.count()).toBe(1);
  });
});

describe('idempotency', () => {
  it('returns one task for concurrent createTask calls with the same key', async () => {
    const store = new MemoryStore();
    const tasks = engine(store).getTaskManager();
    const created = await Promise.all(
      Array.from({ length: 10 }, () => tasks.createTask({ name: 'once', idempotencyKey: 'same-key' })),
    );
    expect(new Set(created.map((task) => task.id)).size).toBe(1);
    expect(await store.tasks.count()).toBe(1);
  });
});
