/**
 * crm-dispatch — the sweeper, for operators and schedulers only (pg_cron +
 * pg_net on Supabase, the local stack's timer). It demands the service-role
 * key itself, on top of the gateway's JWT check, because the anon key is a
 * valid JWT too.
 */
import type { AppDeps } from "../app-deps.ts";
import { HttpError } from "../http/http-error.ts";
import type { Handler } from "../http/json-endpoint.ts";
import { jsonResponse, toErrorResponse } from "../http/responses.ts";
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
      if (!deps.outbox.enabled) {
        return jsonResponse({ enabled: false, message: "No destination is configured: events are kept as skipped." });
      }
      const report = await sweep(deps.outbox.runner("crm-dispatch"));
      await evaluateAlerts(deps.sql, deps.config.alerts, fetch, log);
      if (report.claimed > 0) log.info("crm sweep", { ...report });
      return jsonResponse({ enabled: true, ...report });
    } catch (err) {
      return toErrorResponse(err, log);
    }
  };
}

function isServiceRole(req: Request, serviceRoleKey: string | undefined): boolean {
  if (!serviceRoleKey) return false;
  const bearer = req.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
  const apikey = req.headers.get("apikey") ?? "";
  return timingSafeEqual(bearer, serviceRoleKey) || timingSafeEqual(apikey, serviceRoleKey);
}
