import { Map as ImmutableMap } from 'immutable';
import type { TaskStatus } from './status.js';

/**
 * Where a node of a workflow graph stands. `waiting`: a dependency is not done yet; `deciding`: its
 * dependencies are done and its condition is being evaluated; `ready`: it may run (its task is
 * PENDING, queued or waiting for a retry); then the task's own status: `running`, `done`
 * (COMPLETED), `skipped`, `failed`, `cancelled`, `paused`.
 */
export type NodeState =
  'waiting' | 'deciding' | 'ready' | 'running' | 'done' | 'skipped' | 'failed' | 'cancelled' | 'paused';

export interface GraphNode {
  /** The tasks that must be done (COMPLETED or SKIPPED) first. */
  readonly dependsOn: readonly string[];
  /** Whether a condition decides if it runs once they are. */
  readonly conditional: boolean;
  readonly state: NodeState;
  /** Failed unrun because its condition could not be evaluated: a retry decides it again. */
  readonly rejected?: boolean;
  /** Cancelled before the graph decided it: a retry waits for its dependencies as a new node does. */
  readonly undecided?: boolean;
  /**
   * Its task is PAUSED while the graph holds it back (waiting, or deciding: the engine does not
   * act on it, a sleep or a wait included, until it is resumed).
   */
  readonly paused?: boolean;
  /** A fan-out not expanded yet: once decided, it is expanded (EXPANDED) instead of released. */
  readonly fanOut?: boolean;
  /** An expanded fan-out: its dependencies are its items' tasks; once done, it is resolved unrun. */
  readonly collector?: boolean;
  /** A durable sleep: once decided, the engine waits until its due time and resolves it unrun. */
  readonly sleeper?: boolean;
  /**
   * A loop: once decided (and after each iteration it waits for), the engine either makes the next
   * iteration (EXPANDED: the node then waits for it), or resolves the node (its `until` holds), or
   * rejects it (its `maxIterations` reached).
   */
  readonly looper?: boolean;
  /** A wait for a signal: once decided, the engine resolves it unrun with the first signal it takes. */
  readonly waiter?: boolean;
  /** A child workflow: once decided, the workflow's run runs the child and resolves it with its result. */
  readonly subflow?: boolean;
  /** While `deciding`: the engine's answer it waits for (only that answer is taken). */
  readonly awaiting?:
    'condition' | 'expansion' | 'resolution' | 'sleep' | 'iteration' | 'signal' | 'workflow';
}

/**
 * A workflow's graph: its nodes by task id, and for each task the nodes that depend on it. Both are
 * persistent maps (Immutable.js): an event that changes k of n nodes makes a new map sharing all but
 * O(k log n) of the old one, so a snapshot never changes and a 10,000-node graph is not copied per
 * event. `toJSON()` (what the inspector shows) gives plain objects.
 */
export interface GraphProgress {
  readonly nodes: ImmutableMap<string, GraphNode>;
  readonly dependents: ImmutableMap<string, readonly string[]>;
}

/** A task joining the graph, with its status now. */
export interface GraphNodeInput {
  taskId: string;
  dependsOn: readonly string[];
  conditional: boolean;
  status: TaskStatus;
  /** A fan-out: its items' tasks once made (null: not made yet); absent: not a fan-out. */
  fanOut?: { children: readonly string[] | null };
  /** FAILED unrun because its condition (or list) could not be evaluated: a retry decides it again. */
  rejected?: boolean;
  /** A durable sleep (see GraphNode.sleeper). */
  sleep?: boolean;
  /** A loop: the iterations made so far, oldest first (see GraphNode.looper); absent: not a loop. */
  loop?: { children: readonly string[] };
  /** A wait for a signal (see GraphNode.waiter). */
  wait?: boolean;
  /** A child workflow (see GraphNode.subflow). */
  subflow?: boolean;
}

/**
 * A fan-out's items, or a loop's next iteration, were made: these tasks (already added as nodes)
 * are what it now waits for.
 */
export interface Expansion {
  taskId: string;
  children: readonly string[];
}

/** The outcome of a condition: it holds, it does not, or it could not be evaluated (null). */
export interface Decision {
  taskId: string;
  holds: boolean | null;
}

