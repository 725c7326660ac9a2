import { z } from 'zod';

/** What a field of a workflow file takes, in words: what the loader's messages say it expected. */
export interface Expected {
  /** Follows "expected": `an ISO 8601 date-time with its offset (...) or epoch milliseconds`. */
  expected: string;
  /** Said after "got nothing" when the field is missing: why it is needed there. */
  missing?: string;
}

/**
 * The fields whose messages say what they take in words rather than show a regular expression. A
 * schema registered here keeps its entry through `.describe()`, which copies it (zod looks up the
 * copy's parent).
 */
export const expectations = z.registry<Expected>();

/** `expected <what>, got <value>`, and why the field is needed when it is missing. */
export function expectedMessage(entry: Expected, got: string, missing: boolean): string {
  const why = missing && entry.missing !== undefined ? `; ${entry.missing}` : '';
  return `expected ${entry.expected}, got ${got}${why}`;
}
