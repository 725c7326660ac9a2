import { ErrorCode } from '../errors/codes.js';
import { InvalidStateError, WorkflowNotFoundError } from '../errors/errors.js';
import type { Signal } from '../repositories/store.js';
import { copyPayload } from './payload.js';
import type { Runtime } from './runtime.js';

/**
 * Stores a signal for a workflow and hands it to this engine's waits (see `registry.signal`).
 * Refused (INVALID_STATE) for a workflow that is COMPLETED or cancelled: nothing of it waits any more.
 */
export async function sendSignal(
  runtime: Pick<Runtime, 'options' | 'store' | 'workflows' | 'committer' | 'graphs'>,
  workflowId: string,
  name: string,
  payload: unknown,
): Promise<Signal> {
  const { options, committer } = runtime;
  // Read, not loaded: loading a workflow's actor here would make this engine act on its graph
  // (take the signal itself) while another engine holds it.
  await committer.settle();
  const row = runtime.workflows.peek(workflowId)?.row ?? (await runtime.store.workflows.get(workflowId));
  if (!row) throw new WorkflowNotFoundError(workflowId);
  if (row.cancelled || row.status === 'COMPLETED') {
    throw new InvalidStateError(
      `Workflow ${workflowId} is ${row.cancelled ? 'cancelled' : 'COMPLETED'}: no wait can take signal ${name}`,
      { workflowId, signal: name },
    );
  }
  const signal: Signal = {
    id: options.idGenerator(),
    workflowId,
    name,
    payload: copyPayload(payload, 'payload', options.maxPayloadBytes, ErrorCode.INPUT_NOT_SERIALIZABLE),
    sentAt: options.clock.now(),
  };
  committer.stageSignal(signal);
  await committer.settle();
  await runtime.graphs.signalled(workflowId);
  return structuredClone(signal);
}
