import MiniSearch, { type SearchOptions } from 'minisearch';
import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { hasCapacity, leastLoaded } from './shared.js';
import type { RoutingFunction } from './types.js';

interface AgentDocument {
  id: string;
  name: string;
  description: string;
  capabilities: string;
}

/** What an index was built from, per candidate position, to notice edits that kept `updatedAt`. */
interface IndexedText {
  name: string;
  description: string;
  capabilities: readonly string[];
}

interface CachedIndex {
  search: MiniSearch<AgentDocument>;
  texts: IndexedText[];
}

export interface ContentMatchOptions {
  /**
   * How many candidate sets keep their search index (least recently used first out).
   * @default 16
   */
  cacheSize?: number;
  /**
   * MiniSearch search options, laid over the defaults (filter is reserved for the capacity check).
   * @default { prefix: true, fuzzy: 0.2, boost: { capabilities: 2, name: 1.5 } }
   */
  searchOptions?: Omit<SearchOptions, 'filter'>;
}

const DEFAULT_SEARCH: Omit<SearchOptions, 'filter'> = {
  prefix: true,
  fuzzy: 0.2,
  combineWith: 'OR',
  boost: { capabilities: 2, name: 1.5 },
};

const STOP_WORDS = new Set(
  (
    'a an and are as at be but by do does for from has have how i in into is it its me my of on or ' +
    'our please so that the their them then these this those to us was we what when which who why ' +
    'will with you your'
  ).split(' '),
);

function processTerm(term: string): string | null {
  const lower = term.toLowerCase();
  return STOP_WORDS.has(lower) ? null : lower;
}

/** The text CONTENT_MATCH searches for: `inputData.query` (when a string), name and description. */
export function contentQuery(task: Readonly<Task>): string {
  const query = task.inputData['query'];
  return [typeof query === 'string' ? query : '', task.name, task.description].join(' ').trim();
}

function signatureOf(candidates: readonly AgentConfig[]): string {
  let signature = '';
  for (const agent of candidates) signature += `${agent.id}\u0000${agent.updatedAt}\u0001`;
  return signature;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function stillMatches(cached: CachedIndex, candidates: readonly AgentConfig[]): boolean {
  for (let i = 0; i < candidates.length; i++) {
    const agent = candidates[i]!;
    const text = cached.texts[i];
    if (
      text === undefined ||
      text.name !== agent.name ||
      text.description !== agent.description ||
      !sameStrings(text.capabilities, agent.capabilities)
    ) {
      return false;
    }
  }
  return true;
}

function buildIndex(candidates: readonly AgentConfig[]): CachedIndex {
  const search = new MiniSearch<AgentDocument>({
    fields: ['name', 'description', 'capabilities'],
    processTerm,
  });
  const seen = new Set<string>();
  const documents: AgentDocument[] = [];
  for (const agent of candidates) {
    if (seen.has(agent.id)) continue;
    seen.add(agent.id);
    documents.push({
      id: agent.id,
      name: agent.name,
      description: agent.description,
      capabilities: agent.capabilities.join(' '),
    });
  }
  search.addAll(documents);
  const texts = candidates.map((agent) => ({
    name: agent.name,
    description: agent.description,
    capabilities: [...agent.capabilities],
  }));
  return { search, texts };
}

/**
 * Builds a CONTENT_MATCH strategy with its own index cache.
 *
 * Agents are indexed with MiniSearch (BM25) over name, description and capabilities; the task's
 * `inputData.query` (when a string), name and description form the query. The best-scoring agent
 * below its `maxConcurrency` (judged on `inFlight` only) wins; equal scores go to the fewest
 * assigned (`inFlight + queued`), then the lowest assigned / `maxConcurrency`, then the lowest id. No
 * agent matching any term gives `undefined`. An index is reused while the candidates keep the
 * same ids, `updatedAt` and indexed text, so routing many tasks does not rebuild it.
 *
 * @example
 * const route = createContentMatch({ cacheSize: 4 });
 * const agent = route({ task, candidates, load, cursor: 0 });
 */
export function createContentMatch(options: ContentMatchOptions = {}): RoutingFunction {
  const cacheSize = options.cacheSize ?? 16;
  if (!Number.isInteger(cacheSize) || cacheSize < 1) {
    throw new InvalidArgumentError(`Expected \`cacheSize\` to be an integer >= 1, got ${String(cacheSize)}`);
  }
  const searchOptions = { ...DEFAULT_SEARCH, ...options.searchOptions };
  const cache = new Map<string, CachedIndex>();

  const indexFor = (candidates: readonly AgentConfig[]): CachedIndex => {
    const signature = signatureOf(candidates);
    let entry = cache.get(signature);
    if (entry !== undefined) cache.delete(signature);
    if (entry === undefined || !stillMatches(entry, candidates)) entry = buildIndex(candidates);
    cache.set(signature, entry);
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
    return entry;
  };

  return ({ task, candidates, load }) => {
    const query = contentQuery(task);
    if (query === '') return undefined;
    const byId = new Map<string, AgentConfig>();
    for (const agent of candidates) {
      if (!byId.has(agent.id) && hasCapacity(agent, load)) byId.set(agent.id, agent);
    }
    if (byId.size === 0) return undefined;
    const results = indexFor(candidates).search.search(query, {
      ...searchOptions,
      filter: (result) => byId.has(result.id as string),
    });
    const top = results[0];
    if (top === undefined || !(top.score > 0)) return undefined;
    const tied: AgentConfig[] = [];
    for (const result of results) {
      if (result.score !== top.score) break;
      tied.push(byId.get(result.id as string)!);
    }
    return leastLoaded(tied, load);
  };
}

let defaultContentMatch: RoutingFunction | undefined;

/** CONTENT_MATCH with a shared default cache, created on first use; see {@link createContentMatch}. */
export const contentMatch: RoutingFunction = (input) => (defaultContentMatch ??= createContentMatch())(input);
