/**
 * The delivery-side measurements: delivery lag at a paced rate, events lost
 * in a CRM outage (plain waitUntil vs the outbox), and the drain of a backlog.
 */
import { randomUUID } from "node:crypto";
import { leadBody } from "../../src/crm/monelec-bodies.ts";
import { createAppDeps } from "../../src/app-deps.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import postgres from "postgres";
import { claim } from "../../src/outbox/claim.ts";
import { recordAttempts } from "../../src/outbox/record.ts";
import { sweep, type SweepReport } from "../../src/outbox/sweep.ts";
import { seedLeadDeliveries } from "../lib/seed-deliveries.ts";
import { formStartBody } from "./bodies.ts";
import { type CpuSnapshot, cpuDelta, OTHERS } from "./cpu.ts";
import { BENCH_CRM_KEY, type Bench, MONELEC_DRAIN_RATE, sleep, waitFor } from "./environment.ts";
import { MODES, runMode } from "./modes.ts";
import { round } from "./stats.ts";

// ---------------------------------------------------------------- lag, paced

export async function pacedLag(
  bench: Bench,
): Promise<{ rate: number; durationS: number; requests: number; lagMs: number[]; requestMs: number[]; otherCores: number }> {
  const mode = MODES.find((m) => m.id === "on-ok")!;
  const rate = bench.settings.lagRate;
  const run = await runMode(bench, mode, 0, { pacedRate: rate });
  const requests = run.outcome.latencies["form-start"].length + run.outcome.latencies["form-submit"].length;
  const requestMs = [...run.outcome.latencies["form-start"], ...run.outcome.latencies["form-submit"]];
  const otherCores = round((run.cpuMs[OTHERS] ?? 0) / 1000 / run.outcome.durationS);
  return { rate, durationS: run.outcome.durationS, requests, lagMs: run.lagMs ?? [], requestMs, otherCores };
}

// ---------------------------------------------------------------- outage

export interface OutageResult {
  requests: number;
  outbox: {
    answered200: number;
    /** Delivered by the first retry step (5 s ±20 % after the failed attempt), within 6.5 s of the CRM's return. */
    deliveredByFirstRetry: number;
    /** Delivered once every held-back event's next retry is due (the rest of the schedule fast-forwarded). */
    received: number;
    lost: number;
    duplicates: number;
  };
  waitUntil: { answered200: number; received: number; lost: number };
}

