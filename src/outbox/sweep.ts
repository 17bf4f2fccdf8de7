/**
 * The sweeper: for every enabled destination at once, claims due deliveries
 * (paced by the destination's rate limit) and delivers them, until nothing is
 * due or the time budget is spent (an edge function has a wall-clock limit;
 * the next sweep continues). One destination's trouble never slows another:
 * each has its own loops, and a failing statement ends only its own loop.
 */
import { type AttemptResult, send, settle } from "./attempt.ts";
import { claimAndPark } from "./deliver.ts";
import { registerDestinations } from "./destination-state.ts";
import type { ActiveDestination, Outbox } from "./outbox.ts";
import type { AttemptRecord } from "./types.ts";

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
    // The previous batch's completion, still being written while this loop sends the next batch.
    let recording: Promise<void> | undefined;
    const settleAll = (sent: AttemptRecord[]) => {
      const settling = sent.map((s) => settle(ob, s));
      ob.completer.flush(); // the batch is whole: no need to wait for other records
      return Promise.all(settling).then(
        (results) => { for (const a of results) r[a.result]++; },
        (err) => { r.errors++; ob.log.error("crm sweep step failed", { function: ob.origin, destination: dest.name, error: (err as Error).message }); },
      );
    };
    while (Date.now() < deadline) {
      try {
        const got = await claimAndPark(ob, { destination: dest.name, limit: batch, leaseMs: dest.leaseMs, rate: dest.rate });
        r.claimed += got.claimed.length;
        r.parked += got.behind.length;
        if (got.claimed.length === 0 && got.behind.length === 0) {
          // The batch being recorded may make its records' next deliveries due: look again after it.
          if (recording) {
            await recording;
            recording = undefined;
            continue;
          }
          if (got.waiting === 0) break;
          // Heads are due but the bucket is empty: wait for the next token.
          await new Promise((res) => setTimeout(res, Math.min(1_000, Math.ceil(1_000 / dest.rate.perSecond))));
          continue;
        }
        const sent = await Promise.all(got.claimed.map((d) => send(ob, d)));
        await recording; // at most one batch being recorded per loop
        recording = settleAll(sent);
        // Anything but a clean batch (retry, throttle, pause, dead) changes the destination's gate
        // or circuit: that must be written before the next claim reads it. A clean one is recorded
        // while the next batch goes out (the destination is done with it; the claim's head check
        // and the completion's unpark keep each record in order either way).
        if (!sent.every((s) => s.state === "delivered")) {
          await recording;
          recording = undefined;
        }
      } catch (err) {
        r.errors++;
        ob.log.error("crm sweep step failed", { function: ob.origin, destination: dest.name, error: (err as Error).message });
        break;
      }
    }
    await recording;
  };
  await Promise.all(Array.from({ length: loops }, loop));
}
