import { childrenOf, collect, rootOf, type Edge, type Node } from '../../monitoring/machine-structure.js';
import type { MachineSource } from '../../monitoring/machine-structure.js';
import { html, raw, type SafeHtml } from './html.js';

const ATOM_W = 132;
const ATOM_H = 40;
const CHILD_W = 104;
const CHILD_H = 32;
const HEADER = 22;
const INSET = 10;
/** Space between the states inside a compound state. */
const CHILD_GAP = 30;
const GAP_X = 46;
const GAP_Y = 74;
const PAD = 20;

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A machine's transitions, numbered as the drawing and the table show them. */
export interface NumberedEdge {
  n: number;
  from: string;
  to: string;
  label: string;
  /** It leaves the highlighted state (or one around it, or any state): what can happen next. */
  next: boolean;
}

const keyOf = (node: Node) => node.path.join('.');

/** The top-level state a state lies in. */
function topOf(node: Node): Node {
  let at = node;
  while (at.parent?.parent) at = at.parent;
  return at;
}

/** The size of a top-level state's box: a compound one holds its children side by side. */
function sizeOf(node: Node): { w: number; h: number } {
  const children = childrenOf(node);
  if (children.length === 0) return { w: ATOM_W, h: ATOM_H };
  return {
    w: INSET * 2 + children.length * CHILD_W + (children.length - 1) * CHILD_GAP,
    h: HEADER + CHILD_H + INSET * 2,
  };
}

/**
 * Rows of the top-level states: the longest path from the initial state over the transitions,
 * once the transitions that lead back (to a state on the way there, found depth first) are left
 * out; so final states sink to the bottom and returns point up. States not reached come last.
 */
function ranks(root: Node, edges: readonly Edge[]): Map<Node, number> {
  const tops = childrenOf(root);
  const next = new Map<Node, Node[]>(tops.map((top) => [top, []]));
  for (const edge of edges) {
    if (edge.from === null) continue;
    const [from, to] = [topOf(edge.from), topOf(edge.to)];
    if (from !== to && !next.get(from)!.includes(to)) next.get(from)!.push(to);
  }
  const initial = root.initial?.target[0];
  const forward = new Map<Node, Node[]>(tops.map((top) => [top, []]));
  const order: Node[] = [];
  const onPath = new Set<Node>();
  const done = new Set<Node>();
  const visit = (node: Node) => {
    onPath.add(node);
    for (const to of next.get(node)!) {
      if (onPath.has(to)) continue; // leads back
      forward.get(node)!.push(to);
      if (!done.has(to)) visit(to);
    }
    onPath.delete(node);
    done.add(node);
    order.unshift(node);
  };
  if (initial) visit(topOf(initial));
  const rank = new Map<Node, number>();
  for (const node of order) {
    const at = rank.get(node) ?? 0;
    rank.set(node, at);
    for (const to of forward.get(node)!) rank.set(to, Math.max(rank.get(to) ?? 0, at + 1));
  }
  const last = Math.max(0, ...rank.values());
  for (const top of tops) if (!rank.has(top)) rank.set(top, last + 1);
  return rank;
}

/** Where the segment from the box's centre toward (tx, ty) leaves the box. */
function border(box: Box, tx: number, ty: number): [number, number] {
  const cx = box.x + box.w / 2;
  const cy = box.y + box.h / 2;
  const dx = tx - cx;
  const dy = ty - cy;
  if (dx === 0 && dy === 0) return [cx, cy];
  const scale = Math.min(Math.abs(box.w / 2 / (dx || 1e-9)), Math.abs(box.h / 2 / (dy || 1e-9)));
  return [cx + dx * scale, cy + dy * scale];
}

/**
 * A machine drawn from its definition: a box per state (a compound state holds its children), an
 * arrow per transition numbered as in the table beside it, "any state" for the machine's own
 * transitions. `current` (a state's path) is highlighted with the transitions that leave it.
 */