/**
 * What the engine is to do after an event: run these nodes (their tasks may start), skip them
 * (SKIP), fail them unrun (REJECT), evaluate their conditions and answer with DECIDED, make a
 * fan-out's items and answer with EXPANDED, complete a fan-out whose items are done (RESOLVE, with
 * their outputs), start a durable sleep (RESOLVE once it is due), go on with a loop (make its next
 * iteration and answer with EXPANDED, or RESOLVE, or REJECT), or wait for a signal (RESOLVE once
 * one is taken; REJECT when the wait times out), or run a child workflow (RESOLVE with its result,
 * REJECT when it fails).
 */
export interface GraphSteps {
  release: string[];
  skip: string[];
  reject: string[];
  decide: string[];
  expand: string[];
  resolve: string[];
  sleep: string[];
  iterate: string[];
  wait: string[];
  subflow: string[];
}

export function noSteps(): GraphSteps {
  return {
    release: [],
    skip: [],
    reject: [],
    decide: [],
    expand: [],
    resolve: [],
    sleep: [],
    iterate: [],
    wait: [],
    subflow: [],
  };
}

export function hasSteps(steps: GraphSteps): boolean {
  // After every event of every workflow: no array made.
  for (const kind in steps) if (steps[kind as keyof GraphSteps].length > 0) return true;
  return false;
}

const BY_STATUS: Record<TaskStatus, NodeState> = {
  PENDING: 'ready',
  RUNNING: 'running',
  COMPLETED: 'done',
  SKIPPED: 'skipped',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  PAUSED: 'paused',
};

/** Done: its dependents may go on. A skipped node is done too, and skips them. */
export function isDone(state: NodeState): boolean {
  return state === 'done' || state === 'skipped';
}

/** Still held back by the graph: not decided yet. */
function isUndecided(state: NodeState): boolean {
  return state === 'waiting' || state === 'deciding';
}

/**
 * Applies graph changes to a copy of `graph` (the input is never changed) and collects the steps
 * they call for. Every rule of the graph is here:
 * - a node's state follows its task's status, except that a PENDING or PAUSED task whose node is
 *   undecided stays undecided (the graph holds it back);
 * - once every dependency of an undecided node is done: if one was skipped, the node is skipped
 *   (and so on down the graph); else if it has a condition, it is decided (DECIDED answers);
 *   else it is released;
 * - a node whose task goes back to PENDING (a retry of a failed node, a resume) is released again,
 *   unless it was never decided (cancelled while waiting, say): it waits and is decided as a new node.
 */
export class GraphUpdate {
  private readonly nodes: ImmutableMap<string, GraphNode>;
  private readonly dependents: ImmutableMap<string, readonly string[]>;
  readonly steps: GraphSteps = noSteps();

  constructor(graph: GraphProgress | null) {
    // Mutable copies (Immutable.js "transients"), made immutable again by `result`.
    this.nodes = (graph?.nodes ?? ImmutableMap<string, GraphNode>()).asMutable();
    this.dependents = (graph?.dependents ?? ImmutableMap<string, readonly string[]>()).asMutable();
  }

  result(): GraphProgress {
    return { nodes: this.nodes.asImmutable(), dependents: this.dependents.asImmutable() };
  }

  /** Adds nodes (a node already present keeps its state; its dependencies are replaced only if it had none). */
  add(inputs: readonly GraphNodeInput[]): this {
    const added: string[] = [];
    const ended: string[] = [];
    for (const input of inputs) {
      const present = this.nodes.get(input.taskId);
      if (present && (present.dependsOn.length > 0 || input.dependsOn.length === 0)) continue;
      const children = input.fanOut?.children ?? null;
      const iteration = input.loop?.children.at(-1);
      // An expanded fan-out waits for its items, a loop for its last iteration (their tasks depend
      // on its own dependencies).
      const dependsOn =
        children !== null ? [...children] : iteration !== undefined ? [iteration] : [...input.dependsOn];
      const status = present?.state ?? BY_STATUS[input.status];
      // A node whose task already moved on (ran, or ended) is where its task is; else it waits.
      const moved = status !== 'ready' && status !== 'paused';
      this.nodes.set(input.taskId, {
        dependsOn,
        conditional: children === null && iteration === undefined && input.conditional,
        state: moved ? status : 'waiting',
        ...(input.fanOut ? (children === null ? { fanOut: true } : { collector: true }) : {}),
        ...(input.rejected === true ? { rejected: true } : {}),
        ...(input.sleep === true ? { sleeper: true } : {}),
        ...(input.loop ? { looper: true } : {}),
        ...(input.wait === true ? { waiter: true } : {}),
        ...(input.subflow === true ? { subflow: true } : {}),
        ...(!moved && input.status === 'PAUSED' ? { paused: true } : {}),
      });
      for (const dependency of dependsOn) this.addDependent(dependency, input.taskId);
      if (!moved) added.push(input.taskId);
      else if (isDone(status)) ended.push(input.taskId);
    }
    for (const taskId of added) this.settle(taskId);
    for (const taskId of ended) this.wake(taskId);
    return this;
  }

