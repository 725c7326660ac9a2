/**
 * The names and keys the engine bounds: a child workflow's (its definition's `name`) and a compensating
 * task's (`compensate.name`). Counted in UTF-16 code units, as JavaScript counts `length`.
 */
export const NAME_MAX = 256;

/** Such a name in words, for messages. */
export const NAME_WORDS = `a non-empty string of at most ${NAME_MAX} characters`;

/** Whether a value can be such a name. */
export const isBoundedName = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= NAME_MAX;

/** What a task's key looks like: a name CEL conditions can read as `outputs.<key>`. */
export const TASK_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/;

/** A task's key in words, for messages: what TASK_KEY_PATTERN takes. */
export const TASK_KEY_WORDS = 'a key (1-128 letters, digits, _ and -, starting with a letter or _)';

/** Whether a value is a task's key. */
export const isTaskKey = (value: unknown): value is string =>
  typeof value === 'string' && TASK_KEY_PATTERN.test(value);

/**
 * Why a task of a child workflow's definition must have a key, for messages: `definitionOf` refuses
 * one without, and the workflow file loader refuses it before anything is stored.
 */
export const DEFINITION_KEY_REASON =
  'each task of a child workflow needs one: its task id in the child is <child id>-<key>';
