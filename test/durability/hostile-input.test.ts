import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_DEPTH, MemoryStore, SymphonyError } from '../../src/index.js';
import { describeEveryStore, useEngines } from './backends.js';

// Payloads that cannot be stored faithfully (issue 10, items 5 and 6; issue 9): refused with a
// typed error before anything is written, on every store, and never retried as agent outputs.

const circular: Record<string, unknown> = { a: 1 };
circular.self = circular;

/** `{ a: { a: ... 1 } }` with `levels` objects. */
function nested(levels: number): Record<string, unknown> {
  let value: unknown = 1;
  for (let i = 0; i < levels; i += 1) value = { a: value };
  return value as Record<string, unknown>;
}

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

const trap = (): never => {
  throw new Error('trap fired');
};

/** What cannot be stored, with the words the message must use (issue 9: grammar). */
const unfaithful: Array<[string, unknown, string]> = [
  ['a BigInt', { n: 10n }, '.n is a bigint'],
  ['a circular object', circular, '.self is circular'],
  ['a function', { f: () => 1 }, '.f is a function'],
  ['a Map', { m: new Map([[1, 2]]) }, '.m is an object of class Map'],
  ['NaN', { x: Number.NaN }, '.x is NaN'],
  ['Infinity', { x: [1, Infinity] }, '.x[1] is Infinity'],
  ['a Date', { when: new Date(0) }, '.when is an object of class Date'],
  ['a Symbol', { s: Symbol('x') }, '.s is a symbol'],
  ['2,000 levels of nesting', nested(2_000), `is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`],
  [`${MAX_PAYLOAD_DEPTH + 1} levels of nesting`, nested(MAX_PAYLOAD_DEPTH + 1), 'is nested deeper'],
  [
    'an array nested 5,000 levels deep',
    { list: JSON.parse(`${'['.repeat(5_000)}${']'.repeat(5_000)}`) },
    'is nested deeper',
  ],
  [
    'a getter that throws',
    {
      get broken() {
        throw new Error('getter says no');
      },
    },
    '.broken could not be read (Error: getter says no)',
  ],
  [
    'a Proxy whose get trap throws',
    { p: new Proxy({ x: 1 }, { get: trap }) },
    'could not be read (Error: trap fired)',
  ],
  ['a Proxy whose ownKeys trap throws', { p: new Proxy({}, { ownKeys: trap }) }, '.p could not be read'],
  [
    'a Proxy whose getPrototypeOf trap throws',
    { p: new Proxy({}, { getPrototypeOf: trap }) },
    '.p could not be read (Error: trap fired)',
  ],
  ['a revoked Proxy', { p: revoked() }, '.p could not be read (TypeError'],
];

const engine = useEngines();

