import {
  APICallError,
  InvalidArgumentError as AiInvalidArgumentError,
  InvalidPromptError,
  LoadAPIKeyError,
  LoadSettingError,
  NoSuchModelError,
  NoSuchProviderError,
  RetryError,
  UnsupportedFunctionalityError,
  UnsupportedModelVersionError,
  generateText,
  type LanguageModel,
  type LanguageModelUsage,
} from 'ai';
import type { Agent, ExecutionContext } from '../domain/agent.js';
import type { Task } from '../domain/task.js';
import { InvalidArgumentError, NonRetryableError } from '../errors/errors.js';
import { ProviderError, clipBody, redactUrl, retryAfterMsOf } from './provider-error.js';
import { addTokenUsage, type TokenUsage } from './usage.js';

/** Options of `generateText` the agent passes through as given. */
export type AiSdkCallSettings = Omit<
  Parameters<typeof generateText>[0],
  'model' | 'system' | 'prompt' | 'messages' | 'abortSignal' | 'maxOutputTokens' | 'maxRetries'
>;

export interface AiSdkAgentOptions {
  /** The agent's id, as results and task rows name it. */
  id: string;
  /** Any AI SDK language model (`openai('gpt-4o')`, `anthropic(...)`, a `MockLanguageModelV3`...). */
  model: LanguageModel;
  /** The system prompt. @default none */
  system?: string;
  /** Builds the prompt of one attempt. @default {@link defaultPrompt} */
  buildPrompt?: (task: Readonly<Task>, context: ExecutionContext) => string;
  /** Upper bound of generated tokens. @default the provider's */
  maxOutputTokens?: number;
  /**
   * Retries inside the AI SDK before the attempt fails. Symphony's retry policy already retries
   * failed attempts (and records each one), so the SDK's own retries are off. @default 0
   */
  maxRetries?: number;
  /** Executions this agent may run at once. @default the engine's limit only */
  maxConcurrency?: number;
  /** Anything else `generateText` takes: `temperature`, `tools`, `providerOptions`, `headers`... */
  settings?: AiSdkCallSettings;
  /**
   * The current time in epoch ms, only to turn a `retry-after` HTTP date into a wait.
   * @default Date.now
   */
  now?: () => number;
}

/** What the agent returns, and so the task's `outputData`. */
export interface AiSdkAgentOutput {
  text: string;
  usage: TokenUsage;
  /** Why generation stopped: 'stop', 'length', 'content-filter', 'tool-calls', 'error' or 'other'. */
  finishReason: string;
  /** The model that answered, as the provider named it. */
  modelId: string | null;
}

/**
 * The prompt built from a task: its name, its description, `inputData.query` when it is a string,
 * and the rest of `inputData` as JSON.
 */
export function defaultPrompt(task: Readonly<Task>): string {
  const lines = [`Task: ${task.name}`];
  if (task.description) lines.push(task.description);
  const { query, ...rest } = task.inputData ?? {};
  const input = typeof query === 'string' ? rest : (task.inputData ?? {});
  if (typeof query === 'string') lines.push('', query);
  if (Object.keys(input).length > 0) lines.push('', 'Input (JSON):', JSON.stringify(input, null, 2));
  return lines.join('\n');
}

function toTokenUsage(usage: LanguageModelUsage | undefined): TokenUsage {
  const count = (value: number | undefined) => (typeof value === 'number' ? value : null);
  return {
    inputTokens: count(usage?.inputTokens),
    outputTokens: count(usage?.outputTokens),
    totalTokens: count(usage?.totalTokens),
    reasoningTokens: count(usage?.outputTokenDetails?.reasoningTokens ?? usage?.reasoningTokens),
    cachedInputTokens: count(usage?.inputTokenDetails?.cacheReadTokens ?? usage?.cachedInputTokens),
  };
}

/**
 * The SDK's error as Symphony reports it: a provider's answer (`APICallError`, also inside the
 * SDK's own `RetryError`) becomes a {@link ProviderError} with its status, body and `retry-after`;
 * errors that trying again cannot fix become a `NonRetryableError`; others pass as they are.
 */