  /** A task's status changed (`from`: null when it joined; `to`: null when it left the workflow). */
  status(taskId: string, from: TaskStatus | null, to: TaskStatus | null): this {
    const node = this.nodes.get(taskId);
    if (to === null) {
      if (node) this.nodes.delete(taskId);
      return this;
    }
    if (!node) {
      const state = BY_STATUS[to];
      this.nodes.set(taskId, { dependsOn: [], conditional: false, state });
      if (to === 'PENDING') this.steps.release.push(taskId);
      if (isDone(state)) this.wake(taskId);
      return this;
    }
    const next = BY_STATUS[to];
    // Resumed by hand while the engine was to act on it (a fan-out, a sleep): it acts again.
    if (node.state === 'deciding' && from === 'PAUSED' && next === 'ready') {
      const { awaiting: _awaiting, paused: _paused, ...rest } = node;
      this.nodes.set(taskId, { ...rest, state: 'waiting' });
      this.settle(taskId);
      return this;
    }
    if (isUndecided(node.state) && (next === 'ready' || next === 'paused')) {
      // Held back still; marked while its task is paused (see GraphNode.paused).
      const { paused: _paused, ...rest } = node;
      if (next === 'paused') this.nodes.set(taskId, { ...rest, paused: true });
      else if (node.paused === true) this.nodes.set(taskId, rest);
      return this;
    }
    // Back to PENDING from elsewhere (a retry, a resume): released again, even if it was ready; a
    // node whose condition failed is decided again.
    const again = next === 'ready' && from !== null && from !== 'PENDING';
    if (next === node.state && !again) return this;
    if (next === 'ready' && (node.rejected === true || actsOn(node) || !this.decidedBefore(node))) {
      // Decided anew: its condition, or what the engine does for it (expand, resolve, sleep, ...);
      // one never decided waits for its dependencies first, as a new node does.
      const { rejected: _rejected, awaiting: _awaiting, undecided: _undecided, paused: _p, ...rest } = node;
      this.nodes.set(taskId, { ...rest, state: 'waiting' });
      this.settle(taskId);
      return this;
    }
    this.set(taskId, next);
    // Ended before it was decided (cancelled while waiting): a retry must not release it.
    if (isUndecided(node.state) && next === 'cancelled' && !actsOn(node))
      this.nodes.set(taskId, { ...this.nodes.get(taskId)!, undecided: true });
    if (next === 'ready') this.steps.release.push(taskId);
    if (isDone(next)) this.wake(taskId);
    return this;
  }

  /**
   * Whether the graph had decided the node before its task ended: not when it ended undecided, nor
   * when a dependency is not done (a node loaded ended, whose past the graph does not know).
   */
  private decidedBefore(node: GraphNode): boolean {
    if (node.undecided === true) return false;
    return node.dependsOn.every((dependency) => {
      const state = this.nodes.get(dependency)?.state;
      return state !== undefined && isDone(state);
    });
  }

  /** The engine's answers for nodes in `deciding`. */
  decided(decisions: readonly Decision[]): this {
    for (const { taskId, holds } of decisions) {
      if (this.nodes.get(taskId)?.awaiting !== 'condition') continue;
      if (holds === true) this.go(taskId);
      else if (holds === false) this.skip(taskId);
      else {
        const { awaiting: _awaiting, ...node } = this.nodes.get(taskId)!;
        this.nodes.set(taskId, { ...node, state: 'failed', rejected: true });
        this.steps.reject.push(taskId);
      }
    }
    return this;
  }

