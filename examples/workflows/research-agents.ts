/**
 * The agents module of research-graph.yaml: one agent type, `researcher`, whose output depends on
 * the task's `inputData.step` and on what its dependencies returned (`context.dependencies`).
 */
import type { AgentFactory } from '../../src/index.js';

/** Called by `symphony run` with the engine's agent factory. */
export function register(factory: AgentFactory): void {
  factory.registerAgentType('researcher', () => ({
    execute: async (task, context) => {
      const step = String(task.inputData.step ?? task.name);
      switch (step) {
        case 'fetch':
          return { documents: ['paper-a', 'paper-b'] };
        case 'summarise':
          return { summary: `${String(task.inputData.document)}: graph engines work` };
        case 'review': {
          const summaries = Object.values(context.dependencies).map(
            (output) => (output as { summary: string }).summary,
          );
          return { risk: task.inputData.risk === true, summaries };
        }
        default:
          return { done: task.name, after: Object.keys(context.dependencies) };
      }
    },
  }));
}