describeEveryStore('hostile and broken payloads', (backend) => {
  it.each(unfaithful)(
    'rejects inputData holding %s with INPUT_NOT_SERIALIZABLE and writes nothing',
    async (_, inputData, words) => {
      const { store } = backend();
      const tasks = engine(store).getTaskManager();
      const error = await tasks
        .createTask({ name: 'bad', inputData: inputData as Record<string, unknown> })
        .catch((e: unknown) => e);
      expect(SymphonyError.isInstance(error)).toBe(true);
      expect((error as SymphonyError).code).toBe('INPUT_NOT_SERIALIZABLE');
      expect((error as SymphonyError).retryable).toBe(false);
      expect((error as Error).message).toContain(words);
      expect((error as Error).message).toMatch(/^Expected inputData to be plain JSON data, but inputData/);
      expect(await store.tasks.count()).toBe(0);
    },
  );

  it.each(unfaithful)(
    'fails an agent output holding %s with OUTPUT_NOT_SERIALIZABLE, not retried, output not stored',
    async (_, output, words) => {
      const { store } = backend();
      const registry = engine(store, { retry: { maxAttempts: 3 } });
      const task = await registry.getTaskManager().createTask({ name: 'ok' });
      const result = await registry
        .getEnhancedExecutor()
        .executeTask(task.id, { id: 'a', execute: async () => output });
      expect(result.status).toBe('FAILED');
      expect(result.error?.code).toBe('OUTPUT_NOT_SERIALIZABLE');
      expect(result.error?.message).toMatch(/^Expected output to be plain JSON data, but output/);
      expect(result.error?.message).toContain(words);
      expect(result.attempts).toBe(1);
      const stored = await store.tasks.get(task.id);
      expect(stored?.status).toBe('FAILED');
      expect(stored?.outputData).toBeNull();
      expect(await store.completions(task.id)).toEqual([]);
    },
  );

  it('refuses every other payload the engine stores the same way: task, workflow, agent config and execution metadata', async () => {
    const { store } = backend();
    const registry = engine(store);
    const deep = nested(2_000);
    const hostile = { p: revoked() };
    const codes = async (call: () => Promise<unknown>) =>
      call().then(
        () => 'resolved',
        (e: { code?: string; name?: string }) => e.code ?? `raw ${e.name}`,
      );
    for (const metadata of [deep, hostile]) {
      expect(await codes(() => registry.getTaskManager().createTask({ name: 't', metadata }))).toBe(
        'INPUT_NOT_SERIALIZABLE',
      );
      expect(await codes(() => registry.getWorkflowTracker().createWorkflow({ name: 'w', metadata }))).toBe(
        'INPUT_NOT_SERIALIZABLE',
      );
      expect(
        await codes(() => registry.getAgentFactory().createAgentConfig({ name: 'a', type: 'x', metadata })),
      ).toBe('INPUT_NOT_SERIALIZABLE');
    }
    expect(await store.tasks.count()).toBe(0);
    expect(await store.workflows.count()).toBe(0);
    expect(await store.agentConfigs.count()).toBe(0);

    const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'w', metadata: { keep: 1 } });
    for (const patch of [deep, hostile, { n: 1n }]) {
      expect(
        await codes(() => registry.getWorkflowTracker().updateWorkflowMetadata(workflow.id, patch)),
      ).toBe('INPUT_NOT_SERIALIZABLE');
    }
    expect((await store.workflows.get(workflow.id))?.metadata).toEqual({ keep: 1 });

    // The metadata of executeTask lives in the task's execution plan while it runs.
    const task = await registry.getTaskManager().createTask({ name: 't' });
    const agent = { id: 'a', execute: async () => 'done' };
    for (const metadata of [deep, hostile, { n: 1n }]) {
      expect(
        await codes(() => registry.getEnhancedExecutor().executeTask(task.id, agent, null, { metadata })),
      ).toBe('INPUT_NOT_SERIALIZABLE');
    }
    expect((await store.tasks.get(task.id))?.status).toBe('PENDING');
    expect((await registry.getEnhancedExecutor().executeTask(task.id, agent)).status).toBe('COMPLETED');
  });

  it(`accepts nesting of exactly ${MAX_PAYLOAD_DEPTH} levels and stores it unchanged`, async () => {
    const { store, reopen } = backend();
    const registry = engine(store);
    const deepest = nested(MAX_PAYLOAD_DEPTH);
    const task = await registry.getTaskManager().createTask({ name: 'deep', inputData: deepest });
    const result = await registry
      .getEnhancedExecutor()
      .executeTask(task.id, { id: 'a', execute: async (t) => t.inputData });
    expect(result.status).toBe('COMPLETED');
    const other = reopen();
    await other.open();
    const stored = await other.tasks.get(task.id);
    expect(stored?.inputData).toEqual(deepest);
    expect(stored?.outputData).toEqual(deepest);
    if (other !== store) await other.close();
  });

  it('drops undefined properties, turns undefined in arrays into null and a top-level undefined into null (issue 9)', async () => {
    const { store, reopen } = backend();
    const registry = engine(store);
    const tasks = registry.getTaskManager();
    const executor = registry.getEnhancedExecutor();
    const task = await tasks.createTask({
      name: 'u',
      inputData: { query: 'q', gone: undefined, list: [1, undefined, 3] },
      metadata: { gone: undefined },
    });
    expect(task.inputData).toEqual({ query: 'q', list: [1, null, 3] });
    expect(Object.keys(task.inputData)).toEqual(['query', 'list']);
    const echoed = await executor.executeTask(task.id, {
      id: 'echo',
      execute: async (t) => ({ echoed: undefined, query: t.inputData.query, sparse: [, 2] }), // eslint-disable-line no-sparse-arrays
    });
    expect(echoed.status).toBe('COMPLETED');
    expect(echoed.output).toEqual({ query: 'q', sparse: [null, 2] });
    const nothing = await tasks.createTask({ name: 'v' });
    const none = await executor.executeTask(nothing.id, { id: 'void', execute: async () => undefined });
    expect(none.status).toBe('COMPLETED');
    expect(none.output).toBeNull();
    const other = reopen();
    await other.open();
    const stored = await other.tasks.get(task.id);
    expect(stored?.inputData).toEqual({ query: 'q', list: [1, null, 3] });
    expect(stored?.metadata).toEqual({});
    expect(JSON.stringify(stored?.outputData)).toBe('{"query":"q","sparse":[null,2]}');
    expect((await other.tasks.get(nothing.id))?.outputData).toBeNull();
    if (other !== store) await other.close();
    const workflows = registry.getWorkflowTracker();
    const workflow = await workflows.createWorkflow({ name: 'w', metadata: { keep: 1, drop: 2 } });
    const updated = await workflows.updateWorkflowMetadata(workflow.id, {
      drop: undefined,
      add: [undefined],
    });
    expect(updated.metadata).toEqual({ keep: 1, add: [null] });
    expect((await store.workflows.get(workflow.id))?.metadata).toEqual({ keep: 1, add: [null] });
  });

  it('reads a benign Proxy or getters once and stores a plain copy that later changes cannot reach', async () => {
    const { store } = backend();
    const registry = engine(store);
    let reads = 0;
    const source = { text: 'original', nested: { n: 1 } };
    const inputData = new Proxy(source, {
      get(target, key, receiver) {
        reads += 1;
        return Reflect.get(target, key, receiver);
      },
    });
    const task = await registry.getTaskManager().createTask({ name: 'p', inputData });
    const readsAtCreate = reads;
    source.text = 'changed';
    source.nested.n = 2;
    expect(task.inputData).toEqual({ text: 'original', nested: { n: 1 } });
    expect((await store.tasks.get(task.id))?.inputData).toEqual({ text: 'original', nested: { n: 1 } });
    expect(reads).toBe(readsAtCreate);
    const output = { counter: 0 };
    const result = await registry.getEnhancedExecutor().executeTask(task.id, {
      id: 'a',
      execute: async () =>
        new Proxy(output, {
          get: (target, key) => (key === 'counter' ? ++target.counter : undefined),
        }),
    });
    expect(result.output).toEqual({ counter: 1 });
    expect((await store.tasks.get(task.id))?.outputData).toEqual({ counter: 1 });
  });

  it('refuses a huge sparse array or string by its length, before walking or stringifying it', async () => {
    const { store } = backend();
    const registry = engine(store, { maxPayloadBytes: 1_000 });
    const error = await registry
      .getTaskManager()
      .createTask({ name: 'sparse', inputData: { list: new Array(2 ** 32 - 1) } })
      .catch((e: unknown) => e);
    expect((error as SymphonyError).code).toBe('PAYLOAD_TOO_LARGE');
    expect((error as Error).message).toContain('got at least');
    // Several arrays, each small enough alone, and a long string count together.
    const parts = { a: new Array(400), b: new Array(400), c: new Array(400) };
    const more = await registry
      .getTaskManager()
      .createTask({ name: 'parts', inputData: parts })
      .catch((e: SymphonyError) => e.message);
    expect(more).toMatch(/^Expected inputData to be at most 1000 bytes as JSON, got at least \d+$/);
    const long = await registry
      .getTaskManager()
      .createTask({ name: 'long', inputData: { text: 'x'.repeat(50_000_000) } })
      .catch((e: SymphonyError) => e.message);
    expect(long).toBe('Expected inputData to be at most 1000 bytes as JSON, got at least 50000002');
    expect(await store.tasks.count()).toBe(0);
  });

  it('keeps __proto__, constructor and prototype keys as plain data through store and reload', async () => {
    const { store } = backend();
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
    expect(Object.keys(result.output as object)).toEqual(['__proto__', 'ok']);
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
    expect(Object.keys(reloaded!.outputData as object)).toEqual(['__proto__', 'ok']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('enforces the payload size cap before any write, with a non-retryable typed error', async () => {
    const { store } = backend();
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
    const { store } = backend();
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

describe('objects from another realm', () => {
  it('stores plain objects and arrays made in a node:vm context, and refuses its class instances', async () => {
    const store = new MemoryStore();
    const tasks = engine(store).getTaskManager();
    const foreign = runInNewContext('({ list: [1, { deep: true }], text: "x" })') as Record<string, unknown>;
    expect(Object.getPrototypeOf(foreign)).not.toBe(Object.prototype);
    const task = await tasks.createTask({ name: 'vm', inputData: foreign });
    expect(task.inputData).toEqual({ list: [1, { deep: true }], text: 'x' });
    expect(Object.getPrototypeOf(task.inputData)).toBe(Object.prototype);
    const dated = runInNewContext('({ when: new Date(0) })') as Record<string, unknown>;
    const error = await tasks.createTask({ name: 'vm', inputData: dated }).catch((e: Error) => e.message);
    expect(error).toContain('inputData.when is an object of class Date');
  });
});

describe('hostile arguments', () => {
  it('turns a createTask input whose getter throws into INVALID_ARGUMENT and stores nothing', async () => {
    const store = new MemoryStore();
    const registry = engine(store);
    const inputs: unknown[] = [
      {
        get name(): string {
          throw new Error('no name for you');
        },
      },
      new Proxy({ name: 'x' }, { ownKeys: trap }),
      revoked(),
    ];
    for (const input of inputs) {
      const error = await registry
        .getTaskManager()
        .createTask(input as { name: string })
        .catch((e: unknown) => e);
      expect(SymphonyError.isInstance(error)).toBe(true);
      expect((error as SymphonyError).code).toBe('INVALID_ARGUMENT');
    }
    const tags = new Proxy(['a'], { get: trap });
    expect(
      await registry
        .getTaskManager()
        .createTask({ name: 'tags', tags })
        .catch((e: SymphonyError) => e.code),
    ).toBe('INVALID_ARGUMENT');
    expect(
      await registry
        .getTaskManager()
        .createTask({ name: 'revoked', inputData: revoked() as Record<string, unknown> })
        .catch((e: SymphonyError) => e.code),
    ).toBe('INPUT_NOT_SERIALIZABLE');
    const options = new Proxy({}, { ownKeys: trap });
    const task = await registry.getTaskManager().createTask({ name: 'ok' });
    const error = await registry
      .getEnhancedExecutor()
      .executeTask(task.id, { id: 'a', execute: async () => 1 }, null, options)
      .catch((e: unknown) => e);
    expect((error as SymphonyError).code).toBe('INVALID_ARGUMENT');
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
