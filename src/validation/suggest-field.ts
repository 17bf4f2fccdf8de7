/**
 * The known field an unknown key was probably meant to be: the same name up
 * to case, `_` and `-` (`firstName`, `full-name`), else the nearest by edit
 * distance (at most 1 for short names, 2 from 6 characters) when only one is
 * that near.
 */
export function suggestField(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, "");
  const k = norm(key);
  if (k === "" || key.length > 100) return undefined;
  const same = known.filter((f) => norm(f) === k);
  if (same.length === 1) return same[0];
  const limit = k.length >= 6 ? 2 : 1;
  let best: string[] = [];
  let bestDistance = limit + 1;
  for (const field of known) {
    const d = editDistance(k, norm(field));
    if (d < bestDistance) [best, bestDistance] = [[field], d];
    else if (d === bestDistance) best.push(field);
  }
  return best.length === 1 ? best[0] : undefined;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
    }
  }
  return rows[a.length][b.length];
}
