import type { ExecuteOptions } from '../../index.js';
import type { WorkflowFile } from './schema.js';

type FilePolicies = Pick<WorkflowFile, 'concurrencyKey' | 'keyConcurrency' | 'keyRateLimits'>;

/** The problems of a file's fairness key: a `keyConcurrency` or `keyRateLimits` without a `concurrencyKey`. */
export function policyProblems(file: FilePolicies): string[] {
  if (file.concurrencyKey !== undefined) return [];
  return (['keyConcurrency', 'keyRateLimits'] as const)
    .filter((field) => file[field] !== undefined)
    .map((field) => `${field}: only allowed with a concurrencyKey (the key whose tasks it limits)`);
}

/** The execution options of a file's (or run record's) fairness key; {} when it has none. */
export function fairnessOptions(
  file: FilePolicies,
): Pick<ExecuteOptions, 'concurrencyKey' | 'keyConcurrency' | 'keyRateLimits'> {
  return {
    ...(file.concurrencyKey === undefined ? {} : { concurrencyKey: file.concurrencyKey }),
    ...(file.keyConcurrency === undefined ? {} : { keyConcurrency: file.keyConcurrency }),
    ...(file.keyRateLimits === undefined ? {} : { keyRateLimits: file.keyRateLimits }),
  };
}
