import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APICallError } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { afterEach, describe, expect, it } from 'vitest';
import { createAiSdkAgent, defaultPrompt, type AiSdkAgentOutput } from '../../src/ai/index.js';
import type { Task } from '../../src/index.js';
import { advance, createTestRegistry, flushEngine, type TestRegistry } from '../../src/testing/index.js';

// Issue #4: any Vercel AI SDK model as a Symphony agent, tested with the SDK's own mock model.

type GenerateResult = Awaited<ReturnType<MockLanguageModelV3['doGenerate']>>;
type CallOptions = MockLanguageModelV3['doGenerateCalls'][number];

function reply(text: string, input = 12, output = 5): GenerateResult {
  return {
    content: [{ type: 'text', text }],
    finishReason: { unified: 'stop', raw: 'stop' },
    usage: {
      inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: output, text: output, reasoning: undefined },
    },
    response: { modelId: 'mock-model-1' },
    warnings: [],
  };
}

/** The text of every message the model was sent, role by role. */
function promptOf(call: CallOptions): { role: string; text: string }[] {
  return call.prompt.map((message) => ({
    role: message.role,
    text:
      typeof message.content === 'string'
        ? message.content
        : message.content.map((part) => ('text' in part ? part.text : '')).join(''),
  }));
}

/** A model whose call waits until its AbortSignal fires, then rejects with the signal's reason. */
function waitingModel() {
  const signals: AbortSignal[] = [];
  const model = new MockLanguageModelV3({
    doGenerate: ({ abortSignal }) =>
      new Promise<GenerateResult>((_, reject) => {
        if (!abortSignal) return reject(new Error('no abortSignal was passed'));
        signals.push(abortSignal);
        if (abortSignal.aborted) return reject(abortSignal.reason);
        abortSignal.addEventListener('abort', () => reject(abortSignal.reason), { once: true });
      }),
  });
  return { model, signals };
}

const kits: TestRegistry[] = [];
function kit(options: Parameters<typeof createTestRegistry>[0] = {}): TestRegistry {
  const created = createTestRegistry(options);
  kits.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(kits.splice(0).map((k) => k.stop()));
});

