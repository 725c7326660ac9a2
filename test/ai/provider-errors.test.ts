import { APICallError, jsonSchema, stepCountIs, tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createAiSdkAgent,
  MAX_RESPONSE_BODY,
  ProviderError,
  taskTokenUsage,
  type AiSdkAgentOptions,
} from '../../src/ai/index.js';
import { retryAfterMsOf, redactUrl } from '../../src/ai/provider-error.js';
import { SymphonyError } from '../../src/index.js';
import { advance, createTestRegistry, flushEngine, type TestRegistry } from '../../src/testing/index.js';

// Issue #9: the AI SDK adapter dropped what the provider said (a 503 was recorded as `upstream 503`
// without statusCode, isRetryable, url or body), ignored `retry-after`, and recorded no token usage
// for failed attempts.

type GenerateResult = Awaited<ReturnType<MockLanguageModelV3['doGenerate']>>;

const usage = (input: number, output: number): GenerateResult['usage'] => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

const reply = (text: string): GenerateResult => ({
  content: [{ type: 'text', text }],
  finishReason: { unified: 'stop', raw: 'stop' },
  usage: usage(12, 5),
  warnings: [],
});

/** A step that asks for the `lookup` tool, with its own usage. */
const toolCall = (input: number, output: number): GenerateResult => ({
  content: [{ type: 'tool-call', toolCallId: 'call-1', toolName: 'lookup', input: '{}' }],
  finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
  usage: usage(input, output),
  warnings: [],
});

const lookup = tool({
  inputSchema: jsonSchema({ type: 'object', properties: {} }),
  execute: async () => 'found',
});

function apiError(statusCode: number, fields: Partial<ConstructorParameters<typeof APICallError>[0]> = {}) {
  return new APICallError({
    message: `upstream ${statusCode}`,
    url: 'https://api.example.invalid/v1/chat',
    requestBodyValues: { prompt: 'not kept' },
    statusCode,
    isRetryable: statusCode >= 500 || statusCode === 429,
    ...fields,
  });
}

/** A model whose calls answer in turn: an Error is thrown, a result is returned. */
function scriptedModel(...answers: Array<GenerateResult | Error>) {
  let call = 0;
  return new MockLanguageModelV3({
    doGenerate: async () => {
      const answer = answers[Math.min(call, answers.length - 1)]!;
      call += 1;
      if (answer instanceof Error) throw answer;
      return answer;
    },
  });
}

const kits: TestRegistry[] = [];
function kit(): TestRegistry {
  const created = createTestRegistry({ start: 1_000_000 });
  kits.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(kits.splice(0).map((k) => k.stop()));
});

async function run(
  model: MockLanguageModelV3,
  retry: Record<string, number>,
  extra: Partial<AiSdkAgentOptions> = {},
) {
  const k = kit();
  const task = await k.taskManager.createTask({ name: 'ask' });
  const agent = createAiSdkAgent({ id: 'llm', model, ...extra });
  const done = k.executor.executeTask(task.id, agent, null, { retry: { jitter: 0, ...retry } });
  return { k, task, done };
}

