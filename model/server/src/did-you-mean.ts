/**
 * The nearest known word to a typo (edit distance, a swap of neighbours counting 1, up to a third of the word, or a unique
 * prefix), for usage errors. The same rule as the generator's CLI (generator/src/args.ts
 * `closest`); kept here because the server image bundles model/server/src alone.
 */
export function editDistance(a: string, b: string): number {
  // optimal string alignment: insert, delete, substitute, swap two neighbours (--prot → --port)
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c);
    if (!best || d < best.d) best = { c, d };
  }
  if (!best) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(word.length, best.c.length) / 3));
  if (best.d <= limit) return best.c;
  const prefix = candidates.filter((c) => word.length >= 3 && c.startsWith(word));
  return prefix.length === 1 ? prefix[0] : undefined;
}
