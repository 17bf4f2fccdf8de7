/**
 * `npm run crm -- <command>` — operate the bridge (CONTRACT §4, §5).
 *   status [--json]                          deliveries by destination and state, oldest pending, last delivery
 *   failed [--destination d] [--json]        dead deliveries with their last status and error
 *   retry <event-id> | --all-failed          queue dead deliveries again, with the record's current snapshot
 *   retry --pending-now                      send waiting deliveries now (after an outage)
 *   discard <event-id> | --all-failed        give up on dead deliveries on purpose (unblocks their records)
 *   backfill [--destination d]               queue a snapshot of every record a destination never had
 *   pause <destination> [--reason text]      stop sending to a destination (deliveries keep queueing)
 *   resume <destination>                     send again (what waited goes at once)
 *   test [--destination d]                   check each destination's URL and credentials, creating nothing
 *                                            (no MONELEC_API_URL and the local database: the local CRM sandbox)
 *   replay --destination d --since <ISO>     send every record that had an event since then again to d (current snapshot)
 *   export [filters] [--state s] [--personal] [--out file]
 *                                            the filtered records with their delivery states as CSV (masked unless --personal)
 *   forget <email|phone>                     erase a person from every table; lists the destinations that had their data
 *   retention [--days n]                     run retention now (it also runs on the schedule)
 * Filters for retry/discard/failed: --destination d, --status <http>, --type <event type>, --since <ISO time>.
 * Database: DATABASE_URL, else SUPABASE_DB_URL, else the local stack's. Settings also come from
 * supabase/functions/.env (the environment wins), like `npm start`.
 * Every change (and every export) is recorded in the operators' activity log as CONSOLE_ACTOR, else the OS user.
 */
import { writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { createSql } from "../src/db/sql.ts";
import { pauseDestination, resumeDestination } from "../src/outbox/destination-events.ts";
import { backfill } from "../src/operator/backfill.ts";
import { checkDestination } from "../src/operator/check-destination.ts";
import { deadDeliveries } from "../src/operator/failed.ts";
import { describeFilter, type DeliveryFilter } from "../src/operator/filter.ts";
import { actorFrom, recordAction } from "../src/operator/activity.ts";
import { exportRecords } from "../src/operator/export.ts";
import { replaySince } from "../src/operator/replay.ts";
import type { DeliveryState } from "../src/outbox/types.ts";
import { discardDead, retryDead, sendPendingNow } from "../src/operator/retry.ts";
import { forget, parseSubject } from "../src/operator/forget.ts";
import { runRetention } from "../src/operator/retention.ts";
import { outboxStatus } from "../src/operator/status.ts";
import { crmTestTarget } from "./lib/crm-test-target.ts";
import { createLogger } from "../src/log.ts";
import { databaseUrlFromEnv } from "./lib/database-url.ts";
import { loadLocalEnv } from "./lib/load-local-env.ts";
import { withLocalStackDestinations } from "./lib/local-destinations.ts";
import { destinationsFrom, parseArgs, runMain, table, UsageError } from "./lib/cli.ts";

const USAGE = `usage: npm run crm -- <status|failed|retry|discard|backfill|pause|resume|test|replay|export|forget|retention> [options]  (see scripts/crm.ts)`;
const STATES = ["pending", "blocked", "delivered", "dead", "discarded", "superseded"];

runMain(async (argv) => {
  const { positional, flags } = parseArgs(argv, { booleans: ["json", "all-failed", "pending-now", "personal"] });
  const [command, arg] = positional;
  const json = flags.json === true;
  const out = (value: unknown, human: () => string) => console.log(json ? JSON.stringify(value, null, 2) : human());
  let env: Record<string, string | undefined>;
  try {
    env = loadLocalEnv();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // Against the local stack, monelec is its CRM sandbox unless MONELEC_API_URL says otherwise.
  const target = crmTestTarget(env);
  env = withLocalStackDestinations({ ...env, MONELEC_API_URL: target.url });
  const destinations = destinationsFrom(env);
  const names = destinations.map((d) => d.name);
  const only = typeof flags.destination === "string" ? flags.destination : undefined;
  if (only && !["status", "failed", "retry", "discard", "export"].includes(command) && !names.includes(only)) {
    throw new UsageError(`destination "${only}" is not configured here (configured: ${names.join(", ") || "none"}).`);
  }
  const filter: DeliveryFilter = {
    destination: only,
    httpStatus: flags.status !== undefined ? Number(flags.status) : undefined,
    eventType: typeof flags.type === "string" ? flags.type : undefined,
    since: typeof flags.since === "string" ? new Date(flags.since) : undefined,
  };
  if (filter.since && Number.isNaN(filter.since.getTime())) throw new UsageError(`--since must be an ISO date/time, got "${flags.since}"`);
  if (filter.httpStatus !== undefined && !Number.isInteger(filter.httpStatus)) throw new UsageError(`--status must be an HTTP status, got "${flags.status}"`);
  const actor = actorFrom(env, userInfo().username);

  if (command === "test") {
    const targets = destinations.filter((d) => !only || d.name === only);
    if (targets.length === 0) {
      out({ ok: false, destinations: [] }, () => "PROBLEM: no destination is configured (set MONELEC_API_KEY, WEBHOOK_URL…, see CONTRACT §5).");
      return 1;
    }
    const results = await Promise.all(targets.map(async (d) => ({ destination: d.name, ...(await checkDestination(d)) })));
    out(results, () => results.map((r) => `${r.ok ? "OK" : "PROBLEM"} ${r.destination}: ${r.message}` +
      (r.destination === "monelec" ? `\n   (checked ${target.url}: ${target.source})` : "")).join("\n"));
    return results.every((r) => r.ok) ? 0 : 1;
  }

  const sql = createSql(databaseUrlFromEnv(env), 2);
  try {
    switch (command) {
      case "status": {
        const s = await outboxStatus(sql, names);
        out(s, () =>
          table(s.destinations.map((d) => ({
            destination: d.name,
            ...d.counts,
            oldest_pending: d.oldest_pending_age_seconds === null ? null : `${d.oldest_pending_age_seconds} s`,
            last_delivery: d.last_delivery_at,
            state: d.paused ? `paused (${d.paused.reason ?? "operator"})` : d.circuit ? `circuit open (${(d.circuit.reason ?? "").slice(0, 40)})`
              : d.throttled_until ? `throttled until ${d.throttled_until}` : names.includes(d.name) ? "enabled" : "not configured",
          }))) + `\n\nevents: ${s.events}; written while no destination was enabled: ${s.skipped_events}` +
          (s.skipped_events > 0 ? " (send them with `npm run crm -- backfill`)" : "") +
          "\n\nLast calls from the schedule (pg_cron → crm-dispatch):\n" +
          (s.sweeps.length ? table(s.sweeps.map((c) => ({ at: c.at, trigger: c.trigger, request: c.request_id, http: c.http_status, outcome: c.outcome })))
            : "(none here: on Supabase pg_cron calls crm-dispatch when a delivery is due; locally the stack's timer does)") +
          "\n\nLast crm-dispatch runs:\n" +
          table(s.runs.map((r) => ({ started: r.started_at, ms: r.duration_ms, claimed: r.claimed, delivered: r.delivered,
            errors: r.errors, retention: r.retention ? "ran" : null,
            outcome: r.error ? `error: ${r.error.slice(0, 60)}` : r.unfinished ? "unfinished" : "ok" }))) +
          `\n\nretention: ${s.retention.days} days; last complete pass: ${s.retention.last_complete_at ?? "never"}`);
        return 0;
      }
      case "failed": {
        const dead = await deadDeliveries(sql, { destination: only });
        out(dead, () => table(dead.map((d) => ({
          event: d.event_id, destination: d.destination, type: d.type, record: d.record_id.slice(0, 8),
          attempts: d.attempts, status: d.last_status, error: (d.last_error ?? "").slice(0, 80), failed_at: d.failed_at,
        }))) + (dead.length ? "\n\nRetry with the current data: npm run crm -- retry <event> (or --all-failed); give up: discard" : ""));
        return 0;
      }
      case "retry":
      case "discard": {
        if (command === "retry" && flags["pending-now"] === true) {
          const n = await sendPendingNow(sql, filter);
          await recordAction(sql, { actor, source: "cli", action: "send-now", filter, count: n });
          out({ due_now: n }, () => `${n} waiting deliver${n === 1 ? "y" : "ies"} (${describeFilter(filter)}) will be sent by the next sweep.`);
          return 0;
        }
        if (!arg && flags["all-failed"] !== true) throw new UsageError(`${command} needs an event id (see \`npm run crm -- failed\`) or --all-failed.`);
        if (arg && !/^[0-9a-f-]{36}$/i.test(arg)) throw new UsageError(`"${arg}" is not an event id.`);
        const f = { ...filter, eventId: arg };
        if (command === "retry") {
          const r = await retryDead(sql, f);
          await recordAction(sql, { actor, source: "cli", action: "retry", filter: { ...f, state: "dead" }, count: r.requeued + r.gone });
          out(r, () => `${r.requeued} dead deliver${r.requeued === 1 ? "y" : "ies"} queued again with the current data` +
            (r.gone ? `; ${r.gone} discarded (record no longer exists)` : "") + ".");
          return r.requeued + r.gone > 0 || !arg ? 0 : 1;
        }
        const n = await discardDead(sql, f);
        await recordAction(sql, { actor, source: "cli", action: "discard", filter: { ...f, state: "dead" }, count: n });
        out({ discarded: n }, () => `${n} dead deliver${n === 1 ? "y" : "ies"} discarded; their records are unblocked.`);
        return n > 0 || !arg ? 0 : 1;
      }
      case "backfill": {
        const targets = only ? [only] : names;
        if (targets.length === 0) throw new UsageError("no destination is configured: nothing to backfill to.");
        const r = await backfill(sql, targets);
        const total = r.queued.lead + r.queued.callback + r.queued.request;
        await recordAction(sql, { actor, source: "cli", action: "backfill", filter: { destination: targets.join(",") }, count: total });
        out(r, () => `Queued ${total} snapshot(s) for ${targets.join(", ")}: ${r.queued.lead} lead(s), ` +
          `${r.queued.callback} call-back(s), ${r.queued.request} request(s); the sweeper sends them at each destination's pace.`);
        return 0;
      }
      case "pause":
      case "resume": {
        if (!arg) throw new UsageError(`${command} needs a destination name.`);
        if (command === "pause") {
          const reason = typeof flags.reason === "string" ? flags.reason : "paused by an operator";
          await pauseDestination(sql, arg, reason, actor);
          await recordAction(sql, { actor, source: "cli", action: "pause", filter: { destination: arg }, detail: reason });
          out({ paused: arg }, () => `${arg} paused: deliveries keep queueing and none dies meanwhile. Resume with: npm run crm -- resume ${arg}`);
        } else {
          const found = await resumeDestination(sql, arg);
          await recordAction(sql, { actor, source: "cli", action: "resume", filter: { destination: arg } });
          out({ resumed: arg, found }, () => (found ? `${arg} resumed: what waited is sent by the next sweep.` : `${arg} was not paused.`));
        }
        return 0;
      }
      case "replay": {
        if (!only) throw new UsageError("replay needs --destination d (one of the configured destinations).");
        if (!filter.since) throw new UsageError("replay needs --since <ISO date/time>: records that had an event since then are sent again.");
        const r = await replaySince(sql, only, filter.since);
        const total = r.queued.lead + r.queued.callback + r.queued.request;
        await recordAction(sql, { actor, source: "cli", action: "replay", filter: { destination: only, since: filter.since }, count: total });
        out(r, () => `Queued the current snapshot of ${total} record(s) for ${only}: ${r.queued.lead} lead(s), ${r.queued.callback} call-back(s), ` +
          `${r.queued.request} request(s)` + (r.gone ? `; ${r.gone} no longer exist` : "") + ".");
        return 0;
      }
      case "export": {
        const state = typeof flags.state === "string" ? flags.state : undefined;
        if (state !== undefined && !STATES.includes(state)) throw new UsageError(`--state must be one of ${STATES.join(", ")}`);
        const f: DeliveryFilter = { ...filter, state: state as DeliveryState | undefined };
        const personal = flags.personal === true;
        const r = await exportRecords(sql, f, { personal, destinations: names });
        await recordAction(sql, { actor, source: "cli", action: "export", filter: f, count: r.rows, detail: personal ? "with personal data" : "personal data masked" });
        if (typeof flags.out === "string") {
          await writeFile(flags.out, r.csv);
          console.error(`${r.rows} record(s) written to ${flags.out}${r.truncated ? " (truncated: narrow the filter)" : ""}.`);
        } else process.stdout.write(r.csv);
        return 0;
      }
      case "forget": {
        if (!arg) throw new UsageError("forget needs the person's email address or phone number.");
        const subject = parseSubject(arg);
        if ("error" in subject) throw new UsageError(`forget: ${subject.error}; nothing was erased.`);
        const r = await forget(sql, subject);
        // The action is logged without the data it erased.
        createLogger({ tool: "crm" }, (line) => console.error(line)).info("crm forget", {
          kind: r.kind, deleted: r.deleted, anonymised: r.anonymised, received_by: r.received_by.map((x) => x.destination),
        });
        out(r, () => {
          const d = r.deleted;
          const lines = [
            `Erased (${r.kind}): ${d.leads} lead(s), ${d.callbacks} call-back(s), ${d.customers} customer(s), ${d.requests} request(s) ` +
              `with ${d.payments} payment(s), ${d.events} CRM event(s) with ${d.deliveries} deliver(y/ies) and ${d.attempts} attempt log(s), ` +
              `${d.remote_ids} remote id(s).`,
          ];
          if (r.anonymised.requests > 0) {
            lines.push(`Kept for the accounts, anonymised: ${r.anonymised.requests} paid request(s) (no address) and ` +
              `${r.anonymised.customers} customer(s) (no email, phone or name).`);
          }
          lines.push(r.received_by.length
            ? "These destinations had received this person's data — erase it there too:\n" + table(r.received_by.map((x) => ({
                destination: x.destination, delivered: x.delivered, attempted: x.attempted,
                remote_ids: x.remote_ids.map((i) => `${i.kind}=${i.remote_id}`).join(" ") || null })))
            : "No destination had received this person's data.");
          return lines.join("\n");
        });
        return 0;
      }
      case "retention": {
        const given = flags.days ?? env.CRM_RETENTION_DAYS;
        const days = given !== undefined && given !== "" ? Number(given) : undefined;
        if (days !== undefined && !(Number.isInteger(days) && days > 0)) {
          throw new UsageError(`${flags.days !== undefined ? "--days" : "CRM_RETENTION_DAYS"} must be a positive whole number, got "${given}"`);
        }
        // No days given: the value crm-dispatch last used (CRM_RETENTION_DAYS of the functions), else 30.
        const r = await runRetention(sql, { days, force: true, maxMs: 600_000 });
        out(r, () => `Retention: deleted ${Object.entries(r.deleted).map(([k, v]) => `${v} ${k}`).join(", ")}` +
          (r.more ? " — more is left; the schedule continues." : "."));
        return 0;
      }
      default:
        throw new UsageError(USAGE);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
});
