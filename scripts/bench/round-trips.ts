/**
 * Database round trips per form request, counted in this process: the real
 * handlers (src/functions) with a postgres.js pool whose `debug` hook sees
 * every statement sent. Run with the bridge off, then on (delivering to the
 * sandbox), then on with five destinations (monelec, webhook, hubspot,
 * brevo, pipedrive, at the bench's doubles); background work awaited with
 * settleBackgroundTasks. A statement is the visitor's ("before the answer")
 * if it was sent before the handler answered and is not the delivery's own
 * (claim, completion, remote ids, destination state: the background).
 * postgres.js's one-off type lookup when a pool connection opens is not a
 * per-request cost: a warm-up request per handler comes first, and that
 * lookup is left out of the counts.
 */
import postgres from "postgres";
import { createAppDeps } from "../../src/app-deps.ts";
import { loadConfig } from "../../src/config.ts";
import { formStart } from "../../src/functions/form-start.ts";
import { formSubmit } from "../../src/functions/form-submit.ts";
import { createLogger } from "../../src/log.ts";
import { settleBackgroundTasks } from "../../src/runtime/background.ts";
import { formStartBody, formSubmitBody } from "./bodies.ts";
import { BENCH_CRM_KEY, type Bench } from "./environment.ts";

export interface RoundTrips {
  requests: number;
  /** Per request, by function and bridge state. */
  perRequest: Record<string, { beforeAnswer: number; background: number; total: number; statements: string[] }>;
}

const isDelivery = (q: string) => /update crm_deliveries|insert into crm_attempts|crm_remote_ids|crm_destinations/i.test(q);
const isConnectionSetup = (q: string) => /from pg_catalog\.pg_type/i.test(q);
const shape = (q: string) => q.replace(/\s+/g, " ").trim().slice(0, 60);

export async function countRoundTrips(bench: Bench, n = 100): Promise<RoundTrips> {
  const perRequest: RoundTrips["perRequest"] = {};
  for (const bridge of ["off", "on", "on, 5 destinations"] as const) {
    const seen: string[] = [];
    let answered = 0;
    const sql = postgres(bench.off.databaseUrl, {
      max: bench.settings.dbPoolMax,
      prepare: false,
      onnotice: () => {},
      transform: { undefined: null },
      debug: (_conn, query) => void (isConnectionSetup(query) || seen.push(query)),
    });
    const deps = createAppDeps(
      loadConfig({
        DATABASE_URL: bench.off.databaseUrl,
        ...(bridge === "on" ? { MONELEC_API_URL: bench.on.crmUrl, MONELEC_API_KEY: BENCH_CRM_KEY } : {}),
        ...(bridge === "on, 5 destinations" ? bench.fiveEnv : {}),
        RATE_LIMIT_PER_MINUTE: "0",
      }),
      { sql, log: createLogger({}, () => {}) },
    );
    const handlers = { "form-start": formStart(deps), "form-submit": formSubmit(deps) };
    try {
      for (const [name, handler] of Object.entries(handlers)) {
        seen.length = 0;
        answered = 0;
        for (let i = -1; i < n; i++) {
          if (i === 0) seen.length = answered = 0; // request -1 was the warm-up
          const sentBefore = seen.length;
          const body = name === "form-start" ? formStartBody() : formSubmitBody();
          const res = await handler(new Request(`http://bench.local/functions/v1/${name}`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-forwarded-for": "127.0.0.1" },
            body: JSON.stringify(body),
          }));
          answered += seen.slice(sentBefore).filter((q) => !isDelivery(q)).length;
          if (res.status !== 200) throw new Error(`${name} answered ${res.status}: ${await res.text()}`);
          await settleBackgroundTasks();
        }
        perRequest[`${name}, bridge ${bridge}`] = {
          beforeAnswer: answered / n,
          background: (seen.length - answered) / n,
          total: seen.length / n,
          statements: [...new Set(seen.map(shape))],
        };
      }
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  return { requests: n, perRequest };
}
