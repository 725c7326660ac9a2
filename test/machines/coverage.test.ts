import { describe, expect, it } from 'vitest';
import type {
  AnyEventObject,
  AnyMachineSnapshot,
  AnyStateMachine,
  AnyStateNode,
  EventObject,
  StateValue,
} from 'xstate';
import { adjacencyMapToArray, getAdjacencyMap, getShortestPaths, getSimplePaths } from 'xstate/graph';
import {
  agentMachine,
  circuitBreakerMachine,
  engineMachine,
  executorMachine,
  routerMachine,
  ROUTING_STRATEGIES,
  TASK_STATUSES,
  taskMachine,
  workflowMachine,
  type AgentMachineEvent,
  type CircuitBreakerEvent,
  type EngineMachineEvent,
  type ExecutorMachineEvent,
  type RouterMachineEvent,
  type StartingExecution,
  type TaskMachineEvent,
  type TaskStatus,
  type TaskStatusChange,
  type WorkflowMachineEvent,
} from '../../machines/index.js';
import type { GraphNode, GraphNodeInput, GraphProgress, NodeState } from '../../machines/graph.js';

/**
 * Graph coverage: every state node of every machine is reached at rest by `getShortestPaths`, and
 * every transition that has a target is taken by some edge of the adjacency map. Adding a state or
 * a targeted transition that no sample event can reach fails here.
 */

interface CoverageSpec {
  machine: AnyStateMachine;
  /** Each input is explored from its own initial snapshot; the results are united. */
  inputs: readonly unknown[];
  /** Sample events with parameters; `xstate.after.*` and `xstate.done.actor.*` events are added. */
  events: readonly EventObject[];
  filterEvents?: (snapshot: AnyMachineSnapshot, event: EventObject) => boolean;
  serializeState?: (snapshot: AnyMachineSnapshot) => string;
  /** States that only pass control on (`always`), never at rest; they must still be entered. */
  transient?: readonly string[];
  /** Cross-check the reached set with `getSimplePaths` (small state spaces only). */
  simplePaths?: boolean;
  /** Event types the machine takes that the samples leave out on purpose (say why where listed). */
  unsampled?: readonly string[];
  /** Called with every snapshot reached at rest, for checks on the context. */
  observe?: (snapshot: AnyMachineSnapshot) => void;
}

function allNodes(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states).flatMap((child) => [child, ...allNodes(child)]);
}

function leafIds(machine: AnyStateMachine): string[] {
  return allNodes(machine.root)
    .filter((node) => Object.keys(node.states).length === 0)
    .map((node) => node.id)
    .sort();
}

/** Ids of all active state nodes (root included) for a state value. */
function activeIds(machine: AnyStateMachine, value: StateValue): Set<string> {
  const ids = new Set<string>([machine.root.id]);
  const walk = (prefix: string, v: StateValue) => {
    if (typeof v === 'string') {
      ids.add(`${prefix}.${v}`);
      return;
    }
    for (const [key, child] of Object.entries(v)) {
      ids.add(`${prefix}.${key}`);
      if (child !== undefined) walk(`${prefix}.${key}`, child);
    }
  };
  walk(machine.root.id, value);
  return ids;
}

/** Ids along the machine's initial-state chain, before any `always` transition. */
function initialChainIds(machine: AnyStateMachine): Set<string> {
  const ids = new Set<string>([machine.root.id]);
  let node: AnyStateNode | undefined = machine.root;
  while (node && node.type === 'compound') {
    node = node.initial.target[0];
    if (node) ids.add(node.id);
  }
  return ids;
}

/** Event types the graph utilities cannot guess: delayed transitions and invoked actors' done events. */
function internalEvents(machine: AnyStateMachine): EventObject[] {
  const nodes = [machine.root, ...allNodes(machine.root)];
  const after = nodes.flatMap((node) => node.after.map((t) => ({ type: t.eventType })));
  const done = nodes.flatMap((node) =>
    node.invoke
      .filter((inv) => inv.onDone)
      .map((inv) => ({ type: `xstate.done.actor.${inv.id}`, output: undefined })),
  );
  return [...after, ...done];
}

interface TargetedTransition {
  key: string;
  source: string;
  eventType: string | null;
  targets: string[];
}

