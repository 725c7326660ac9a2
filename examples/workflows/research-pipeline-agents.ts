/**
 * The agents module of research-pipeline.yaml: one agent type, `pipeline`, whose output depends on
 * the task's `inputData.step`. In the review loop each iteration revises the draft before it
 * (`inputData.previous`) and the reviewer approves the third draft.
 */
import type { AgentFactory } from '../../src/index.js';

interface Draft {
  version: number;
  approved: boolean;
}

/** Called by `symphony run` with the engine's agent factory. */
export function register(factory: AgentFactory): void {
  factory.registerAgentType('pipeline', () => ({
    execute: async (task, context) => {
      switch (task.inputData.step) {
        case 'fetch':
          return { documents: task.inputData.documents };
        case 'summarise':
          // A fan-out's task gets its document as inputData.item.
          return { document: task.inputData.item, summary: `${String(task.inputData.item)} in brief` };
        case 'review': {
          // A loop iteration gets inputData.iteration and inputData.previous (null the first time).
          const previous = task.inputData.previous as Draft | null;
          const summaries = context.dependencies.summaries as Array<{ summary: string }>;
          const version = (previous?.version ?? 0) + 1;
          return {
            version,
            text: `Digest v${version}: ${summaries.map((s) => s.summary).join('; ')}`,
            approved: version >= 3,
            risk: task.inputData.risk === true,
          };
        }
        case 'publish': {
          const review = context.dependencies.review as Draft;
          return { published: review.version, approval: context.dependencies.approval };
        }
        default:
          return { done: task.name };
      }
    },
  }));
}
