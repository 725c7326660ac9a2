import type { Task } from '../domain/task.js';

/** Token counts of one attempt (or a sum of them); `null` where the provider did not report them. */
export interface TokenUsage {
  inputTokens: number | null;
  outputTokens: number | null;
  totalTokens: number | null;
  reasoningTokens: number | null;
  cachedInputTokens: number | null;
}

const FIELDS = [
  'inputTokens',
  'outputTokens',
  'totalTokens',
  'reasoningTokens',
  'cachedInputTokens',
] as const;

const countOf = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/** `a + b` field by field; a field is null only when both are (an absent `a` counts as nothing). */
export function addTokenUsage(
  a: Partial<Record<keyof TokenUsage, unknown>> | undefined,
  b: TokenUsage,
): TokenUsage {
  const sum = {} as TokenUsage;
  for (const field of FIELDS) {
    const x = countOf(a?.[field]);
    const y = b[field];
    sum[field] = x === null ? y : y === null ? x : x + y;
  }
  return sum;
}

/**
 * The tokens a task used over all its attempts, as the store holds them: the completed attempt's
 * `outputData.usage` (what `createAiSdkAgent` returns) plus the `usage` recorded with each failed
 * attempt's error. `null` when no attempt reported any.
 * @example
 * const task = await registry.getTaskManager().getTask(id);
 * taskTokenUsage(task)?.totalTokens; // e.g. 49
 */
export function taskTokenUsage(task: Pick<Task, 'status' | 'outputData' | 'errors'>): TokenUsage | null {
  let total: TokenUsage | null = null;
  const add = (usage: unknown) => {
    if (usage === null || typeof usage !== 'object') return;
    const counts = usage as Partial<Record<keyof TokenUsage, unknown>>;
    if (!FIELDS.some((field) => countOf(counts[field]) !== null)) return;
    total = addTokenUsage(counts, total ?? emptyUsage());
  };
  for (const error of task.errors ?? []) add(error.usage);
  if (task.status === 'COMPLETED' && task.outputData !== null && typeof task.outputData === 'object') {
    add((task.outputData as { usage?: unknown }).usage);
  }
  return total;
}

function emptyUsage(): TokenUsage {
  return {
    inputTokens: null,
    outputTokens: null,
    totalTokens: null,
    reasoningTokens: null,
    cachedInputTokens: null,
  };
}