  /** Decides an undecided node whose dependencies may all be done. */
  private settle(taskId: string): void {
    const node = this.nodes.get(taskId);
    if (!node || node.state !== 'waiting') return;
    let skipped = false;
    for (const dependency of node.dependsOn) {
      const state = this.nodes.get(dependency)?.state;
      if (state === undefined || !isDone(state)) return;
      if (state === 'skipped') skipped = true;
    }
    if (skipped) this.skip(taskId);
    else if (node.conditional) this.await(taskId, 'condition', this.steps.decide);
    else this.go(taskId);
  }

  /**
   * A decided node goes on: released, or handed to the engine: a fan-out expanded, a collector
   * resolved, a sleep started, a loop's next step taken, a wait started, a child workflow run.
   */
  private go(taskId: string): void {
    const node = this.nodes.get(taskId)!;
    if (node.fanOut === true) this.await(taskId, 'expansion', this.steps.expand);
    else if (node.collector === true) this.await(taskId, 'resolution', this.steps.resolve);
    else if (node.sleeper === true) this.await(taskId, 'sleep', this.steps.sleep);
    else if (node.looper === true) this.await(taskId, 'iteration', this.steps.iterate);
    else if (node.waiter === true) this.await(taskId, 'signal', this.steps.wait);
    else if (node.subflow === true) this.await(taskId, 'workflow', this.steps.subflow);
    else this.release(taskId);
  }

  /** The node waits in `deciding` for the engine's answer of one kind, asked for in `step`. */
  private await(taskId: string, awaiting: NonNullable<GraphNode['awaiting']>, step: string[]): void {
    const { rejected: _rejected, ...node } = this.nodes.get(taskId)!;
    this.nodes.set(taskId, { ...node, state: 'deciding', awaiting });
    step.push(taskId);
  }

  /**
   * The engine made a fan-out's items (it becomes their collector) or a loop's next iteration: the
   * node now waits for them (they are nodes already).
   */
  expanded(expansions: readonly Expansion[]): this {
    for (const { taskId, children } of expansions) {
      const node = this.nodes.get(taskId);
      const fanOut = node?.fanOut === true && node.awaiting === 'expansion';
      const loop = node?.looper === true && node.awaiting === 'iteration';
      if (!fanOut && !loop) continue;
      this.nodes.set(taskId, {
        dependsOn: [...children],
        conditional: false,
        state: 'waiting',
        ...(fanOut ? { collector: true } : { looper: true }),
      });
      for (const child of children) this.addDependent(child, taskId);
      this.settle(taskId);
    }
    return this;
  }

  private release(taskId: string): void {
    this.set(taskId, 'ready');
    this.steps.release.push(taskId);
  }

  private skip(taskId: string): void {
    this.set(taskId, 'skipped');
    this.steps.skip.push(taskId);
    this.wake(taskId);
  }

  private wake(taskId: string): void {
    for (const dependent of this.dependents.get(taskId) ?? []) this.settle(dependent);
  }

  private set(taskId: string, state: NodeState): void {
    const {
      rejected: _rejected,
      awaiting: _awaiting,
      undecided: _undecided,
      paused: _paused,
      ...node
    } = this.nodes.get(taskId)!;
    this.nodes.set(taskId, { ...node, state });
  }

  private addDependent(dependency: string, taskId: string): void {
    this.dependents.set(dependency, [...(this.dependents.get(dependency) ?? []), taskId]);
  }
}

/** Whether the engine acts on the node once it is decided, instead of releasing it to run. */
function actsOn(node: GraphNode): boolean {
  return (
    node.fanOut === true ||
    node.collector === true ||
    node.sleeper === true ||
    node.looper === true ||
    node.waiter === true ||
    node.subflow === true
  );
}

/** How many nodes are in each state. */
export function nodeCounts(graph: GraphProgress): Record<NodeState, number> {
  const counts: Record<NodeState, number> = {
    waiting: 0,
    deciding: 0,
    ready: 0,
    running: 0,
    done: 0,
    skipped: 0,
    failed: 0,
    cancelled: 0,
    paused: 0,
  };
  for (const node of graph.nodes.values()) counts[node.state] += 1;
  return counts;
}
