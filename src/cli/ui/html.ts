/**
 * HTML made safe by construction: `html` escapes every value put in it unless the value is
 * already `SafeHtml` (made by `html` itself, or by `raw` for markup the code writes). Task names,
 * outputs and errors are hostile input (docs/monitoring.md#security): they only ever reach a page
 * through `html` or `escapeHtml`.
 */

const marker = Symbol('safe-html');

/** Markup that is safe to put in a page as it is. */
export interface SafeHtml {
  readonly [marker]: true;
  readonly text: string;
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Text as HTML text or attribute value: `& < > " ' \`` become entities. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (char) => ENTITIES[char]!);
}

/** Markup the code itself writes (never data from the store). */
export function raw(text: string): SafeHtml {
  return { [marker]: true, text };
}

export function isSafeHtml(value: unknown): value is SafeHtml {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
}

/** A value as HTML: SafeHtml as is, arrays joined, null, undefined and false as nothing, the rest escaped. */
function render(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (isSafeHtml(value)) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/**
 * A template of markup whose values are escaped.
 * @example
 * html`<td title="${task.name}">${task.name}</td>`; // a name `<script>` shows as text
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i += 1) out += render(values[i]) + strings[i + 1]!;
  return raw(out);
}

/** Joins pieces of markup. */
export function join(parts: readonly SafeHtml[], separator = ''): SafeHtml {
  return raw(parts.map((part) => part.text).join(separator));
}
