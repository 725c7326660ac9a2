import { createActor, type Actor, type ActorOptions, type AnyActorLogic } from 'xstate';
import type { TaskMachine } from '../../machines/task.machine.js';
import { systemClock, type EngineClock } from './clock.js';
import type { ResolvedEngineOptions } from './options.js';

export type TaskActor = Actor<TaskMachine>;

/** Actor options shared by every actor an engine creates; only the keys in use are set. */
export function actorOptions(options: ResolvedEngineOptions): ActorOptions<AnyActorLogic> {
  const result: ActorOptions<AnyActorLogic> = {};
  if (options.clock !== systemClock)
    result.clock = options.clock as EngineClock & ActorOptions<AnyActorLogic>['clock'];
  if (options.inspect) result.inspect = options.inspect;
  return result;
}

/** Creates and starts an actor; `options` may carry a snapshot instead of the input. */
export function startActor<TLogic extends AnyActorLogic>(
  logic: TLogic,
  options: ActorOptions<AnyActorLogic>,
): Actor<TLogic> {
  const actor = createActor(logic as AnyActorLogic, options) as Actor<TLogic>;
  actor.start();
  return actor;
}
