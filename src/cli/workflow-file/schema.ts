import { z } from 'zod';

const record = () => z.record(z.string(), z.unknown());
const nonEmpty = () => z.string().min(1);

export const ROUTING_STRATEGY_NAMES = [
  'ROUND_ROBIN',
  'CAPABILITY_MATCH',
  'CONTENT_MATCH',
  'LOAD_BALANCED',
  'CUSTOM',
] as const;

export const taskSchema = z.strictObject({
  name: nonEmpty(),
  /** Copied into `inputData.query`. */
  query: z.string().optional(),
  description: z.string().optional(),
  tags: z.array(z.string()).optional(),
  priority: z.int().optional(),
  metadata: record().optional(),
  inputData: record().optional(),
});

export const retrySchema = z.strictObject({
  maxAttempts: z.int().min(1).optional(),
  initialDelayMs: z.number().min(0).optional(),
  backoffFactor: z.number().min(1).optional(),
  maxDelayMs: z.number().min(0).optional(),
  jitter: z.number().min(0).max(1).optional(),
  nonRetryableErrors: z.array(z.string()).optional(),
});

export const agentConfigSchema = z.strictObject({
  name: nonEmpty(),
  type: nonEmpty(),
  capabilities: z.array(z.string()).optional(),
  description: z.string().optional(),
  maxConcurrency: z.int().min(1).optional(),
  metadata: record().optional(),
});

export const workflowFileSchema = z.strictObject({
  name: nonEmpty(),
  description: z.string().optional(),
  tasks: z.array(taskSchema).min(1),
  routing: z.strictObject({ strategy: z.enum(ROUTING_STRATEGY_NAMES) }).optional(),
  concurrency: z.int().min(1).optional(),
  retry: retrySchema.optional(),
  timeoutMs: z.number().min(0).optional(),
  agents: z.strictObject({
    /** A JS or TS module, relative to the workflow file. `--agents` overrides it. */
    module: nonEmpty().optional(),
    configs: z.array(agentConfigSchema).min(1),
  }),
});

/** A workflow file as written: see docs/cli.md#workflow-files. */
export type WorkflowFile = z.infer<typeof workflowFileSchema>;
export type WorkflowFileTask = z.infer<typeof taskSchema>;
export type WorkflowFileAgentConfig = z.infer<typeof agentConfigSchema>;
