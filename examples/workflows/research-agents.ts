/**
 * The agents module of research-graph.yaml and research-fanout.yaml: one agent type, `researcher`,
 * whose output depends on the task's `inputData.step` and on what its dependencies returned
 * (`context.dependencies`).
 */
import type { AgentFactory } from '../../src/index.js';

interface Summary {
  summary: string;
}

/** Called by `symphony run` with the engine's agent factory. */
export function register(factory: AgentFactory): void {
  factory.registerAgentType('researcher', () => ({
    execute: async (task, context) => {
      const step = String(task.inputData.step ?? task.name);
      switch (step) {
        case 'fetch': {
          const { documents } = task.inputData;
          return { documents: Array.isArray(documents) ? documents : ['paper-a', 'paper-b'] };
        }
        case 'summarise': {
          // A fan-out's task gets its document as inputData.item; a plain task names it.
          const document = task.inputData.item ?? task.inputData.document;
          return { summary: `${String(document)}: graph engines work` };
        }
        case 'review': {
          // A fan-out's output is the list of its tasks' outputs, in order.
          const summaries = Object.values(context.dependencies)
            .flatMap((output) => (Array.isArray(output) ? output : [output]) as Summary[])
            .map((output) => output.summary);
          return { risk: task.inputData.risk === true, summaries };
        }
        default:
          return { done: task.name, after: Object.keys(context.dependencies) };
      }
    },
  }));
}
