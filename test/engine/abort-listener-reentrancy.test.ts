import { describe, expect, it } from 'vitest';
import type { Agent } from '../../src/index.js';
import { advance, flushEngine } from '../../src/testing/index.js';
import { useTestKit } from '../support/kit.js';

/**
 * Review of the "actors talk to actors" change (reentrancy). Aborting an attempt's signal runs the
 * agent's abort listeners synchronously, inside engine code that assumes nothing else runs: in the
 * task actor's provided action `timedOut` (inside that actor's transition), and in
 * `Settling.cancelRunning`. An agent that ties the caller's AbortController to the attempt's
 * signal re-enters `Runtime.cancel` from there. Both cases also fail at a7a4e87 (same cause).
 */
describe('review: engine code re-entered from an abort listener', () => {
  const tests = useTestKit();

  /** An agent that, when the engine aborts its attempt, aborts `caller` too, then rejects. */
  function linkedAgent(caller: AbortController): Agent {
    return {
      id: 'linked',
      execute: (_task, context) =>
        new Promise((_resolve, reject) => {
          context.signal.addEventListener(
            'abort',
            () => {
              caller.abort(new Error('stop everything'));
              reject(context.signal.reason);
            },
            { once: true },
          );
        }),
    };
  }

  it('does not leave the task RUNNING when a cancel reaches its actor during its own timeout', async () => {
    // timedOut -> abort listener -> caller's signal -> Runtime.cancel -> door.send(CANCEL) while the
    // task actor is mid-transition: the CANCEL waits in its mailbox, the door writes the stale
    // RUNNING snapshot, then RELEASE stops the actor and clears the mailbox.
    const kit = tests.setup();
    const [id] = await tests.createTasks(1);
    const caller = new AbortController();
    const done = kit.executor.executeTask(id!, linkedAgent(caller), undefined, {
      timeoutMs: 100,
      signal: caller.signal,
    });
    await advance(kit.clock, 100);
    await flushEngine();
    const result = await done;
    const row = await kit.taskManager.getTask(id!);
    expect(result.status).not.toBe('RUNNING');
    expect(row.status).not.toBe('RUNNING');
    expect(row.status).toBe(result.status);
    expect(row.leaseOwner).toBeNull();
  });

  it('cancels a running task whose agent aborts the caller signal when its own is aborted', async () => {
    // cancelRunning -> abort listener -> Runtime.cancel -> cancelRunning (nested) ends the
    // execution; the outer one then sends CANCEL to the stored CANCELLED row: INVALID_STATE.
    const kit = tests.setup();
    const [id] = await tests.createTasks(1);
    const caller = new AbortController();
    const done = kit.executor.executeTask(id!, linkedAgent(caller), undefined, { signal: caller.signal });
    await flushEngine();
    await expect(kit.taskManager.cancelTask(id!)).resolves.toMatchObject({ status: 'CANCELLED' });
    expect((await done).status).toBe('CANCELLED');
  });
});
