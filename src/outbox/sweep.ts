/**
 * The sweeper: claims due events in batches and delivers them with bounded
 * concurrency until nothing is due or its time budget is spent (an edge
 * function has a wall-clock limit; the next sweep continues).
 */
import { claimDue } from "./claim.ts";
import { attemptDelivery, type AttemptResult, type DeliveryContext } from "./deliver.ts";

export interface SweepOptions {
  batchSize?: number;
  concurrency?: number;
  maxDurationMs?: number;
}

export type SweepReport = Record<AttemptResult, number> & { claimed: number; duration_ms: number };

export async function sweep(ctx: DeliveryContext, opts: SweepOptions = {}): Promise<SweepReport> {
  const concurrency = opts.concurrency ?? 16;
  // A batch no larger than what is sent at once: every claimed event is in
  // flight right away, so no lease runs out while its event waits its turn.
  const batchSize = opts.batchSize ?? concurrency;
  const deadline = Date.now() + (opts.maxDurationMs ?? 25_000);
  const started = Date.now();
  const report: SweepReport = { claimed: 0, delivered: 0, retry: 0, dead: 0, lease_lost: 0, duration_ms: 0 };
  if (!ctx.destination.enabled) return report;
  while (Date.now() < deadline) {
    const batch = await claimDue(ctx.sql, { limit: batchSize, leaseMs: ctx.leaseMs });
    report.claimed += batch.length;
    let next = 0;
    const worker = async () => {
      while (next < batch.length) {
        const event = batch[next++];
        report[(await attemptDelivery(ctx, event)).result]++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, batch.length) }, worker));
    if (batch.length < batchSize) break;
  }
  report.duration_ms = Date.now() - started;
  return report;
}
