/**
 * Plain-text tables for terminal output (no colours: output is read by people and by CI logs).
 * A table fits `width` (the terminal's, see terminalWidth): while a line is too long the widest
 * column is narrowed and its cells shortened with "…"; with no width (a pipe, a file) every
 * cell is whole.
 */
const ELLIPSIS = "…";
/** a column is never narrowed below this (or its header, if shorter) */
const MIN_COLUMN = 8;
const GAP = 2;

export function table(headers: string[], rows: string[][], width: number = terminalWidth()): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const total = () => widths.reduce((a, w) => a + w, 0) + GAP * Math.max(0, widths.length - 1);
  const floor = (i: number) => Math.min(widths[i] as number, Math.max(MIN_COLUMN, (headers[i] ?? "").length));
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      if (
        (widths[i] as number) > floor(i) &&
        (widest < 0 || (widths[i] as number) > (widths[widest] as number))
      )
        widest = i;
    }
    if (widest < 0) break; // every column at its floor: the line stays longer than the terminal
    widths[widest] = (widths[widest] as number) - 1;
  }
  const shorten = (c: string, w: number) =>
    c.length <= w ? c : `${c.slice(0, Math.max(0, w - 1))}${ELLIPSIS}`;
  const line = (cells: string[]) =>
    cells
      .map((c, i) => shorten(c, widths[i] ?? 0).padEnd(widths[i] ?? 0))
      .join(" ".repeat(GAP))
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/**
 * The width tables fit: the terminal's columns when stdout is one, else $COLUMNS when set (a
 * script may ask), else none (Infinity: a pipe or a file gets whole cells).
 */
export function terminalWidth(stdout: { isTTY?: boolean; columns?: number } = process.stdout): number {
  if (stdout.isTTY && stdout.columns) return stdout.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env > 0 ? env : Number.POSITIVE_INFINITY;
}

export const fmtMetric = (n: number | undefined) => (n === undefined ? "-" : n.toFixed(3));
export const shortDigest = (sha: string) => `sha256:${sha.slice(0, 12)}`;
