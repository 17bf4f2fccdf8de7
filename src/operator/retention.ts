/**
 * Retention (docs/operations.md, "Retention"): calls the database's
 * `crm_retention` step — at most `batch` rows per table, each call its own
 * transaction — until nothing more is left or the time budget is spent (the
 * next run continues). Used by crm-dispatch (when due), `crm retention` and
 * the benchmark; on Supabase pg_cron also runs the step once a minute.
 */
import type { Sql } from "../db/sql.ts";

export interface RetentionReport {
  /** False when retention was not due (or another caller is running it): nothing was done. */
  ran: boolean;
  deleted: Record<"deliveries" | "events" | "skipped_events" | "attempts" | "rate_limits" | "stripe_events" | "sweeper_log", number>;
  /** Work is left for the next run (the time budget ran out). */
  more: boolean;
  steps: number;
}

interface Step {
  due?: false;
  busy?: true;
  more?: boolean;
  [table: string]: number | boolean | undefined;
}

const TABLES = ["deliveries", "events", "skipped_events", "attempts", "rate_limits", "stripe_events", "sweeper_log"] as const;

export async function runRetention(
  sql: Sql,
  opts: { days?: number; batch?: number; maxMs?: number; force?: boolean } = {},
): Promise<RetentionReport> {
  const deadline = Date.now() + (opts.maxMs ?? 10_000);
  const report: RetentionReport = {
    ran: false, more: false, steps: 0,
    deleted: Object.fromEntries(TABLES.map((t) => [t, 0])) as RetentionReport["deleted"],
  };
  let force = opts.force ?? false;
  for (;;) {
    const [{ r }] = await sql<{ r: Step }[]>`
      select crm_retention(${opts.days ?? null}::int, ${opts.batch ?? 5_000}::int, ${force}) as r`;
    if (r.due === false || r.busy) return report;
    report.ran = true;
    report.steps++;
    for (const t of TABLES) report.deleted[t] += Number(r[t] ?? 0);
    report.more = r.more === true;
    // Once started, a pass continues on its own (the step says "more" until it is done).
    force = false;
    if (!report.more || Date.now() >= deadline) return report;
  }
}
