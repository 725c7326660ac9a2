import type { AgentConfig } from '../../domain/agent-config.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { InvalidArgumentError } from '../../errors/errors.js';
import type { EntitySpec, FieldSpec } from '../entities.js';

/** A row as a driver returns it: column name -> value. */
export type SqlRow = Record<string, unknown>;

/**
 * A row as the repositories read it: the values of its columns in the order of its spec's fields
 * (better-sqlite3's raw mode, pg's `rowMode: 'array'`), so that no driver builds an object per row.
 */
export type SqlValues = readonly unknown[];

/** How a backend represents booleans in parameters and results. */
export interface ValueCodec {
  boolean(value: boolean): unknown;
}

function encodeJson<T>(
  spec: EntitySpec<T & { id: string }>,
  field: FieldSpec<T>,
  value: unknown,
): string | null {
  if (value === undefined && field.nullable) return null;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected \`${spec.entity}.${field.field}\` to be JSON-serializable, got an error: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (json === undefined) {
    if (field.nullable) return null;
    throw new InvalidArgumentError(
      `Expected \`${spec.entity}.${field.field}\` to be a JSON value, got ${typeof value}`,
    );
  }
  return json;
}

/**
 * Writes the values of `entity` in the order of `spec.fields`, ready to bind, into `values` from
 * `offset` on (so that several rows fill one multi-row statement's parameters).
 */
export function encodeRowInto<T extends { id: string }>(
  spec: EntitySpec<T>,
  entity: T,
  codec: ValueCodec,
  values: unknown[],
  offset: number,
): void {
  const fields = spec.fields;
  for (let i = 0; i < fields.length; i += 1) {
    const field = fields[i] as FieldSpec<T>;
    const value: unknown = entity[field.field];
    if (field.kind === 'json') values[offset + i] = encodeJson(spec, field, value);
    else if (field.kind === 'boolean' && typeof value === 'boolean')
      values[offset + i] = codec.boolean(value);
    else values[offset + i] = value === undefined ? null : value;
  }
}

/** The values of `entity` in the order of `spec.fields`, ready to bind. */
export function encodeRow<T extends { id: string }>(
  spec: EntitySpec<T>,
  entity: T,
  codec: ValueCodec,
): unknown[] {
  const values: unknown[] = new Array(spec.fields.length);
  encodeRowInto(spec, entity, codec, values, 0);
  return values;
}

/**
 * Parses a stored JSON column. `JSON.parse` defines every key, `__proto__` included, as an own data
 * property (it never calls the `__proto__` setter), so reloaded data cannot reach any prototype.
 */
export function decodeJson(text: string): unknown {
  return JSON.parse(text);
}

// Column decoders, one per field kind. Small enough for V8 to inline into the entity decoders.

/** `text`, `status`: the value as stored (`undefined`, which no driver returns, as null). */
function scalar(raw: unknown): unknown {
  return raw === undefined ? null : raw;
}

/** `number`, `integer`: a number (a driver may return big integers as text). */
function numeric(raw: unknown): unknown {
  return typeof raw === 'string' ? Number(raw) : raw === undefined ? null : raw;
}

/** `boolean`: SQLite stores 0 and 1, PostgreSQL returns booleans. */
function flag(raw: unknown): boolean {
  return raw === 1 || raw === true;
}

/** `json`: the parsed value; SQL NULL (a nullable field left undefined) reads back as undefined. */
function json(raw: unknown): unknown {
  return raw === null || raw === undefined ? undefined : decodeJson(String(raw));
}

/**
 * Builds an entity from a row's values field by field, following the spec. This generic path only
 * checks the per-entity decoders below (see `rowDecoder`); rows are never built with it, because an
 * object that starts as `{}` and gets 23 keys one at a time has its fields out of object (or as a
 * dictionary), about 1.6 KB more per task than an object literal.
 */
export function decodeRowBySpec<T extends { id: string }>(spec: EntitySpec<T>, row: SqlValues): T {
  const entity: Record<string, unknown> = {};
  spec.fields.forEach((field, i) => {
    const raw = row[i];
    let value: unknown;
    if (field.kind === 'json') value = json(raw);
    else if (field.kind === 'boolean') value = flag(raw);
    else if (field.kind === 'number' || field.kind === 'integer') value = numeric(raw);
    else value = scalar(raw);
    entity[field.field] = value;
  });
  return entity as T;
}

// One decoder per entity: a single object literal listing every field in the order of the spec,
// so that every row of a kind shares one hidden class with all its fields in the object. Each reads
// the row's values by position, which `rowDecoder` checks against the spec.

/** A `tasks` row as a Task. */
export function decodeTask(row: SqlValues): Task {
  return {
    id: scalar(row[0]) as Task['id'],
    name: scalar(row[1]) as Task['name'],
    description: scalar(row[2]) as Task['description'],
    inputData: json(row[3]) as Task['inputData'],
    outputData: json(row[4]),
    tags: json(row[5]) as Task['tags'],
    priority: numeric(row[6]) as Task['priority'],
    status: scalar(row[7]) as Task['status'],
    attempts: numeric(row[8]) as Task['attempts'],
    errors: json(row[9]) as Task['errors'],
    workflowId: scalar(row[10]) as Task['workflowId'],
    agentId: scalar(row[11]) as Task['agentId'],
    idempotencyKey: scalar(row[12]) as Task['idempotencyKey'],
    metadata: json(row[13]) as Task['metadata'],
    createdAt: numeric(row[14]) as Task['createdAt'],
    updatedAt: numeric(row[15]) as Task['updatedAt'],
    startedAt: numeric(row[16]) as Task['startedAt'],
    finishedAt: numeric(row[17]) as Task['finishedAt'],
    runAfter: numeric(row[18]) as Task['runAfter'],
    execution: json(row[19]) as Task['execution'],
    leaseOwner: scalar(row[20]) as Task['leaseOwner'],
    leaseExpiresAt: numeric(row[21]) as Task['leaseExpiresAt'],
    graph: json(row[22]) as Task['graph'],
  };
}

