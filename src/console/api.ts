/**
 * The operator console's HTTP surface, Web-standard (Request → Response) so
 * it runs under any server: the page and its assets, the JSON API it polls,
 * and the actions (POST, JSON bodies, token in a header). Every action is
 * recorded in the activity log with its actor, filter and count.
 */
import type { Pool } from "../db/sql.ts";
import { HttpError, invalidInput } from "../http/http-error.ts";
import { jsonResponse, toErrorResponse } from "../http/responses.ts";
import type { Logger } from "../log.ts";
import { listActivity, recordAction } from "../operator/activity.ts";
import { backfill } from "../operator/backfill.ts";
import { checkDestination } from "../operator/check-destination.ts";
import { exportRecords } from "../operator/export.ts";
import type { DeliveryFilter } from "../operator/filter.ts";
import { countReplay, replaySince } from "../operator/replay.ts";
import { discardDead, retryDead, sendPendingNow } from "../operator/retry.ts";
import { pauseDestination, resumeDestination } from "../outbox/destination-events.ts";
import type { ActiveDestination } from "../outbox/outbox.ts";
import { authorize, isLoopbackHost, sessionCookie } from "./auth.ts";
import { countDeliveries, deliveryDetail, listDeliveries } from "./deliveries.ts";
import { EVENT_TYPES, parseFilter, parseTime, STATES } from "./filter-input.ts";
import { overview } from "./overview.ts";

export interface ConsoleAssets {
  /** The page; `{{TOKEN}}` is replaced by the access token. */
  html: string;
  js: string;
  css: string;
}

export interface ConsoleOptions {
  sql: Pool;
  destinations: ActiveDestination[];
  token: string;
  actor: string;
  assets: ConsoleAssets;
  log: Logger;
  /** The port it listens on, for the Host check; remote: any Host is accepted. */
  port: number;
  remote?: boolean;
  /** For tests of the connection check. */
  checkTimeoutMs?: number;
}

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
};

const BULK = ["retry", "discard", "send-now"] as const;
const NAME = /^[a-z][a-z0-9_]{1,30}$/;
const MAX_BODY = 64 * 1024;

