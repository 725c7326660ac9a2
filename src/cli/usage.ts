import type { Task } from '../index.js';

/** Tokens counted over one or more attempts. */
export interface TokenCount {
  input: number;
  output: number;
  total: number;
  /** Attempts that recorded usage. */
  attempts: number;
}

const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/**
 * The token usage an attempt recorded (`{ inputTokens, outputTokens, totalTokens }`, as the AI SDK
 * agent of `symphony-engine/ai` writes it), or null when the value is not one.
 */
function usageIn(value: unknown): TokenCount | null {
  if (typeof value !== 'object' || value === null) return null;
  const usage = (value as { usage?: unknown }).usage;
  if (typeof usage !== 'object' || usage === null) return null;
  const { inputTokens, outputTokens, totalTokens } = usage as Record<string, unknown>;
  if (![inputTokens, outputTokens, totalTokens].some((n) => typeof n === 'number')) return null;
  const input = count(inputTokens);
  const output = count(outputTokens);
  return {
    input,
    output,
    total: typeof totalTokens === 'number' ? totalTokens : input + output,
    attempts: 1,
  };
}

/** Adds token counts. */
export function addUsage(a: TokenCount | null, b: TokenCount | null): TokenCount | null {
  if (a === null) return b;
  if (b === null) return a;
  return {
    input: a.input + b.input,
    output: a.output + b.output,
    total: a.total + b.total,
    attempts: a.attempts + b.attempts,
  };
}

/**
 * The tokens a task's attempts used: the completed attempt's `outputData.usage`, and the `usage`
 * each failed attempt recorded with its error. Null when none recorded any.
 */
export function taskUsage(task: Pick<Task, 'outputData' | 'errors'>): TokenCount | null {
  let total = usageIn(task.outputData);
  for (const error of task.errors) total = addUsage(total, usageIn(error));
  return total;
}

/** `1,234`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
