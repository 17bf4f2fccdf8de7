/** The benchmark's knobs, from the environment (all optional). */
export interface BenchSettings {
  /** Seconds of load per mode per round. */
  seconds: number;
  rounds: number;
  connections: number;
  /** Fixed-rate runs use this fraction of the bridge-off capacity measured during warm-up. */
  rateFraction: number;
  /** Requests per second for the paced delivery-lag run. */
  lagRate: number;
  backlogEvents: number;
  /** Requests sent during the simulated CRM outage (per implementation). */
  outageRequests: number;
  /** Delivered deliveries written for the table-size measurement (0: skipped). */
  retentionRows: number;
  /** Blocked-backlog sizes for the claim-cost measurement. */
  blockedSizes: number[];
  dbPoolMax: number;
  sweepIntervalMs: number;
  crmSlowMs: number;
}

const num = (name: string, fallback: number): number => {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return n;
};

export function loadSettings(): BenchSettings {
  return {
    seconds: num("BENCH_SECONDS", 10),
    rounds: Math.round(num("BENCH_ROUNDS", 2)),
    connections: Math.round(num("BENCH_CONNECTIONS", 20)),
    rateFraction: num("BENCH_RATE_FRACTION", 0.5),
    lagRate: num("BENCH_LAG_RATE", 50),
    backlogEvents: Math.round(num("BENCH_BACKLOG", 10_000)),
    outageRequests: Math.round(num("BENCH_OUTAGE_REQUESTS", 500)),
    retentionRows: process.env.BENCH_RETENTION_ROWS?.trim() === "0" ? 0 : Math.round(num("BENCH_RETENTION_ROWS", 1_000_000)),
    blockedSizes: (process.env.BENCH_BLOCKED?.trim() || "5000,10000,20000").split(",").map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`BENCH_BLOCKED must be a comma-separated list of positive integers, got "${v}"`);
      return n;
    }),
    dbPoolMax: Math.round(num("DB_POOL_MAX", 8)),
    sweepIntervalMs: Math.round(num("CRM_SWEEP_INTERVAL_MS", 200)),
    crmSlowMs: 3_000,
  };
}
