/**
 * A first agents module (docs/getting-started.md): a map of agent type -> builder. A builder gets
 * the agent config and returns an object with `execute(task, context)`; what `execute` returns
 * becomes the task's `outputData`, what it throws is a failed attempt (retried by the policy).
 */
import type { AgentBuilder } from '../../src/index.js';

export const agents: Record<string, AgentBuilder> = {
  // Upper-cases the task's query.
  shout: () => ({
    execute: async (task) => ({ text: String(task.inputData.query ?? '').toUpperCase() }),
  }),
  // Counts the words of the query; refuses an empty one (a failure the retry policy sees).
  count: (config) => ({
    execute: async (task, context) => {
      if (context.signal.aborted) throw new Error('aborted');
      const words = String(task.inputData.query ?? '')
        .split(/\s+/)
        .filter(Boolean);
      if (words.length === 0) throw new Error('nothing to count');
      return { words: words.length, countedBy: config.name };
    },
  }),
};
