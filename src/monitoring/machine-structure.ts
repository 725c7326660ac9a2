/**
 * The structure of an XState machine as its definition holds it (states, transitions, guards,
 * actions), read from `machine.root`: what docs/machines (scripts/machine-diagrams.ts) and the
 * dashboard's machine view draw. Reads only the machine object; no actor is made.
 */
import type { AnyStateMachine } from 'xstate';
import {
  agentMachine,
  circuitBreakerMachine,
  engineMachine,
  executorMachine,
  routerMachine,
  taskMachine,
  workflowMachine,
} from '../../machines/index.js';

/** A machine of machines/ with the name its diagram page and the dashboard use. */
export interface MachineSource {
  name: string;
  title: string;
  file: string;
  machine: AnyStateMachine;
}

/** Every machine of machines/, in the order docs/machines lists them. */
export const MACHINE_SOURCES: readonly MachineSource[] = [
  { name: 'task', title: 'Task', file: 'machines/task.machine.ts', machine: taskMachine },
  { name: 'workflow', title: 'Workflow', file: 'machines/workflow.machine.ts', machine: workflowMachine },
  { name: 'agent', title: 'Agent', file: 'machines/agent.machine.ts', machine: agentMachine },
  { name: 'executor', title: 'Executor', file: 'machines/executor.machine.ts', machine: executorMachine },
  { name: 'router', title: 'Router', file: 'machines/router.machine.ts', machine: routerMachine },
  { name: 'engine', title: 'Engine', file: 'machines/engine.machine.ts', machine: engineMachine },
  {
    name: 'circuit-breaker',
    title: 'Circuit breaker',
    file: 'machines/circuit-breaker.machine.ts',
    machine: circuitBreakerMachine,
  },
];

/** The parts of XState's StateNode that the diagrams read. */
export interface Node {
  key: string;
  id: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  path: string[];
  states: Record<string, Node>;
  tags: string[];
  entry: readonly unknown[];
  exit: readonly unknown[];
  parent?: Node;
  initial: { target: readonly Node[] } | undefined;
  transitions: Map<string, Transition[]>;
  always?: Transition[];
  after: (Transition & { delay: unknown })[];
  invoke: { id: string; systemId?: string; src: unknown }[];
}

export interface Transition {
  target: readonly Node[] | undefined;
  guard?: unknown;
  actions: readonly unknown[];
  eventType: string;
}

export interface Edge {
  /** null: a transition of the machine itself, taken in any state. */
  from: Node | null;
  to: Node;
  label: string;
}

export interface Internal {
  state: string;
  event: string;
  guard: string;
  actions: string;
}

/** The box that stands for "any state" as the source of a transition of the machine itself. */
export const ANY_STATE = 'any_state';

export const stateId = (node: Node | null): string => (node === null ? ANY_STATE : node.path.join('_'));

/** Child states in definition order. */
export const childrenOf = (node: Node): Node[] => Object.values(node.states);

export function nameOf(thing: unknown): string {
  if (typeof thing === 'string') return thing.replace(/^xstate\./, '');
  if (typeof thing === 'function') {
    const typed = (thing as { type?: unknown }).type;
    if (typeof typed === 'string') return typed.replace(/^xstate\./, '');
    const name = (thing as { name?: string }).name;
    return name && name !== 'guard' && name !== 'actions' ? name : 'inline';
  }
  if (typeof thing === 'object' && thing !== null) {
    const { type, params } = thing as { type?: unknown; params?: unknown };
    const base = nameOf(type);
    if (typeof params === 'object' && params !== null && !Array.isArray(params)) {
      return `${base}(${Object.values(params).map(String).join(', ')})`;
    }
    return base;
  }
  return String(thing);
}