function targetedTransitions(machine: AnyStateMachine): TargetedTransition[] {
  const result: TargetedTransition[] = [];
  for (const node of [machine.root, ...allNodes(machine.root)]) {
    const all = [
      ...[...node.transitions.entries()].flatMap(([eventType, defs]) =>
        defs.map((def) => ({ eventType, def })),
      ),
      ...(node.always ?? []).map((def) => ({ eventType: null, def })),
    ];
    all.forEach(({ eventType, def }, index) => {
      const targets = (def.target ?? []).map((target) => target.id);
      if (targets.length === 0) return;
      result.push({
        key: `${node.id} --${eventType ?? 'always'}#${index}--> ${targets.join(',')}`,
        source: node.id,
        eventType,
        targets,
      });
    });
  }
  return result;
}

function explore(spec: CoverageSpec) {
  const { machine } = spec;
  const events = [...spec.events, ...internalEvents(machine)];
  const atRest = new Set<string>();
  const atRestSimple = new Set<string>();
  const edges: { prev: Set<string>; eventType: string | null; next: Set<string> }[] = [];
  for (const input of spec.inputs) {
    const options = {
      input,
      events,
      // The pure transition function keeps applying root-level events after a final state;
      // a done actor takes no events, so neither does the traversal.
      filterEvents: (snapshot: AnyMachineSnapshot, event: EventObject) =>
        snapshot.status !== 'done' && (spec.filterEvents?.(snapshot, event) ?? true),
      ...(spec.serializeState ? { serializeState: spec.serializeState } : {}),
    };
    for (const path of getShortestPaths(machine, options)) {
      for (const id of activeIds(machine, path.state.value)) atRest.add(id);
      spec.observe?.(path.state);
    }
    if (spec.simplePaths) {
      for (const path of getSimplePaths(machine, options)) {
        for (const id of activeIds(machine, path.state.value)) atRestSimple.add(id);
      }
    }
    const adjacency = getAdjacencyMap(machine, options);
    const entries = adjacencyMapToArray(adjacency);
    for (const { state, event, nextState } of entries) {
      edges.push({
        prev: activeIds(machine, state.value),
        eventType: event.type,
        next: activeIds(machine, nextState.value),
      });
    }
    // The initial snapshot is an edge too: from the initial chain through any `always` transitions.
    const initial = Object.values(adjacency)[0]?.state as AnyMachineSnapshot | undefined;
    if (initial)
      edges.push({
        prev: initialChainIds(machine),
        eventType: null,
        next: activeIds(machine, initial.value),
      });
  }
  return { atRest, atRestSimple, edges };
}

const change = (from: TaskStatus | null, to: TaskStatus | null): TaskStatusChange => ({
  taskId: 't',
  from,
  to,
});
const workflowChanges: WorkflowMachineEvent[] = [null, ...TASK_STATUSES].flatMap((from) =>
  [null, ...TASK_STATUSES]
    .filter((to) => to !== from)
    .map((to) => ({ type: 'TASKS_CHANGED' as const, changes: [change(from, to)] })),
);

const taskEvents: TaskMachineEvent[] = [
  { type: 'START' },
  { type: 'START', timeoutMs: 100 },
  { type: 'SUCCEED' },
  { type: 'FAIL', retryable: true, retryAfterMs: 10 },
  { type: 'FAIL', retryable: false, retryAfterMs: 0 },
  { type: 'WAIT', delay: 10 },
  { type: 'PAUSE' },
  { type: 'RESUME' },
  { type: 'CANCEL' },
  { type: 'RETRY' },
  { type: 'HOLD' },
  { type: 'UNHOLD' },
  { type: 'SKIP' },
  { type: 'REJECT' },
  { type: 'RESOLVE' },
  { type: 'ARM', deadlineInMs: 10, closeInMs: 20 },
  { type: 'EXPIRE', limit: 'deadline' },
  { type: 'EXPIRE', limit: 'close' },
  { type: 'LIMIT_DUE', limit: 'deadline' },
  { type: 'LIMIT_DUE', limit: 'close' },
  { type: 'HEARTBEAT' },
  { type: 'HEARTBEAT_DUE' },
];

