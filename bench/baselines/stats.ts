// Percentiles for the baselines: nearest-rank over an ascending array (no interpolation),
// so every reported figure is one that was actually measured.

/** The p-th percentile (0 < p <= 100) of an ascending array; NaN when it is empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** An ascending copy, for percentile(). */
export function ascending(values: Iterable<number>): number[] {
  return [...values].sort((a, b) => a - b);
}