describe('a provider error keeps what the provider said', () => {
  it('records statusCode, isRetryable, url, the body and the request id in the attempt error', async () => {
    const model = scriptedModel(
      apiError(503, {
        responseBody: '{"error":{"message":"overloaded"}}',
        responseHeaders: { 'x-request-id': 'req-42', 'content-type': 'application/json' },
      }),
    );
    const { k, task, done } = await run(model, { maxAttempts: 1 });
    const result = await done;
    expect(result.status).toBe('FAILED');
    const details = {
      providerError: 'AI_APICallError',
      statusCode: 503,
      isRetryable: true,
      url: 'https://api.example.invalid/v1/chat',
      responseBody: '{"error":{"message":"overloaded"}}',
      requestId: 'req-42',
    };
    expect(result.error).toMatchObject({
      name: 'ProviderError',
      code: 'PROVIDER_ERROR',
      message: 'The provider answered 503: upstream 503',
      details,
    });
    // As stored, not only in the result.
    expect((await k.taskManager.getTask(task.id)).errors[0]!.details).toEqual(details);
  });

  it('caps the response body and hides credentials in the url', async () => {
    const body = 'x'.repeat(10_000);
    const model = scriptedModel(
      apiError(500, {
        responseBody: body,
        url: 'https://h.invalid/v1/models/m:generate?key=SECRET&alt=json',
      }),
    );
    const { done } = await run(model, { maxAttempts: 1 });
    const details = (await done).error!.details!;
    expect(details.responseBody).toBe(
      `${'x'.repeat(MAX_RESPONSE_BODY)}... (${10_000 - MAX_RESPONSE_BODY} more characters)`,
    );
    expect(details.url).toBe('https://h.invalid/v1/models/m:generate?key=***&alt=json');
    expect(JSON.stringify(details)).not.toContain('SECRET');
    expect(redactUrl('https://user:pw@h.invalid/x?access_token=t&q=1')).toBe(
      'https://***:***@h.invalid/x?access_token=***&q=1',
    );
  });

  it('does not retry when the SDK says isRetryable: false, even on a 5xx', async () => {
    const model = scriptedModel(apiError(501, { isRetryable: false }), reply('never'));
    const { done } = await run(model, { maxAttempts: 3 });
    const result = await done;
    expect(result).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(result.error).toMatchObject({
      retryable: false,
      details: { statusCode: 501, isRetryable: false },
    });
    expect(model.doGenerateCalls).toHaveLength(1);
  });

  it('retries when isRetryable is true, even on a 4xx (a 409 conflict)', async () => {
    const model = scriptedModel(apiError(409, { isRetryable: true }), reply('ok'));
    const { k, done } = await run(model, { maxAttempts: 2, initialDelayMs: 10 });
    await advance(k.clock, 10);
    expect(await done).toMatchObject({ status: 'COMPLETED', attempts: 2 });
  });

  it('unwraps the SDK RetryError when the SDK retried inside the attempt (maxRetries > 0)', async () => {
    const model = scriptedModel(apiError(400, { isRetryable: false }));
    const { done } = await run(model, { maxAttempts: 2 }, { maxRetries: 2 });
    expect((await done).error).toMatchObject({ code: 'PROVIDER_ERROR', details: { statusCode: 400 } });
  });

  it('is a SymphonyError with retryable from isRetryable and retryAfterMs', () => {
    const error = new ProviderError('x', {
      providerError: 'AI_APICallError',
      statusCode: 429,
      isRetryable: true,
      url: 'u',
      retryAfterMs: 5,
    });
    expect(SymphonyError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'PROVIDER_ERROR', retryable: true, retryAfterMs: 5 });
  });
});