// Graph events: `t` (the task whose status the TASKS_CHANGED samples change) joins the graph with
// a condition on a task `d`, either completed (so `t` is to be decided at once) or pending (so `t`
// waits); DECIDED answers each way.
const graphEvents: WorkflowMachineEvent[] = [
  ...(['COMPLETED', 'PENDING'] as const).map((status) => ({
    type: 'NODES_ADDED' as const,
    nodes: [
      { taskId: 'd', dependsOn: [], conditional: false, status },
      { taskId: 't', dependsOn: ['d'], conditional: true, status: 'PENDING' as const },
    ],
  })),
  { type: 'DECIDED', decisions: [{ taskId: 't', holds: true }] },
  { type: 'DECIDED', decisions: [{ taskId: 't', holds: false }] },
  { type: 'DECIDED', decisions: [{ taskId: 't', holds: null }] },
  // `t` as a fan-out of a done `d`, not expanded yet; its item `c` joins done, then EXPANDED makes
  // `t` wait for it (resolved at once). Or `t` reloaded as a collector of an item not done yet.
  {
    type: 'NODES_ADDED',
    nodes: [
      { taskId: 'd', dependsOn: [], conditional: false, status: 'COMPLETED' },
      { taskId: 't', dependsOn: ['d'], conditional: false, status: 'PENDING', fanOut: { children: null } },
    ],
  },
  {
    type: 'NODES_ADDED',
    nodes: [{ taskId: 'c', dependsOn: ['d'], conditional: false, status: 'COMPLETED' }],
  },
  { type: 'EXPANDED', expansions: [{ taskId: 't', children: ['c'] }] },
  {
    type: 'NODES_ADDED',
    nodes: [
      { taskId: 'd', dependsOn: [], conditional: false, status: 'COMPLETED' },
      { taskId: 'c', dependsOn: ['d'], conditional: false, status: 'PENDING' },
      { taskId: 't', dependsOn: ['d'], conditional: false, status: 'PENDING', fanOut: { children: ['c'] } },
    ],
  },
  // `t` as a loop of a done `d`, no iteration made yet: its iteration `c` joins (the sample above),
  // EXPANDED makes `t` wait for it. Or `t` reloaded as a loop waiting for its iteration `c`.
  {
    type: 'NODES_ADDED',
    nodes: [
      { taskId: 'd', dependsOn: [], conditional: false, status: 'COMPLETED' },
      { taskId: 't', dependsOn: ['d'], conditional: false, status: 'PENDING', loop: { children: [] } },
    ],
  },
  {
    type: 'NODES_ADDED',
    nodes: [
      { taskId: 'd', dependsOn: [], conditional: false, status: 'COMPLETED' },
      { taskId: 'c', dependsOn: ['d'], conditional: false, status: 'PENDING' },
      { taskId: 't', dependsOn: ['d'], conditional: false, status: 'PENDING', loop: { children: ['c'] } },
    ],
  },
  // `t` as a wait for a signal after a done `d`.
  {
    type: 'NODES_ADDED',
    nodes: [
      { taskId: 'd', dependsOn: [], conditional: false, status: 'COMPLETED' },
      { taskId: 't', dependsOn: ['d'], conditional: false, status: 'PENDING', wait: true },
    ],
  },
];

/** Whether a node input makes a node the engine acts on (a fan-out, a loop, a wait). */
const actedOn = (input: GraphNodeInput): boolean =>
  input.fanOut !== undefined || input.loop !== undefined || input.wait === true;

/**
 * What a graph node is: plain, a fan-out not expanded yet, an expanded one (a collector), a loop
 * (`looper`) or a wait for a signal (`waiter`).
 */
const nodeKind = (node: GraphNode): string =>
  node.fanOut === true
    ? 'fanOut'
    : node.collector === true
      ? 'collector'
      : node.looper === true
        ? 'looper'
        : node.waiter === true
          ? 'waiter'
          : 'plain';

const starting = (n: number): StartingExecution => ({ executionId: `e${n}`, taskId: `t${n}`, timeoutMs: 0 });

