/**
 * The agents module of article.yaml and checks.yaml. `writer` drafts the article of a round (a
 * task of a child workflow: the round's inputs are in `inputData.parent`, with `iteration` and
 * `previous`, the round before's result); `reviewer` approves the second draft; `checker` checks
 * the topic it is given; `publisher` publishes the approved draft once the checks pass.
 */
import type { AgentFactory } from '../../src/index.js';

interface Draft {
  version: number;
  text: string;
}

interface Review {
  approved: boolean;
  notes: string;
}

/** What a round (one child workflow of the loop) gives: its tasks' outputs by key. */
interface Round {
  workflowId: string;
  outputs: { draft: Draft; review: Review };
}

/** The inputData of a round's task: `parent` is the loop iteration's inputData. */
interface RoundInput {
  topic: string;
  iteration: number;
  previous: Round | null;
}

/** Called by `symphony run` with the engine's agent factory. */
export function register(factory: AgentFactory): void {
  factory.registerAgentType('writer', () => ({
    execute: async (task): Promise<Draft> => {
      const { topic, previous } = task.inputData.parent as RoundInput;
      const version = (previous?.outputs.draft.version ?? 0) + 1;
      const notes = previous === null ? '' : ` (revised: ${previous.outputs.review.notes})`;
      return { version, text: `On ${topic}, draft ${version}${notes}` };
    },
  }));

  factory.registerAgentType('reviewer', () => ({
    execute: async (_task, context): Promise<Review> => {
      const draft = context.dependencies.draft as Draft;
      const approved = draft.version >= 2;
      return { approved, notes: approved ? 'ready' : 'needs an example' };
    },
  }));

  factory.registerAgentType('checker', () => ({
    execute: async (task) => {
      // In article.yaml's child workflow the topic comes from the naming task (inputData.parent).
      const parent = task.inputData.parent as { topic?: string } | undefined;
      return { check: task.name, topic: parent?.topic ?? task.inputData.topic, passed: true };
    },
  }));

  factory.registerAgentType('publisher', () => ({
    execute: async (_task, context) => {
      const round = context.dependencies.rounds as Round;
      const checks = context.dependencies.checks as { outputs: Record<string, { passed: boolean }> };
      const failed = Object.entries(checks.outputs).filter(([, check]) => !check.passed);
      if (failed.length > 0) throw new Error(`checks failed: ${failed.map(([key]) => key).join(', ')}`);
      return { published: round.outputs.draft.text, version: round.outputs.draft.version };
    },
  }));
}