describe('retry-after sets the next retry delay', () => {
  it('waits the seconds of retry-after instead of the policy backoff', async () => {
    const model = scriptedModel(apiError(429, { responseHeaders: { 'retry-after': '2' } }), reply('ok'));
    const { k, done } = await run(model, { maxAttempts: 2, initialDelayMs: 100 });
    await advance(k.clock, 1_999);
    expect(model.doGenerateCalls).toHaveLength(1);
    await advance(k.clock, 1);
    expect(model.doGenerateCalls).toHaveLength(2);
    const result = await done;
    expect(result.status).toBe('COMPLETED');
    expect(result.errors[0]!.details).toMatchObject({ statusCode: 429, retryAfterMs: 2_000 });
  });

  it('prefers retry-after-ms, and caps any wait at the policy maxDelayMs', async () => {
    const fast = scriptedModel(
      apiError(503, { responseHeaders: { 'retry-after-ms': '250.5' } }),
      reply('ok'),
    );
    const first = await run(fast, { maxAttempts: 2, initialDelayMs: 5_000 });
    await advance(first.k.clock, 250);
    expect(fast.doGenerateCalls).toHaveLength(1);
    await advance(first.k.clock, 1);
    expect(fast.doGenerateCalls).toHaveLength(2);
    expect((await first.done).status).toBe('COMPLETED');

    const slow = scriptedModel(apiError(503, { responseHeaders: { 'retry-after': '3600' } }), reply('ok'));
    const second = await run(slow, { maxAttempts: 2, maxDelayMs: 30_000 });
    await advance(second.k.clock, 29_999);
    expect(slow.doGenerateCalls).toHaveLength(1);
    await advance(second.k.clock, 1);
    expect(slow.doGenerateCalls).toHaveLength(2);
    expect((await second.done).status).toBe('COMPLETED');
  });

  it('reads an HTTP date against the `now` option', async () => {
    const now = () => Date.parse('2025-01-01T00:00:00Z');
    const model = scriptedModel(
      apiError(503, { responseHeaders: { 'Retry-After': 'Wed, 01 Jan 2025 00:00:07 GMT' } }),
      reply('ok'),
    );
    const { k, done } = await run(model, { maxAttempts: 2, initialDelayMs: 1 }, { now });
    await advance(k.clock, 6_999);
    expect(model.doGenerateCalls).toHaveLength(1);
    await advance(k.clock, 1);
    expect((await done).errors[0]!.details).toMatchObject({ retryAfterMs: 7_000 });
  });

  it('parses the headers (and ignores what is not a wait)', () => {
    const now = () => 0;
    expect(retryAfterMsOf({ 'retry-after': '1.5' }, now)).toBe(1_500);
    expect(retryAfterMsOf({ 'retry-after-ms': '20', 'retry-after': '9' }, now)).toBe(20);
    expect(retryAfterMsOf({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(retryAfterMsOf({ 'retry-after': 'Thu, 01 Jan 1970 00:00:00 GMT' }, () => 5_000)).toBe(0);
    expect(retryAfterMsOf(undefined, now)).toBeUndefined();
  });
});

describe('token usage of failed attempts', () => {
  it('records the usage of the steps that finished before a later step failed', async () => {
    const model = scriptedModel(toolCall(30, 4), apiError(503));
    const { k, task, done } = await run(
      model,
      { maxAttempts: 1 },
      { settings: { tools: { lookup }, stopWhen: stepCountIs(3) } },
    );
    const result = await done;
    expect(model.doGenerateCalls).toHaveLength(2);
    const spent = {
      inputTokens: 30,
      outputTokens: 4,
      totalTokens: 34,
      reasoningTokens: null,
      cachedInputTokens: null,
    };
    expect(result.errors[0]).toMatchObject({ code: 'PROVIDER_ERROR', usage: spent });
    expect((await k.taskManager.getTask(task.id)).errors[0]!.usage).toEqual(spent);
  });

  it('records it when the attempt times out during a later step', async () => {
    let call = 0;
    const model = new MockLanguageModelV3({
      doGenerate: ({ abortSignal }) => {
        call += 1;
        if (call === 1) return Promise.resolve(toolCall(8, 2));
        return new Promise<GenerateResult>((_, reject) =>
          abortSignal!.addEventListener('abort', () => reject(abortSignal!.reason), { once: true }),
        );
      },
    });
    const k = kit();
    const task = await k.taskManager.createTask({ name: 'slow' });
    const agent = createAiSdkAgent({
      id: 'llm',
      model,
      settings: { tools: { lookup }, stopWhen: stepCountIs(3) },
    });
    const done = k.executor.executeTask(task.id, agent, null, {
      timeoutMs: 1_000,
      retry: { maxAttempts: 1 },
    });
    await advance(k.clock, 1_000);
    const result = await done;
    expect(result.errors[0]).toMatchObject({
      code: 'EXECUTION_TIMEOUT',
      usage: { inputTokens: 8, totalTokens: 10 },
    });
  });

  it('records none when the provider reported none (a failed first call)', async () => {
    const { done } = await run(scriptedModel(apiError(503)), { maxAttempts: 1 });
    expect((await done).errors[0]!.usage).toBeUndefined();
  });

  it('taskTokenUsage sums the failed attempts and the completed one, as stored', async () => {
    const model = scriptedModel(toolCall(30, 4), apiError(503), reply('done'));
    const { k, task, done } = await run(
      model,
      { maxAttempts: 2, initialDelayMs: 10 },
      { settings: { tools: { lookup }, stopWhen: stepCountIs(3) } },
    );
    await flushEngine();
    await advance(k.clock, 10);
    expect((await done).status).toBe('COMPLETED');
    const stored = await k.taskManager.getTask(task.id);
    expect(taskTokenUsage(stored)).toEqual({
      inputTokens: 42,
      outputTokens: 9,
      totalTokens: 51,
      reasoningTokens: null,
      cachedInputTokens: null,
    });
    expect(taskTokenUsage({ status: 'PENDING', outputData: null, errors: [] })).toBeNull();
  });
});
