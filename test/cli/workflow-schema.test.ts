import { fc, it as propIt } from '@fast-check/vitest';
// ajv 6 is in node_modules through eslint (a dev dependency): it implements draft-07, which means
// the same as draft 2020-12 for every keyword the generated schema uses (checked below).
import Ajv from 'ajv';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WORKFLOW_SCHEMA_PATH, workflowJsonSchema } from '../../src/cli/workflow-file/json-schema.js';
import { parseWorkflowText } from '../../src/cli/workflow-file/load.js';
import { workflowFileSchema } from '../../src/cli/workflow-file/schema.js';
import { renderWorkflowSchemaFile } from '../../scripts/workflow-schema.js';
import { cli, EXAMPLES, FIXTURES, ROOT } from './helpers.js';

// The workflow file format as a JSON Schema generated from the zod schema (issue: dynamic
// workflows), for editors. The JSON Schema must accept exactly what `symphony run` accepts.

const committedText = readFileSync(join(ROOT, WORKFLOW_SCHEMA_PATH), 'utf8');
const committed = JSON.parse(committedText) as Record<string, unknown>;

/** Keywords whose meaning is the same in draft-07 (ajv 6) and draft 2020-12 (as zod writes them). */
const SHARED_KEYWORDS = new Set([
  '$schema',
  '$id',
  'title',
  'description',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'propertyNames',
  'anyOf',
  'enum',
  'minItems',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  // A child workflow's definition holds tasks that may hold one: its schema is in $defs, by $ref.
  '$ref',
  '$defs',
]);

type Schema = Record<string, unknown>;

/** Every subschema of a schema (itself included), with its JSON pointer. */
function subschemas(schema: Schema, at = '#'): Array<[string, Schema]> {
  const out: Array<[string, Schema]> = [[at, schema]];
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  for (const [key, sub] of Object.entries(properties))
    out.push(...subschemas(sub, `${at}/properties/${key}`));
  for (const key of ['items', 'additionalProperties', 'propertyNames']) {
    const sub = schema[key];
    if (typeof sub === 'object' && sub !== null) out.push(...subschemas(sub as Schema, `${at}/${key}`));
  }
  ((schema.anyOf ?? []) as Schema[]).forEach((sub, i) => out.push(...subschemas(sub, `${at}/anyOf/${i}`)));
  for (const [key, sub] of Object.entries((schema.$defs ?? {}) as Record<string, Schema>))
    out.push(...subschemas(sub, `${at}/$defs/${key}`));
  return out;
}

const ajv = new Ajv({ allErrors: true });
const validate = ajv.compile(
  Object.fromEntries(Object.entries(committed).filter(([key]) => key !== '$schema')),
);

/** What the JSON Schema and zod say of a value: accepted or not, and ajv's error keywords. */
function verdicts(value: unknown): { json: boolean; zod: boolean; keywords: string[] } {
  const json = validate(value) === true;
  const keywords = (validate.errors ?? []).map((error) => error.keyword);
  return { json, zod: workflowFileSchema.safeParse(value).success, keywords };
}

/** Fenced yaml and json blocks of the docs that are workflow files (they have `tasks`). */
function docExamples(): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const doc of readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md'))) {
    const text = readFileSync(join(ROOT, 'docs', doc), 'utf8');
    for (const [, language, body] of text.matchAll(/```(yaml|json)\n([\s\S]*?)```/g)) {
      const value = parseWorkflowText(body!, `doc.${language}`);
      if (typeof value === 'object' && value !== null && 'tasks' in value) out.push([`docs/${doc}`, value]);
    }
  }
  return out;
}

/** Every workflow file of the repository: examples, CLI test fixtures, and the docs' examples. */
function workflowFiles(): Array<[string, unknown]> {
  const files: Array<[string, unknown]> = [];
  for (const dir of [EXAMPLES, FIXTURES]) {
    for (const name of readdirSync(dir).filter((file) => /\.(ya?ml|json)$/.test(file))) {
      const path = join(dir, name);
      files.push([path.slice(ROOT.length + 1), parseWorkflowText(readFileSync(path, 'utf8'), path)]);
    }
  }
  const graph = join(ROOT, 'test/fixtures/graph-workflow.yaml');
  files.push([graph.slice(ROOT.length + 1), parseWorkflowText(readFileSync(graph, 'utf8'), graph)]);
  return [...files, ...docExamples()];
}

const minimal = {
  name: 'W',
  tasks: [{ name: 't' }],
  agents: { configs: [{ name: 'A', type: 'a' }] },
};

