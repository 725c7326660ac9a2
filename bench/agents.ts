import type { AgentKind } from './types.js';

const noop = async (): Promise<null> => null;
const timer = (): Promise<null> => new Promise((resolve) => setTimeout(() => resolve(null), 1));

/** The work of one task as a plain async function, shared by every contender. */
export function taskWork(kind: AgentKind): () => Promise<null> {
  return kind === 'noop' ? noop : timer;
}