/** POSTs `n` form-start bodies, 10 at a time; returns the lead ids answered with 200. */
async function sendLeads(url: string, anonKey: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const res = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${anonKey}`, "content-type": "application/json" },
        body: JSON.stringify(formStartBody()),
      });
      const body = (await res.json()) as { lead_id?: string };
      if (res.status === 200 && body.lead_id) ids.push(body.lead_id);
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  return ids;
}

export async function outageLoss(bench: Bench): Promise<OutageResult> {
  const n = bench.settings.outageRequests;
  await bench.settle();
  bench.sandbox.reset();
  bench.sandbox.setFaults({ mode: "down" });
  const outboxIds = await sendLeads(`${bench.on.functionsUrl}/form-start`, bench.on.anonKey, n);
  const waitUntilIds = await sendLeads(`${bench.baselines.origin}/waituntil/form-start`, bench.on.anonKey, n);
  await waitFor(async () => (await bench.baselines.stats()).inFlight === 0, 30_000, "the baseline's CRM calls");
  bench.sandbox.setFaults({ mode: "ok" });
  // The outbox recovers on its own: the sweeper retries on the production schedule
  // (5 s ±20 %, then 5 min…). Events whose second attempt also fell in the outage
  // wait for a later step: that wait is fast-forwarded, not skipped.
  const undelivered = async () => (await bench.db<{ n: number }[]>`
    select count(*)::int as n from crm_deliveries
    where record_id in (select value::uuid from jsonb_array_elements_text(${bench.db.json(outboxIds)})) and state not in ('delivered', 'superseded')`)[0].n;
  await sleep(6_500);
  const deliveredByFirstRetry = outboxIds.length - (await undelivered());
  await waitFor(async () => {
    await bench.db`update crm_deliveries set next_attempt_at = now()
                   where record_id in (select value::uuid from jsonb_array_elements_text(${bench.db.json(outboxIds)}))
                     and state = 'pending' and next_attempt_at > now()`;
    return (await undelivered()) === 0;
  }, 60_000, "the outbox to deliver what the outage held back");
  const received = new Map<string, number>();
  for (const a of bench.sandbox.accepted()) {
    const id = (a.body as { lovable_lead_id?: string }).lovable_lead_id;
    if (id) received.set(id, (received.get(id) ?? 0) + 1);
  }
  const count = (ids: string[]) => ids.filter((id) => received.has(id)).length;
  const duplicates = outboxIds.reduce((d, id) => d + Math.max(0, (received.get(id) ?? 0) - 1), 0);
  return {
    requests: n,
    outbox: { answered200: outboxIds.length, deliveredByFirstRetry, received: count(outboxIds), lost: n - count(outboxIds), duplicates },
    waitUntil: { answered200: waitUntilIds.length, received: count(waitUntilIds), lost: n - count(waitUntilIds) },
  };
}

// ---------------------------------------------------------------- backlog drain

export interface DrainResult {
  label: string;
  events: number;
  durationMs: number;
  eventsPerSecond: number;
  /** Events the CRM received (each once: duplicates counted apart). */
  received: number;
  duplicates: number;
  cpuMs: CpuSnapshot;
  dispatchCalls?: number;
  reports?: unknown[];
  /** EXPLAIN ANALYZE of the sweeper's claim and completion on the full backlog, just before the drain. */
  plans?: DeliveryPlans;
}

export interface Plan { executionMs: number; plan: string[] }
export interface DeliveryPlans { claim: Plan; complete: Plan }

/**
 * The plans Postgres picks right now for the sweeper's two statements per
 * event batch: the claim (src/outbox/claim.ts, limit 16) and the completion
 * (src/outbox/record.ts). The real statements, captured from claim and
 * recordAttempts through the driver's debug hook, run again under EXPLAIN
 * ANALYZE inside one transaction that is rolled back.
 */
async function deliveryPlans(bench: Bench): Promise<DeliveryPlans> {
  const seen: Array<{ query: string; params: unknown[] }> = [];
  const sql = postgres(bench.off.databaseUrl, {
    max: 1,
    prepare: false,
    onnotice: () => {},
    debug: (_c, query, params) => void (/^\s*explain/i.test(query) || seen.push({ query, params })),
  });
  const explain = async (tx: postgres.TransactionSql, pattern: RegExp) => {
    const stmt = [...seen].reverse().find((s) => pattern.test(s.query))!;
    // The debug hook sees JSON parameters already serialized: parse them back, or the driver encodes them twice.
    const params = stmt.params.map((p) => (typeof p === "string" && /^[[{]/.test(p) ? JSON.parse(p) : p));
    const rows = await tx.unsafe<Array<Record<string, string>>>(`explain (analyze, buffers, costs off) ${stmt.query}`, params as never[]);
    const plan = rows.map((r) => r["QUERY PLAN"]);
    return { executionMs: Number(/Execution Time: ([\d.]+)/.exec(plan.join("\n"))?.[1] ?? NaN), plan };
  };
  let plans: DeliveryPlans | undefined;
  try {
    await sql.begin(async (tx) => {
      const got = await claim(tx, { destination: "monelec", limit: 16, leaseMs: 15_000, rate: { perSecond: 1e6, burst: 1e6 } });
      const claimPlan = await explain(tx, /with gate as/i);
      await recordAttempts(tx, got.claimed.map((delivery) => ({
        delivery, outcome: { kind: "delivered" as const, httpStatus: 201 }, durationMs: 1, state: "delivered" as const, retryInMs: 0, counted: true,
      })));
      const complete = await explain(tx, /insert into crm_attempts/i);
      plans = { claim: claimPlan, complete };
      throw new Error("rollback");
    }).catch(() => {});
    return plans!;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** A backlog as an outage leaves it: pending events, one per lead, each already tried once, all due now. */
async function insertBacklog(bench: Bench, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < n; start += 2_000) {
    const leads = Array.from({ length: Math.min(2_000, n - start) }, (_, i) => {
      const id = randomUUID();
      const recordId = randomUUID();
      ids.push(id);
      return { id, recordId, data: leadBody({ id: recordId, ...formStartBody(), phone: "+33612345678", email: `backlog-${start + i}@example.fr` }) };
    });
    await seedLeadDeliveries(bench.db, leads, { destination: "monelec", state: "pending", attempts: 1, lastError: "bench: simulated outage" });
  }
  return ids;
}

function countReceived(bench: Bench, ids: string[]): { received: number; duplicates: number } {
  const wanted = new Set(ids);
  const seen = new Map<string, number>();
  for (const a of bench.sandbox.accepted()) {
    if (a.idempotencyKey && wanted.has(a.idempotencyKey)) seen.set(a.idempotencyKey, (seen.get(a.idempotencyKey) ?? 0) + 1);
  }
  let duplicates = 0;
  for (const c of seen.values()) duplicates += c - 1;
  return { received: seen.size, duplicates };
}

type Statistics = "before the outage" | "fresh";

/**
 * Drains a fresh backlog of `n` events with `drain`, the only deliverer
 * running (the sweeper timer is paused), and times it until nothing is pending.
 * `statistics`: when crm_events was last ANALYZEd. "before the outage" is what
 * autovacuum leaves when a backlog builds faster than its analyze threshold
 * (10 % of the table): the planner still believes almost nothing is pending.
 */
async function timedDrain(
  bench: Bench,
  label: string,
  n: number,
  statistics: Statistics,
  drain: () => Promise<{ calls?: number; reports?: unknown[] }>,
  explain = false,
): Promise<DrainResult> {
  await bench.settle();
  await bench.sweeper.pause();
  try {
    bench.sandbox.reset();
    if (statistics === "before the outage") await bench.db`analyze crm_deliveries`;
    bench.sandbox.setFaults({ mode: "down" }); // the outage (nothing is delivering anyway)
    const ids = await insertBacklog(bench, n);
    if (statistics === "fresh") await bench.db`analyze crm_deliveries`;
    const plans = explain ? await deliveryPlans(bench) : undefined;
    await bench.db`checkpoint`;
    bench.sandbox.setFaults({ mode: "ok" }); // the CRM is back
    const before = bench.cpu();
    const started = performance.now();
    const info = await drain();
    const durationMs = performance.now() - started;
    const cpuMs = cpuDelta(before, bench.cpu());
    const { received, duplicates } = countReceived(bench, ids);
    return {
      label: `${label} [statistics: ${statistics}]`,
      events: n,
      durationMs: Math.round(durationMs),
      eventsPerSecond: Math.round((n / durationMs) * 1000),
      received,
      duplicates,
      cpuMs,
      dispatchCalls: info.calls,
      reports: info.reports,
      plans,
    };
  } finally {
    bench.sweeper.resume();
  }
}

/** crm-dispatch called `parallel` at a time, again and again, until nothing is pending. */
function viaDispatch(bench: Bench, parallel: number) {
  return async () => {
    const reports: unknown[] = [];
    let calls = 0;
    for (let i = 0; i < 100; i++) {
      const batch = await Promise.all(Array.from({ length: parallel }, () => bench.on.sweepNow()));
      calls += parallel;
      reports.push(...batch);
      if ((await bench.pendingCount()) === 0) break;
    }
    return { calls, reports };
  };
}

/** src/outbox/sweep.ts run in this (Node) process, with `concurrency`; `stub` = a CRM that answers 201 at once, no HTTP. */
function viaNodeSweep(bench: Bench, concurrency: number, stub: boolean) {
  // (stub = false would time Node's fetch and the sandbox in one process: not the product's runtime)
  return async () => {
    const deps = createAppDeps(
      loadConfig({
        DATABASE_URL: bench.off.databaseUrl,
        DB_POOL_MAX: String(bench.settings.dbPoolMax),
        MONELEC_API_URL: bench.on.crmUrl,
        MONELEC_API_KEY: BENCH_CRM_KEY,
        MONELEC_RATE_LIMIT: String(MONELEC_DRAIN_RATE), // as the stacks have it: the bucket, not the outbox, would be measured
      }),
      {
        log: createLogger({}, () => {}),
        ...(stub ? { fetch: async () => new Response('{"id":"stub"}', { status: 201 }) } : {}),
      },
    );
    try {
      const reports: SweepReport[] = [];
      do reports.push(await sweep(deps.outbox.runner("bench"), { concurrency }));
      while ((await bench.pendingCount()) > 0 && reports.length < 100);
      return { calls: reports.length, reports };
    } finally {
      await deps.sql.end({ timeout: 5 });
    }
  };
}

/** The product as it runs: crm-dispatch, one call at a time, on the statistics an outage leaves. */
export async function backlogDrain(bench: Bench): Promise<DrainResult> {
  return timedDrain(bench, "crm-dispatch, one call at a time (the product)", bench.settings.backlogEvents, "before the outage", viaDispatch(bench, 1), true);
}

/**
 * What limits the drain, one factor at a time: the same drain with fresh
 * statistics; then (smaller backlogs) 4 crm-dispatch calls side by side
 * (SKIP LOCKED: like concurrency 64, claims overlapping deliveries); and
 * sweep()'s database work alone (the same code in this Node process, with a
 * CRM stub that answers 201 at once: no HTTP, no sandbox).
 */
export async function drainProfile(bench: Bench): Promise<DrainResult[]> {
  const n = bench.settings.backlogEvents;
  const small = Math.max(1_000, Math.round(n / 4));
  return [
    await timedDrain(bench, "crm-dispatch, one call at a time (the product)", n, "fresh", viaDispatch(bench, 1), true),
    await timedDrain(bench, "crm-dispatch ×4 in parallel", small, "fresh", viaDispatch(bench, 4)),
    await timedDrain(bench, "sweep() database work alone (in Node, CRM stub, concurrency 16)", small, "fresh", viaNodeSweep(bench, 16, true)),
  ];
}
