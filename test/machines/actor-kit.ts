import { createActor, type AnyActorRef, type AnyEventObject, type InspectedEventEvent } from 'xstate';
import {
  taskMachine,
  taskSystemId,
  workflowMachine,
  workflowSystemId,
  type TaskMachineInput,
} from '../../machines/index.js';

/** One event as the inspector saw it delivered: who sent it (undefined: sent from outside) and to whom. */
export interface Delivery {
  from: InspectedEventEvent['sourceRef'];
  to: InspectedEventEvent['actorRef'];
  event: AnyEventObject;
}

/**
 * Every event delivered in `actor`'s system from now on, in order (an `inspect` observer on the
 * system). Events sent by one actor to another carry it as `from`.
 */
export function recordDeliveries(actor: AnyActorRef): Delivery[] {
  const deliveries: Delivery[] = [];
  actor.system.inspect((inspection) => {
    if (inspection.type === '@xstate.event') {
      deliveries.push({ from: inspection.sourceRef, to: inspection.actorRef, event: inspection.event });
    }
  });
  return deliveries;
}

/** XState's own events (`xstate.init`, `xstate.done.actor.*`, `xstate.stop` ...). */
const isOwn = (d: Delivery) => d.event.type.startsWith('xstate.');

/** Types of the events `to` received from `from`, in order, XState's own left out. */
export function typesFrom(deliveries: readonly Delivery[], from: AnyActorRef, to: AnyActorRef): string[] {
  return deliveries.filter((d) => d.from === from && d.to === to && !isOwn(d)).map((d) => d.event.type);
}

/** Events `to` received, of any sender, XState's own left out. */
export function received(deliveries: readonly Delivery[], to: AnyActorRef): Delivery[] {
  return deliveries.filter((d) => d.to === to && !isOwn(d));
}

/** Events `from` sent, to any actor, XState's own left out. */
export function sentBy(deliveries: readonly Delivery[], from: AnyActorRef): Delivery[] {
  return deliveries.filter((d) => d.from === from && !isOwn(d));
}

/** A started task actor whose parent is `parent`, found in its system as `task:<taskId>`. */
export function startTaskActor(
  parent: AnyActorRef,
  taskId: string,
  input: TaskMachineInput = {},
  logic = taskMachine,
) {
  return createActor(logic, { parent, systemId: taskSystemId(taskId), input }).start();
}

/** A started workflow actor whose parent is `parent`, found in its system as `workflow:<workflowId>`. */
export function startWorkflowActor(parent: AnyActorRef, workflowId: string) {
  return createActor(workflowMachine, {
    parent,
    systemId: workflowSystemId(workflowId),
    input: { workflowId },
  }).start();
}
