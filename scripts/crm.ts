/**
 * `npm run crm -- <command>` — operate the CRM bridge (CONTRACT §4).
 *   status [--json]            counts by state, oldest pending age, last delivery
 *   failed [--json]            dead events with their last status and error
 *   retry <event-id>           put one dead event back in the queue
 *   retry --all-failed         put every dead event back in the queue
 *   backfill                   queue events for what the CRM never received
 *   test                       check MONELEC_API_URL and MONELEC_API_KEY, creating nothing
 *                              (no MONELEC_API_URL and the local database: the local CRM sandbox)
 * Database: DATABASE_URL, else SUPABASE_DB_URL, else the local stack's.
 * Settings from supabase/functions/.env, as for `npm start` (the environment wins).
 */
import { crmTestTarget } from "./lib/crm-test-target.ts";
import { databaseUrlFromEnv } from "./lib/database-url.ts";
import { loadLocalEnv } from "./lib/load-local-env.ts";
import { createSql } from "../src/db/sql.ts";
import { backfill } from "../src/operator/backfill.ts";
import { checkCrm } from "../src/operator/check-crm.ts";
import { deadEvents } from "../src/operator/failed.ts";
import { retryAllDead, retryEvent } from "../src/operator/retry.ts";
import { outboxStatus } from "../src/operator/status.ts";

const USAGE = `usage: npm run crm -- <status|failed|retry <event-id>|retry --all-failed|backfill|test> [--json]`;
const args = process.argv.slice(2);
const json = args.includes("--json");
const [command, ...rest] = args.filter((a) => a !== "--json");

let env: Record<string, string | undefined>;
try {
  env = loadLocalEnv();
} catch (err) {
  console.error(`crm: ${(err as Error).message}`);
  process.exit(1);
}
const databaseUrl = databaseUrlFromEnv(env);

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return "(none)";
  const cols = Object.keys(rows[0]);
  const cell = (v: unknown) => (v === null || v === undefined ? "—" : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join("  ");
  return [line(cols), line(widths.map((w) => "─".repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join("\n");
}

function out(value: unknown, human: () => string) {
  console.log(json ? JSON.stringify(value, null, 2) : human());
}

async function main(): Promise<number> {
  if (command === "test") {
    const target = crmTestTarget(env);
    const result = await checkCrm(target.url, env.MONELEC_API_KEY);
    out({ ...result, url: target.url }, () => `${result.ok ? "OK" : "PROBLEM"}: ${result.message}\n(checked ${target.url}: ${target.source})`);
    return result.ok ? 0 : 1;
  }
  const sql = createSql(databaseUrl, 1);
  try {
    switch (command) {
      case "status": {
        const s = await outboxStatus(sql);
        out(s, () =>
          table([{ ...s.counts, blocked: s.blocked }]) +
          `\n\noldest pending: ${s.oldest_pending_age_seconds === null ? "—" : `${s.oldest_pending_age_seconds} s`}` +
          `\nlast delivery:  ${s.last_delivery_at ?? "—"}`);
        return 0;
      }
      case "failed": {
        const dead = await deadEvents(sql);
        out(dead, () =>
          table(dead.map((d) => ({
            event: d.id,
            endpoint: d.endpoint,
            aggregate: `${d.aggregate_type}:${d.aggregate_id.slice(0, 8)}`,
            attempts: d.attempts,
            status: d.last_status,
            error: (d.last_error ?? "").slice(0, 80),
            failed_at: d.failed_at,
          }))) + (dead.length ? `\n\nReplay with: npm run crm -- retry <event>  (or --all-failed)` : ""));
        return 0;
      }
      case "retry": {
        if (rest[0] === "--all-failed") {
          const n = await retryAllDead(sql);
          out({ requeued: n }, () => `${n} dead event(s) queued again; the next sweep delivers them.`);
          return 0;
        }
        const id = rest[0];
        if (!id || !/^[0-9a-f-]{36}$/i.test(id)) {
          console.error(`retry needs an event id (see \`npm run crm -- failed\`) or --all-failed.\n${USAGE}`);
          return 2;
        }
        const result = await retryEvent(sql, id);
        out({ event: id, result }, () => ({
          queued: `Event ${id} queued again; the next sweep delivers it.`,
          not_found: `No event ${id}.`,
          not_dead: `Event ${id} is not dead; only dead events are retried.`,
        })[result]);
        return result === "queued" ? 0 : 1;
      }
      case "backfill": {
        const report = await backfill(sql);
        const total = report.requeued_skipped + report.created.leads + report.created.callbacks + report.created.requests;
        out(report, () =>
          `Queued ${total} event(s): ${report.requeued_skipped} skipped event(s) re-queued, ` +
          `${report.created.leads} lead(s), ${report.created.callbacks} callback(s), ${report.created.requests} request(s) never sent.`);
        return 0;
      }
      default:
        console.error(USAGE);
        return 2;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(`crm: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
