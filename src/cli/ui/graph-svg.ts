import type { MermaidNode } from '../../graph/mermaid.js';
import { truncate } from '../format.js';
import { html, raw, type SafeHtml } from './html.js';

/** Nodes a graph may have to be drawn; past that the page lists the tasks only. */
export const MAX_DRAWN_NODES = 300;

const W = 168;
const H = 46;
const GAP_X = 26;
const GAP_Y = 46;
const PAD = 16;
/** Nodes side by side at most; a wider rank wraps onto more rows. */
const MAX_COLS = 5;

interface Placed {
  node: MermaidNode;
  x: number;
  y: number;
}

/** The nodes each node comes after: its maker (a fan-out item, a loop iteration), else its dependencies. */
function predecessors(nodes: readonly MermaidNode[]): Map<string, { from: string[]; made: boolean }> {
  const ids = new Set(nodes.map((node) => node.id));
  const preds = new Map<string, { from: string[]; made: boolean }>();
  for (const node of nodes) {
    const maker = node.itemOf ?? null;
    if (maker !== null && ids.has(maker)) preds.set(node.id, { from: [maker], made: true });
    else preds.set(node.id, { from: node.dependsOn.filter((id) => ids.has(id)), made: false });
  }
  return preds;
}

/**
 * A layered layout: each node's rank is one more than its deepest predecessor's; within a rank,
 * nodes are ordered by the mean column of their predecessors (then as given), and a rank wider
 * than MAX_COLS wraps onto more rows.
 */
function place(nodes: readonly MermaidNode[]): { placed: Placed[]; width: number; height: number } {
  const preds = predecessors(nodes);
  const rank = new Map<string, number>();
  const visiting = new Set<string>();
  const rankOf = (id: string): number => {
    const known = rank.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle (a graph is checked acyclic): cut it here
    visiting.add(id);
    const from = preds.get(id)?.from ?? [];
    const value = from.length === 0 ? 0 : 1 + Math.max(...from.map(rankOf));
    visiting.delete(id);
    rank.set(id, value);
    return value;
  };
  const ranks: MermaidNode[][] = [];
  for (const node of nodes) (ranks[rankOf(node.id)] ??= []).push(node);
  const column = new Map<string, number>();
  const order = new Map(nodes.map((node, i) => [node.id, i]));
  const cols = Math.min(MAX_COLS, Math.max(1, ...ranks.map((row) => row?.length ?? 0)));
  const placed: Placed[] = [];
  let y = PAD;
  for (const row of ranks) {
    if (!row) continue;
    const mean = (node: MermaidNode) => {
      const from = preds.get(node.id)!.from.map((id) => column.get(id) ?? 0);
      return from.length === 0 ? order.get(node.id)! : from.reduce((a, b) => a + b, 0) / from.length;
    };
    const sorted = [...row].sort((a, b) => mean(a) - mean(b) || order.get(a.id)! - order.get(b.id)!);
    for (let start = 0; start < sorted.length; start += cols) {
      const line = sorted.slice(start, start + cols);
      const offset = ((cols - line.length) * (W + GAP_X)) / 2;
      line.forEach((node, i) => {
        column.set(node.id, start + i);
        placed.push({ node, x: PAD + offset + i * (W + GAP_X), y });
      });
      y += H + GAP_Y;
    }
  }
  return { placed, width: PAD * 2 + cols * (W + GAP_X) - GAP_X, height: y - GAP_Y + PAD };
}

/** The kind of node a label's second line names. */
function kindOf(node: MermaidNode): string {
  if (node.forEach) return 'fan-out';
  if (node.loop) return '↻ loop';
  if (node.workflow) return 'child workflow';
  if (node.waitFor) return `waits for ${node.waitFor.signals.join(' or ')}`;
  return '';
}

function shape(node: MermaidNode): SafeHtml {
  if (node.waitFor && !node.loop && !node.forEach && !node.workflow) {
    const points = [
      [10, 0],
      [W - 10, 0],
      [W, H / 2],
      [W - 10, H],
      [10, H],
      [0, H / 2],
    ];
    return html`<polygon class="shape" points="${points.map((p) => p.join(',')).join(' ')}" />`;
  }
  if (node.loop) return html`<rect class="shape" width="${W}" height="${H}" rx="${H / 2}" />`;
  const box = html`<rect class="shape" width="${W}" height="${H}" rx="6" />`;
  if (node.forEach || node.workflow) {
    return html`${box}<path class="sub" d="M8 0V${H}M${W - 8} 0V${H}" />`;
  }
  return box;
}

/**
 * A workflow graph as SVG: a box per task, coloured by its status (`data-status`, the palette of
 * `symphony graph`), linked to the task's page; an arrow from each dependency (dashed when the task
 * has a condition), a dotted one from a fan-out or loop to the tasks it made. The label is the
 * task's name, cut; the whole name, status and condition are in the node's title.
 */
export function graphSvg(nodes: readonly MermaidNode[], hrefOf: (id: string) => string): SafeHtml {
  const { placed, width, height } = place(nodes);
  const at = new Map(placed.map((p) => [p.node.id, p]));
  const preds = predecessors(nodes);
  const edges: SafeHtml[] = [];
  for (const { node, x, y } of placed) {
    const { from, made } = preds.get(node.id)!;
    for (const id of from) {
      const source = at.get(id);
      if (!source) continue;
      const [x1, y1, x2, y2] = [source.x + W / 2, source.y + H, x + W / 2, y];
      const bend = Math.max(20, (y2 - y1) / 2);
      const cls = made ? 'edge made' : node.when ? 'edge cond' : 'edge';
      edges.push(
        html`<path
          class="${cls}"
          d="M${x1} ${y1} C${x1} ${y1 + bend} ${x2} ${y2 - bend} ${x2} ${y2 - 2}"
          marker-end="url(#arrow)"
          >${node.when && !made ? html`<title>when ${node.when}</title>` : ''}</path
        >`,
      );
    }
  }
  const boxes = placed.map(({ node, x, y }) => {
    const status = node.status ?? 'PENDING';
    const kind = kindOf(node);
    const title = [node.label, status, node.when ? `when ${node.when}` : '', kind]
      .filter(Boolean)
      .join(' · ');
    return html`<a
      class="node"
      href="${hrefOf(node.id)}"
      data-status="${status}"
      data-task="${node.id}"
      aria-label="${node.label}: ${status}"
      transform="translate(${x} ${y})"
    >
      <title>${title}</title>${shape(node)}
      <text x="${W / 2}" y="19" text-anchor="middle" class="label">${truncate(node.label, 22)}</text>
      <text x="${W / 2}" y="35" text-anchor="middle" class="sublabel"
        >${kind ? `${truncate(kind, 16)} · ` : ''}${status}</text
      >
    </a>`;
  });
  return html`<svg
    class="graph"
    role="group"
    aria-label="Workflow graph"
    viewBox="0 0 ${width} ${height}"
    width="${width}"
    height="${height}"
    xmlns="http://www.w3.org/2000/svg"
  >
    <defs>
      <marker
        id="arrow"
        viewBox="0 0 10 10"
        refX="9"
        refY="5"
        markerWidth="7"
        markerHeight="7"
        orient="auto-start-reverse"
      >
        <path d="M0 0L10 5L0 10z" class="arrowhead" />
      </marker>
    </defs>
    ${raw(edges.map((edge) => edge.text).join('\n'))} ${boxes}
  </svg>`;
}
