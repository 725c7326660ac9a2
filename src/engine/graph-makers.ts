import { newTask } from '../domain/new-task.js';
import type { Task, TaskGraph } from '../domain/task.js';
import { LoopLimitError } from '../errors/errors.js';
import { ErrorCode } from '../errors/codes.js';
import type { GraphFunctions, Rule } from './graph-functions.js';
import { copyPayload } from './payload.js';
import type { GraphData, LiveWorkflow } from './workflows.js';
import type { GraphsDeps } from './graphs.js';

/** What the graph's makers use of the engine and of `Graphs` (whose rules they apply). */
export interface GraphMakersDeps extends Omit<GraphsDeps, 'logger' | 'holds'> {
  functions: GraphFunctions;
  /** Runs work on the workflow's graph (see `Graphs.working`). */
  working(workflowId: string, work: () => Promise<void>): Promise<void>;
  /** See `Graphs.completeUnrun`. */
  completeUnrun(task: Task, output: unknown, how: string): boolean;
  /** Fails nodes unrun (REJECT) with the reasons recorded by `reject`. */
  finishUnrun(workflowId: string, taskIds: readonly string[], type: 'REJECT'): Promise<void>;
  /** Records why a node is to be rejected. */
  reject(taskId: string, error: Error): void;
  /** See `Graphs.holds`. */
  holds(...args: Parameters<GraphFunctions['holds']>): boolean | null | undefined;
  /** The outputs of a node's dependencies, by key (and `also`), frozen: see `outputsByKey`. */
  outputsOf(
    data: GraphData,
    taskId: string,
    also?: { key: string; output: unknown },
  ): Readonly<Record<string, unknown>>;
}

/** What one making of tasks produced: expansions for the machine, nodes to fail unrun. */
interface Made {
  expansions: Array<{ taskId: string; children: string[] }>;
  rejected: string[];
  /**
   * Whether the task's row was written here since it was read (paused, cancelled): then nothing
   * is written from the copy read; the machine asks again if the node still awaits this step.
   */
  stale(taskId: string): boolean;
}

/**
 * Makes the tasks a workflow graph adds while it runs (docs/workflows.md): the items of fan-outs,
 * the iterations of loops, and the fan-outs' completion once their items are done. Each step acts
 * only on the workflow machine's word (the node awaits it) and commits what it made at once.
 */
export class GraphMakers {
  constructor(private readonly deps: GraphMakersDeps) {}

  /**
   * Makes the items of fan-outs: one task per item of the `forEach` list, with a fixed id (the
   * fan-out's id, `-`, the index), so that making them again after a crash finds them made; they
   * join the graph with the fan-out's dependencies (done), the fan-out's row records them, and
   * EXPANDED tells the workflow machine, which then waits for them. A list that cannot be evaluated
   * fails the fan-out unrun (REJECT).
   */
  expand(entry: LiveWorkflow, taskIds: readonly string[]): Promise<void> {
    return this.makeFor(entry, taskIds, async (parent, data, out) => {
      const { store, committer, workflows, clock } = this.deps;
      const workflowId = entry.row.id;
      const forEach = parent.graph?.forEach;
      if (!forEach) return;
      let items: unknown[] | undefined;
      try {
        items = this.itemsOf(data, workflowId, parent.id, forEach);
        if (items === undefined) return;
      } catch (error) {
        this.deps.reject(parent.id, error as Error);
        out.rejected.push(parent.id);
        return;
      }
      const ids = items.map((_, index) => `${parent.id}-${index}`);
      const made = new Set((await store.tasks.getMany(ids)).map((task) => task.id));
      if (out.stale(parent.id)) return;
      const children: Task[] = [];
      for (const [index, item] of items.entries()) {
        const id = ids[index]!;
        if (made.has(id) || this.deps.executionOf(id)) return;
        children.push(this.madeTask(parent, id, `${parent.name} [${index}]`, { item, index }, index));
      }
      // As nodes before their joins reach the workflow machine (a plain joiner would be released).
      if (children.length > 0) workflows.addNodes(entry, children);
      parent.graph = { ...parent.graph!, children: ids };
      parent.updatedAt = clock.now();
      committer.stageTask(parent);
      out.expansions.push({ taskId: parent.id, children: ids });
    });
  }

