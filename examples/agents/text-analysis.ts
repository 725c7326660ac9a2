/**
 * Local text-analysis agents for the demo: no network, deterministic, real work on real text.
 */
import type { AgentBuilder } from '../../src/index.js';

const STOP_WORDS = new Set(
  'a an and are as at be but by for from has have i if in is it its of on or so that the this to was we were will with you your our which who not one two'.split(
    ' ',
  ),
);

export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z']+/g) ?? [];
}

export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function frequencies(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const word of words(text)) if (!STOP_WORDS.has(word)) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

function textOf(input: Record<string, unknown>): string {
  const text = input.text;
  if (typeof text !== 'string' || text.length === 0)
    throw new Error('inputData.text must be a non-empty string');
  return text;
}

/** The two sentences whose words are most frequent in the whole text, in their original order. */
export const summarizer: AgentBuilder = () => ({
  execute: async (task) => {
    const text = textOf(task.inputData);
    const freq = frequencies(text);
    const ranked = sentences(text).map((sentence, index) => ({
      sentence,
      index,
      score:
        words(sentence).reduce((sum, w) => sum + (freq.get(w) ?? 0), 0) / Math.max(1, words(sentence).length),
    }));
    const best = [...ranked].sort((a, b) => b.score - a.score).slice(0, 2);
    return {
      summary: best
        .sort((a, b) => a.index - b.index)
        .map((s) => s.sentence)
        .join(' '),
    };
  },
});

/** The five most frequent words that are not stop words. */
export const keywordExtractor: AgentBuilder = () => ({
  execute: async (task) => {
    const freq = frequencies(textOf(task.inputData));
    const keywords = [...freq].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5);
    return { keywords: keywords.map(([word]) => word) };
  },
});

/** Words, sentences, average sentence length and reading time at 200 words per minute. */
export const statistics: AgentBuilder = () => ({
  execute: async (task) => {
    const text = textOf(task.inputData);
    const wordCount = words(text).length;
    const sentenceCount = sentences(text).length;
    return {
      words: wordCount,
      sentences: sentenceCount,
      averageSentenceLength: Math.round((wordCount / Math.max(1, sentenceCount)) * 10) / 10,
      readingSeconds: Math.ceil((wordCount / 200) * 60),
    };
  },
});

const POSITIVE = new Set(
  'praised happy love quiet safer steady better faster cleaner succeed thanks fixed growth happily helps help stable'.split(
    ' ',
  ),
);
const NEGATIVE = new Set(
  'complain late broken cracked waiting disappointment sad fail failed crash problem worried closed lost strange removed'.split(
    ' ',
  ),
);

/**
 * Lexicon-based sentiment. Flaky on purpose: every third call fails with a transient error, so
 * the demo shows retries.
 */
export function createFlakySentiment(): AgentBuilder {
  let calls = 0;
  return () => ({
    execute: async (task) => {
      calls += 1;
      if (calls % 3 === 0) {
        throw Object.assign(new Error('sentiment service is overloaded, try again'), { code: 'OVERLOADED' });
      }
      let score = 0;
      for (const word of words(textOf(task.inputData))) {
        if (POSITIVE.has(word)) score += 1;
        if (NEGATIVE.has(word)) score -= 1;
      }
      return { score, label: score > 0 ? 'positive' : score < 0 ? 'negative' : 'neutral' };
    },
  });
}
