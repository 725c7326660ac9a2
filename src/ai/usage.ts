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

/**
 * A reported token count, or null: a count that is negative or not finite is not counted (so a
 * spend never decreases, and no agent can lower its budget's spend).
 */
const countOf = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;

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

/** One attempt's reported usage, and the model that answered it when the task's output names one. */
export interface UsageRecord {
  usage: TokenUsage;
  /** `outputData.modelId` of a completed task (what `createAiSdkAgent` returns); null otherwise. */
  modelId: string | null;
}

/**
 * The usage each attempt of a task recorded, as the store holds it: the `usage` recorded with each
 * failed attempt's error, then the completed attempt's `outputData.usage` (what `createAiSdkAgent`
 * returns). Records without any count are left out.
 */
export function taskUsageRecords(task: Pick<Task, 'status' | 'outputData' | 'errors'>): UsageRecord[] {
  const records: UsageRecord[] = [];
  for (const error of task.errors ?? []) {
    const usage = usageOf(error.usage);
    if (usage !== null) records.push({ usage, modelId: null });
  }
  if (task.status === 'COMPLETED') {
    const record = outputUsage(task.outputData);
    if (record !== null) records.push(record);
  }
  return records;
}

/** Counts read from a recorded usage object; null when it holds none. */
export function usageOf(value: unknown): TokenUsage | null {
  if (value === null || typeof value !== 'object') return null;
  const counts = value as Partial<Record<keyof TokenUsage, unknown>>;
  if (!FIELDS.some((field) => countOf(counts[field]) !== null)) return null;
  return addTokenUsage(counts, emptyUsage());
}

/** The usage a completed attempt's output reports (`outputData.usage`, `.modelId`), or null. */
export function outputUsage(outputData: unknown): UsageRecord | null {
  if (outputData === null || typeof outputData !== 'object') return null;
  const output = outputData as { usage?: unknown; modelId?: unknown };
  const usage = usageOf(output.usage);
  return usage === null
    ? null
    : { usage, modelId: typeof output.modelId === 'string' ? output.modelId : null };
}

/**
 * The tokens a task used over all its attempts, as the store holds them (see
 * {@link taskUsageRecords}), summed. `null` when no attempt reported any.
 * @example
 * const task = await registry.getTaskManager().getTask(id);
 * taskTokenUsage(task)?.totalTokens; // e.g. 49
 */
export function taskTokenUsage(task: Pick<Task, 'status' | 'outputData' | 'errors'>): TokenUsage | null {
  let total: TokenUsage | null = null;
  for (const record of taskUsageRecords(task)) total = addTokenUsage(total ?? undefined, record.usage);
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
