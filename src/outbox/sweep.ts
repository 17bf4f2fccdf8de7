/**
 * The sweeper: claims due events and delivers them until nothing is due or
 * its time budget is spent (an edge function has a wall-clock limit; the next
 * sweep continues). Several claim-and-deliver loops run side by side, so one
 * loop's round trips (claim, then the batch's CRM calls and completions)
 * overlap another's instead of leaving the database and the CRM idle.
 */
import { claimDue } from "./claim.ts";
import { attemptDelivery, type AttemptResult, type DeliveryContext } from "./deliver.ts";

export interface SweepOptions {
  /** Events in flight at once, across all loops. */
  concurrency?: number;
  /** Independent claim-and-deliver loops. */
  loops?: number;
  maxDurationMs?: number;
}

export type SweepReport = Record<AttemptResult, number> & { claimed: number; duration_ms: number };

export async function sweep(ctx: DeliveryContext, opts: SweepOptions = {}): Promise<SweepReport> {
  const concurrency = opts.concurrency ?? 16;
  const loops = Math.max(1, Math.min(opts.loops ?? 4, concurrency));
  // Each loop claims no more than it sends at once: every claimed event is in
  // flight right away, so no lease runs out while its event waits its turn.
  const batchSize = Math.max(1, Math.floor(concurrency / loops));
  const deadline = Date.now() + (opts.maxDurationMs ?? 25_000);
  const started = Date.now();
  const report: SweepReport = { claimed: 0, delivered: 0, retry: 0, dead: 0, lease_lost: 0, duration_ms: 0 };
  if (!ctx.destination.enabled) return report;

  const loop = async () => {
    while (Date.now() < deadline) {
      const batch = await claimDue(ctx.sql, { limit: batchSize, leaseMs: ctx.leaseMs });
      report.claimed += batch.length;
      const attempts = await Promise.all(batch.map((event) => attemptDelivery(ctx, event)));
      for (const attempt of attempts) report[attempt.result]++;
      if (batch.length < batchSize) return;
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  report.duration_ms = Date.now() - started;
  return report;
}
