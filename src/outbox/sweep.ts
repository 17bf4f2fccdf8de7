/**
 * The sweeper: for every enabled destination at once, claims due deliveries
 * (paced by the destination's rate limit) and delivers them, until nothing is
 * due or the time budget is spent (an edge function has a wall-clock limit;
 * the next sweep continues). One destination's trouble never slows another:
 * each has its own loops, and a failing statement ends only its own loop.
 */
import { attempt, type AttemptResult } from "./attempt.ts";
import { claimAndPark } from "./deliver.ts";
import { registerDestinations } from "./destination-state.ts";
import type { ActiveDestination, Outbox } from "./outbox.ts";

export interface SweepOptions {
  /** Deliveries in flight at once per destination (default 16, at most its burst). */
  concurrency?: number;
  /** Independent claim-and-deliver loops per destination (default 2). */
  loops?: number;
  maxDurationMs?: number;
}

export type DestinationSweep = Record<AttemptResult, number> & { claimed: number; parked: number; errors: number };
export interface SweepReport {
  destinations: Record<string, DestinationSweep>;
  claimed: number;
  delivered: number;
  duration_ms: number;
}

const registered = new WeakSet<Outbox>();

export async function sweep(ob: Outbox, opts: SweepOptions = {}): Promise<SweepReport> {
  const started = Date.now();
  const deadline = started + (opts.maxDurationMs ?? 25_000);
  if (!registered.has(ob)) {
    await registerDestinations(ob.sql, [...ob.destinations.keys()]);
    registered.add(ob);
  }
  const report: SweepReport = { destinations: {}, claimed: 0, delivered: 0, duration_ms: 0 };
  await Promise.all([...ob.destinations.values()].map(async (dest) => {
    const r = (report.destinations[dest.name] = {
      claimed: 0, delivered: 0, retry: 0, dead: 0, throttled: 0, paused: 0, lease_lost: 0, parked: 0, errors: 0,
    });
    await sweepDestination(ob, dest, r, deadline, opts);
    report.claimed += r.claimed;
    report.delivered += r.delivered;
  }));
  report.duration_ms = Date.now() - started;
  return report;
}

async function sweepDestination(ob: Outbox, dest: ActiveDestination, r: DestinationSweep, deadline: number, opts: SweepOptions) {
  const concurrency = Math.max(1, Math.min(opts.concurrency ?? 16, Math.floor(dest.rate.burst) || 1));
  const loops = Math.max(1, Math.min(opts.loops ?? 2, concurrency));
  const batch = Math.max(1, Math.floor(concurrency / loops));
  const loop = async () => {
    while (Date.now() < deadline) {
      try {
        const got = await claimAndPark(ob, { destination: dest.name, limit: batch, leaseMs: dest.leaseMs, rate: dest.rate });
        r.claimed += got.claimed.length;
        r.parked += got.behind.length;
        const results = await Promise.all(got.claimed.map((d) => attempt(ob, d)));
        for (const a of results) r[a.result]++;
        if (got.claimed.length === 0 && got.behind.length === 0) {
          if (got.waiting === 0) return;
          // Heads are due but the bucket is empty: wait for the next token.
          await new Promise((res) => setTimeout(res, Math.min(1_000, Math.ceil(1_000 / dest.rate.perSecond))));
        }
      } catch (err) {
        r.errors++;
        ob.log.error("crm sweep step failed", { function: ob.origin, destination: dest.name, error: (err as Error).message });
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
}
