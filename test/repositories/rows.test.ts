import { describe, expect, it } from 'vitest';
import { agentConfigSpec, taskSpec, workflowSpec, type EntitySpec } from '../../src/repositories/entities.js';
import {
  decodeAgentConfig,
  decodeRowBySpec,
  decodeTask,
  decodeWorkflow,
  normalizeEntity,
  rowDecoder,
  type SqlValues,
} from '../../src/repositories/sql/rows.js';
import { sampleAgentConfig, sampleTask, sampleWorkflow } from '../../src/testing/samples.js';

const cases = [
  { spec: taskSpec, decode: decodeTask },
  { spec: workflowSpec, decode: decodeWorkflow },
  { spec: agentConfigSpec, decode: decodeAgentConfig },
] as const;

/** A row as a driver could return it: every column set, by kind, or NULL where allowed. */
function rowOf(spec: EntitySpec<{ id: string }>, seed: number, withNulls: boolean): unknown[] {
  return spec.fields.map((field, i) => {
    if (withNulls && field.nullable) return null;
    if (field.kind === 'json') return JSON.stringify({ seed, i, list: [seed, `${i}`] });
    if (field.kind === 'boolean') return (seed + i) % 2;
    if (field.kind === 'number') return seed * 1.5 + i;
    if (field.kind === 'integer') return i % 2 === 0 ? seed + i : String(seed + i);
    return `${field.column}-${seed}`;
  });
}

/** The position of `field`'s value in a row of `spec`. */
function at(spec: EntitySpec<{ id: string }>, field: string): number {
  return spec.fields.findIndex((f) => f.field === field);
}

describe('row decoders', () => {
  it.each(cases)(
    'the $spec.table decoder lists every field of the spec in order and agrees with it',
    ({ spec, decode }) => {
      const generic = spec as EntitySpec<{ id: string }>;
      for (let seed = 0; seed < 6; seed += 1) {
        const row = rowOf(generic, seed, seed % 2 === 1);
        const decoded = decode(row) as unknown as Record<string, unknown>;
        expect(Object.keys(decoded)).toEqual(spec.fields.map((field) => field.field));
        expect(decoded).toStrictEqual(decodeRowBySpec(generic, row));
      }
      expect(rowDecoder(generic)).toBe(decode);
    },
  );

  it('reads nullable JSON stored as NULL back as undefined and JSON null as null', () => {
    const spec = taskSpec as EntitySpec<{ id: string }>;
    const row = rowOf(spec, 1, true);
    row[at(spec, 'outputData')] = null;
    expect(decodeTask(row).outputData).toBeUndefined();
    row[at(spec, 'outputData')] = 'null';
    expect(decodeTask(row).outputData).toBeNull();
  });

  it('keeps __proto__ keys of JSON columns as own data', () => {
    const spec = workflowSpec as EntitySpec<{ id: string }>;
    const row = rowOf(spec, 1, false);
    row[at(spec, 'metadata')] = '{"__proto__":{"polluted":"yes"}}';
    const workflow = decodeWorkflow(row as SqlValues);
    expect(Object.getPrototypeOf(workflow)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(workflow.metadata)).toBe(Object.prototype);
    expect(Object.keys(workflow.metadata)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('normalizes entities as a round trip would', () => {
    const task = sampleTask('t', { outputData: undefined, inputData: { a: [1] } });
    expect(normalizeEntity(taskSpec, task)).toStrictEqual({ ...task, outputData: undefined });
    expect(normalizeEntity(workflowSpec, sampleWorkflow('w'))).toStrictEqual(sampleWorkflow('w'));
    expect(normalizeEntity(agentConfigSpec, sampleAgentConfig('a'))).toStrictEqual({
      ...sampleAgentConfig('a'),
      circuitBreaker: undefined,
      rateLimits: undefined,
      quota: undefined,
    });
  });

  it('refuses a spec its decoder does not match, and a table without a decoder', () => {
    const [first, second, ...rest] = workflowSpec.fields;
    const swapped = { ...workflowSpec, fields: [second!, first!, ...rest] };
    expect(() => rowDecoder(swapped)).toThrow(/does not match its spec/);
    const extra = {
      ...workflowSpec,
      fields: [...workflowSpec.fields, { field: 'owner', column: 'owner', kind: 'text', nullable: true }],
    } as unknown as EntitySpec<{ id: string }>;
    expect(() => rowDecoder(extra)).toThrow(/does not match its spec/);
    const paused = workflowSpec.fields.findIndex((field) => field.field === 'paused');
    const flags = [...workflowSpec.fields];
    [flags[paused], flags[paused + 1]] = [flags[paused + 1]!, flags[paused]!];
    expect(() => rowDecoder({ ...workflowSpec, fields: flags })).toThrow(/does not match its spec/);
    expect(() => rowDecoder({ ...workflowSpec, table: 'notes' })).toThrow(/No row decoder/);
  });
});
