export interface Table {
  columns: readonly string[];
  rows: readonly (readonly (string | number | boolean | undefined)[])[];
}

/** kubectl's layout: upper-case headers, columns padded to the widest cell, three spaces apart. */
export function renderTable(table: Table): string {
  const cells = [table.columns.map((c) => c.toUpperCase()), ...table.rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))))];
  const widths = table.columns.map((_, i) => Math.max(...cells.map((row) => visibleLength(row[i] ?? ''))));
  return cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell) + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n') + '\n';
}

// Colour escapes take no room on screen.
const ANSI = /\x1b\[[0-9;]*m/g; // eslint-disable-line no-control-regex -- matching ANSI escapes is the point
function visibleLength(s: string): number {
  return s.replace(ANSI, '').length;
}
