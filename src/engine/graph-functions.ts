import { deepFreeze } from '../domain/deep-freeze.js';
import { ConditionFailedError } from '../errors/errors.js';
import { describeThrown } from '../errors/normalize.js';
import { SymphonyError } from '../errors/symphony-error.js';
import { compileCondition, compileList } from '../graph/condition.js';
import type { CodeCondition, CodeList, GraphData } from './workflows.js';

/** Functions given in code by name (a task's key or id): conditions, fan-out lists, loop conditions. */
export interface ProvidedFunctions {
  conditions: Record<string, CodeCondition>;
  lists: Record<string, CodeList>;
  untils: Record<string, CodeCondition>;
}

/** A rule of the graph: CEL stored with the task, or a function given in code. */
export type Rule = { cel: string } | { code: true };

/**
 * The rules of a workflow graph, evaluated: CEL conditions, lists and loop conditions, and those
 * given in code. Functions are kept by the engine (not the workflow's actor, which is unloaded when
 * idle) until their task is done for good, by task id (`set`), or given by name for a workflow
 * (`provide`, `executeWorkflow`'s options); they are lost with the process, and a node whose function
 * was not given again waits for it (`missingFunctions`).
 */
export class GraphFunctions {
  private readonly own: { [K in keyof ProvidedFunctions]: Map<string, ProvidedFunctions[K][string]> } = {
    conditions: new Map(),
    lists: new Map(),
    untils: new Map(),
  };
  /** Functions given by name (a task's key or id) for a workflow, before its tasks are known. */
  private readonly provided = new Map<string, ProvidedFunctions>();
  /** Nodes whose function this engine was not given yet, by task id: their workflow. */
  private readonly missing = new Map<string, string>();

  /** Keeps a task's function until the task is done for good (`forget`). */
  set<K extends keyof ProvidedFunctions>(kind: K, taskId: string, fn: ProvidedFunctions[K][string]): void {
    (this.own[kind] as Map<string, ProvidedFunctions[K][string]>).set(taskId, fn);
  }

  forget(taskId: string): void {
    for (const map of Object.values(this.own)) map.delete(taskId);
    this.missing.delete(taskId);
  }

  /**
   * Keeps functions given by name for a workflow; returns the tasks of the workflow that waited for
   * a function (no longer counted as waiting: they are to be evaluated again).
   */
  provide(workflowId: string, given: Partial<ProvidedFunctions>): string[] {
    const known = this.provided.get(workflowId) ?? { conditions: {}, lists: {}, untils: {} };
    this.provided.set(workflowId, {
      conditions: { ...known.conditions, ...given.conditions },
      lists: { ...known.lists, ...given.lists },
      untils: { ...known.untils, ...given.untils },
    });
    const waiting = this.missingFunctions(workflowId);
    for (const taskId of waiting) this.missing.delete(taskId);
    return waiting;
  }

  /** The tasks of the workflow waiting for a function this engine was not given. */
  missingFunctions(workflowId: string): string[] {
    return [...this.missing].filter(([, wid]) => wid === workflowId).map(([taskId]) => taskId);
  }

  /**
   * Whether a rule (a condition, a loop's `until`) holds over these outputs; an Error (a
   * ConditionFailedError, or the SymphonyError it threw) when it cannot be evaluated; undefined when
   * it is a function this engine was not given yet (the node waits for it).
   */
  holds(
    data: GraphData,
    workflowId: string,
    taskId: string,
    rule: Rule,
    kind: 'conditions' | 'untils',
    outputs: Readonly<Record<string, unknown>>,
  ): boolean | Error | undefined {
    const what = kind === 'untils' ? 'loop condition' : 'condition';
    try {
      if ('cel' in rule) {
        return compileCondition(rule.cel).evaluate({ outputs, input: data.inputs.get(taskId) ?? {} });
      }
      const condition = this.codeFor(kind, data, workflowId, taskId);
      if (!condition) return undefined;
      const holds: unknown = condition(outputs);
      if (typeof holds !== 'boolean') {
        return new ConditionFailedError(
          `The ${what} of task ${taskId} returned ${typeof holds}, not a boolean`,
          {
            details: { taskId },
          },
        );
      }
      return holds;
    } catch (error) {
      return SymphonyError.isInstance(error)
        ? error
        : new ConditionFailedError(`The ${what} of task ${taskId} threw: ${describeThrown(error).message}`, {
            cause: error,
            details: { taskId },
          });
    }
  }

