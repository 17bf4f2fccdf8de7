/**
 * crm-dispatch — the sweeper, for operators and schedulers only (pg_cron +
 * pg_net on Supabase, the local stack's timer). It demands the service-role
 * key itself, on top of the gateway's JWT check, because the anon key is a
 * valid JWT too. Each run is recorded (crm_dispatch_runs; the schedule's call
 * passes its `sweep_id`), and runs retention when it is due.
 */
import type { AppDeps } from "../app-deps.ts";
import { HttpError } from "../http/http-error.ts";
import type { Handler } from "../http/json-endpoint.ts";
import { jsonResponse, toErrorResponse } from "../http/responses.ts";
import { finishRun, type RunOutcome, startRun } from "../operator/dispatch-runs.ts";
import { runRetention } from "../operator/retention.ts";
import { sweep } from "../outbox/sweep.ts";
import { evaluateAlerts } from "../alerts/evaluate-alerts.ts";
import { timingSafeEqual } from "../runtime/timing-safe-equal.ts";

export function crmDispatch(deps: AppDeps): Handler {
  const log = deps.log.child({ function: "crm-dispatch" });
  return async (req) => {
    try {
      if (req.method !== "POST") {
        throw new HttpError(405, "method_not_allowed", "Use POST to run a sweep.", undefined, { allow: "POST" });
      }
      if (!isServiceRole(req, deps.config.serviceRoleKey)) {
        throw new HttpError(401, "unauthorized", "crm-dispatch needs the service-role key.");
      }
      const sweepId = await sweepIdOf(req);
      const run = await startRun(deps.sql, sweepId, log);
      const outcome: RunOutcome = {};
      try {
        let body: Record<string, unknown>;
        if (!deps.outbox.enabled) {
          body = { enabled: false, message: "No destination is configured: events are kept as skipped." };
        } else {
          const report = await sweep(deps.outbox.runner("crm-dispatch"));
          Object.assign(outcome, { claimed: report.claimed, delivered: report.delivered,
            errors: Object.values(report.destinations).reduce((n, d) => n + d.errors, 0) });
          if (report.claimed > 0) log.info("crm sweep", { ...report });
          body = { enabled: true, ...report };
        }
        outcome.retention = await runRetention(deps.sql, { days: deps.config.crm.retentionDays, maxMs: 10_000 }).catch((err) => {
          log.error("crm retention failed; the next run tries again", { error: (err as Error).message });
          return undefined;
        });
        if (outcome.retention?.ran) log.info("crm retention", { ...outcome.retention });
        // One message per incident (CONTRACT §6), on Supabase as locally.
        await evaluateAlerts(deps.sql, deps.config.alerts, fetch, log).catch((err) =>
          log.error("crm alerts not evaluated; the next run tries again", { error: (err as Error).message }));
        return jsonResponse({ ...body, ...(outcome.retention?.ran ? { retention: outcome.retention } : {}) });
      } catch (err) {
        outcome.error = (err as Error)?.message ?? String(err);
        throw err;
      } finally {
        await finishRun(deps.sql, run, outcome, log);
      }
    } catch (err) {
      return toErrorResponse(err, log);
    }
  };
}

/** The schedule's call says which crm_sweeps row it is (`{"sweep_id": n}`); anything else is no id. */
async function sweepIdOf(req: Request): Promise<number | null> {
  try {
    const body = await req.json();
    const id = body?.sweep_id;
    return Number.isSafeInteger(id) && id > 0 ? id : null;
  } catch {
    return null;
  }
}

function isServiceRole(req: Request, serviceRoleKey: string | undefined): boolean {
  if (!serviceRoleKey) return false;
  const bearer = req.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
  const apikey = req.headers.get("apikey") ?? "";
  return timingSafeEqual(bearer, serviceRoleKey) || timingSafeEqual(apikey, serviceRoleKey);
}