/** A `workflows` row as a Workflow. */
export function decodeWorkflow(row: SqlValues): Workflow {
  return {
    id: scalar(row[0]) as Workflow['id'],
    name: scalar(row[1]) as Workflow['name'],
    description: scalar(row[2]) as Workflow['description'],
    status: scalar(row[3]) as Workflow['status'],
    paused: flag(row[4]),
    cancelled: flag(row[5]),
    metadata: json(row[6]) as Workflow['metadata'],
    createdAt: numeric(row[7]) as Workflow['createdAt'],
    updatedAt: numeric(row[8]) as Workflow['updatedAt'],
  };
}

/** An `agent_configs` row as an AgentConfig. */
export function decodeAgentConfig(row: SqlValues): AgentConfig {
  return {
    id: scalar(row[0]) as AgentConfig['id'],
    name: scalar(row[1]) as AgentConfig['name'],
    type: scalar(row[2]) as AgentConfig['type'],
    description: scalar(row[3]) as AgentConfig['description'],
    capabilities: json(row[4]) as AgentConfig['capabilities'],
    maxConcurrency: numeric(row[5]) as AgentConfig['maxConcurrency'],
    metadata: json(row[6]) as AgentConfig['metadata'],
    createdAt: numeric(row[7]) as AgentConfig['createdAt'],
    updatedAt: numeric(row[8]) as AgentConfig['updatedAt'],
    circuitBreaker: json(row[9]) as AgentConfig['circuitBreaker'],
    rateLimits: json(row[10]) as AgentConfig['rateLimits'],
    quota: json(row[11]) as AgentConfig['quota'],
  };
}

export type RowDecoder<T> = (row: SqlValues) => T;

/** The decoder of each table; `rowDecoder` checks each against its spec before first use. */
const DECODERS: Readonly<Record<string, RowDecoder<unknown>>> = {
  tasks: decodeTask,
  workflows: decodeWorkflow,
  agent_configs: decodeAgentConfig,
};

/** Sample rows that tell every kind of field apart: text, numbers stored as text, 0/1, JSON, NULL. */
function probeRows<T extends { id: string }>(spec: EntitySpec<T>): SqlValues[] {
  const values: unknown[] = [];
  const flipped: unknown[] = [];
  const nulls: unknown[] = [];
  spec.fields.forEach((field, i) => {
    let value: unknown = field.column;
    if (field.kind === 'json') value = JSON.stringify({ column: field.column });
    else if (field.kind === 'number' || field.kind === 'integer') value = String(i + 0.5);
    values.push(field.kind === 'boolean' ? i % 2 : value);
    flipped.push(field.kind === 'boolean' ? 1 - (i % 2) : value);
    nulls.push(null);
  });
  return [values, flipped, nulls];
}

/** Why `decoder` disagrees with the spec-driven decoder on `row`, or undefined if it does not. */
function disagreement<T extends { id: string }>(
  spec: EntitySpec<T>,
  decoder: RowDecoder<unknown>,
  row: SqlValues,
): string | undefined {
  const expected = decodeRowBySpec(spec, row) as Record<string, unknown>;
  const actual = decoder(row) as Record<string, unknown>;
  const want = Object.keys(expected).join(', ');
  const got = Object.keys(actual).join(', ');
  if (want !== got) return `fields ${got}, expected ${want} (the spec's order)`;
  for (const key of Object.keys(expected)) {
    const a = actual[key];
    const e = expected[key];
    if (!Object.is(a, e) && JSON.stringify(a) !== JSON.stringify(e))
      return `${key} is ${JSON.stringify(a)}, expected ${JSON.stringify(e)}`;
  }
  return undefined;
}

const checked = new WeakMap<object, RowDecoder<unknown>>();

/**
 * The decoder of `spec`'s rows: one object literal per entity, checked once against the spec
 * (every field, in order, decoded by its kind from its column). Throws if the entity has no
 * decoder or it disagrees with the spec, so a field added to a spec cannot be left out.
 */
export function rowDecoder<T extends { id: string }>(spec: EntitySpec<T>): RowDecoder<T> {
  let decoder = checked.get(spec);
  if (decoder === undefined) {
    decoder = Object.hasOwn(DECODERS, spec.table) ? DECODERS[spec.table] : undefined;
    if (decoder === undefined)
      throw new Error(`No row decoder for the ${spec.table} table (src/repositories/sql/rows.ts)`);
    for (const row of probeRows(spec)) {
      const problem = disagreement(spec, decoder, row);
      if (problem !== undefined)
        throw new Error(`The row decoder of ${spec.table} does not match its spec: ${problem}`);
    }
    checked.set(spec, decoder);
  }
  return decoder as RowDecoder<T>;
}

/** Builds an entity from a row's values, in the order of the spec's fields. */
export function decodeRow<T extends { id: string }>(spec: EntitySpec<T>, row: SqlValues): T {
  return rowDecoder(spec)(row);
}

/** What a row reads back as, without a round trip: JSON fields re-parsed, undefined as null. */
export function normalizeEntity<T extends { id: string }>(spec: EntitySpec<T>, entity: T): T {
  return rowDecoder(spec)(encodeRow(spec, entity, identity));
}

const identity: ValueCodec = { boolean: (value) => value };
