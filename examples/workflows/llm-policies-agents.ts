/**
 * The agents module of llm-policies.yaml: a fake LLM provider in this process (no network, no API
 * key), and agent type `llm`, an AI SDK agent (`createAiSdkAgent`) on one of its models.
 *
 * The fake plays what a real provider does, model by model:
 * - **A rate limit**: at most {@link REQUESTS_PER_SECOND} requests in any second. One more is
 *   answered 429 with a `retry-after` header (whole seconds), as the AI SDK's `APICallError`.
 * - **Outages**: a config's `metadata.outage` lists words; a request whose prompt has one of them
 *   is answered 503. A partial outage, scripted so that every run fails the same tasks.
 * - **Token usage**: a token per 4 characters of the prompt (system prompt included) and of the answer.
 *
 * The run needs no test hook. A test may put an array at `globalThis[REQUEST_LOG]` before the run:
 * every request is pushed onto it (test/cli/llm-policies-example.test.ts reads what the provider saw).
 */
import { APICallError } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { createAiSdkAgent } from '../../src/ai/index.js';
import type { AgentConfig, AgentFactory } from '../../src/index.js';

/** The provider's limit, for each model: requests in any 1,000 ms. */
export const REQUESTS_PER_SECOND = 5;
/** How long the fake takes to answer, in ms. */
const LATENCY_MS = 20;

/** One request the fake provider got, and its answer's HTTP status. */
export interface ProviderRequest {
  model: string;
  /** When it arrived (epoch ms). */
  at: number;
  status: 200 | 429 | 503;
  /** The task's name, from the prompt's first line. */
  task: string;
}

/** Where a test may put a `ProviderRequest[]` to collect every request of the run. */
export const REQUEST_LOG = Symbol.for('symphony.examples.llm-policies.requests');

type CallOptions = Parameters<MockLanguageModelV3['doGenerate']>[0];

/** The text of a prompt's messages, system prompt included. */
function promptText(prompt: CallOptions['prompt']): string {
  return prompt
    .map((message) =>
      typeof message.content === 'string'
        ? message.content
        : message.content.map((part) => (part.type === 'text' ? part.text : '')).join(''),
    )
    .join('\n');
}

const tokensOf = (text: string) => Math.ceil(text.length / 4);

const waitMs = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    });
  });

/** A fake provider: its models share nothing but the request log; each has its own rate window. */
function createFakeProvider(now: () => number = Date.now) {
  const windows = new Map<string, number[]>();
  let requests = 0;
  const logged = (request: ProviderRequest) => {
    const log = (globalThis as Record<symbol, unknown>)[REQUEST_LOG];
    if (Array.isArray(log)) log.push(request);
  };
  const refuse = (request: ProviderRequest, message: string, headers: Record<string, string>) => {
    logged(request);
    return new APICallError({
      message,
      url: 'https://llm.example.invalid/v1/chat',
      requestBodyValues: {},
      statusCode: request.status,
      responseHeaders: { 'x-request-id': `req-${requests}`, ...headers },
      responseBody: JSON.stringify({ error: { message } }),
    });
  };

  return {
    languageModel(modelId: string, outage: readonly string[] = []) {
      return new MockLanguageModelV3({
        provider: 'fake',
        modelId,
        doGenerate: async (options) => {
          requests += 1;
          const at = now();
          const text = promptText(options.prompt);
          const task = /Task: (.*)/.exec(text)?.[1] ?? '';
          // Requests of the last second, this one left out: at most REQUESTS_PER_SECOND of them.
          const window = (windows.get(modelId) ?? []).filter((time) => time > at - 1_000);
          windows.set(modelId, window);
          if (window.length >= REQUESTS_PER_SECOND) {
            const seconds = Math.ceil((window[0]! + 1_000 - at) / 1_000);
            throw refuse({ model: modelId, at, status: 429, task }, 'Too Many Requests', {
              'retry-after': String(seconds),
            });
          }
          window.push(at);
          if (outage.some((word) => text.toLowerCase().includes(word.toLowerCase()))) {
            throw refuse({ model: modelId, at, status: 503, task }, `${modelId} is unavailable`, {});
          }
          logged({ model: modelId, at, status: 200, task });
          await waitMs(LATENCY_MS, options.abortSignal);
          const answer = `${modelId} summary: ${task.replace(/^Summarize /, '')}, in one sentence.`;
          const input = tokensOf(text);
          const output = tokensOf(answer);
          return {
            content: [{ type: 'text', text: answer }],
            finishReason: { unified: 'stop', raw: 'stop' },
            usage: {
              inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
              outputTokens: { total: output, text: output, reasoning: undefined },
            },
            response: { id: `req-${requests}`, modelId },
            warnings: [],
          };
        },
      });
    },
  };
}

/** Called by `symphony run` with the engine's agent factory: one fake provider for the run. */
export function register(factory: AgentFactory): void {
  const provider = createFakeProvider();
  const models = new Map<string, MockLanguageModelV3>();
  factory.registerAgentType('llm', (config) => {
    const { model, outage, system } = config.metadata as {
      model: string;
      outage?: string[];
      system?: string;
    };
    if (!models.has(config.id)) models.set(config.id, provider.languageModel(model, outage));
    return createAiSdkAgent({
      id: config.id,
      model: models.get(config.id)!,
      ...(system === undefined ? {} : { system }),
      maxOutputTokens: 200,
    });
  });
}

const rank = (config: AgentConfig) => Number(config.metadata.rank ?? Infinity);

/** Routing: the best-ranked candidate (a fallback routes among the configs that did not fail). */
export function route(_task: unknown, candidates: readonly AgentConfig[]): AgentConfig | undefined {
  return [...candidates].sort((a, b) => rank(a) - rank(b))[0];
}
