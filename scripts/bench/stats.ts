/** Percentiles over raw samples (nearest rank), and the summary the report prints. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export function sorted(samples: number[]): Float64Array {
  return Float64Array.from(samples).sort();
}

export function percentile(s: Float64Array, p: number): number {
  if (s.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

export function summarize(samples: number[]): LatencySummary {
  const s = sorted(samples);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN;
  return {
    count: s.length,
    mean: round(mean),
    p50: round(percentile(s, 50)),
    p90: round(percentile(s, 90)),
    p95: round(percentile(s, 95)),
    p99: round(percentile(s, 99)),
    p999: round(percentile(s, 99.9)),
    max: round(s.length ? s[s.length - 1] : NaN),
  };
}

/** Points of the latency-by-percentile curve, for the chart and results.json. */
export const CURVE_PERCENTILES = [1, 5, 10, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.9];

export function curve(samples: number[]): Array<{ p: number; ms: number }> {
  const s = sorted(samples);
  return s.length ? CURVE_PERCENTILES.map((p) => ({ p, ms: round(percentile(s, p)) })) : [];
}

export function round(n: number, digits = 2): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
