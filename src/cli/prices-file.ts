import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parsePrices, type PriceTable } from '../engine/budgets.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { CliUsageError } from './cli-error.js';
import { parseWorkflowText } from './workflow-file/load.js';

/**
 * The price table of an option such as `symphony worker --prices <file>`: a JSON or YAML file
 * holding what a workflow file's `prices` holds (`{ [model or agent config]: { inputPerMTok,
 * outputPerMTok } }`), checked by the engine's own rule (`parsePrices`); undefined when not given.
 */
export async function readPricesFile(
  flag: string,
  file: string | undefined,
  cwd: string,
): Promise<PriceTable | undefined> {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(resolve(cwd, file), 'utf8');
  } catch (error) {
    throw new CliUsageError(`${flag}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  const data = parseWorkflowText(text, file);
  try {
    return parsePrices(data);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new CliUsageError(`${flag}: ${file}: ${error.message}`);
    throw error;
  }
}