function eventLabel(node: Node, transition: Transition): string {
  const type = transition.eventType;
  if (type.startsWith('xstate.after.')) {
    const delayed = node.after.find((after) => after.eventType === type);
    const delay = delayed?.delay;
    return `after ${typeof delay === 'number' ? `${delay}ms` : nameOf(delay)}`;
  }
  const done = /^xstate\.done\.actor\.(.+)$/.exec(type);
  if (done) return `done(${done[1]})`;
  const error = /^xstate\.error\.actor\.(.+)$/.exec(type);
  if (error) return `error(${error[1]})`;
  if (type.startsWith('xstate.done.state.')) return 'done';
  if (type === '*') return 'any event';
  return type;
}

function describe(transition: Transition, event: string): { guard: string; actions: string; label: string } {
  const guard = transition.guard === undefined ? '' : nameOf(transition.guard);
  const actions = transition.actions.map(nameOf).join(', ');
  let label = event;
  if (guard) label += ` [${guard === 'inline' ? 'inline guard' : guard}]`;
  if (actions) label += ` / ${actions}`;
  return { guard, actions, label };
}

/** Every transition of the machine, split into state changes (edges) and context-only ones. */
export function collect(root: Node): { edges: Edge[]; internal: Internal[] } {
  const edges: Edge[] = [];
  const internal: Internal[] = [];
  const visit = (node: Node) => {
    const from = node === root ? null : node;
    const all: [string, Transition][] = [];
    for (const list of node.transitions.values()) for (const t of list) all.push([eventLabel(node, t), t]);
    for (const t of node.always ?? []) all.push(['always', t]);
    for (const [event, transition] of all) {
      const { guard, actions, label } = describe(transition, event);
      const targets = (transition.target ?? []).filter((target): target is Node => target !== undefined);
      if (targets.length === 0) {
        internal.push({ state: node === root ? '(any state)' : node.path.join('.'), event, guard, actions });
        continue;
      }
      for (const to of targets) edges.push({ from, to, label });
    }
    for (const child of childrenOf(node)) visit(child);
  };
  visit(root);
  return { edges: collapseShared(root, edges), internal };
}

/**
 * A transition that every top-level state other than its target has (the same event, guard and
 * actions) is drawn once, from "any state": the workflow's derived-status rule is one such family.
 */
function collapseShared(root: Node, edges: Edge[]): Edge[] {
  const topLevel = childrenOf(root).filter((child) => child.type !== 'final');
  if (topLevel.length < 4) return edges;
  const key = (edge: Edge) => `${edge.to.id}\n${edge.label}`;
  const sources = new Map<string, Set<Node>>();
  for (const edge of edges) {
    if (edge.from?.parent !== root) continue;
    const set = sources.get(key(edge)) ?? new Set<Node>();
    set.add(edge.from);
    sources.set(key(edge), set);
  }
  const shared = new Set(
    [...sources]
      .filter(([k, set]) => {
        const to = edges.find((edge) => key(edge) === k)!.to;
        return topLevel.every((state) => state === to || set.has(state));
      })
      .map(([k]) => k),
  );
  const out: Edge[] = [];
  const emitted = new Set<string>();
  for (const edge of edges) {
    const k = key(edge);
    if (edge.from?.parent === root && shared.has(k)) {
      if (!emitted.has(k)) out.push({ from: null, to: edge.to, label: edge.label });
      emitted.add(k);
    } else {
      out.push(edge);
    }
  }
  return out;
}

/** Every state below `node`, depth first, in definition order. */
export function allStates(node: Node): Node[] {
  return childrenOf(node).flatMap((child) => [child, ...allStates(child)]);
}

/**
 * The actions of an entry or exit list that the machine's author wrote: XState adds a delayed raise
 * on entry and its cancel on exit for every `after`, which are drawn as edges instead.
 */
export function ownActions(actions: readonly unknown[]): unknown[] {
  return actions.filter(
    (action) =>
      !(typeof action === 'function' && 'delay' in action && 'id' in action) &&
      !(typeof action === 'function' && (action as { type?: unknown }).type === 'xstate.cancel'),
  );
}

/** A machine's root state node, read as the structure above. */
export const rootOf = (machine: { root: unknown }): Node => machine.root as Node;
