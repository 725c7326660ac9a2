import { describe, expect, it } from 'vitest';
import type { RuntimeEvent } from '../../machines/engine.machine.js';
import { Dispatcher, type DispatchDeps } from '../../src/engine/dispatcher.js';
import type { Execution } from '../../src/engine/execution.js';
import { ticks } from '../support/kit.js';

/**
 * Review (latent): an agent actor that refuses a RUN calls the provided action
 * `refuseExecutions` -> Dispatcher.requeue while the dispatcher is still inside `pump()` (the
 * DISPATCH cascade is synchronous). requeue sends SETTLED + ENQUEUED; the executor's `pump` action
 * asks for a new pump, which `schedulePump` drops because `pumping` is still true. The requeued
 * executions then wait for an unrelated event. Unreachable through the engine today (the dispatcher
 * reads the same agent counts the agent's `hasRoom` guard checks), so this drives the Dispatcher
 * with the executor and agent replaced by what they do.
 */
describe('review: executions requeued during a pump', () => {
  it('are dispatched again without waiting for another event', async () => {
    // Its task actor stays in PENDING.ready (startable): a refused RUN sends it no START.
    const actor = { getSnapshot: () => ({ hasTag: (tag: string) => tag === 'startable' }) };
    const exec = {
      id: 'e1',
      agentKey: 'a',
      agent: { id: 'a' },
      priority: 0,
      concurrencyKey: null,
      keyConcurrency: 0,
      keyRateLimits: [],
      workflowId: null,
      timeoutMs: 0,
      task: { id: 't1' },
      actor,
    };
    const execution = exec as unknown as Execution;
    const dispatches: RuntimeEvent[] = [];
    let refuse = true;
    const dispatcher: Dispatcher = new Dispatcher({
      executor: { getSnapshot: () => ({ status: 'active', context: { maxConcurrency: 10, inFlight: 0 } }) },
      agent: () => ({ getSnapshot: () => ({ context: { maxConcurrency: 10, inFlight: 0 } }) }),
      send: (event: RuntimeEvent) => {
        if (event.type === 'DISPATCH') {
          dispatches.push(event);
          // The agent refuses its first RUN: refuseExecutions -> requeue, inside the DISPATCH.
          if (refuse) {
            refuse = false;
            dispatcher.requeue([execution]);
          }
        }
        // The executor's `pump` action on SETTLED.
        if (event.type === 'SETTLED') dispatcher.schedulePump();
      },
      started: () => {},
      isStopping: () => false,
    } as unknown as DispatchDeps);
    dispatcher.enqueue(execution);
    await ticks(10);
    expect(dispatches).toHaveLength(2);
  });
});
