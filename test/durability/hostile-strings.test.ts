import { expect, it } from 'vitest';
import { ServiceRegistry, SymphonyError } from '../../src/index.js';
import { describeEveryStore, useEngines } from './backends.js';

// Issue 10, item 7: a name or id with a lone surrogate came back as U+FFFD on SQLite and
// PostgreSQL (differently on each), and a task whose generated id held one could not be found.
// Names and ids (text columns) must be well-formed and free of NUL on every store; strings inside
// payloads (JSON) are kept exactly as given, whatever they hold.

/** Strings no text column keeps alike on every store. */
const unstorable: Array<[string, string]> = [
  ['a lone high surrogate', 'x\uD800y'],
  ['a lone low surrogate', 'x\uDC00y'],
  ['a reversed surrogate pair', '\uDC00\uD800'],
  ['a high surrogate at the end', 'id\uD83D'],
  ['a NUL character', 'a\u0000b'],
];

/** Well-formed but awkward strings, which every store must keep as they are. */
const awkward: string[] = [
  '🚀 astral \u{1F600}\u{10FFFF}',
  'noncharacters \uFFFE \uFFFF \uFDD0',
  'separators \u2028 \u2029 \u0085',
  'bom \uFEFF and replacement \uFFFD',
  'combining e\u0301 and rtl \u202E',
  'controls \u0001\u001F\u007F',
  'escapes \\u0000 \\ud800 "quoted"',
];

/** Strings for payloads: everything above, lone surrogates and NUL included. */
const payloadStrings: string[] = [...unstorable.map(([, text]) => text), ...awkward, 'plain', ''];

const engine = useEngines();

async function codeOf(call: () => Promise<unknown>): Promise<string> {
  return call().then(
    () => 'resolved',
    (error: unknown) => (SymphonyError.isInstance(error) ? error.code : `raw ${String(error)}`),
  );
}