function toAttemptError(error: unknown, now: () => number): unknown {
  const apiError = RetryError.isInstance(error) ? error.lastError : error;
  if (APICallError.isInstance(apiError)) {
    const statusCode = typeof apiError.statusCode === 'number' ? apiError.statusCode : null;
    const retryAfterMs = retryAfterMsOf(apiError.responseHeaders, now);
    const requestId =
      apiError.responseHeaders?.['x-request-id'] ?? apiError.responseHeaders?.['request-id'] ?? undefined;
    const answered = statusCode === null ? 'The provider call failed' : `The provider answered ${statusCode}`;
    return new ProviderError(
      `${answered}: ${apiError.message}`,
      {
        providerError: apiError.name,
        statusCode,
        isRetryable: apiError.isRetryable,
        url: redactUrl(apiError.url),
        ...(typeof apiError.responseBody === 'string'
          ? { responseBody: clipBody(apiError.responseBody) }
          : {}),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        ...(requestId === undefined ? {} : { requestId }),
      },
      { cause: error },
    );
  }
  if (!isPermanent(error)) return error;
  const name = (error as { name?: unknown }).name;
  const message = (error as { message?: unknown }).message;
  return new NonRetryableError(`${String(name)}: ${String(message)}`, { cause: error });
}

const PERMANENT = [
  AiInvalidArgumentError,
  InvalidPromptError,
  LoadAPIKeyError,
  LoadSettingError,
  NoSuchModelError,
  NoSuchProviderError,
  UnsupportedFunctionalityError,
  UnsupportedModelVersionError,
];

/** Whether trying the same call again cannot help (a bad prompt, a missing key...). */
function isPermanent(error: unknown): boolean {
  if (RetryError.isInstance(error)) return isPermanent(error.lastError);
  return PERMANENT.some((kind) => kind.isInstance(error));
}

/**
 * Turns an AI SDK language model into a Symphony agent. Each attempt calls `generateText` with
 * the prompt built from the task and the attempt's AbortSignal (a timeout or a cancel aborts the
 * request). The output, stored as the task's `outputData`, is `{ text, usage, finishReason,
 * modelId }`; the token usage is also put in `context.metadata.usage`, where post hooks see it,
 * step by step, so a failed attempt records what its finished steps used.
 * A provider's error answer becomes a `ProviderError` (status, body, `retry-after`; retried only
 * when the SDK says `isRetryable`, after the wait the provider asked for); other errors the SDK
 * marks as permanent (an invalid prompt, a missing API key) become `NonRetryableError`s, so the
 * retry policy stops at once; others are retried by the policy.
 * @example
 * import { openai } from '@ai-sdk/openai';
 * import { createAiSdkAgent } from 'symphony-engine/ai';
 *
 * const writer = createAiSdkAgent({ id: 'writer', model: openai('gpt-4o-mini'), system: 'Be brief.' });
 * const result = await registry.getEnhancedExecutor().executeTask(task.id, writer);
 * console.log(result.output); // { text, usage: { inputTokens, outputTokens, ... }, ... }
 */
export function createAiSdkAgent(options: AiSdkAgentOptions): Agent {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`Expected options to be an object, got ${String(options)}`);
  }
  const { id, model, system, maxOutputTokens, maxConcurrency, settings } = options;
  if (typeof id !== 'string' || id === '') {
    throw new InvalidArgumentError(`Expected \`id\` to be a non-empty string, got ${String(id)}`);
  }
  if (model === undefined || model === null) {
    throw new InvalidArgumentError('Expected `model` to be an AI SDK language model, got ' + String(model));
  }
  const buildPrompt = options.buildPrompt ?? defaultPrompt;
  const maxRetries = options.maxRetries ?? 0;
  const now = options.now ?? Date.now;
  const agent: Agent = {
    id,
    async execute(task, context): Promise<AiSdkAgentOutput> {
      const prompt = buildPrompt(task, context);
      const onStepFinish = settings?.onStepFinish;
      let result: Awaited<ReturnType<typeof generateText>>;
      try {
        result = await generateText({
          ...settings,
          model,
          ...(system === undefined ? {} : { system }),
          prompt,
          ...(maxOutputTokens === undefined ? {} : { maxOutputTokens }),
          maxRetries,
          abortSignal: context.signal,
          // Usage so far, step by step: a later step that fails or times out leaves it recorded.
          onStepFinish: async (step) => {
            context.metadata.usage = addTokenUsage(
              context.metadata.usage as TokenUsage | undefined,
              toTokenUsage(step.usage),
            );
            await onStepFinish?.(step);
          },
        });
      } catch (error) {
        if (context.signal.aborted) throw error;
        throw toAttemptError(error, now);
      }
      const usage = toTokenUsage(result.totalUsage ?? result.usage);
      context.metadata.usage = usage;
      return {
        text: result.text,
        usage,
        finishReason: String(result.finishReason),
        modelId: result.response?.modelId ?? null,
      };
    },
  };
  if (maxConcurrency !== undefined) agent.maxConcurrency = maxConcurrency;
  return agent;
}
