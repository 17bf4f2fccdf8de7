/**
 * crm-dispatch records each of its runs (crm_dispatch_runs): when, how long,
 * what it claimed and delivered, what retention deleted, and the error that
 * ended it, so `crm status` shows the sweeper's recent work here and on
 * Supabase alike. Recording never fails a run: a write that fails is logged.
 */
import type { Sql } from "../db/sql.ts";
import type { Logger } from "../log.ts";
import type { RetentionReport } from "./retention.ts";

export interface RunOutcome {
  claimed?: number;
  delivered?: number;
  errors?: number;
  retention?: RetentionReport;
  error?: string;
}

export async function startRun(sql: Sql, sweepId: number | null, log: Logger): Promise<number | null> {
  try {
    const [row] = await sql<{ id: string }[]>`insert into crm_dispatch_runs (sweep_id) values (${sweepId}) returning id`;
    return Number(row.id);
  } catch (err) {
    log.error("crm-dispatch run not recorded", { error: (err as Error).message });
    return null;
  }
}

export async function finishRun(sql: Sql, id: number | null, outcome: RunOutcome, log: Logger): Promise<void> {
  if (id === null) return;
  const retention = outcome.retention?.ran ? { ...outcome.retention.deleted, more: outcome.retention.more } : null;
  try {
    await sql`
      update crm_dispatch_runs set finished_at = clock_timestamp(),
        duration_ms = (extract(epoch from clock_timestamp() - started_at) * 1000)::int,
        claimed = ${outcome.claimed ?? null}, delivered = ${outcome.delivered ?? null}, errors = ${outcome.errors ?? null},
        retention = ${retention === null ? null : sql.json(retention)}, error = ${outcome.error?.slice(0, 1000) ?? null}
      where id = ${id}`;
  } catch (err) {
    log.error("crm-dispatch run not recorded", { error: (err as Error).message });
  }
}
