import type { AnyStateMachine } from 'xstate';

type GuardImpl = (args: unknown, params: unknown) => boolean;

/**
 * The machine with each guard wrapped to throw once guards have been evaluated `limit` times in
 * all, so an endless eventless (`always`) loop fails a test instead of hanging the worker.
 */
export function guardLoopBreaker<TMachine extends AnyStateMachine>(
  machine: TMachine,
  limit = 1_000,
): TMachine {
  let evaluations = 0;
  const guards: Record<string, GuardImpl> = {};
  for (const [name, guard] of Object.entries(machine.implementations.guards as Record<string, GuardImpl>)) {
    guards[name] = (args, params) => {
      evaluations += 1;
      if (evaluations > limit) {
        throw new Error(
          `Expected guards to settle within ${limit} evaluations, got an endless \`always\` loop`,
        );
      }
      return guard(args, params);
    };
  }
  return machine.provide({ guards }) as TMachine;
}