// The task actors the agent addresses do not exist in the graph's mock actor system, so RUN,
// SETTLED and RELEASE send nothing here; what they send is covered in agent.test.ts.
const agentEvents: (AgentMachineEvent | AnyEventObject)[] = [
  { type: 'RUN', executions: [starting(1)] },
  { type: 'RUN', executions: [starting(1), starting(2), starting(3)] },
  { type: 'SETTLED', executions: [{ ...starting(1), ok: true, outcome: { type: 'SUCCEED' } }] },
  { type: 'SETTLED', executions: [{ ...starting(1), ok: false }] },
  { type: 'SETTLED', executions: [{ ...starting(1), ok: false, cancelled: true }] },
  { type: 'RELEASE', taskIds: ['t1'] },
  { type: 'SET_LIMIT', maxConcurrency: 1 },
  { type: 'SET_LIMIT', maxConcurrency: 3 },
  // A task actor of the agent failed.
  { type: 'xstate.error.actor.t1', error: new Error('task actor failed') },
];

// REGISTER_AGENT is targetless and spawns: the graph utilities share one mock actor system
// across all branches, so a second spawn of `agent:<id>` on another branch throws. Spawning is
// covered in executor.test.ts. SET_LIMIT 0 is left out: it loops forever (see executor.test.ts).
// Without spawned agents, DISPATCH/SETTLED/RELEASE that name one would throw, so the explored
// executor passes nothing on (`toAgents` is a no-op below); executor.test.ts covers the passing.
const executorEvents: ExecutorMachineEvent[] = [
  { type: 'ENQUEUED', count: 1 },
  { type: 'DEQUEUED', count: 1 },
  { type: 'DISPATCH', runs: [{ agentId: 'a', executions: [starting(1)] }] },
  { type: 'SETTLED', count: 1, agents: [{ agentId: 'a', executions: [{ ...starting(1), ok: true }] }] },
  { type: 'RELEASE', agents: [{ agentId: 'a', executions: ['t1'] }] },
  { type: 'WAKE' },
  { type: 'SET_LIMIT', maxConcurrency: 1 },
  { type: 'SET_LIMIT', maxConcurrency: 2 },
  { type: 'STOP' },
];

const breakerEvents: CircuitBreakerEvent[] = [
  { type: 'FAILURE', at: 10 },
  { type: 'SUCCESS', at: 10 },
  { type: 'PROBE' },
  { type: 'OBSERVED', state: 'OPEN', openedAt: 5, changedAt: 5, at: 10 },
  { type: 'OBSERVED', state: 'CLOSED', openedAt: null, changedAt: 20, at: 20 },
];

const routerEvents: RouterMachineEvent[] = [
  ...ROUTING_STRATEGIES.map((strategy) => ({ type: 'SET_STRATEGY' as const, strategy })),
  { type: 'ROUTED', strategy: 'ROUND_ROBIN', agentIds: ['a'] },
  { type: 'ROUTED', strategy: 'ROUND_ROBIN', agentIds: ['a', 'b'] },
  { type: 'ROUTED', strategy: 'CUSTOM', agentIds: ['a'] },
];

// The runtime events the engine passes on. In the graph's mock actor scope no action runs, so the
// forwards deliver nothing; engine.test.ts checks what arrives where.
const engineEvents: EngineMachineEvent[] = [
  { type: 'STOP' },
  { type: 'REGISTER_AGENT', agentId: 'a', maxConcurrency: 1 },
  { type: 'ENQUEUED', count: 1 },
  { type: 'DEQUEUED', count: 1 },
  { type: 'DISPATCH', runs: [{ agentId: 'a', executions: [starting(1)] }] },
  { type: 'SETTLED', count: 1, agents: [{ agentId: 'a', executions: [{ ...starting(1), ok: true }] }] },
  { type: 'RELEASE', agents: [{ agentId: 'a', executions: ['t1'] }] },
  { type: 'ROUTED', strategy: 'ROUND_ROBIN', agentIds: ['a'] },
  {
    type: 'TASKS_CHANGED',
    workflows: [{ workflowId: 'w', changes: [{ taskId: 't', from: null, to: 'PENDING' }] }],
  },
  {
    type: 'NODES_ADDED',
    workflowId: 'w',
    nodes: [{ taskId: 't', dependsOn: [], conditional: false, status: 'PENDING' }],
  },
  { type: 'DECIDED', workflowId: 'w', decisions: [{ taskId: 't', holds: true }] },
  { type: 'EXPANDED', workflowId: 'w', expansions: [{ taskId: 't', children: ['t-0'] }] },
  { type: 'RELEASE_WORKFLOW', workflowId: 'w' },
  { type: 'HOLD', taskIds: ['t1'] },
  { type: 'UNHOLD', taskIds: ['t1'] },
];

