import { ErrorCode } from '../errors/codes.js';
import { SymphonyError } from '../errors/symphony-error.js';

/** Characters of a provider's response body kept in the error's details. */
export const MAX_RESPONSE_BODY = 2_048;

/** What a provider said when its call failed, as `ProviderError.details` and the attempt's `details` hold it. */
export interface ProviderErrorDetails {
  /** The AI SDK error's name, e.g. `'AI_APICallError'`. */
  providerError: string;
  /** The HTTP status, or null when no response came (a network error). */
  statusCode: number | null;
  /** Whether the provider or the SDK said that trying again may succeed (5xx, 408, 409, 429). */
  isRetryable: boolean;
  /** The request URL, with the values of query parameters that look like secrets replaced by `***`. */
  url: string;
  /** The response body, at most {@link MAX_RESPONSE_BODY} characters of it (the rest is counted). */
  responseBody?: string;
  /** The wait the provider asked for (`retry-after-ms` or `retry-after`), in ms. */
  retryAfterMs?: number;
  /** The provider's request id (`x-request-id` or `request-id`), to quote to its support. */
  requestId?: string;
}

/**
 * A language model provider answered a call with an error (the AI SDK's `APICallError`): an HTTP
 * status, a body, maybe a `retry-after`. `retryable` is the SDK's `isRetryable`, so the retry
 * policy stops at once on a 400 or 401 and retries a 429 or 503; `retryAfterMs` (when the
 * provider sent `retry-after-ms` or `retry-after`) becomes the next retry delay, capped at the
 * policy's `maxDelayMs`. Everything else is in `details`, which the attempt's recorded error keeps.
 */
export class ProviderError extends SymphonyError {
  override readonly name = 'ProviderError';
  override readonly details: ProviderErrorDetails & Record<string, unknown>;
  /** The wait the provider asked for before the next call, in ms; undefined when it said nothing. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: ProviderErrorDetails, options: { cause?: unknown } = {}) {
    super(ErrorCode.PROVIDER_ERROR, message, {
      ...options,
      retryable: details.isRetryable,
      details: { ...details },
    });
    this.details = { ...details };
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** A header's value, whatever the case of its name. */
function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/**
 * The wait a response asks for, in ms: `retry-after-ms` (milliseconds), else `retry-after`
 * (seconds, or an HTTP date measured against `now()`). Undefined when neither is there or valid.
 */
export function retryAfterMsOf(
  headers: Record<string, string> | undefined,
  now: () => number,
): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const after = header(headers, 'retry-after')?.trim();
  if (after === undefined || after === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(after)) return Number(after) * 1_000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

const SECRET_PARAM = /key|token|secret|signature|sig|auth|password/i;

/** The URL without the values of query parameters that look like credentials. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/\?.*$/, '');
  }
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, '***');
  }
  parsed.username = parsed.username ? '***' : '';
  parsed.password = parsed.password ? '***' : '';
  return parsed.toString();
}

/** The body clipped to {@link MAX_RESPONSE_BODY} characters, saying how many were cut. */
export function clipBody(body: string): string {
  if (body.length <= MAX_RESPONSE_BODY) return body;
  return `${body.slice(0, MAX_RESPONSE_BODY)}... (${body.length - MAX_RESPONSE_BODY} more characters)`;
}
