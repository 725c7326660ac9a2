// Writes schema/workflow.schema.json, the JSON Schema of workflow files, from the zod schema in
// src/cli/workflow-file/schema.ts. Run with `npm run schema`; test/cli/workflow-schema.test.ts
// fails when the file on disk differs from what this renders.
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { WORKFLOW_SCHEMA_PATH, workflowJsonSchema } from '../src/cli/workflow-file/json-schema.js';

/** The text of schema/workflow.schema.json under `root`: the schema, formatted as prettier does. */
export async function renderWorkflowSchemaFile(root: string): Promise<string> {
  const path = join(root, WORKFLOW_SCHEMA_PATH);
  const options = (await resolveConfig(path)) ?? {};
  return format(JSON.stringify(workflowJsonSchema(), null, 2), { ...options, filepath: path });
}

/** Writes schema/workflow.schema.json under `root` and returns its path relative to `root`. */
export async function writeWorkflowSchema(root: string): Promise<string> {
  const path = join(root, WORKFLOW_SCHEMA_PATH);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await renderWorkflowSchemaFile(root));
  return WORKFLOW_SCHEMA_PATH;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  process.stdout.write(`wrote ${await writeWorkflowSchema(root)}\n`);
}
