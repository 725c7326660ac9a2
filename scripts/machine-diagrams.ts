// Generates docs/machines/<name>.md, a Mermaid state diagram per machine, from the machine
// definitions themselves. Run with `npm run diagrams`; test/docs/machine-diagrams.test.ts fails
// when the files on disk differ from what this renders.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyStateMachine } from 'xstate';
import {
  agentMachine,
  circuitBreakerMachine,
  engineMachine,
  executorMachine,
  routerMachine,
  taskMachine,
  workflowMachine,
} from '../machines/index.js';

export interface DiagramSource {
  name: string;
  title: string;
  file: string;
  machine: AnyStateMachine;
}

export const DIAGRAM_SOURCES: readonly DiagramSource[] = [
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

/** The folder the diagrams live in, relative to the repository root. */
export const DIAGRAMS_DIR = 'docs/machines';

/** The parts of XState's StateNode that the diagrams read. */
interface Node {
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

interface Transition {
  target: readonly Node[] | undefined;
  guard?: unknown;
  actions: readonly unknown[];
  eventType: string;
}

interface Edge {
  /** null: a transition of the machine itself, taken in any state. */
  from: Node | null;
  to: Node;
  label: string;
}

interface Internal {
  state: string;
  event: string;
  guard: string;
  actions: string;
}

/** The box that stands for "any state" as the source of a transition of the machine itself. */
const ANY_STATE = 'any_state';

const stateId = (node: Node | null): string => (node === null ? ANY_STATE : node.path.join('_'));

/** Child states in definition order. */
const childrenOf = (node: Node): Node[] => Object.values(node.states);

function nameOf(thing: unknown): string {
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
function collect(root: Node): { edges: Edge[]; internal: Internal[] } {
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

/** The innermost compound state holding both ends of an edge (the root when there is none). */
function scopeOf(edge: Edge, root: Node): Node {
  const ancestors = (node: Node) => {
    const list: Node[] = [];
    for (let at = node.parent; at; at = at.parent) list.push(at);
    return list;
  };
  if (edge.from === null) return root;
  const toAncestors = new Set(ancestors(edge.to));
  return ancestors(edge.from).find((node) => toAncestors.has(node)) ?? root;
}

function renderMermaid(machine: AnyStateMachine): { mermaid: string; internal: Internal[] } {
  const root = machine.root as unknown as Node;
  const { edges, internal } = collect(root);
  const lines: string[] = ['stateDiagram-v2'];
  const render = (scope: Node, indent: string) => {
    const initial = scope.initial?.target[0];
    if (initial) lines.push(`${indent}[*] --> ${stateId(initial)}`);
    for (const child of childrenOf(scope)) {
      const id = stateId(child);
      const declared = child.key === id ? id : `"${child.key}" as ${id}`;
      if (child.type === 'compound' || child.type === 'parallel') {
        if (child.key !== id) lines.push(`${indent}state ${declared}`);
        lines.push(`${indent}state ${id} {`);
        render(child, `${indent}  `);
        lines.push(`${indent}}`);
      } else if (child.key !== id) {
        lines.push(`${indent}state ${declared}`);
      }
    }
    for (const edge of edges) {
      if (scopeOf(edge, root) === scope)
        lines.push(`${indent}${stateId(edge.from)} --> ${stateId(edge.to)} : ${edge.label}`);
    }
    for (const child of childrenOf(scope)) {
      if (child.type === 'final') lines.push(`${indent}${stateId(child)} --> [*]`);
    }
  };
  if (edges.some((edge) => edge.from === null)) lines.splice(1, 0, `  state "any state" as ${ANY_STATE}`);
  render(root, '  ');
  return { mermaid: lines.join('\n'), internal };
}

function allStates(node: Node): Node[] {
  return childrenOf(node).flatMap((child) => [child, ...allStates(child)]);
}

/** The Markdown page of one machine. */
export function renderMachineDiagram(source: DiagramSource): string {
  const root = source.machine.root as unknown as Node;
  const { mermaid, internal } = renderMermaid(source.machine);
  const states = allStates(root);
  const out: string[] = [
    `<!-- Generated by \`npm run diagrams\` from ${source.file}; do not edit by hand. -->`,
    '',
    `# ${source.title} machine (\`${root.id}\`)`,
    '',
    `Source: [\`${source.file}\`](../../${source.file}). Initial state: \`${root.initial?.target[0]?.key ?? '-'}\`.` +
      ` Final states: ${
        states
          .filter((node) => node.type === 'final')
          .map((node) => `\`${node.path.join('.')}\``)
          .join(', ') || 'none'
      }.`,
    '',
    '```mermaid',
    mermaid,
    '```',
    '',
    'Edge labels read `EVENT [guard] / actions`; `always` marks an eventless transition, `after` a',
    'delayed one. A transition of the machine itself, or one that every other top-level state has,',
    'is drawn once from the box "any state".',
  ];
  if (internal.length > 0) {
    out.push(
      '',
      '## Transitions that change only the context',
      '',
      '| state | event | guard | actions |',
      '| --- | --- | --- | --- |',
      ...internal.map(
        (row) => `| ${row.state} | ${row.event} | ${row.guard || '-'} | ${row.actions || '-'} |`,
      ),
    );
  }
  const tagged = states.filter((node) => node.tags.length > 0);
  if (tagged.length > 0) {
    out.push(
      '',
      '## Tags',
      '',
      '| state | tags |',
      '| --- | --- |',
      ...tagged.map((node) => `| ${node.path.join('.')} | ${node.tags.join(', ')} |`),
    );
  }
  // XState adds a delayed raise on entry and its cancel on exit for every `after`: drawn as edges.
  const own = (actions: readonly unknown[]) =>
    actions.filter(
      (action) =>
        !(typeof action === 'function' && 'delay' in action && 'id' in action) &&
        !(typeof action === 'function' && (action as { type?: unknown }).type === 'xstate.cancel'),
    );
  const acting = states.filter((node) => own(node.entry).length > 0 || own(node.exit).length > 0);
  if (acting.length > 0) {
    const names = (actions: readonly unknown[]) => own(actions).map(nameOf).join(', ') || '-';
    out.push(
      '',
      '## Entry and exit actions',
      '',
      '| state | entry | exit |',
      '| --- | --- | --- |',
      ...acting.map((node) => `| ${node.path.join('.')} | ${names(node.entry)} | ${names(node.exit)} |`),
    );
  }
  const invoking = [root, ...states].filter((node) => node.invoke.length > 0);
  if (invoking.length > 0) {
    out.push('', '## Invoked actors', '', '| state | id | systemId | src |', '| --- | --- | --- | --- |');
    for (const node of invoking) {
      for (const invoke of node.invoke) {
        const where = node === root ? '(machine)' : node.path.join('.');
        out.push(`| ${where} | ${invoke.id} | ${invoke.systemId ?? '-'} | ${nameOf(invoke.src)} |`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}

/** Every file of docs/machines, by file name: one page per machine and an index. */
export function renderMachineDiagrams(): Map<string, string> {
  const files = new Map<string, string>();
  for (const source of DIAGRAM_SOURCES) files.set(`${source.name}.md`, renderMachineDiagram(source));
  const index = [
    '<!-- Generated by `npm run diagrams` from machines/*.machine.ts; do not edit by hand. -->',
    '',
    '# Machine diagrams',
    '',
    'One Mermaid state diagram per machine, generated from the machine definitions. After changing a',
    'machine, run `npm run diagrams`; `test/docs/machine-diagrams.test.ts` fails while these are stale.',
    '',
    ...DIAGRAM_SOURCES.map((source) => `- [${source.title}](${source.name}.md): \`${source.file}\``),
  ];
  files.set('README.md', `${index.join('\n')}\n`);
  return files;
}

/** Writes the diagrams under `root` and removes pages of machines that no longer exist. */
export function writeMachineDiagrams(root: string): string[] {
  const dir = join(root, DIAGRAMS_DIR);
  mkdirSync(dir, { recursive: true });
  const files = renderMachineDiagrams();
  for (const existing of readdirSync(dir)) {
    if (existing.endsWith('.md') && !files.has(existing)) rmSync(join(dir, existing));
  }
  for (const [name, content] of files) writeFileSync(join(dir, name), content);
  return [...files.keys()].map((name) => join(DIAGRAMS_DIR, name));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  for (const file of writeMachineDiagrams(root)) process.stdout.write(`wrote ${file}\n`);
}
