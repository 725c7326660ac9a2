/** W7's task work, shared by the parent (which enqueues) and its worker processes (which run). */
export type ScaleOutKind = 'io' | 'noop';

/** Milliseconds of simulated I/O each W7 I/O task awaits. */
export const IO_MS = 5;
/** The pg-boss queue of W7. */
export const SCALE_OUT_QUEUE = 'bench-w7';

const noop = async (): Promise<null> => null;
const io = (): Promise<null> => new Promise((resolve) => setTimeout(() => resolve(null), IO_MS));

export function scaleOutWork(kind: ScaleOutKind): () => Promise<null> {
  return kind === 'noop' ? noop : io;
}

/** The agent config Symphony's tasks are enqueued with (and the agent id the workers run). */
export function scaleOutAgentKey(kind: ScaleOutKind): string {
  return `bench-w7-${kind}`;
}