  /**
   * The items of a fan-out's list (not yet copied); undefined when it is a function this engine was
   * not given yet. Throws ConditionFailedError when it throws or gives something else than a list.
   */
  items(
    data: GraphData,
    workflowId: string,
    taskId: string,
    forEach: Rule,
    outputs: Readonly<Record<string, unknown>>,
  ): unknown[] | undefined {
    let items: unknown;
    if ('cel' in forEach) {
      items = compileList(forEach.cel).evaluate({ outputs, input: data.inputs.get(taskId) ?? {} });
    } else {
      const list = this.codeFor('lists', data, workflowId, taskId);
      if (!list) return undefined;
      try {
        items = list(outputs);
      } catch (error) {
        throw new ConditionFailedError(
          `The forEach of task ${taskId} threw: ${describeThrown(error).message}`,
          { cause: error, details: { taskId } },
        );
      }
    }
    if (!Array.isArray(items)) {
      throw new ConditionFailedError(`The forEach of task ${taskId} gave ${typeof items}, not a list`, {
        details: { taskId },
      });
    }
    return items;
  }

  /**
   * A function given for a task: by its id, else by name (key or id) for its workflow. Not found:
   * the task counts as waiting for it until it is evaluated again.
   */
  private codeFor<K extends keyof ProvidedFunctions>(
    kind: K,
    data: GraphData,
    workflowId: string,
    taskId: string,
  ): ProvidedFunctions[K][string] | undefined {
    this.missing.delete(taskId);
    const found =
      (this.own[kind] as Map<string, ProvidedFunctions[K][string]>).get(taskId) ??
      this.byName(kind, data, workflowId, taskId);
    if (!found) this.missing.set(taskId, workflowId);
    return found;
  }

  private byName<K extends keyof ProvidedFunctions>(
    kind: K,
    data: GraphData,
    workflowId: string,
    taskId: string,
  ): ProvidedFunctions[K][string] | undefined {
    const given = this.provided.get(workflowId)?.[kind] as
      Record<string, ProvidedFunctions[K][string]> | undefined;
    if (!given) return undefined;
    const key = data.specs.get(taskId)?.key;
    if (key !== null && key !== undefined && Object.hasOwn(given, key)) return given[key];
    return Object.hasOwn(given, taskId) ? given[taskId] : undefined;
  }
}

/**
 * The outputs of these dependencies by each one's key (its id when it has none), in their order;
 * null for one whose output is not known; `also` adds one more (a loop's own key: its last
 * iteration's output). Own properties only (a key such as `__proto__` is data). The one view of
 * outputs every user function of a graph gets (conditions, lists, loop conditions, agents'
 * `context.dependencies`): frozen through, so none of them can change what another reads or
 * what is stored.
 */
export function outputsByKey(
  data: GraphData | null | undefined,
  dependsOn: readonly string[],
  also?: { key: string; output: unknown },
): Readonly<Record<string, unknown>> {
  const outputs: Record<string, unknown> = {};
  for (const dependency of dependsOn) {
    define(outputs, data?.specs.get(dependency)?.key ?? dependency, data?.outputs.get(dependency) ?? null);
  }
  if (also) define(outputs, also.key, also.output);
  return deepFreeze(outputs);
}

/** Sets an own, plain property (a key such as `__proto__` is data). */
function define(record: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
