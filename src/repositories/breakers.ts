import { BreakerState } from '../../machines/circuit-breaker.machine.js';
import { InvalidArgumentError } from '../errors/errors.js';

/**
 * The state of one agent config's circuit breaker as engines share it through the store: the last
 * transition any engine made (see machines/circuit-breaker.machine.ts). Each engine writes a row on
 * every transition of its own breaker and reads the rows at most once per control poll.
 */
export interface StoredBreaker {
  /** The agent config's id (an execution's agent key). */
  agentId: string;
  state: BreakerState;
  /** When the breaker last opened (epoch ms); null before it ever did. */
  openedAt: number | null;
  /** Failures counted in the window when the row was written. */
  failures: number;
  /** When the transition happened (epoch ms, the writing engine's clock): newer rows win. */
  changedAt: number;
  /** The engine that made the transition. */
  changedBy: string;
}

const STATES: readonly string[] = Object.values(BreakerState);

/** Checks a row before it is written; throws InvalidArgumentError naming the bad field. */
export function expectStoredBreaker(row: StoredBreaker): StoredBreaker {
  const bad = (field: string, value: unknown) =>
    new InvalidArgumentError(`Expected \`breaker.${field}\` to be valid, got ${JSON.stringify(value)}`, {
      details: { field },
    });
  if (typeof row !== 'object' || row === null) throw bad('row', row);
  if (typeof row.agentId !== 'string' || row.agentId === '') throw bad('agentId', row.agentId);
  if (!STATES.includes(row.state)) throw bad('state', row.state);
  if (row.openedAt !== null && !Number.isFinite(row.openedAt)) throw bad('openedAt', row.openedAt);
  if (!Number.isSafeInteger(row.failures) || row.failures < 0) throw bad('failures', row.failures);
  if (!Number.isFinite(row.changedAt)) throw bad('changedAt', row.changedAt);
  if (typeof row.changedBy !== 'string') throw bad('changedBy', row.changedBy);
  return row;
}

/** Rows in a stable order whatever the store's collation: by agent id (code units). */
export function byAgentId(a: StoredBreaker, b: StoredBreaker): number {
  return a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0;
}

/** A SQL row (agent_id, state, opened_at, failures, changed_at, changed_by) as a StoredBreaker. */
export function toStoredBreakers(rows: readonly unknown[]): StoredBreaker[] {
  return rows
    .map((raw) => {
      const row = raw as Record<string, unknown>;
      return {
        agentId: String(row.agent_id),
        state: String(row.state) as BreakerState,
        openedAt: row.opened_at === null ? null : Number(row.opened_at),
        failures: Number(row.failures),
        changedAt: Number(row.changed_at),
        changedBy: String(row.changed_by),
      };
    })
    .sort(byAgentId);
}

/**
 * The upsert of a breaker row (`table` quoted already; `$n` or `?` placeholders in the order
 * agentId, state, openedAt, failures, changedAt, changedBy): a row replaces the stored one only
 * when its `changedAt` is later, so the newest transition wins whatever the order of the writes.
 */
export function saveBreakerStatement(table: string, placeholder: (n: number) => string): string {
  const p = [1, 2, 3, 4, 5, 6].map(placeholder);
  return (
    `INSERT INTO ${table} AS b (agent_id, state, opened_at, failures, changed_at, changed_by)` +
    ` VALUES (${p.join(', ')}) ON CONFLICT (agent_id) DO UPDATE SET state = excluded.state,` +
    ` opened_at = excluded.opened_at, failures = excluded.failures, changed_at = excluded.changed_at,` +
    ` changed_by = excluded.changed_by WHERE excluded.changed_at > b.changed_at`
  );
}

/** Every breaker row (`table` quoted already). */
export function breakersStatement(table: string): string {
  return `SELECT agent_id, state, opened_at, failures, changed_at, changed_by FROM ${table}`;
}

/** The parameters of {@link saveBreakerStatement} for a row. */
export function breakerParams(row: StoredBreaker): unknown[] {
  return [row.agentId, row.state, row.openedAt, row.failures, row.changedAt, row.changedBy];
}

/** The breaker rows of an in-process store. */
export class BreakerLog {
  private readonly rows = new Map<string, StoredBreaker>();

  save(row: StoredBreaker): boolean {
    const checked = expectStoredBreaker(row);
    const stored = this.rows.get(checked.agentId);
    if (stored !== undefined && stored.changedAt >= checked.changedAt) return false;
    this.rows.set(checked.agentId, { ...checked });
    return true;
  }

  list(): StoredBreaker[] {
    return [...this.rows.values()].map((row) => ({ ...row })).sort(byAgentId);
  }
}
