import { STATUS_STYLES } from '../../graph/mermaid.js';
import { formatDate } from '../format.js';
import { html, raw, type SafeHtml } from './html.js';

/** A page as the router hands it to the layout: its title and its `<main>`. */
export interface Page {
  title: string;
  main: SafeHtml;
  /** HTTP status; 200 unless said. */
  status?: number;
}

/** What every page's frame needs: where it is, the CSRF value and the store's name. */
export interface Frame {
  path: string;
  csrf: string;
  store: string;
}

const NAV: ReadonlyArray<[string, string]> = [
  ['/', 'Workflows'],
  ['/agents', 'Agents'],
  ['/workers', 'Workers'],
  ['/machines', 'Machines'],
];

/** The section of the site a path belongs to, for the navigation's `aria-current`. */
function sectionOf(path: string): string {
  if (path.startsWith('/workflows/') || path.startsWith('/tasks/')) return '/';
  const first = `/${path.split('/')[1] ?? ''}`;
  return NAV.some(([href]) => href === first) ? first : '/';
}

/** The `<main>` of a page: `view` is the path (and query) the live updates re-render. */
export function mainOf(page: Page, view: string, version: string): SafeHtml {
  return html`<main id="main" tabindex="-1" data-view="${view}" data-version="${version}">
    ${page.main}
  </main>`;
}

/** A whole page: head, navigation, the page's `<main>`, the confirmation dialog. */
export function layout(page: Page, frame: Frame, main: SafeHtml): SafeHtml {
  const current = sectionOf(frame.path);
  const links = NAV.map(
    ([href, label]) =>
      html`<a href="${href}" ${raw(href === current ? ' aria-current="page"' : '')}>${label}</a>`,
  );
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="csrf-token" content="${frame.csrf}" />
        <title>${page.title} · Symphony</title>
        <link rel="stylesheet" href="/assets/app.css" />
        <link rel="stylesheet" href="/assets/status.css" />
        <script src="/assets/app.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href="/">Symphony</a>
          <nav aria-label="Sections">${links}</nav>
          <span id="live" class="live" role="status" aria-live="polite" data-state="off">static</span>
        </header>
        ${main}
        <footer class="foot">
          Store ${frame.store} · read-only view of the store; actions go through the symphony commands
        </footer>
        <dialog id="confirm" aria-labelledby="confirm-title">
          <form method="dialog">
            <h2 id="confirm-title">Confirm</h2>
            <p id="confirm-text"></p>
            <div id="confirm-signal" hidden>
              <label for="signal-name">Signal name</label>
              <input id="signal-name" name="name" autocomplete="off" spellcheck="false" />
              <label for="signal-payload">Payload (JSON)</label>
              <textarea id="signal-payload" name="payload" rows="4" spellcheck="false">null</textarea>
            </div>
            <div class="buttons">
              <button value="cancel" type="submit" formnovalidate>Cancel</button>
              <button value="confirm" type="submit" class="primary" id="confirm-ok">Confirm</button>
            </div>
          </form>
        </dialog>
        <div id="toast" class="toast" role="status" aria-live="polite"></div>
      </body>
    </html> `;
}

/** A status as a coloured badge (the colours of `symphony graph`). */
export function statusBadge(status: string): SafeHtml {
  return html`<span class="badge" data-status="${status}">${status}</span>`;
}

/** `2024-05-01 12:04:05 UTC`, or `-`. */
export function when(epochMs: number | null | undefined): string {
  return epochMs === null || epochMs === undefined ? '-' : `${formatDate(epochMs)} UTC`;
}

/** A definition list of facts (label, value). */
export function facts(rows: ReadonlyArray<[string, unknown]>): SafeHtml {
  return html`<dl class="facts">
    ${rows.map(
      ([label, value]) =>
        html`<div>
          <dt>${label}</dt>
          <dd>${value}</dd>
        </div>`,
    )}
  </dl>`;
}

/** A table in a scrolling box: `head` cells, then rows of cells (SafeHtml or text). */
export function dataTable(
  caption: string,
  head: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
  options: { numeric?: ReadonlySet<number>; id?: string } = {},
): SafeHtml {
  const numeric = options.numeric ?? new Set<number>();
  const cls = (i: number) => raw(numeric.has(i) ? ' class="num"' : '');
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label="${caption}"><table${raw(options.id ? ` id="${options.id}"` : '')}>
<caption>${caption}</caption>
<thead><tr>${head.map((cell, i) => html`<th scope="col" ${cls(i)}>${cell}</th>`)}</tr></thead>
<tbody>${rows.map(
    (row) =>
      html`<tr>
        ${row.map((cell, i) => html`<td${cls(i)}>${cell}</td>`)}
      </tr>`,
  )}</tbody>
</table></div>`;
}

/**
 * The stylesheet of status colours, made from the palette `symphony graph` gives Mermaid, so the
 * two never disagree: `[data-status=X]` sets `--fill`, `--stroke` and `--ink`.
 */
export function statusCss(): string {
  const rules: string[] = [];
  for (const [status, style] of Object.entries(STATUS_STYLES)) {
    const props = new Map(style.split(',').map((pair) => pair.split(':') as [string, string]));
    const vars = [
      `--fill: ${props.get('fill')}`,
      `--stroke: ${props.get('stroke')}`,
      `--ink: ${props.get('color')}`,
    ];
    const dash = props.get('stroke-dasharray');
    if (dash !== undefined) vars.push(`--dash: ${dash}`);
    rules.push(`[data-status="${status}"] { ${vars.join('; ')}; }`);
  }
  return `${rules.join('\n')}\n`;
}
