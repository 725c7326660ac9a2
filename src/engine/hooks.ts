import type { ExecutionContext } from '../domain/agent.js';

/** What a post hook sees of one attempt. */
export interface AttemptOutcome {
  status: 'COMPLETED' | 'FAILED';
  attempt: number;
  output: unknown;
  error: unknown;
}

/**
 * Runs before each attempt. It may add to `context.metadata`, or return an object whose keys are
 * merged into it. A throw fails the attempt with HOOK_FAILED (not retried).
 */
export type PreHook = (
  context: ExecutionContext,
) => void | Record<string, unknown> | Promise<void | Record<string, unknown>>;

/** Runs after each attempt with its outcome. A throw fails the attempt with HOOK_FAILED. */
export type PostHook = (outcome: AttemptOutcome, context: ExecutionContext) => void | Promise<void>;

export interface Hooks {
  pre: PreHook[];
  post: PostHook[];
}
