import type { Agent, ExecutionContext } from '../domain/agent.js';
import { HookError } from '../errors/errors.js';
import type { Hooks } from './hooks.js';

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