/** The states the graph node `t` of the workflow was seen in, at rest. */
const nodeStatesSeen = new Set<NodeState>();
/** `<kind>:<state>` of the graph node `t` seen at rest (see nodeKind). */
const nodeKindsSeen = new Set<string>();

const specs: Record<string, CoverageSpec> = {
  task: {
    machine: taskMachine,
    inputs: [{ taskId: 't', maxAttempts: 2 }],
    events: taskEvents,
    // No simple-path cross-check: with HOLD / UNHOLD taken in every state, the number of simple
    // paths explodes (minutes); shortest paths and the adjacency map still reach every state and
    // transition.
  },
  workflow: {
    machine: workflowMachine,
    inputs: [{ workflowId: 'w' }],
    events: [...workflowChanges, ...graphEvents, { type: 'PAUSE' }, { type: 'RESUME' }, { type: 'CANCEL' }],
    // Valid changes only (the task left a status that holds one), at most two tasks (one with a
    // fan-out); the graph is added once.
    filterEvents: (snapshot, event) => {
      const graph = snapshot.context.graph as GraphProgress | null;
      const counts = snapshot.context.counts as Record<TaskStatus, number>;
      const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
      const t = graph?.nodes.get('t');
      const fanOut = t?.fanOut === true || t?.collector === true || t?.looper === true || t?.waiter === true;
      if (event.type === 'NODES_ADDED') {
        const { nodes } = event as Extract<WorkflowMachineEvent, { type: 'NODES_ADDED' }>;
        // The graph is added once (a fan-out's, a loop's or a wait's with one task at most, to
        // keep the space small); a fan-out's item or a loop's iteration joins once, while the
        // fan-out is expanding or the loop awaits its iteration.
        if (nodes.some(actedOn)) return graph === null && total <= 1;
        if (nodes.some((n) => n.taskId === 't')) return graph === null;
        const making = t?.awaiting === 'expansion' || t?.awaiting === 'iteration';
        return making && !graph!.nodes.has('c');
      }
      // The items join just before EXPANDED names them; a loop's iteration is named once (each
      // EXPANDED of the engine names a new one; the same one again would grow `dependents` forever).
      if (event.type === 'EXPANDED') return graph?.nodes.has('c') === true && !t?.dependsOn.includes('c');
      // The samples' fan-outs, loops and waits have no condition (graph.test.ts has conditional ones).
      if (event.type === 'DECIDED') return !fanOut;
      if (event.type !== 'TASKS_CHANGED') return true;
      const [{ from, to }] = (event as Extract<WorkflowMachineEvent, { type: 'TASKS_CHANGED' }>).changes as [
        TaskStatusChange,
      ];
      if (from !== null && counts[from] === 0) return false;
      return from !== null || to === null || total < (fanOut ? 1 : 2);
    },
    observe: (snapshot) => {
      const graph = snapshot.context.graph as GraphProgress | null;
      const t = graph?.nodes.get('t');
      if (t) {
        nodeStatesSeen.add(t.state);
        nodeKindsSeen.add(`${nodeKind(t)}:${t.state}`);
      }
    },
  },
  agent: {
    machine: agentMachine,
    inputs: [{ agentId: 'a', maxConcurrency: 2 }],
    events: agentEvents,
    // completed/failed only ever grow; the load is what the states are about.
    serializeState: (snapshot) =>
      JSON.stringify([snapshot.value, snapshot.context.inFlight, snapshot.context.maxConcurrency]),
  },
  executor: {
    machine: executorMachine.provide({ actions: { toAgents: () => {} } }),
    inputs: [{ maxConcurrency: 2 }],
    events: executorEvents,
    filterEvents: (snapshot, event) =>
      (event.type !== 'ENQUEUED' || snapshot.context.queued < 2) &&
      (event.type !== 'DISPATCH' || snapshot.context.inFlight < 3),
    unsampled: ['REGISTER_AGENT'],
  },
  circuitBreaker: {
    machine: circuitBreakerMachine,
    inputs: [{ agentId: 'a', failureThreshold: 2, windowMs: 100, cooldownMs: 50, halfOpenProbes: 1 }],
    events: breakerEvents,
    serializeState: (snapshot) =>
      JSON.stringify([
        snapshot.value,
        snapshot.context.failures.length,
        snapshot.context.probesLeft,
        snapshot.context.changedAt,
      ]),
  },
  router: {
    machine: routerMachine,
    inputs: ROUTING_STRATEGIES.map((strategy) => ({ strategy })),
    events: routerEvents,
    serializeState: (snapshot) => JSON.stringify(snapshot.value),
    transient: ['router.starting'],
    simplePaths: true,
  },
  engine: {
    machine: engineMachine,
    inputs: [{ executor: { maxConcurrency: 1 }, router: { strategy: 'ROUND_ROBIN' } }],
    events: engineEvents,
    serializeState: (snapshot) => JSON.stringify(snapshot.value),
    simplePaths: true,
    // Spawns a breaker child and changes no state; test/engine/circuit-breaker.test.ts covers it.
    unsampled: ['REGISTER_BREAKER'],
  },
};

