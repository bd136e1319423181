/**
 * A tiny text-table formatter for benchmark output: a title, aligned columns, notes below.
 */

/** One column: its header and which side its cells line up on. */
export interface BenchColumn {
  readonly header: string;
  /** Numbers read best right-aligned; labels left-aligned. @default 'right' */
  readonly align?: 'left' | 'right';
}

/** A benchmark's result as printed: one row per variant, the baseline among them. */
export interface BenchTable {
  readonly title: string;
  readonly columns: readonly BenchColumn[];
  readonly rows: readonly (readonly string[])[];
  /** Lines printed under the table: what was measured and how. */
  readonly notes?: readonly string[];
}

/** Renders a table as plain text lines, every column padded to its widest cell. */
export function formatTable(table: BenchTable): string {
  const widths = table.columns.map((column, i) =>
    Math.max(column.header.length, ...table.rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    table.columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        return (column.align ?? 'right') === 'left' ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [
    table.title,
    '',
    `  ${line(table.columns.map((c) => c.header))}`,
    `  ${widths.map((w) => '-'.repeat(w)).join('  ')}`,
    ...table.rows.map((row) => `  ${line(row)}`),
    ...(table.notes?.length ? ['', ...table.notes.map((note) => `  ${note}`)] : []),
  ].join('\n');
}

/** An integer with thousands separators, so large counts stay readable. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** A number with a fixed count of decimals and thousands separators. */
export function formatFixed(value: number, decimals: number): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** A ratio against the baseline, such as `12.3×`. */
export function formatRatio(value: number): string {
  return `${formatFixed(value, value >= 100 ? 0 : value >= 10 ? 1 : 2)}×`;
}

/** A byte count in KiB or MiB, with the exact bytes where the 128 KB limit makes them matter. */
export function formatBytes(bytes: number): string {
  if (Math.abs(bytes) >= 1024 * 1024) return `${formatFixed(bytes / (1024 * 1024), 2)} MiB`;
  if (Math.abs(bytes) >= 1024) return `${formatFixed(bytes / 1024, 1)} KiB`;
  return `${formatCount(bytes)} B`;
}
