/**
 * The sweeper: for every enabled destination at once, claims due deliveries
 * (paced by the destination's rate limit) and delivers them, until nothing is
 * due or the time budget is spent (an edge function has a wall-clock limit;
 * the next sweep continues). One destination's trouble never slows another:
 * each has its own window of deliveries in flight, and a failing statement
 * ends only its own sweep.
 *
 * Per destination: claim a whole window (one statement), send it, and claim
 * the next window as soon as it is back, while the last one's completions are
 * written (one statement). Drain of 10,000 via crm-dispatch: 1,370/s when each
 * batch waited for its completion, 1,880–1,913/s this way; Postgres CPU per
 * delivery 0.43 → 0.28–0.30 ms (larger claims: 16 rows cost 0.17 ms a row, 8
 * rows 0.23).
 */
import { type AttemptResult, send, settle } from "./attempt.ts";
import { claimAndPark } from "./deliver.ts";
import { registerDestinations } from "./destination-state.ts";
import type { ActiveDestination, Outbox } from "./outbox.ts";
import type { ClaimedDelivery } from "./types.ts";

/** How long the sweeper waits for a whole window to come back before it claims around the deliveries still out. */
const STRAGGLER_MS = 250;

export interface SweepOptions {
  /** Deliveries in flight at once per destination (default 16, at most its burst). */
  concurrency?: number;
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
  const window = Math.max(1, Math.min(opts.concurrency ?? 16, Math.floor(dest.rate.burst) || 1));
  let lastClaim = 0;
  const sending = new Set<Promise<void>>();
  const recording = new Set<Promise<void>>();
  // A delivery that was not accepted (retry, throttle, pause, dead) changes the destination's
  // gate or circuit when it is recorded: the next claim waits until everything in flight is
  // sent and recorded (the failures of a whole window count towards the circuit). Accepted ones are
  // recorded (batched) while the next deliveries go out; the claim's head check and the
  // completion's unpark keep each record in order either way.
  let trouble = false;
  const track = (set: Set<Promise<void>>, p: Promise<void>) => {
    set.add(p);
    void p.finally(() => set.delete(p));
  };
  const failed = (err: unknown) => {
    r.errors++;
    ob.log.error("crm sweep step failed", { function: ob.origin, destination: dest.name, error: (err as Error).message });
  };
  const deliver = (d: ClaimedDelivery) =>
    track(sending, send(ob, d).then((sent) => {
      if (sent.state !== "delivered") trouble = true;
      track(recording, settle(ob, sent).then((a) => void r[a.result]++, failed));
      // The last one out of the window: write the window's completions now, in one batch.
      if (sending.size === 1) ob.completer.flush();
    }, failed));
  const settled = async () => {
    await Promise.all([...sending]);
    await Promise.all([...recording]);
  };

  while (Date.now() < deadline) {
    if (sending.size > 0 && Date.now() < lastClaim + STRAGGLER_MS) {
      // Claim for the whole window at once: wait for it to empty — but a delivery still out after
      // STRAGGLER_MS holds only its own slot, the others are claimed again around it.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.all([...sending]), new Promise((res) => (timer = setTimeout(res, lastClaim + STRAGGLER_MS - Date.now())))]);
      clearTimeout(timer);
      continue;
    }
    if (sending.size >= window) {
      await Promise.race(sending);
      continue;
    }
    if (trouble) {
      trouble = false;
      await settled();
    }
    let got;
    lastClaim = Date.now();
    try {
      got = await claimAndPark(ob, { destination: dest.name, limit: window - sending.size, leaseMs: dest.leaseMs, rate: dest.rate });
    } catch (err) {
      failed(err);
      break;
    }
    r.claimed += got.claimed.length;
    r.parked += got.behind.length;
    got.claimed.forEach(deliver);
    if (got.claimed.length > 0 || got.behind.length > 0) continue;
    // Nothing due now. What is being sent or recorded may make its records' next deliveries due: look again after it.
    if (sending.size > 0 || recording.size > 0) {
      await settled();
      continue;
    }
    if (got.waiting === 0) break;
    // Heads are due but the bucket is empty: wait for the next token.
    await new Promise((res) => setTimeout(res, Math.min(1_000, Math.ceil(1_000 / dest.rate.perSecond))));
  }
  await settled();
}
