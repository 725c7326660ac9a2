/** A node of the diagram: a task, the ids it depends on, and (for a stored workflow) its status. */
export interface MermaidNode {
  id: string;
  label: string;
  dependsOn: readonly string[];
  status?: string | null;
  /** Its condition, shown on the edges into it. */
  when?: string | null;
  /** A fan-out's list (its `forEach`): drawn as a subroutine, the list after its name. */
  forEach?: string | null;
  /** A task made by a fan-out or a loop: its maker's id, drawn as a dotted link from it. */
  itemOf?: string | null;
  /** A loop: drawn as a stadium labelled `↻ <name> [until: <until>, max <n>]`. */
  loop?: { until: string; maxIterations: number } | null;
  /** A wait for signals: drawn as a hexagon labelled with the names (and the timeout). */
  waitFor?: { signals: readonly string[]; timeoutMs: number | null } | null;
  /**
   * A child workflow: drawn as a subroutine labelled `<name> [workflow: <child name>, <child id>]`
   * (a loop over a group of tasks stays a stadium, the child's name added). `name`: the child's
   * name (null: unknown, a child given by id); `id`: its id once made (null: not yet).
   */
  workflow?: { name: string | null; id: string | null } | null;
}

/** Characters of a condition shown on an edge. */
export const EDGE_LABEL_WIDTH = 60;

/** Fill and stroke per task status (the names of `TaskStatus`). */
export const STATUS_STYLES: Record<string, string> = {
  PENDING: 'fill:#eeeeee,stroke:#999999,color:#333333',
  RUNNING: 'fill:#cfe2ff,stroke:#1f6feb,color:#0a3069',
  COMPLETED: 'fill:#d3f9d8,stroke:#2da44e,color:#0f5323',
  FAILED: 'fill:#ffd7d5,stroke:#cf222e,color:#82071e',
  SKIPPED: 'fill:#f6f8fa,stroke:#bbbbbb,stroke-dasharray:4 3,color:#8c959f',
  CANCELLED: 'fill:#6e7781,stroke:#424a53,color:#ffffff',
  PAUSED: 'fill:#fff8c5,stroke:#bf8700,color:#4d2d00',
};

/** Words Mermaid reads as keywords where a node id stands. */
const RESERVED = new Set([
  'end',
  'graph',
  'flowchart',
  'subgraph',
  'class',
  'classdef',
  'click',
  'style',
  'linkstyle',
  'direction',
  'default',
  'call',
  'href',
]);

const ENTITIES: Record<string, string> = {
  '"': '#quot;',
  '#': '#35;',
  '&': '#amp;',
  '<': '#lt;',
  '>': '#gt;',
  '[': '#91;',
  ']': '#93;',
  '{': '#123;',
  '}': '#125;',
  '|': '#124;',
  '`': '#96;',
};

/**
 * Text for inside a quoted Mermaid label: characters Mermaid reads as syntax become entity codes,
 * line breaks `<br/>`, other control characters spaces.
 */
