/**
 * Plain-text tables for the terminal: right-aligned numbers, left-aligned
 * text, a rule under the header. No colours, so that output pipes cleanly.
 */
export function textTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>, title?: string): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => cells.length > 0 && cells.every((r) => /^[-+~<>]?[0-9.,]+(e[-+]?\d+)?\s*[%a-zµ]*\*?$/i.test(r[i] ?? '') || r[i] === '-' || r[i] === ''));
  const fmt = (r: readonly string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const lines: string[] = [];
  if (title !== undefined) lines.push(title);
  lines.push(fmt(headers));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells) lines.push(fmt(r));
  return lines.join('\n') + '\n';
}