describe('graph coverage of the machines', () => {
  for (const [name, spec] of Object.entries(specs)) {
    describe(name, () => {
      const { atRest, atRestSimple, edges } = explore(spec);
      const transient = new Set(spec.transient ?? []);

      it('reaches every leaf state at rest (transient states excepted)', () => {
        const leaves = leafIds(spec.machine);
        const reached = leaves.filter((id) => atRest.has(id));
        expect(reached).toEqual(leaves.filter((id) => !transient.has(id)));
        if (spec.simplePaths) expect(leaves.filter((id) => atRestSimple.has(id))).toEqual(reached);
      });

      it('samples every event type the machine takes (or lists it as left out)', () => {
        const sampled = [...spec.events, ...internalEvents(spec.machine)].map((event) => event.type);
        const taken = (descriptor: string) =>
          descriptor.endsWith('.*')
            ? sampled.some((type) => type.startsWith(descriptor.slice(0, -1)))
            : sampled.includes(descriptor);
        const missing = spec.machine.root.events.filter((descriptor) => !taken(descriptor));
        expect(missing.sort()).toEqual([...(spec.unsampled ?? [])].sort());
      });

      it('takes every transition that has a target', () => {
        const missing = targetedTransitions(spec.machine)
          .filter(
            (t) =>
              !edges.some(
                (edge) =>
                  edge.prev.has(t.source) &&
                  (t.eventType === null || t.eventType === edge.eventType) &&
                  t.targets.every((target) => edge.next.has(target)),
              ),
          )
          .map((t) => t.key);
        expect(missing).toEqual([]);
      });

      if (transient.size > 0) {
        it('enters each transient state and never rests in it', () => {
          for (const id of transient) {
            const node = spec.machine.getStateNodeById(id);
            expect(node.always?.length ?? 0).toBeGreaterThan(0);
            expect(atRest.has(id)).toBe(false);
            expect(edges.some((edge) => edge.prev.has(id) && !edge.next.has(id))).toBe(true);
          }
        });
      }
    });
  }

  it('reaches every node state of a workflow graph (machines/graph.ts) through its events', () => {
    const all: NodeState[] = [
      'waiting',
      'deciding',
      'ready',
      'running',
      'done',
      'skipped',
      'failed',
      'cancelled',
      'paused',
    ];
    expect([...nodeStatesSeen].sort()).toEqual(all.sort());
  });

  it('takes a fan-out node through expansion (EXPANDED) to its resolution, and a reloaded one as a collector', () => {
    expect([...nodeKindsSeen].sort()).toEqual(
      expect.arrayContaining([
        'fanOut:deciding',
        'fanOut:failed',
        'collector:waiting',
        'collector:deciding',
        'collector:done',
        'collector:failed',
      ]),
    );
  });

  it('takes a loop through its iterations (iterate, EXPANDED, reloaded) and a wait through its signal, both to their ends', () => {
    expect([...nodeKindsSeen].sort()).toEqual(
      expect.arrayContaining([
        'looper:waiting',
        'looper:deciding',
        'looper:done',
        'looper:failed',
        'looper:paused',
        'waiter:deciding',
        'waiter:done',
        'waiter:failed',
        'waiter:skipped',
        'waiter:cancelled',
      ]),
    );
  });

  it('covers all seven machines', () => {
    expect(Object.keys(specs).sort()).toEqual([
      'agent',
      'circuitBreaker',
      'engine',
      'executor',
      'router',
      'task',
      'workflow',
    ]);
  });
});