export function escapeMermaidLabel(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/["#&<>[\]{}|`]/g, (char) => ENTITIES[char]!)
    .replace(/\n/g, '<br/>')
    .replace(/\p{Cc}/gu, ' ');
}

const clip = (text: string, width: number) => (text.length <= width ? text : `${text.slice(0, width - 1)}…`);

/** An expression on one line, clipped to `EDGE_LABEL_WIDTH`. */
const oneLine = (expression: string) => clip(expression.replace(/\s+/g, ' ').trim(), EDGE_LABEL_WIDTH);

/** `1500 ms`, `30 s`, `2 h`: a timeout as a wait's label shows it. */
function shortDuration(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}

/** `workflow: <child name>, <child id>` (what is known of them), for a child-workflow node's label. */
function childOf(workflow: NonNullable<MermaidNode['workflow']>): string {
  const known = [workflow.name, workflow.id].filter((part) => part !== null).map((part) => oneLine(part));
  return `workflow: ${known.length > 0 ? known.join(', ') : '?'}`;
}

/**
 * A node's line: a fan-out is a subroutine (`[[...]]`) labelled `<name> [forEach: <list>]`, a loop
 * a stadium (`([...])`) labelled `↻ <name> [until: <until>, max <n>]` (a loop over a group of tasks
 * adds `, workflow: <child name>`), a wait a hexagon (`{{...}}`) labelled `<name> [waitFor: <names>,
 * timeout <t>]`, a child workflow a subroutine labelled `<name> [workflow: <child name>, <child id>]`.
 */
function nodeLine(id: string, node: MermaidNode): string {
  const label = (text: string) => `"${escapeMermaidLabel(text)}"`;
  const forEach = node.forEach ?? null;
  if (forEach !== null && forEach !== '') {
    return `  ${id}[[${label(`${node.label} [forEach: ${oneLine(forEach)}]`)}]]`;
  }
  const loop = node.loop ?? null;
  const workflow = node.workflow ?? null;
  if (loop !== null) {
    const group = workflow === null ? '' : `, ${childOf(workflow)}`;
    return `  ${id}([${label(`↻ ${node.label} [until: ${oneLine(loop.until)}, max ${loop.maxIterations}${group}]`)}])`;
  }
  if (workflow !== null) return `  ${id}[[${label(`${node.label} [${childOf(workflow)}]`)}]]`;
  const waitFor = node.waitFor ?? null;
  if (waitFor !== null) {
    const timeout = waitFor.timeoutMs === null ? '' : `, timeout ${shortDuration(waitFor.timeoutMs)}`;
    return `  ${id}{{${label(`${node.label} [waitFor: ${oneLine(waitFor.signals.join(' or '))}${timeout}]`)}}}`;
  }
  return `  ${id}[${label(node.label)}]`;
}

/** Mermaid ids: the id itself when it is a plain name, else `node_<index>` (made unique). */
function mermaidIds(nodes: readonly MermaidNode[]): Map<string, string> {
  const plain = (id: string) => /^[A-Za-z][A-Za-z0-9_]*$/.test(id) && !RESERVED.has(id.toLowerCase());
  const taken = new Set(nodes.map((node) => node.id).filter(plain));
  const ids = new Map<string, string>();
  nodes.forEach((node, index) => {
    if (ids.has(node.id)) return;
    if (plain(node.id)) {
      ids.set(node.id, node.id);
      return;
    }
    let id = `node_${index}`;
    while (taken.has(id)) id = `${id}_`;
    taken.add(id);
    ids.set(node.id, id);
  });
  return ids;
}

/**
 * A Mermaid flowchart of a workflow graph: a node per task, an edge from each dependency to its
 * dependent (labelled with the dependent's condition, clipped), and, when statuses are given, each
 * node coloured by its status. A dependency that is not among the nodes is left out. A fan-out is
 * a subroutine node with its list in the label, a loop a stadium marked ↻ with its condition and
 * maxIterations, a wait a hexagon with its signal names, a child workflow a subroutine with the
 * child's name (and id); a task a fan-out or loop made (an item, an
 * iteration) is linked to it by a dotted edge (instead of edges from its dependencies, its maker's).
 * @example
 * toMermaid([{ id: 'a', label: 'Fetch', dependsOn: [] }, { id: 'b', label: 'Sum', dependsOn: ['a'] }]);
 * // flowchart TD
 * //   a["Fetch"]
 * //   b["Sum"]
 * //   a --> b
 */
export function toMermaid(nodes: readonly MermaidNode[]): string {
  const ids = mermaidIds(nodes);
  const lines = ['flowchart TD'];
  for (const node of nodes) lines.push(nodeLine(ids.get(node.id)!, node));
  for (const node of nodes) {
    const to = ids.get(node.id)!;
    const fanOut = node.itemOf === undefined || node.itemOf === null ? undefined : ids.get(node.itemOf);
    if (fanOut !== undefined) {
      lines.push(`  ${fanOut} -.-> ${to}`);
      continue;
    }
    const when = node.when ?? null;
    const arrow = when === null || when === '' ? '-->' : `-->|"${escapeMermaidLabel(oneLine(when))}"|`;
    for (const dependency of node.dependsOn) {
      const from = ids.get(dependency);
      if (from !== undefined) lines.push(`  ${from} ${arrow} ${to}`);
    }
  }
  const byStatus = new Map<string, string[]>();
  for (const node of nodes) {
    const status = node.status ?? null;
    if (status === null || !Object.hasOwn(STATUS_STYLES, status)) continue;
    const members = byStatus.get(status) ?? [];
    members.push(ids.get(node.id)!);
    byStatus.set(status, members);
  }
  for (const [status, members] of byStatus) {
    lines.push(`  classDef ${status.toLowerCase()} ${STATUS_STYLES[status]}`);
    lines.push(`  class ${[...new Set(members)].join(',')} ${status.toLowerCase()}`);
  }
  return `${lines.join('\n')}\n`;
}