describe('schema/workflow.schema.json', () => {
  it('is what `npm run schema` generates from the zod schema now', async () => {
    expect(committedText, `${WORKFLOW_SCHEMA_PATH} is stale: run \`npm run schema\``).toBe(
      await renderWorkflowSchemaFile(ROOT),
    );
    expect(committed).toEqual(workflowJsonSchema());
  });

  it('is a draft 2020-12 schema with an id and a title, closed objects and the required fields', () => {
    expect(committed).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'urn:symphony-engine:workflow-file',
      title: 'Symphony workflow file',
      type: 'object',
      required: ['name', 'tasks', 'agents'],
    });
    const objects = subschemas(committed).filter(([, schema]) => schema.properties !== undefined);
    expect(objects.map(([at]) => at)).toEqual([
      '#',
      '#/properties/tasks/items',
      '#/properties/tasks/items/properties/compensate',
      '#/properties/tasks/items/properties/sleep/anyOf/0',
      '#/properties/tasks/items/properties/sleep/anyOf/1',
      '#/properties/tasks/items/properties/loop',
      '#/properties/tasks/items/properties/waitFor/anyOf/2',
      '#/properties/tasks/items/properties/keyRateLimits/items/anyOf/0',
      '#/properties/tasks/items/properties/keyRateLimits/items/anyOf/1',
      '#/properties/tasks/items/properties/retry',
      '#/properties/routing',
      '#/properties/retry',
      '#/properties/fallback',
      '#/properties/agents',
      '#/properties/agents/properties/configs/items',
      '#/properties/agents/properties/configs/items/properties/circuitBreaker',
      '#/properties/agents/properties/configs/items/properties/rateLimits/items/anyOf/0',
      '#/properties/agents/properties/configs/items/properties/rateLimits/items/anyOf/1',
      '#/properties/agents/properties/configs/items/properties/quota',
      '#/properties/keyRateLimits/items/anyOf/0',
      '#/properties/keyRateLimits/items/anyOf/1',
      '#/properties/budget',
      '#/properties/prices/additionalProperties',
      '#/properties/schedule',
      '#/properties/debounce',
      '#/properties/singleton',
      '#/$defs/childWorkflow/anyOf/1',
      '#/$defs/childWorkflow/anyOf/1/properties/definition',
      '#/$defs/childWorkflow/anyOf/1/properties/definition/properties/tasks/items',
      '#/$defs/childWorkflow/anyOf/1/properties/definition/properties/tasks/items/properties/compensate',
      '#/$defs/childWorkflow/anyOf/1/properties/definition/properties/tasks/items/properties/sleep/anyOf/0',
      '#/$defs/childWorkflow/anyOf/1/properties/definition/properties/tasks/items/properties/sleep/anyOf/1',
      '#/$defs/childWorkflow/anyOf/1/properties/definition/properties/tasks/items/properties/loop',
      '#/$defs/childWorkflow/anyOf/1/properties/definition/properties/tasks/items/properties/waitFor/anyOf/2',
    ]);
    for (const [at, schema] of objects) expect(schema.additionalProperties, at).toBe(false);
    const properties = committed.properties as Record<string, Schema>;
    expect(properties.tasks).toMatchObject({ type: 'array', minItems: 1 });
    expect(properties.agents!.required).toEqual(['configs']);
    expect(properties.name!.description).toBe("The workflow's name.");
  });

  it('uses only keywords that mean the same in draft-07, which the validator of these tests implements', () => {
    for (const [at, schema] of subschemas(committed)) {
      expect(
        Object.keys(schema).filter((key) => !SHARED_KEYWORDS.has(key)),
        at,
      ).toEqual([]);
      expect(Array.isArray(schema.items), `${at}: array-form items`).toBe(false);
    }
  });
});

