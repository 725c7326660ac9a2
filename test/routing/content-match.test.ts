import type MiniSearchClass from 'minisearch';
import { describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError } from '../../src/errors/errors.js';
import { contentMatch, contentQuery, createContentMatch } from '../../src/routing/content-match.js';
import { agent, inFlight, input, loads, task } from './fixtures.js';

const builds = vi.hoisted(() => ({ count: 0 }));

vi.mock('minisearch', async (importOriginal) => {
  const { default: MiniSearch } = await importOriginal<{ default: typeof MiniSearchClass }>();
  class CountingMiniSearch<T> extends MiniSearch<T> {
    constructor(options: ConstructorParameters<typeof MiniSearch<T>>[0]) {
      super(options);
      builds.count++;
    }
  }
  return { default: CountingMiniSearch };
});

const summarizer = agent('summarizer', {
  name: 'Summarizer',
  description: 'Summarizes long documents, articles and reports into short abstracts',
  capabilities: ['summarization', 'text'],
  maxConcurrency: 2,
});
const translator = agent('translator', {
  name: 'Translator',
  description: 'Translates text between languages such as English, French and German',
  capabilities: ['translation', 'text'],
  maxConcurrency: 2,
});
const coder = agent('coder', {
  name: 'Code writer',
  description: 'Writes and reviews TypeScript and Python code',
  capabilities: ['code'],
  maxConcurrency: 2,
});
const agents = [summarizer, translator, coder];

const query = (text: string) => task({ inputData: { query: text } });

describe('contentMatch', () => {
  it('sends "summarize this document" to the summarizer', () => {
    expect(contentMatch(input(agents, { task: query('summarize this document') }))?.id).toBe('summarizer');
  });

  it('sends "translate to French" to the translator', () => {
    expect(contentMatch(input(agents, { task: query('translate to French') }))?.id).toBe('translator');
  });

  it("searches the task's name and description too", () => {
    const t = task({ name: 'review pull request', description: 'python code quality' });
    expect(contentMatch(input(agents, { task: t }))?.id).toBe('coder');
  });

  it('skips the best match when it is at its limit and takes the next', () => {
    const backup = agent('backup', { description: 'Can translate short notes', maxConcurrency: 1 });
    const t = query('translate to French');
    expect(contentMatch(input([...agents, backup], { task: t }))?.id).toBe('translator');
    const load = inFlight({ translator: 2 });
    expect(contentMatch(input([...agents, backup], { task: t, load }))?.id).toBe('backup');
    expect(contentMatch(input(agents, { task: t, load }))).toBeUndefined();
  });

  it('breaks equal scores by fewest in flight, then id', () => {
    const twin = (id: string) => agent(id, { description: 'summarizes documents', maxConcurrency: 5 });
    const twins = [twin('b'), twin('a')];
    expect(contentMatch(input(twins, { task: query('summarize') }))?.id).toBe('a');
    expect(contentMatch(input(twins, { task: query('summarize'), load: inFlight({ a: 1 }) }))?.id).toBe('b');
  });

  it('breaks equal scores by inFlight + queued, so a queue counts as load', () => {
    const twin = (id: string) => agent(id, { description: 'summarizes documents', maxConcurrency: 5 });
    const twins = [twin('a'), twin('b')];
    const load = loads({ a: { queued: 2 }, b: { inFlight: 1 } });
    expect(contentMatch(input(twins, { task: query('summarize'), load }))?.id).toBe('b');
  });

  it('returns undefined when nothing matches or the task has no text', () => {
    expect(contentMatch(input(agents, { task: query('bake sourdough bread') }))).toBeUndefined();
    expect(contentMatch(input(agents, { task: task() }))).toBeUndefined();
  });

  it('ignores a non-string inputData.query', () => {
    expect(contentQuery(task({ name: 'n', inputData: { query: 42 } }))).toBe('n');
  });

  it('builds one index per candidate set and reuses it across tasks', () => {
    const route = createContentMatch();
    const before = builds.count;
    for (let i = 0; i < 50; i++)
      route(input([...agents], { task: query(i % 2 ? 'summarize' : 'translate') }));
    expect(builds.count - before).toBe(1);
  });

  it('rebuilds when a candidate changes, even without a new updatedAt', () => {
    const route = createContentMatch();
    const cooking = agent('x', { description: 'bakes bread' });
    const t = query('bake bread');
    expect(route(input([cooking, coder], { task: t }))?.id).toBe('x');
    const before = builds.count;
    const renamed = { ...cooking, description: 'repairs bicycles' };
    expect(route(input([renamed, coder], { task: t }))).toBeUndefined();
    expect(builds.count - before).toBe(1);
    route(input([{ ...renamed, updatedAt: 1 }, coder], { task: t }));
    expect(builds.count - before).toBe(2);
  });

  it('keeps at most cacheSize indexes, least recently used out', () => {
    const route = createContentMatch({ cacheSize: 2 });
    const t = query('text');
    const use = (...set: typeof agents) => route(input(set, { task: t }));
    const before = builds.count;
    use(summarizer);
    use(translator);
    use(summarizer); // hit: translator is now the least recently used
    use(coder); // evicts translator
    expect(builds.count - before).toBe(3);
    use(summarizer);
    expect(builds.count - before).toBe(3);
    use(translator);
    expect(builds.count - before).toBe(4);
  });

  it('indexes duplicate candidate ids once', () => {
    expect(contentMatch(input([summarizer, summarizer], { task: query('summarize') }))?.id).toBe(
      'summarizer',
    );
  });

  it('rejects a cacheSize below 1', () => {
    expect(() => createContentMatch({ cacheSize: 0 })).toThrow(InvalidArgumentError);
  });
});
