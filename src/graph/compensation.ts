import type { Task, TaskGraph } from '../domain/task.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { isBoundedName, NAME_WORDS } from './names.js';

/** A compensating task's id: the id of the task it undoes with this suffix. */
export const COMPENSATION_SUFFIX = '-compensate';

/** A `compensate` option, checked: `{ name, tags?, input? }`. */
export function compensationOf(value: unknown): NonNullable<TaskGraph['compensate']> {
  const given = (
    typeof value === 'object' && value !== null && !Array.isArray(value) ? value : null
  ) as Record<string, unknown> | null;
  if (given === null) throw new InvalidArgumentError('Expected `compensate` to be { name, tags?, input? }');
  const unknown = Object.keys(given).filter((name) => name !== 'name' && name !== 'tags' && name !== 'input');
  if (unknown.length > 0)
    throw new InvalidArgumentError(
      `Unknown field ${JSON.stringify(unknown[0])} in \`compensate\`; expected name, tags, input`,
    );
  const { name, tags, input } = given;
  if (!isBoundedName(name))
    throw new InvalidArgumentError(
      `Expected \`compensate.name\` to be ${NAME_WORDS}, got ${JSON.stringify(name)}`,
    );
  if (tags !== undefined && (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string')))
    throw new InvalidArgumentError('Expected `compensate.tags` to be an array of strings');
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input)))
    throw new InvalidArgumentError('Expected `compensate.input` to be an object');
  return {
    name,
    tags: tags === undefined ? null : [...(tags as string[])],
    input: { ...((input as Record<string, unknown> | undefined) ?? {}) },
  };
}

/** A compensating task to make: its id, what it undoes, and the compensation it waits for. */
export interface PlannedCompensation {
  id: string;
  of: Task;
  after: string | null;
}

/**
 * The compensations of a failed workflow, in the order they run: one for each COMPLETED task that
 * declares one, latest `finishedAt` first; tasks that finished in the same millisecond go deepest in
 * the graph first (a dependent before what it depends on), then by id, descending. Each one waits
 * for the one before it (`after`), so they run one at a time. Pure: the same stored tasks give the
 * same plan, so a restarted engine makes exactly the ones missing.
 */
export function planCompensations(tasks: readonly Task[]): PlannedCompensation[] {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const depths = new Map<string, number>();
  const depth = (id: string, seen: Set<string> = new Set()): number => {
    const known = depths.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;
    seen.add(id);
    let deepest = 0;
    for (const dependency of byId.get(id)?.graph?.dependsOn ?? []) {
      deepest = Math.max(deepest, depth(dependency, seen) + 1);
    }
    depths.set(id, deepest);
    return deepest;
  };
  const undone = tasks.filter((task) => task.status === 'COMPLETED' && task.graph?.compensate);
  undone.sort(
    (a, b) =>
      (b.finishedAt ?? 0) - (a.finishedAt ?? 0) ||
      depth(b.id) - depth(a.id) ||
      (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
  );
  return undone.map((task, index) => ({
    id: `${task.id}${COMPENSATION_SUFFIX}`,
    of: task,
    after: index === 0 ? null : `${undone[index - 1]!.id}${COMPENSATION_SUFFIX}`,
  }));
}

/** Where a failed workflow's compensations stand, read from its stored tasks (see `sagaOutcome`). */
export interface SagaOutcome {
  /** True when every compensation due was made and COMPLETED. */
  compensated: boolean;
  /** The ids of the compensating tasks due, in the order they run (`planCompensations`). */
  due: string[];
  /** Of those, the ones COMPLETED. */
  done: string[];
}

/**
 * The compensations of a FAILED workflow's stored tasks: null when no task of it declares one
 * (or the workflow did not fail: nothing is due then).
 */
export function sagaOutcome(status: string, tasks: readonly Task[]): SagaOutcome | null {
  if (status !== 'FAILED' || !tasks.some((task) => task.graph?.compensate)) return null;
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const due = planCompensations(tasks).map((planned) => planned.id);
  const done = due.filter((id) => byId.get(id)?.status === 'COMPLETED');
  return { compensated: done.length === due.length, due, done };
}
