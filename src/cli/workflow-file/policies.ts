import type { ExecuteOptions } from '../../index.js';
import type { WorkflowFile } from './schema.js';

type FilePolicies = Pick<WorkflowFile, 'concurrencyKey' | 'keyConcurrency'>;

/** The problems of a file's fairness key: a `keyConcurrency` without a `concurrencyKey`. */
export function policyProblems(file: FilePolicies): string[] {
  if (file.keyConcurrency !== undefined && file.concurrencyKey === undefined) {
    return ['keyConcurrency: only allowed with a concurrencyKey (the key whose tasks it limits)'];
  }
  return [];
}

/** The execution options of a file's (or run record's) fairness key; {} when it has none. */
export function fairnessOptions(
  file: FilePolicies,
): Pick<ExecuteOptions, 'concurrencyKey' | 'keyConcurrency'> {
  return {
    ...(file.concurrencyKey === undefined ? {} : { concurrencyKey: file.concurrencyKey }),
    ...(file.keyConcurrency === undefined ? {} : { keyConcurrency: file.keyConcurrency }),
  };
}