  /**
   * A task made by a fan-out (an item) or a loop (an iteration), with a fixed id: its maker's
   * input with `extra`, description, tags, priority and metadata, and its maker's dependencies (done).
   */
  private madeTask(
    maker: Task,
    id: string,
    name: string,
    extra: Record<string, unknown>,
    index: number,
  ): Task {
    const now = this.deps.clock.now();
    const inputData = copyPayload(
      { ...maker.inputData, ...extra },
      'inputData',
      this.deps.maxPayloadBytes,
      ErrorCode.INPUT_NOT_SERIALIZABLE,
    ) as Record<string, unknown>;
    const graph: TaskGraph = {
      dependsOn: maker.graph!.dependsOn,
      key: null,
      when: null,
      item: { of: maker.id, index },
      // A loop over a group of tasks: each iteration makes the loop's child workflow anew.
      ...(maker.graph!.loop && maker.graph!.workflow?.definition
        ? { workflow: { id: null, definition: maker.graph!.workflow.definition } }
        : {}),
    };
    const { description, tags, priority, metadata, workflowId } = maker;
    return this.deps.door.create(
      newTask(
        {
          id,
          name,
          description,
          inputData,
          tags: [...tags],
          priority,
          metadata: { ...metadata },
          workflowId,
          graph,
        },
        now,
      ),
    );
  }

  /**
   * Takes a loop's next step (docs/workflows.md): after an iteration of the current round, its
   * `until` is evaluated over the outputs (the loop's key giving that iteration's output): if it
   * holds, the loop completes unrun with that output; if the round made `maxIterations`, the loop
   * fails unrun (LOOP_LIMIT_EXCEEDED; a retry starts a new round); else the next iteration is made
   * (id: the loop's id, `-`, its index; input: the loop's with `iteration` and `previous`, the
   * output before), recorded in the loop's row in the same commit, and EXPANDED tells the machine.
   */
  iterate(entry: LiveWorkflow, taskIds: readonly string[]): Promise<void> {
    return this.makeFor(entry, taskIds, async (task, data, out) => {
      const { store, committer, workflows, clock } = this.deps;
      const workflowId = entry.row.id;
      const loop = task.graph?.loop;
      if (!loop) return;
      const made = task.graph!.children ?? [];
      const from = loop.from ?? 0;
      const last = made.at(-1);
      // Only on the machine's word: the loop awaits its next step and its last iteration is done
      // (a step asked for twice, by a pause and resume say, is taken once).
      const nodes = entry.actor.getSnapshot().context.graph?.nodes;
      if (nodes?.get(task.id)?.awaiting !== 'iteration' || out.stale(task.id)) return;
      if (last !== undefined && nodes.get(last)?.state !== 'done') return;
      const previous = last === undefined ? null : (data.outputs.get(last) ?? null);
      if (last !== undefined && made.length > from) {
        const outputs = this.deps.outputsOf(data, task.id, {
          key: task.graph!.key ?? task.id,
          output: previous,
        });
        const holds = this.deps.holds(data, workflowId, task.id, loop.until, 'untils', outputs);
        if (holds === undefined) return;
        if (holds === null) {
          out.rejected.push(task.id);
          return;
        }
        if (holds) {
          this.deps.completeUnrun(task, previous, 'loop');
          return;
        }
        if (made.length - from >= loop.maxIterations) {
          this.deps.reject(
            task.id,
            new LoopLimitError(
              `Loop ${task.id} ran ${loop.maxIterations} iterations and its until never held`,
              { taskId: task.id, maxIterations: loop.maxIterations, iterations: made.length },
            ),
          );
          // A retry starts a new round.
          task.graph = { ...task.graph!, loop: { ...loop, from: made.length } };
          task.updatedAt = clock.now();
          committer.stageTask(task);
          out.rejected.push(task.id);
          return;
        }
      }
      const index = made.length;
      const id = `${task.id}-${index}`;
      const exists = (await store.tasks.get(id)) ?? this.deps.executionOf(id);
      if (out.stale(task.id)) return;
      if (!exists) {
        const iteration = this.madeTask(
          task,
          id,
          `${task.name} [iteration ${index}]`,
          { iteration: index, previous },
          index,
        );
        workflows.addNodes(entry, [iteration]);
      }
      task.graph = { ...task.graph!, children: [...made, id] };
      task.updatedAt = clock.now();
      committer.stageTask(task);
      out.expansions.push({ taskId: task.id, children: [id] });
    });
  }

