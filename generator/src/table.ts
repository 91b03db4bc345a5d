/** Plain-text tables for terminal output (no colours: output is read by people and by CI logs). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export const fmtMetric = (n: number | undefined) => (n === undefined ? "-" : n.toFixed(3));
export const shortDigest = (sha: string) => `sha256:${sha.slice(0, 12)}`;
