import { ExitCode } from '../exit-codes.js';
import { printJson, type CliIO } from '../io.js';
import { workflowJsonSchema } from '../workflow-file/json-schema.js';

/** `symphony schema`: prints the JSON Schema of workflow files (see docs/cli.md#symphony-schema). */
export function schemaCommand(io: CliIO): number {
  printJson(io.stdout, workflowJsonSchema());
  return ExitCode.OK;
}