describe('the JSON Schema accepts what the zod schema accepts', () => {
  const files = workflowFiles();

  it('finds the workflow files of the repository', () => {
    const names = files.map(([name]) => name);
    expect(names).toEqual(
      expect.arrayContaining([
        'examples/workflows/my-workflow.yaml',
        'examples/workflows/questions.json',
        'test/cli/fixtures/broken.yaml',
        'test/fixtures/graph-workflow.yaml',
        'docs/cli.md',
        'docs/getting-started.md',
      ]),
    );
    expect(files.filter(([, value]) => verdicts(value).zod).length).toBeGreaterThanOrEqual(8);
  });

  it.each(files)('%s: same verdict as zod', (_name, value) => {
    const { json, zod } = verdicts(value);
    expect(json).toBe(zod);
  });

  it('rejects the broken fixture, as zod does', () => {
    const broken = files.find(([name]) => name === 'test/cli/fixtures/broken.yaml')![1];
    expect(verdicts(broken)).toMatchObject({ json: false, zod: false });
  });

  it('accepts a minimal file', () => {
    expect(verdicts(minimal)).toEqual({ json: true, zod: true, keywords: [] });
  });

  it.each<[string, unknown, string]>([
    ['an unknown field', { ...minimal, retries: 3 }, 'additionalProperties'],
    [
      'an unknown field of a task',
      { ...minimal, tasks: [{ name: 't', title: 'x' }] },
      'additionalProperties',
    ],
    ['a missing name', { tasks: minimal.tasks, agents: minimal.agents }, 'required'],
    ['an empty name', { ...minimal, name: '' }, 'minLength'],
    ['a task without a name', { ...minimal, tasks: [{ query: 'q' }] }, 'required'],
    ['empty tasks', { ...minimal, tasks: [] }, 'minItems'],
    ['no agents', { name: 'W', tasks: minimal.tasks }, 'required'],
    ['empty agent configs', { ...minimal, agents: { configs: [] } }, 'minItems'],
    ['an unknown strategy', { ...minimal, routing: { strategy: 'FASTEST' } }, 'enum'],
    ['a fractional concurrency', { ...minimal, concurrency: 1.5 }, 'type'],
    ['a concurrency of 0', { ...minimal, concurrency: 0 }, 'minimum'],
    ['a jitter above 1', { ...minimal, retry: { jitter: 2 } }, 'maximum'],
    ['tags that are not an array', { ...minimal, tasks: [{ name: 't', tags: 'a' }] }, 'type'],
    ['inputData that is an array', { ...minimal, tasks: [{ name: 't', inputData: [1] }] }, 'type'],
    ['a key that is not a name', { ...minimal, tasks: [{ name: 't', key: 'a b' }] }, 'pattern'],
    ['dependsOn that is not an array', { ...minimal, tasks: [{ name: 't', dependsOn: 'a' }] }, 'type'],
    ['an empty when', { ...minimal, tasks: [{ name: 't', when: '' }] }, 'minLength'],
    [
      'a loop of 0 iterations',
      { ...minimal, tasks: [{ name: 't', key: 't', loop: { until: 'true', maxIterations: 0 } }] },
      'minimum',
    ],
    ['a loop without until', { ...minimal, tasks: [{ name: 't', loop: { maxIterations: 2 } }] }, 'required'],
    ['a bad signal name', { ...minimal, tasks: [{ name: 't', waitFor: 'a b' }] }, 'pattern'],
    ['no signal names', { ...minimal, tasks: [{ name: 't', waitFor: [] }] }, 'minItems'],
    [
      'a negative wait timeout',
      { ...minimal, tasks: [{ name: 't', waitFor: { signals: 'go', timeoutMs: -1 } }] },
      'minimum',
    ],
    [
      'a definition task without a key',
      { ...minimal, tasks: [{ name: 't', workflow: { definition: { name: 'c', tasks: [{ name: 'x' }] } } }] },
      'required',
    ],
    [
      'an unknown field of a nested definition task',
      {
        ...minimal,
        tasks: [
          {
            name: 't',
            workflow: {
              definition: {
                name: 'c',
                tasks: [
                  { key: 'x', workflow: { definition: { name: 'd', tasks: [{ key: 'y', metadata: {} }] } } },
                ],
              },
            },
          },
        ],
      },
      'additionalProperties',
    ],
    [
      'an empty definition',
      { ...minimal, tasks: [{ name: 't', workflow: { definition: { name: 'c', tasks: [] } } }] },
      'minItems',
    ],
    ['an empty child file path', { ...minimal, tasks: [{ name: 't', workflow: '' }] }, 'minLength'],
    ['not an object', 'just text', 'type'],
  ])('rejects %s, as zod does', (_what, value, keyword) => {
    const { json, zod, keywords } = verdicts(value);
    expect(zod).toBe(false);
    expect(json).toBe(false);
    expect(keywords).toContain(keyword);
  });

  // Files near the format: mostly valid, each field sometimes left out or given a wrong value.
  const wrong = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -3, max: 3 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string(),
    fc.constant(''),
    fc.constant([]),
    fc.array(fc.string(), { maxLength: 2 }),
    fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
  );
  const mostly = <T>(valid: fc.Arbitrary<T>) =>
    fc.oneof({ arbitrary: valid, weight: 15 }, { arbitrary: wrong, weight: 1 });
  // fc.option's freq: 1 in freq values is left out.
  const optional = <T>(valid: fc.Arbitrary<T>) => fc.option(mostly(valid), { nil: undefined, freq: 2 });
  const required = <T>(valid: fc.Arbitrary<T>) => fc.option(mostly(valid), { nil: undefined, freq: 30 });
  const closed = <T>(fields: { [K in keyof T]: fc.Arbitrary<T[K]> }) =>
    fc
      .record({
        ...fields,
        unknown: fc.oneof(
          { arbitrary: fc.constant(undefined), weight: 30 },
          { arbitrary: fc.constant(1), weight: 1 },
        ),
      })
      .map((value) => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)));
  const name = fc.string({ minLength: 1, maxLength: 3 });
  const list = <T>(item: fc.Arbitrary<T>) => fc.array(item, { minLength: 1, maxLength: 2 });
  const definitionTask = closed({
    key: required(fc.constantFrom('a', 'b_1', '1x')),
    name: optional(name),
    tags: optional(fc.array(fc.string(), { maxLength: 2 })),
    dependsOn: optional(fc.array(fc.constantFrom('a', 'b_1'), { maxLength: 2 })),
    workflow: optional(
      fc.oneof(
        fc.constantFrom('./child.yaml', ''),
        closed({
          definition: required(
            closed({
              name: required(name),
              tasks: required(list(closed({ key: required(fc.constant('z')) }))),
            }),
          ),
        }),
      ),
    ),
  });
  const task = closed({
    name: required(name),
    query: optional(fc.string()),
    tags: optional(fc.array(fc.string(), { maxLength: 2 })),
    priority: optional(fc.integer()),
    inputData: optional(fc.dictionary(fc.string({ maxLength: 3 }), wrong, { maxKeys: 2 })),
    key: optional(fc.constantFrom('a', 'b_1', '_c', 'd-e', '1x', '-a', 'a b', '')),
    dependsOn: optional(fc.array(fc.constantFrom('a', 'b_1'), { maxLength: 2 })),
    when: optional(fc.constantFrom('outputs.a.ok', 'true')),
    loop: optional(
      closed({
        until: required(fc.constantFrom('outputs.a.ok', 'true')),
        maxIterations: required(fc.integer({ min: 0, max: 3 })),
      }),
    ),
    waitFor: optional(
      fc.oneof(
        fc.constantFrom('go', 'a.b:c', ':x'),
        fc.array(fc.constantFrom('go', 'stop', 'a b'), { maxLength: 2 }),
        closed({
          signals: required(fc.constantFrom('go', ['go', 'stop'], [])),
          timeoutMs: optional(fc.integer({ min: -1, max: 10 })),
        }),
      ),
    ),
    workflow: optional(
      fc.oneof(
        fc.constantFrom('./child.yaml', ''),
        closed({
          definition: required(
            closed({
              name: required(name),
              description: optional(fc.string()),
              tasks: required(list(definitionTask)),
            }),
          ),
        }),
      ),
    ),
  });
  const file = closed({
    name: required(name),
    tasks: required(list(task)),
    routing: optional(closed({ strategy: required(fc.constantFrom('ROUND_ROBIN', 'LOAD_BALANCED')) })),
    concurrency: optional(fc.integer({ min: 1, max: 3 })),
    retry: optional(
      closed({
        maxAttempts: optional(fc.integer({ min: 1, max: 3 })),
        jitter: optional(fc.double({ min: 0, max: 1, noNaN: true })),
      }),
    ),
    timeoutMs: optional(fc.double({ min: 0, max: 100, noNaN: true })),
    agents: required(
      closed({
        module: optional(name),
        configs: required(
          list(
            closed({
              name: required(name),
              type: required(name),
              maxConcurrency: optional(fc.integer({ min: 1, max: 2 })),
            }),
          ),
        ),
      }),
    ),
  });

  propIt.prop([file], { numRuns: 500 })('gives the same verdict as zod on files near the format', (value) => {
    const { json: accepted, zod } = verdicts(value);
    expect(accepted).toBe(zod);
  });

  it('sees both verdicts among the generated files (the property is not vacuous)', () => {
    const seen = fc.sample(file, { numRuns: 500, seed: 1 }).map((value) => verdicts(value).zod);
    expect(seen.filter(Boolean).length).toBeGreaterThan(5);
    expect(seen.filter((accepted) => !accepted).length).toBeGreaterThan(5);
  });
});

describe('symphony schema', () => {
  it('prints the committed JSON Schema as JSON', async () => {
    const { code, stdout, stderr } = await cli(['schema']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(committed);
  });

  it('takes no store option', async () => {
    const { code, stderr } = await cli(['schema', '--db', ':memory:']);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown option '--db'");
  });
});
