import type { Agent, ExecutionContext } from '../domain/agent.js';
import { HookError } from '../errors/errors.js';
import type { Execution } from './execution.js';
import type { Hooks } from './hooks.js';

/**
 * The context of one attempt. Its AbortController is made only when the agent first reads
 * `signal` (most agents never do); an abort before that yields an already-aborted signal.
 */
export class AttemptContext implements ExecutionContext {
  readonly executionId: string;
  readonly task: ExecutionContext['task'];
  readonly workflow: ExecutionContext['workflow'];
  readonly dependencies: ExecutionContext['dependencies'];
  readonly attempt: number;
  readonly metadata: Record<string, unknown>;
  readonly lastHeartbeat: unknown;
  private abortedWith: unknown = undefined;
  private aborted = false;

  constructor(
    private readonly exec: Execution,
    fields: Omit<ExecutionContext, 'signal' | 'heartbeat' | 'lastHeartbeat'>,
  ) {
    this.executionId = fields.executionId;
    this.task = fields.task;
    this.workflow = fields.workflow;
    this.dependencies = fields.dependencies;
    this.attempt = fields.attempt;
    this.metadata = fields.metadata;
    this.lastHeartbeat = exec.lastHeartbeat;
    exec.attemptContext = this;
  }

  /**
   * Reports progress: keeps `details` for the next attempt and, with a heartbeat timeout, tells the
   * task machine (its timeout starts over). Ignored once this attempt is no longer the current one.
   */
  heartbeat(details?: unknown): void {
    const exec = this.exec;
    if (exec.attemptContext !== this || this.aborted) return;
    if (details !== undefined) exec.lastHeartbeat = details;
    if (exec.heartbeatTimeoutMs > 0) exec.actor?.send({ type: 'HEARTBEAT' });
  }

  get signal(): AbortSignal {
    if (!this.controllerRef) {
      this.controllerRef = new AbortController();
      if (this.aborted) this.controllerRef.abort(this.abortedWith);
    }
    return this.controllerRef.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortedWith = reason;
    this.controllerRef?.abort(reason);
  }

  private controllerRef: AbortController | null = null;
}

/** Aborts the current attempt of an execution, if one is running. */
export function abortAttempt(exec: Execution, reason: unknown): void {
  exec.attemptContext?.abort(reason);
}

export type AttemptResult = { ok: true; output: unknown } | { ok: false; error: unknown };

function settleAgent(agent: Agent, context: ExecutionContext): Promise<unknown> {
  try {
    return Promise.resolve(agent.execute(context.task, context));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Runs one attempt: pre hooks, the agent, post hooks. Never rejects; whatever is thrown comes
 * back as `{ ok: false, error }`. Without hooks it costs one promise hop.
 */
export function runAttempt(agent: Agent, context: ExecutionContext, hooks: Hooks): Promise<AttemptResult> {
  if (hooks.pre.length === 0 && hooks.post.length === 0) {
    return settleAgent(agent, context).then(
      (output) => ({ ok: true, output }),
      (error: unknown) => ({ ok: false, error }),
    );
  }
  return runWithHooks(agent, context, hooks);
}

async function runWithHooks(agent: Agent, context: ExecutionContext, hooks: Hooks): Promise<AttemptResult> {
  try {
    for (const hook of hooks.pre) {
      const extra = await hook(context);
      if (extra && typeof extra === 'object') Object.assign(context.metadata, extra);
    }
  } catch (error) {
    return { ok: false, error: new HookError('pre', error) };
  }
  let result: AttemptResult;
  try {
    result = { ok: true, output: await settleAgent(agent, context) };
  } catch (error) {
    result = { ok: false, error };
  }
  try {
    for (const hook of hooks.post) {
      await hook(
        {
          status: result.ok ? 'COMPLETED' : 'FAILED',
          attempt: context.attempt,
          output: result.ok ? result.output : undefined,
          error: result.ok ? undefined : result.error,
        },
        context,
      );
    }
  } catch (error) {
    return { ok: false, error: new HookError('post', error) };
  }
  return result;
}
