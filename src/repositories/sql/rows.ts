import type { AgentConfig } from '../../domain/agent-config.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { InvalidArgumentError } from '../../errors/errors.js';
import type { EntitySpec, FieldSpec } from '../entities.js';

/** A row as a driver returns it: column name -> value. */
export type SqlRow = Record<string, unknown>;

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
 * Builds an entity from a driver row field by field, following the spec. This generic path only
 * checks the per-entity decoders below (see `rowDecoder`); rows are never built with it, because an
 * object that starts as `{}` and gets 23 keys one at a time has its fields out of object (or as a
 * dictionary), about 1.6 KB more per task than an object literal.
 */
export function decodeRowBySpec<T extends { id: string }>(spec: EntitySpec<T>, row: SqlRow): T {
  const entity: Record<string, unknown> = {};
  for (const field of spec.fields) {
    const raw = row[field.column];
    let value: unknown;
    if (field.kind === 'json') value = json(raw);
    else if (field.kind === 'boolean') value = flag(raw);
    else if (field.kind === 'number' || field.kind === 'integer') value = numeric(raw);
    else value = scalar(raw);
    entity[field.field] = value;
  }
  return entity as T;
}

// One decoder per entity: a single object literal listing every field in the order of the spec,
// so that every row of a kind shares one hidden class with all its fields in the object.

/** A `tasks` row as a Task. */
export function decodeTask(row: SqlRow): Task {
  return {
    id: scalar(row.id) as Task['id'],
    name: scalar(row.name) as Task['name'],
    description: scalar(row.description) as Task['description'],
    inputData: json(row.input_data) as Task['inputData'],
    outputData: json(row.output_data),
    tags: json(row.tags) as Task['tags'],
    priority: numeric(row.priority) as Task['priority'],
    status: scalar(row.status) as Task['status'],
    attempts: numeric(row.attempts) as Task['attempts'],
    errors: json(row.errors) as Task['errors'],
    workflowId: scalar(row.workflow_id) as Task['workflowId'],
    agentId: scalar(row.agent_id) as Task['agentId'],
    idempotencyKey: scalar(row.idempotency_key) as Task['idempotencyKey'],
    metadata: json(row.metadata) as Task['metadata'],
    createdAt: numeric(row.created_at) as Task['createdAt'],
    updatedAt: numeric(row.updated_at) as Task['updatedAt'],
    startedAt: numeric(row.started_at) as Task['startedAt'],
    finishedAt: numeric(row.finished_at) as Task['finishedAt'],
    runAfter: numeric(row.run_after) as Task['runAfter'],
    execution: json(row.execution) as Task['execution'],
    leaseOwner: scalar(row.lease_owner) as Task['leaseOwner'],
    leaseExpiresAt: numeric(row.lease_expires_at) as Task['leaseExpiresAt'],
  };
}

/** A `workflows` row as a Workflow. */
export function decodeWorkflow(row: SqlRow): Workflow {
  return {
    id: scalar(row.id) as Workflow['id'],
    name: scalar(row.name) as Workflow['name'],
    description: scalar(row.description) as Workflow['description'],
    status: scalar(row.status) as Workflow['status'],
    paused: flag(row.paused),
    cancelled: flag(row.cancelled),
    metadata: json(row.metadata) as Workflow['metadata'],
    createdAt: numeric(row.created_at) as Workflow['createdAt'],
    updatedAt: numeric(row.updated_at) as Workflow['updatedAt'],
  };
}

/** An `agent_configs` row as an AgentConfig. */
export function decodeAgentConfig(row: SqlRow): AgentConfig {
  return {
    id: scalar(row.id) as AgentConfig['id'],
    name: scalar(row.name) as AgentConfig['name'],
    type: scalar(row.type) as AgentConfig['type'],
    description: scalar(row.description) as AgentConfig['description'],
    capabilities: json(row.capabilities) as AgentConfig['capabilities'],
    maxConcurrency: numeric(row.max_concurrency) as AgentConfig['maxConcurrency'],
    metadata: json(row.metadata) as AgentConfig['metadata'],
    createdAt: numeric(row.created_at) as AgentConfig['createdAt'],
    updatedAt: numeric(row.updated_at) as AgentConfig['updatedAt'],
  };
}

export type RowDecoder<T> = (row: SqlRow) => T;

/** The decoder of each table; `rowDecoder` checks each against its spec before first use. */
const DECODERS: Readonly<Record<string, RowDecoder<unknown>>> = {
  tasks: decodeTask,
  workflows: decodeWorkflow,
  agent_configs: decodeAgentConfig,
};

/** Sample rows that tell every kind of field apart: text, numbers stored as text, 0/1, JSON, NULL. */
function probeRows<T extends { id: string }>(spec: EntitySpec<T>): SqlRow[] {
  const values: SqlRow = {};
  const flipped: SqlRow = {};
  const nulls: SqlRow = {};
  spec.fields.forEach((field, i) => {
    let value: unknown = field.column;
    if (field.kind === 'json') value = JSON.stringify({ column: field.column });
    else if (field.kind === 'number' || field.kind === 'integer') value = String(i + 0.5);
    values[field.column] = field.kind === 'boolean' ? i % 2 : value;
    flipped[field.column] = field.kind === 'boolean' ? 1 - (i % 2) : value;
    nulls[field.column] = null;
  });
  return [values, flipped, nulls];
}

/** Why `decoder` disagrees with the spec-driven decoder on `row`, or undefined if it does not. */
function disagreement<T extends { id: string }>(
  spec: EntitySpec<T>,
  decoder: RowDecoder<unknown>,
  row: SqlRow,
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

/** Builds an entity from a driver row; only the spec's fields are read. */
export function decodeRow<T extends { id: string }>(spec: EntitySpec<T>, row: SqlRow): T {
  return rowDecoder(spec)(row);
}

/** What a row reads back as, without a round trip: JSON fields re-parsed, undefined as null. */
export function normalizeEntity<T extends { id: string }>(spec: EntitySpec<T>, entity: T): T {
  const values = encodeRow(spec, entity, identity);
  const row: SqlRow = {};
  spec.fields.forEach((field, i) => (row[field.column] = values[i]));
  return decodeRow(spec, row);
}

const identity: ValueCodec = { boolean: (value) => value };
