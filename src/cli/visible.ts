/**
 * Control characters as a terminal would act on them (C0 including ESC, CR, LF and TAB; DEL; C1),
 * the Unicode line and paragraph separators, and lone surrogates.
 */
const INVISIBLE = /[\p{Cc}\p{Cs}\u2028\u2029]/gu;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `\n`, `\x1b`, `\u2028`: how `visible` writes one character. */
function escape(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Text as the human-readable output prints it: every control character is written as an escape
 * (`\n`, `\r`, `\t`, `\x1b`, `\x9b`, `\u2028`), so a stored name, description or error message
 * stays on its line and can never move the cursor, clear the screen or forge another line.
 * Printable text, backslashes included, is left as it is.
 * @example
 * visible('evil\u001b[2J\r\nforged') // 'evil\\x1b[2J\\r\\nforged'
 */
export function visible(text: string): string {
  return text.replace(INVISIBLE, escape);
}
