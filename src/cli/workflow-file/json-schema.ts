import { z } from 'zod';
import { workflowFileSchema } from './schema.js';

/** The `$id` of the workflow file JSON Schema: a name, not a place to download it from. */
export const WORKFLOW_SCHEMA_ID = 'urn:symphony-engine:workflow-file';

/** Where the generated schema is committed, relative to the repository root (`npm run schema`). */
export const WORKFLOW_SCHEMA_PATH = 'schema/workflow.schema.json';

/**
 * The JSON Schema (draft 2020-12) of a workflow file, generated from the zod schema that
 * `symphony run` checks files with, for editors to complete and check them. `symphony schema`
 * prints it; `schema/workflow.schema.json` is a copy kept up to date by `npm run schema`.
 */
export function workflowJsonSchema(): Record<string, unknown> {
  const { $schema, ...generated } = z.toJSONSchema(workflowFileSchema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'throw',
  });
  return {
    $schema,
    $id: WORKFLOW_SCHEMA_ID,
    title: 'Symphony workflow file',
    description:
      'A workflow file for `symphony run` (JSON or YAML): see docs/cli.md#workflow-files in symphony-engine.',
    ...generated,
  };
}
