/**
 * An agents module for `symphony run`: the demo's text-analysis agents, registered under the
 * types the workflow files in this folder name. A task gives its text as `inputData.text`, or
 * names one of the sample documents in examples/documents as `inputData.document`.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { AgentBuilder, AgentFactory } from '../../src/index.js';
import { createFlakySentiment, keywordExtractor, statistics, summarizer } from '../agents/text-analysis.js';

const documents = new URL('../documents/', import.meta.url);

/** The same agent, with `inputData.text` read from `inputData.document` when it is missing. */
function readingDocuments(builder: AgentBuilder): AgentBuilder {
  return async (config) => {
    const agent = await builder(config);
    return {
      execute: async (task, context) => {
        const { text, document } = task.inputData;
        if (typeof text === 'string' || typeof document !== 'string') return agent.execute(task, context);
        const content = await readFile(new URL(basename(document), documents), 'utf8');
        return agent.execute({ ...task, inputData: { ...task.inputData, text: content } }, context);
      },
    };
  };
}

/** Called by `symphony run` with the engine's agent factory. */
export function register(factory: AgentFactory): void {
  factory.registerAgentType('summarizer', readingDocuments(summarizer));
  factory.registerAgentType('keywords', readingDocuments(keywordExtractor));
  factory.registerAgentType('statistics', readingDocuments(statistics));
  factory.registerAgentType('sentiment', readingDocuments(createFlakySentiment()));
}