  /**
   * The frame of making tasks (fan-out items, loop iterations): `step` gets each of these tasks
   * that is PENDING in a live graph and records what it made (EXPANDED) or rejected; all of it
   * goes in one commit.
   */
  private async makeFor(
    entry: LiveWorkflow,
    taskIds: readonly string[],
    step: (task: Task, data: GraphData, made: Made) => Promise<void>,
  ): Promise<void> {
    const { store, committer } = this.deps;
    const workflowId = entry.row.id;
    await this.deps.working(workflowId, async () => {
      // Decided on the rows as this engine's writes left them, and checked before each write: a
      // pause of the node crossing it (its row written meanwhile) wins, and nothing is written.
      const made = await this.deps.decideOnStored(async (touched) => {
        const out: Made = { expansions: [], rejected: [], stale: (taskId) => touched.rewritten(taskId) };
        for (const task of await store.tasks.getMany(taskIds)) {
          if (entry.graph && task.status === 'PENDING') await step(task, entry.graph, out);
        }
        return out;
      }, taskIds);
      if (made.expansions.length > 0) {
        this.deps.send({ type: 'EXPANDED', workflowId, expansions: made.expansions });
      }
      if (made.rejected.length > 0) await this.deps.finishUnrun(workflowId, made.rejected, 'REJECT');
      await committer.settle();
    });
  }

  /** The items of a fan-out's list, as plain JSON; undefined while its function was not given. */
  private itemsOf(data: GraphData, workflowId: string, taskId: string, forEach: Rule): unknown[] | undefined {
    const items = this.deps.functions.items(
      data,
      workflowId,
      taskId,
      forEach,
      this.deps.outputsOf(data, taskId),
    );
    if (items === undefined) return undefined;
    return copyPayload(
      items,
      'forEach',
      this.deps.maxPayloadBytes,
      ErrorCode.INPUT_NOT_SERIALIZABLE,
    ) as unknown[];
  }

  /**
   * Completes fan-outs whose items are all done, unrun (RESOLVE), with the items' outputs in order
   * as their output (null for an item skipped), and a completion record like any completed task.
   */
  async resolve(entry: LiveWorkflow, taskIds: readonly string[]): Promise<void> {
    const { store, committer } = this.deps;
    await this.deps.working(entry.row.id, async () => {
      const rejected: string[] = [];
      // As in makeFor: a node paused (its row written) since it was read is not resolved; the
      // machine asks again once it is resumed.
      await this.deps.decideOnStored(async (touched) => {
        for (const task of await store.tasks.getMany(taskIds)) {
          if (task.status !== 'PENDING' || touched.rewritten(task.id)) continue;
          this.resolveOne(entry, task, rejected);
        }
      }, taskIds);
      if (rejected.length > 0) await this.deps.finishUnrun(entry.row.id, rejected, 'REJECT');
      await committer.settle();
    });
  }

  /** Completes one fan-out with its items' outputs, or records it to be rejected (too large). */
  private resolveOne(entry: LiveWorkflow, task: Task, rejected: string[]): void {
    const children = task.graph?.children ?? [];
    let output: unknown;
    try {
      output = copyPayload(
        children.map((id) => entry.graph?.outputs.get(id) ?? null),
        'output',
        this.deps.maxPayloadBytes,
        ErrorCode.OUTPUT_NOT_SERIALIZABLE,
      );
    } catch (error) {
      this.deps.reject(task.id, error as Error);
      rejected.push(task.id);
      return;
    }
    this.deps.completeUnrun(task, output, 'fan-out');
  }
}