describe('createAiSdkAgent', () => {
  it('answers a task with the model text; usage lands in outputData and in context.metadata.usage', async () => {
    const { taskManager, executor } = kit();
    const model = new MockLanguageModelV3({ doGenerate: reply('Paris.') });
    const agent = createAiSdkAgent({ id: 'geographer', model, system: 'Answer in one word.' });
    const seenByHook: unknown[] = [];
    await executor.addPostHook((_outcome, context) => void seenByHook.push(context.metadata.usage));
    const task = await taskManager.createTask({
      name: 'Capital',
      description: 'Name a capital city.',
      inputData: { query: 'What is the capital of France?', country: 'FR' },
    });

    const result = await executor.executeTask(task.id, agent);

    const usage = {
      inputTokens: 12,
      outputTokens: 5,
      totalTokens: 17,
      reasoningTokens: null,
      cachedInputTokens: null,
    };
    expect(result).toMatchObject({ status: 'COMPLETED', agentId: 'geographer', attempts: 1 });
    expect(result.output).toEqual({ text: 'Paris.', usage, finishReason: 'stop', modelId: 'mock-model-1' });
    expect((await taskManager.getTask(task.id)).outputData).toEqual(result.output);
    expect(seenByHook).toEqual([usage]);
    expect(result.metadata.usage).toEqual(usage);

    expect(model.doGenerateCalls).toHaveLength(1);
    const [system, user] = promptOf(model.doGenerateCalls[0]!);
    expect(system).toEqual({ role: 'system', text: 'Answer in one word.' });
    expect(user!.role).toBe('user');
    expect(user!.text).toContain('Task: Capital');
    expect(user!.text).toContain('Name a capital city.');
    expect(user!.text).toContain('What is the capital of France?');
    expect(user!.text).toContain('"country": "FR"');
  });

  it('uses buildPrompt, maxOutputTokens and extra generateText settings', async () => {
    const { taskManager, executor } = kit();
    const model = new MockLanguageModelV3({ doGenerate: reply('ok') });
    const agent = createAiSdkAgent({
      id: 'custom',
      model,
      buildPrompt: (task, context) => `${task.name} (attempt ${context.attempt})`,
      maxOutputTokens: 64,
      settings: { temperature: 0.2 },
    });
    const task = await taskManager.createTask({ name: 'Summarise' });
    await executor.executeTask(task.id, agent);
    const call = model.doGenerateCalls[0]!;
    expect(promptOf(call)).toEqual([{ role: 'user', text: 'Summarise (attempt 1)' }]);
    expect(call.maxOutputTokens).toBe(64);
    expect(call.temperature).toBe(0.2);
  });

  it('passes the attempt AbortSignal through: a timeout aborts the model call', async () => {
    const { taskManager, executor, clock } = kit();
    const { model, signals } = waitingModel();
    const task = await taskManager.createTask({ name: 'slow' });
    const pending = executor.executeTask(task.id, createAiSdkAgent({ id: 'slow', model }), null, {
      timeoutMs: 1_000,
      retry: { maxAttempts: 1 },
    });
    await flushEngine();
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(false);

    await advance(clock, 1_000);
    const result = await pending;
    expect(signals[0]!.aborted).toBe(true);
    expect(result.status).toBe('FAILED');
    expect(result.error).toMatchObject({ code: 'EXECUTION_TIMEOUT' });
  });

  it('passes the attempt AbortSignal through: cancelling the task aborts the model call', async () => {
    const { taskManager, executor } = kit();
    const { model, signals } = waitingModel();
    const task = await taskManager.createTask({ name: 'slow' });
    const pending = executor.executeTask(task.id, createAiSdkAgent({ id: 'slow', model }));
    await flushEngine();
    await taskManager.cancelTask(task.id);
    const result = await pending;
    expect(signals[0]!.aborted).toBe(true);
    expect(result.status).toBe('CANCELLED');
  });

  it('turns a model error into a FAILED result, retried by the policy', async () => {
    const { taskManager, executor, clock } = kit();
    const model = new MockLanguageModelV3({
      doGenerate: async () => {
        throw new Error('upstream overloaded');
      },
    });
    const task = await taskManager.createTask({ name: 'flaky' });
    const pending = executor.executeTask(task.id, createAiSdkAgent({ id: 'flaky', model }), null, {
      retry: { maxAttempts: 2, initialDelayMs: 10, jitter: 0 },
    });
    await flushEngine();
    await advance(clock, 10);
    const result = await pending;
    expect(result.status).toBe('FAILED');
    expect(result.attempts).toBe(2);
    expect(result.errors.map((error) => error.message)).toEqual([
      'upstream overloaded',
      'upstream overloaded',
    ]);
    expect(model.doGenerateCalls).toHaveLength(2);
  });

  it('does not retry an error the SDK marks as permanent (a 4xx)', async () => {
    const { taskManager, executor } = kit();
    const model = new MockLanguageModelV3({
      doGenerate: async () => {
        throw new APICallError({
          message: 'Invalid API key',
          url: 'https://example.invalid/v1/chat',
          requestBodyValues: {},
          statusCode: 401,
          isRetryable: false,
        });
      },
    });
    const task = await taskManager.createTask({ name: 'denied' });
    const result = await executor.executeTask(task.id, createAiSdkAgent({ id: 'denied', model }), null, {
      retry: { maxAttempts: 3 },
    });
    expect(result.status).toBe('FAILED');
    expect(result.attempts).toBe(1);
    expect(result.error).toMatchObject({
      name: 'ProviderError',
      code: 'PROVIDER_ERROR',
      retryable: false,
      details: { statusCode: 401, isRetryable: false },
    });
    expect(result.error!.message).toContain('Invalid API key');
  });

  it('reports usage as null where the provider gives none', async () => {
    const { taskManager, executor } = kit();
    const bare = reply('hi');
    bare.usage = {
      inputTokens: { total: undefined, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: undefined, text: undefined, reasoning: undefined },
    };
    const model = new MockLanguageModelV3({ doGenerate: bare });
    const task = await taskManager.createTask({ name: 'quiet' });
    const result = await executor.executeTask(task.id, createAiSdkAgent({ id: 'quiet', model }));
    expect((result.output as AiSdkAgentOutput).usage).toEqual({
      inputTokens: null,
      outputTokens: null,
      totalTokens: null,
      reasoningTokens: null,
      cachedInputTokens: null,
    });
  });

  it('rejects options without an id or a model', () => {
    const model = new MockLanguageModelV3();
    expect(() => createAiSdkAgent({ id: '', model })).toThrow(/`id`/);
    expect(() => createAiSdkAgent({ id: 'x', model: undefined as never })).toThrow(/`model`/);
    expect(createAiSdkAgent({ id: 'x', model, maxConcurrency: 2 })).toMatchObject({
      id: 'x',
      maxConcurrency: 2,
    });
  });
});

describe('defaultPrompt', () => {
  const task = (inputData: Record<string, unknown>, description = '') =>
    ({ name: 'Name', description, inputData }) as unknown as Task;

  it('puts a string query on its own and the rest of inputData as JSON', () => {
    expect(defaultPrompt(task({ query: 'Do it' }))).toBe('Task: Name\n\nDo it');
    expect(defaultPrompt(task({ n: 1 }, 'Desc'))).toBe('Task: Name\nDesc\n\nInput (JSON):\n{\n  "n": 1\n}');
    expect(defaultPrompt(task({ query: 42 }))).toContain('"query": 42');
  });
});

describe('the core does not depend on ai', () => {
  it('no file outside src/ai imports the ai package', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (path !== join(root, 'src/ai')) walk(path);
        } else if (
          entry.name.endsWith('.ts') &&
          /from ['"]ai(\/[^'"]*)?['"]/.test(readFileSync(path, 'utf8'))
        ) {
          offenders.push(relative(root, path));
        }
      }
    };
    walk(join(root, 'src'));
    walk(join(root, 'machines'));
    expect(offenders).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      dependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    expect(pkg.exports['./ai']).toEqual({
      types: './dist/src/ai/index.d.ts',
      default: './dist/src/ai/index.js',
    });
    expect(pkg.dependencies?.ai).toBeUndefined();
    expect(pkg.peerDependenciesMeta?.ai?.optional).toBe(true);
  });
});
