/**
 * The agents module of trip-saga.yaml: one agent type, `travel`. A booking returns a reference;
 * a task with `inputData.unavailable` fails (a non-retryable error); a compensation (its input has
 * `compensated`) cancels the reference its booking returned.
 */
import type { AgentFactory } from '../../src/index.js';

/** Called by `symphony run` with the engine's agent factory. */
export function register(factory: AgentFactory): void {
  factory.registerAgentType('travel', () => ({
    execute: async (task) => {
      const compensated = task.inputData.compensated as { output: { reference: string } } | undefined;
      if (compensated) return { cancelled: compensated.output.reference };
      if (task.inputData.unavailable === true) {
        throw Object.assign(new Error(`${task.name}: nothing available`), { code: 'UNAVAILABLE' });
      }
      return { reference: `${String(task.inputData.kind)}-42` };
    },
  }));
}
