/**
 * The names the engine bounds: a child workflow's (its definition's `name`) and a compensating
 * task's (`compensate.name`). Counted in UTF-16 code units, as JavaScript counts `length`.
 */
export const NAME_MAX = 256;

/** Such a name in words, for messages. */
export const NAME_WORDS = `a non-empty string of at most ${NAME_MAX} characters`;

/** Whether a value can be such a name. */
export const isBoundedName = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= NAME_MAX;