describeEveryStore('hostile strings', (backend) => {
  it.each(unstorable)(
    'refuses %s in names, descriptions and ids with INVALID_ARGUMENT, storing nothing',
    async (_, text) => {
      const { store } = backend();
      const registry = engine(store);
      const tasks = registry.getTaskManager();
      const workflows = registry.getWorkflowTracker();
      const agents = registry.getAgentFactory();
      const refusals = [
        () => tasks.createTask({ name: text }),
        () => tasks.createTask({ name: 'ok', description: text }),
        () => tasks.createTask({ name: 'ok', idempotencyKey: text }),
        () => tasks.createTask({ name: 'ok', workflowId: text }),
        () => workflows.createWorkflow({ name: text }),
        () => workflows.createWorkflow({ name: 'ok', description: text }),
        () => agents.createAgentConfig({ name: text, type: 'echo' }),
        () => agents.createAgentConfig({ name: 'ok', type: text }),
        () => agents.createAgentConfig({ name: 'ok', type: 'echo', description: text }),
        () => tasks.getTask(text),
        () => workflows.getWorkflow(text),
      ];
      for (const call of refusals) expect(await codeOf(call)).toBe('INVALID_ARGUMENT');
      expect(() => agents.registerAgentType(text, () => ({ execute: async () => 1 }))).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
      const task = await tasks.createTask({ name: 'runs' });
      const agent = { id: text, execute: async () => 'never' };
      expect(await codeOf(() => registry.getEnhancedExecutor().executeTask(task.id, agent))).toBe(
        'INVALID_ARGUMENT',
      );
      expect(await store.tasks.count()).toBe(1);
      expect((await store.tasks.get(task.id))?.status).toBe('PENDING');
      expect(await store.workflows.count()).toBe(0);
      expect(await store.agentConfigs.count()).toBe(0);
    },
  );

  it('says what is wrong with the name and where', async () => {
    const { store } = backend();
    const error = (await engine(store)
      .getTaskManager()
      .createTask({ name: 'x\uD800y' })
      .catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(
      'Expected `name` to be a string of well-formed Unicode without NUL characters, got "x\\ud800y", which holds a lone surrogate (ill-formed UTF-16) at index 1',
    );
  });

  it('refuses an id generator that makes an id no store can keep, before anything is stored', async () => {
    const { store } = backend();
    const ids = ['id\uD800-2', 'a\u0000b', '', 'x'.repeat(257)];
    let next = 0;
    const registry = engine(store, { idGenerator: () => ids[next++ % ids.length]! });
    for (let i = 0; i < ids.length; i += 1) {
      expect(await codeOf(() => registry.getTaskManager().createTask({ name: 't' }))).toBe(
        'INVALID_ARGUMENT',
      );
    }
    expect(await codeOf(() => registry.getWorkflowTracker().createWorkflow({ name: 'w' }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(() => registry.getAgentFactory().createAgentConfig({ name: 'a', type: 't' }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await store.tasks.count()).toBe(0);
    expect(await store.workflows.count()).toBe(0);
    expect(await store.agentConfigs.count()).toBe(0);
  });

  it('refuses an engine id no store can keep', () => {
    const { store } = backend();
    expect(() => new ServiceRegistry({ store, engineId: 'engine\uD800' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('keeps well-formed awkward names and ids exactly, and finds them by name', async () => {
    const { store, reopen } = backend();
    let next = 0;
    const registry = engine(store, { idGenerator: () => awkward[next++]! });
    const created = [];
    for (const text of awkward.slice(0, 4)) {
      created.push(
        await registry.getTaskManager().createTask({ name: text, description: text, idempotencyKey: text }),
      );
    }
    const workflow = await registry
      .getWorkflowTracker()
      .createWorkflow({ name: awkward[4]!, description: awkward[5]! });
    const other = reopen();
    await other.open();
    for (const task of created) {
      const stored = await other.tasks.get(task.id);
      expect(stored).toMatchObject({
        id: task.id,
        name: task.name,
        description: task.name,
        idempotencyKey: task.name,
      });
      expect((await other.tasks.find({ where: { name: task.name } })).map((t) => t.id)).toEqual([task.id]);
      expect((await registry.getTaskManager().getTask(task.id)).name).toBe(task.name);
    }
    expect(await other.workflows.get(workflow.id)).toMatchObject({
      name: awkward[4],
      description: awkward[5],
    });
    if (other !== store) await other.close();
  });

  it('keeps every string inside payloads, keys and values, lone surrogates and NUL included, exactly as given', async () => {
    const { store, reopen } = backend();
    const registry = engine(store);
    const payload: Record<string, unknown> = {
      values: payloadStrings,
      keys: Object.fromEntries(payloadStrings.map((text, i) => [text, i])),
      nested: { deeper: [{ text: payloadStrings[0] }] },
    };
    const task = await registry
      .getTaskManager()
      .createTask({ name: 'payload', inputData: payload, metadata: payload, tags: payloadStrings });
    const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'w', metadata: payload });
    const config = await registry
      .getAgentFactory()
      .createAgentConfig({ name: 'a', type: 'echo', metadata: payload, capabilities: payloadStrings });
    const result = await registry
      .getEnhancedExecutor()
      .executeTask(task.id, { id: 'echo', execute: async (t) => ({ echoed: t.inputData }) });
    expect(result.status).toBe('COMPLETED');
    const failing = await registry.getTaskManager().createTask({ name: 'fails' });
    const message = payloadStrings.join('|');
    await registry.getEnhancedExecutor().executeTask(failing.id, {
      id: 'thrower',
      execute: async () => {
        throw Object.assign(new Error(message), { code: 'E\uD800' });
      },
    });

    const other = reopen();
    await other.open();
    const stored = await other.tasks.get(task.id);
    expect(stored?.inputData).toStrictEqual(payload);
    expect(stored?.metadata).toStrictEqual(payload);
    expect(stored?.tags).toStrictEqual(payloadStrings);
    expect(stored?.outputData).toStrictEqual({ echoed: payload });
    expect((await other.workflows.get(workflow.id))?.metadata).toStrictEqual(payload);
    const storedConfig = await other.agentConfigs.get(config.id);
    expect(storedConfig?.metadata).toStrictEqual(payload);
    expect(storedConfig?.capabilities).toStrictEqual(payloadStrings);
    const [error] = (await other.tasks.get(failing.id))!.errors;
    expect(error?.message).toBe(message);
    expect(error?.code).toBe('E\uD800');
    if (other !== store) await other.close();
  });

  it('stores -0 as 0 on every store', async () => {
    const { store, reopen } = backend();
    const registry = engine(store);
    const task = await registry
      .getTaskManager()
      .createTask({ name: 'zero', inputData: { z: -0, list: [-0] } });
    expect(Object.is(task.inputData.z, 0)).toBe(true);
    const other = reopen();
    await other.open();
    const stored = await other.tasks.get(task.id);
    expect(Object.is(stored?.inputData.z, 0)).toBe(true);
    expect(Object.is((stored?.inputData.list as number[])[0], 0)).toBe(true);
    if (other !== store) await other.close();
  });
});