export function machineSvg(
  source: MachineSource,
  current: readonly string[] | null,
): { svg: SafeHtml; edges: NumberedEdge[] } {
  const root = rootOf(source.machine);
  const { edges } = collect(root);
  const rank = ranks(root, edges);
  const rows: Node[][] = [];
  for (const top of childrenOf(root)) (rows[rank.get(top)!] ??= []).push(top);
  const boxes = new Map<string, Box>();
  const hasAny = edges.some((edge) => edge.from === null);
  let y = PAD + (hasAny ? ATOM_H + GAP_Y / 2 : 0);
  let width = 0;
  const placedRows: Array<{ nodes: Node[]; y: number; w: number }> = [];
  for (const row of rows) {
    if (!row) continue;
    const w = row.reduce((sum, node) => sum + sizeOf(node).w, 0) + GAP_X * (row.length - 1);
    placedRows.push({ nodes: row, y, w });
    width = Math.max(width, w);
    y += Math.max(...row.map((node) => sizeOf(node).h)) + GAP_Y;
  }
  width += PAD * 2;
  const height = y - GAP_Y + PAD;
  for (const row of placedRows) {
    let x = (width - row.w) / 2;
    for (const node of row.nodes) {
      const { w, h } = sizeOf(node);
      boxes.set(keyOf(node), { x, y: row.y, w, h });
      childrenOf(node).forEach((child, i) => {
        boxes.set(keyOf(child), {
          x: x + INSET + i * (CHILD_W + CHILD_GAP),
          y: row.y + HEADER + INSET,
          w: CHILD_W,
          h: CHILD_H,
        });
      });
      x += w + GAP_X;
    }
  }
  const anyBox: Box = { x: PAD, y: PAD, w: ATOM_W, h: ATOM_H };
  const currentKey = current?.join('.') ?? null;
  const active = (node: Node) =>
    currentKey !== null && (currentKey === keyOf(node) || currentKey.startsWith(`${keyOf(node)}.`));
  const numbered: NumberedEdge[] = edges.map((edge, i) => ({
    n: i + 1,
    from: edge.from === null ? 'any state' : keyOf(edge.from),
    to: keyOf(edge.to),
    label: edge.label,
    next: currentKey !== null && (edge.from === null || active(edge.from)),
  }));
  // One arrow per pair of states, whatever the number of transitions between them: a path (drawn
  // under the states) and the transitions' numbers (drawn over them).
  const pairs = new Map<string, { edges: NumberedEdge[]; from: Box; to: Box }>();
  edges.forEach((edge, i) => {
    const key = `${numbered[i]!.from}\n${numbered[i]!.to}`;
    const pair = pairs.get(key) ?? {
      edges: [],
      from: edge.from === null ? anyBox : boxes.get(keyOf(edge.from))!,
      to: boxes.get(keyOf(edge.to))!,
    };
    pair.edges.push(numbered[i]!);
    pairs.set(key, pair);
  });
  const f = (n: number) => n.toFixed(1);
  const arrows = [...pairs.values()].map(({ edges: group, from: a, to: b }, index) => {
    let d: string;
    let lx: number;
    let ly: number;
    if (a === b) {
      const [sx, sy, ey] = [a.x + a.w, a.y + a.h / 3, a.y + (2 * a.h) / 3];
      d = `M${sx} ${sy} C${sx + 34} ${sy - 14} ${sx + 34} ${ey + 14} ${sx + 1} ${ey}`;
      [lx, ly] = [sx + 26, (sy + ey) / 2];
    } else {
      const [ax, ay] = [a.x + a.w / 2, a.y + a.h / 2];
      const [bx, by] = [b.x + b.w / 2, b.y + b.h / 2];
      // Curved to the left of the direction of travel, so that A->B and B->A do not overlap.
      const len = Math.hypot(bx - ax, by - ay) || 1;
      const bend = 14 + len * 0.25 + (index % 3) * 8;
      const [cx, cy] = [(ax + bx) / 2 + ((by - ay) / len) * bend, (ay + by) / 2 - ((bx - ax) / len) * bend];
      const [sx, sy] = border(a, cx, cy);
      const [ex, ey] = border(b, cx, cy);
      d = `M${f(sx)} ${f(sy)} Q${f(cx)} ${f(cy)} ${f(ex)} ${f(ey)}`;
      [lx, ly] = [(sx + 2 * cx + ex) / 4, (sy + 2 * cy + ey) / 4];
    }
    const cls = group.some((edge) => edge.next) ? 'tr next' : 'tr';
    const text = group.map((edge) => edge.n).join(',');
    const w = 10 + text.length * 6;
    const title = group.map((edge) => `${edge.n}: ${edge.from} → ${edge.to}: ${edge.label}`).join('\n');
    return {
      path: html`<g class="${cls}"><path d="${d}" marker-end="url(#tip)" /></g>`,
      badge: html`<g class="${cls}"
        ><title>${title}</title
        ><rect x="${f(lx - w / 2)}" y="${f(ly - 9)}" width="${w}" height="18" rx="9" /><text
          x="${f(lx)}"
          y="${f(ly + 4)}"
          text-anchor="middle"
          >${text}</text
        ></g
      >`,
    };
  });
  const paths = arrows.map((arrow) => arrow.path);
  const badges = arrows.map((arrow) => arrow.badge);
  const stateBox = (node: Node, nested: boolean): SafeHtml => {
    const box = boxes.get(keyOf(node))!;
    const on = active(node);
    const exact = currentKey === keyOf(node);
    const final = node.type === 'final';
    const initial = node.parent?.initial?.target[0] === node;
    return html`<g
      class="state${on ? ' on' : ''}${exact ? ' current' : ''}${nested ? ' nested' : ''}"
      data-state="${keyOf(node)}"
      data-status="${node.key}"
      ${raw(exact ? ' aria-current="true"' : '')}
    >
      <title>
        ${keyOf(node)}${final ? ' (final)' : ''}${initial ? ' (initial)' : ''}${exact ? ' — current' : ''}
      </title>
      <rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" rx="${nested ? 6 : 10}" />${
        final
          ? html`<rect
              class="final"
              x="${box.x + 3}"
              y="${box.y + 3}"
              width="${box.w - 6}"
              height="${box.h - 6}"
              rx="${nested ? 4 : 8}"
            />`
          : ''
      }
      <text
        x="${box.x + box.w / 2}"
        y="${childrenOf(node).length > 0 ? box.y + 15 : box.y + box.h / 2 + 4}"
        text-anchor="middle"
        >${initial ? '▸ ' : ''}${node.key}</text
      >
    </g>`;
  };
  const states: SafeHtml[] = [];
  for (const top of childrenOf(root)) {
    states.push(stateBox(top, false));
    for (const child of childrenOf(top)) states.push(stateBox(child, true));
  }
  const any = hasAny
    ? html`<g class="state any"
        ><title>any state: a transition of the machine itself</title
        ><rect x="${anyBox.x}" y="${anyBox.y}" width="${anyBox.w}" height="${anyBox.h}" rx="10" /><text
          x="${anyBox.x + anyBox.w / 2}"
          y="${anyBox.y + anyBox.h / 2 + 4}"
          text-anchor="middle"
          >any state</text
        ></g
      >`
    : '';
  const svg = html`<svg
    class="machine"
    role="img"
    aria-label="${source.title} machine${currentKey ? `, in state ${currentKey}` : ''}"
    viewBox="0 0 ${width} ${height}"
    width="${width}"
    height="${height}"
    xmlns="http://www.w3.org/2000/svg"
  >
    <defs>
      <marker
        id="tip"
        viewBox="0 0 10 10"
        refX="9"
        refY="5"
        markerWidth="7"
        markerHeight="7"
        orient="auto-start-reverse"
      >
        <path d="M0 0L10 5L0 10z" />
      </marker>
    </defs>
    ${paths}${any}${states}${badges}
  </svg>`;
  return { svg, edges: numbered };
}
