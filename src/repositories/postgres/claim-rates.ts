import { UNBOUNDED_ROOM } from '../../domain/rate-limit.js';

/**
 * `gateRoom` and `gateWaitMs` of src/domain/rate-limit.ts as PostgreSQL expressions, for the claim
 * (claims.ts): over the limits of a gate (`limits`, a json array of `{ requests | tokens, per }`; NULL
 * or empty: none), each joined to its stored bucket by the id `rateBucketId` writes, read at `at`.
 */
export interface GateSql {
  /** The gate key (`agent:<id>`, `key:<key>`), a text expression. */
  gate: string;
  limits: string;
  /** The gate's tasks held, PENDING and due. */
  pending: string;
  at: string;
}

const BIG = String(UNBOUNDED_ROOM);

/** Rows of the gate's limits `l`, each with its stored bucket `b` (or none). */
function limitRows(schema: string, { gate, limits }: GateSql): string {
  const kind = `CASE WHEN l.v->>'requests' IS NOT NULL THEN 'requests:' || (l.v->>'requests') ELSE 'tokens:' || (l.v->>'tokens') END`;
  return (
    ` FROM json_array_elements(${limits}) AS l(v) LEFT JOIN ${schema}.rate_buckets AS b` +
    ` ON b.key = ((${gate}) || ':' || ${kind} || '/' || (l.v->>'per')) COLLATE "C"`
  );
}

const isRequests = `l.v->>'requests' IS NOT NULL`;
const cap = `COALESCE(l.v->>'requests', l.v->>'tokens')::float8`;
const per = `(l.v->>'per')::float8`;
const balance = (at: string) =>
  `least(${cap}, b.tokens + greatest(0, ${at} - b.updated_at) * ${cap} / ${per})`;
const hasLimits = (limits: string) =>
  `(${limits}) IS NOT NULL AND json_typeof(${limits}) = 'array' AND json_array_length(${limits}) > 0`;

/** The starts a gate's buckets allow now, less its pending tasks (`gateRoom`). */
export function gateRoomSql(schema: string, g: GateSql): string {
  const room =
    `CASE WHEN b.key IS NULL THEN (CASE WHEN ${isRequests} THEN ${cap} ELSE ${BIG} END)` +
    ` WHEN b.updated_at > ${g.at} OR ${balance(g.at)} < 1 THEN 0` +
    ` WHEN ${isRequests} THEN floor(${balance(g.at)}) ELSE ${BIG} END`;
  return (
    `(CASE WHEN ${hasLimits(g.limits)} THEN (SELECT min(${room})${limitRows(schema, g)}) - (${g.pending})` +
    ` ELSE ${BIG} END)`
  );
}

/** Ms until a gate could admit start number `need` (`gateWaitMs`); NULL for a gate without limits. */
export function gateWaitSql(schema: string, g: GateSql, need: string): string {
  const want = `(CASE WHEN ${isRequests} THEN ${need} ELSE 1 END)`;
  const tokens = `(CASE WHEN b.key IS NULL THEN ${cap} WHEN b.updated_at > ${g.at} THEN b.tokens ELSE ${balance(g.at)} END)`;
  const from = `greatest(0, COALESCE(b.updated_at, ${g.at}) - ${g.at})`;
  return (
    `(CASE WHEN ${hasLimits(g.limits)} THEN (SELECT max(ceil(${from} + greatest(0, ${want} - ${tokens}) * ${per} / ${cap}))` +
    `${limitRows(schema, g)}) END)`
  );
}
