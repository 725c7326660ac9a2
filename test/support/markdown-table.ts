/**
 * The body rows of the first Markdown table in `markdown` whose header starts with the column
 * `firstColumn`, each as its trimmed cells (the header and the separator line are skipped).
 */
export function markdownTableRows(markdown: string, firstColumn: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.replace(/\s/g, '').startsWith(`|${firstColumn}|`));
  if (start < 0) throw new Error(`No table starting with column ${firstColumn}`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith('|')) break;
    rows.push(
      line
        .trim()
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}