export function createConsoleHandler(o: ConsoleOptions): (req: Request) => Promise<Response> {
  const configured = o.destinations.map((d) => d.name);
  const record = (action: string, filter: DeliveryFilter | Record<string, unknown>, count: number | null, detail?: string) =>
    recordAction(o.sql, { actor: o.actor, source: "console", action, filter, count, detail });

  const configuredDestination = (name: unknown): ActiveDestination => {
    const d = o.destinations.find((x) => x.name === name);
    if (!d) throw invalidInput({ destination: `is not configured here (configured: ${configured.join(", ") || "none"})` });
    return d;
  };
  const destinationName = (name: unknown): string => {
    if (typeof name !== "string" || !NAME.test(name)) throw invalidInput({ destination: "is required: a destination name" });
    return name;
  };

  async function readBody(req: Request): Promise<Record<string, unknown>> {
    if (!(req.headers.get("content-type") ?? "").toLowerCase().startsWith("application/json")) {
      throw new HttpError(415, "unsupported_media_type", "Send a JSON body (Content-Type: application/json).");
    }
    const text = await req.text();
    if (text.length > MAX_BODY) throw new HttpError(413, "payload_too_large", "The body is too large.");
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      throw new HttpError(400, "invalid_json", "The body is not valid JSON.");
    }
    if (!body || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "invalid_json", "The body must be a JSON object.");
    return body as Record<string, unknown>;
  }
  const filterOf = async (body: Record<string, unknown>) => {
    const f = body.filter ?? {};
    if (!f || typeof f !== "object" || Array.isArray(f)) throw invalidInput({ filter: "must be an object" });
    return parseFilter(o.sql, f as Record<string, unknown>);
  };
  const bulkFilter = (action: (typeof BULK)[number], f: DeliveryFilter): DeliveryFilter => {
    const want = action === "send-now" ? "pending" : "dead";
    if (f.state && f.state !== want) throw invalidInput({ "filter.state": `${action} acts on ${want} deliveries only` });
    return { ...f, state: want };
  };

  async function api(req: Request, url: URL, path: string[]): Promise<Response> {
    const get = req.method === "GET";
    const q = Object.fromEntries(url.searchParams);
    // GET /api/meta
    if (get && path[0] === "meta" && path.length === 1) {
      return jsonResponse({ configured, states: STATES, event_types: EVENT_TYPES, actor: o.actor });
    }
    if (get && path[0] === "overview" && path.length === 1) {
      const window = q.window === "24h" ? "24h" : "1h";
      return jsonResponse(await overview(o.sql, configured, window));
    }
    if (get && path[0] === "deliveries" && path.length === 1) {
      const filter = await parseFilter(o.sql, q);
      const limit = q.limit ? Number(q.limit) : 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw invalidInput({ limit: "must be a whole number from 1 to 200" });
      if (q.cursor && !/^\d{1,19}\.[a-z][a-z0-9_]{1,30}$/.test(q.cursor)) throw invalidInput({ cursor: "is not a cursor this list gave" });
      return jsonResponse(await listDeliveries(o.sql, filter, { cursor: q.cursor, limit }));
    }
    if (path[0] === "deliveries" && (path.length === 3 || (path.length === 4 && path[3] === "reveal"))) {
      const [, eventId, destination] = path;
      if (!/^[0-9a-f-]{36}$/i.test(eventId) || !NAME.test(destination)) throw new HttpError(404, "not_found", "No such delivery.");
      const reveal = path.length === 4;
      if (reveal !== (req.method === "POST") || (!reveal && !get)) throw new HttpError(405, "method_not_allowed", "Method not allowed.");
      const detail = await deliveryDetail(o.sql, eventId, destination, { reveal });
      if (!detail) throw new HttpError(404, "not_found", "No such delivery.");
      if (reveal) await record("reveal", { eventId, destination, recordId: detail.event.record_id }, 1, "personal data shown for one record");
      return jsonResponse(detail);
    }
    if (get && path[0] === "activity" && path.length === 1) {
      return jsonResponse({ entries: await listActivity(o.sql, 100) });
    }
    if (req.method !== "POST") throw new HttpError(404, "not_found", "No such route.");

    const body = await readBody(req);
    // POST /api/count {action, filter | destination+since}: a bulk action's dry run.
    if (path[0] === "count" && path.length === 1) {
      const action = body.action;
      if (action === "replay") {
        const fields: Record<string, string> = {};
        const since = parseTime(body.since, "since", fields);
        if (!since) fields.since ??= "is required";
        if (Object.keys(fields).length) throw invalidInput(fields);
        return jsonResponse({ action, count: await countReplay(o.sql, since!) });
      }
      if (!BULK.includes(action as never)) throw invalidInput({ action: `must be one of ${[...BULK, "replay"].join(", ")}` });
      const filter = bulkFilter(action as (typeof BULK)[number], await filterOf(body));
      return jsonResponse({ action, count: await countDeliveries(o.sql, filter) });
    }
    if (path[0] !== "actions" || path.length !== 2) throw new HttpError(404, "not_found", "No such route.");
    const action = path[1];
    switch (action) {
      case "retry":
      case "discard":
      case "send-now": {
        const filter = bulkFilter(action, await filterOf(body));
        if (action === "retry") {
          const r = await retryDead(o.sql, filter);
          await record(action, filter, r.requeued + r.gone, r.gone ? `${r.gone} record(s) gone: discarded` : undefined);
          return jsonResponse({ action, count: r.requeued + r.gone, ...r });
        }
        const n = action === "discard" ? await discardDead(o.sql, filter) : await sendPendingNow(o.sql, filter);
        await record(action, filter, n);
        return jsonResponse({ action, count: n });
      }
      case "replay": {
        const destination = configuredDestination(body.destination).name;
        const fields: Record<string, string> = {};
        const since = parseTime(body.since, "since", fields);
        if (!since) fields.since ??= "is required";
        if (Object.keys(fields).length) throw invalidInput(fields);
        const r = await replaySince(o.sql, destination, since!);
        const n = r.queued.lead + r.queued.callback + r.queued.request;
        await record(action, { destination, since }, n, r.gone ? `${r.gone} record(s) gone` : undefined);
        return jsonResponse({ action, count: n, ...r });
      }
      case "pause":
      case "resume": {
        const destination = destinationName(body.destination);
        if (action === "pause") {
          const reason = typeof body.reason === "string" && body.reason.trim() ? body.reason.trim().slice(0, 300) : "paused by an operator";
          await pauseDestination(o.sql, destination, reason, o.actor);
          await record(action, { destination }, null, reason);
          return jsonResponse({ action, destination, paused: true });
        }
        const found = await resumeDestination(o.sql, destination);
        await record(action, { destination }, null);
        return jsonResponse({ action, destination, resumed: found });
      }
      case "test": {
        const dest = configuredDestination(body.destination);
        const r = await checkDestination(dest, o.checkTimeoutMs);
        await record(action, { destination: dest.name }, null, `${r.ok ? "OK" : "PROBLEM"}: ${r.message}`);
        return jsonResponse({ action, destination: dest.name, ...r });
      }
      case "backfill": {
        const dest = configuredDestination(body.destination);
        const r = await backfill(o.sql, [dest.name]);
        const n = r.queued.lead + r.queued.callback + r.queued.request;
        await record(action, { destination: dest.name }, n);
        return jsonResponse({ action, count: n, ...r });
      }
      case "export": {
        const filter = await filterOf(body);
        const personal = body.personal === true;
        const r = await exportRecords(o.sql, filter, { personal, destinations: configured });
        await record(action, filter, r.rows, personal ? "with personal data" : "personal data masked");
        const name = `export-${new Date().toISOString().replace(/[:.]/g, "-")}.csv`;
        return new Response(r.csv, {
          headers: {
            "content-type": "text/csv; charset=utf-8",
            "content-disposition": `attachment; filename="${name}"`,
            "x-export-rows": String(r.rows),
            "x-export-truncated": String(r.truncated),
          },
        });
      }
      default:
        throw new HttpError(404, "not_found", "No such action.");
    }
  }

  return async (req) => {
    let res: Response;
    try {
      const url = new URL(req.url);
      if (!o.remote && !isLoopbackHost(req.headers.get("host"), o.port)) {
        throw new HttpError(421, "misdirected_request", "This console answers on its loopback address only.");
      }
      const auth = authorize(req, url, o.token);
      if (auth === "denied") {
        throw new HttpError(401, "unauthorized", "Open the console with the URL it printed at start-up (it carries the access token).");
      }
      if (auth === "ok_via_query") {
        // Keep the token out of the address bar and history: a cookie carries it from now on.
        url.searchParams.delete("token");
        return withHeaders(new Response(null, {
          status: 303,
          headers: { location: url.pathname + (url.search || ""), "set-cookie": sessionCookie(o.token) },
        }));
      }
      const path = url.pathname.split("/").filter(Boolean);
      if (path[0] === "api") {
        res = await api(req, url, path.slice(1));
      } else if (req.method !== "GET" && req.method !== "HEAD") {
        throw new HttpError(405, "method_not_allowed", "Method not allowed.", undefined, { allow: "GET" });
      } else if (url.pathname === "/") {
        res = new Response(o.assets.html.replace("{{TOKEN}}", o.token), { headers: { "content-type": "text/html; charset=utf-8" } });
      } else if (url.pathname === "/app.js") {
        res = new Response(o.assets.js, { headers: { "content-type": "text/javascript; charset=utf-8" } });
      } else if (url.pathname === "/app.css") {
        res = new Response(o.assets.css, { headers: { "content-type": "text/css; charset=utf-8" } });
      } else {
        throw new HttpError(404, "not_found", "No such page.");
      }
    } catch (err) {
      res = toErrorResponse(err, o.log);
    }
    return withHeaders(res);
  };
}

function withHeaders(res: Response): Response {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.headers.set(k, v);
  return res;
}
