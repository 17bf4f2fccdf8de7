/**
 * The chaos soak: concurrent visitor journeys against the real `npm start`
 * process while the CRM sandbox misbehaves (flaky 30 % 5xx, outages, 429
 * throttling, answers slower than the backend waits), the whole stack is
 * SIGKILLed and restarted, and Postgres is restarted under the running
 * functions. Then the CRM is healed and the checks run: every committed event
 * accepted by the CRM exactly once, each request's and lead's events in
 * order, nothing pending or dead, no half-written business row, everything
 * acknowledged to a visitor present, no secret or personal data in the logs.
 *
 * Every destination is on: beside monelec, every vendor double of
 * src/destinations (scripts/soak/destinations.ts), each with its own fault
 * phases, and each judged at the end (lost, duplicates, order: docs/soak.md).
 *
 * The soak owns what must outlive a kill: Postgres (passed as DATABASE_URL),
 * the CRM sandbox (passed as MONELEC_API_URL, behind a recorder that counts
 * replays), the destinations' doubles (their URLs passed in the
 * destinations' settings). Traffic stays on 127.0.0.1.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { startCrmSandbox } from "../local/crm-sandbox.ts";
import { LOCAL_ANON_KEY, LOCAL_SERVICE_ROLE_KEY } from "../local/dev-keys.ts";
import { type LocalPostgres, startPostgres } from "../local/postgres.ts";
import { spawnStack, type StackProcess } from "../lib/stack-process.ts";
import { freePort } from "../lib/free-port.ts";
import { type Acknowledged, Journeys, type JourneyStats, newAcknowledged, newStats } from "./journeys.ts";
import { startCrmRecorder } from "./crm-recorder.ts";
import { type DestinationVerdict, soakDestinationEnv, startSoakDoubles, vendorFault, verifyDestinations } from "./destinations.ts";
import { type LogResult, LogScanner } from "./log-scan.ts";

export interface SoakOptions {
  /** How long journeys are started, in seconds. */
  seconds: number;
  /** Journeys in flight at once. */
  concurrency: number;
  /** Pause between a journey's steps: uniform in [0, thinkMs]. */
  thinkMs: number;
  retrySchedule: string;
  /** Seconds between whole-stack SIGKILLs, uniform in [min, max]. */
  killEvery: [number, number];
  /** Seconds between Postgres restarts, uniform in [min, max]. */
  pgRestartEvery: [number, number];
  /** Fixed moments (seconds after the start) instead of random ones. */
  killAt?: number[];
  pgRestartAt?: number[];
  /** How long one CRM fault phase lasts, in seconds, uniform in [min, max]. */
  crmPhase: [number, number];
  /** Every vendor destination on, with its own faults (default true); false: monelec only. */
  destinations?: boolean;
  /** Time allowed for the backlog to reach the CRM once it is healed. */
  drainTimeoutMs: number;
  /** Progress lines. */
  log(line: string): void;
}

export const DEFAULT_RETRY_SCHEDULE = ["200ms", "500ms", "1s", ...Array(21).fill("2s")].join(",");

export const defaultOptions = (seconds: number): SoakOptions => ({
  seconds,
  concurrency: 4,
  thinkMs: 400,
  retrySchedule: DEFAULT_RETRY_SCHEDULE,
  killEvery: [25, 55],
  pgRestartEvery: [25, 55],
  crmPhase: [2, 6],
  drainTimeoutMs: 180_000,
  log: (line) => console.log(line),
});

export interface SoakReport {
  seconds: number;
  concurrency: number;
  journeys: JourneyStats;
  events: number;
  delivered: number;
  superseded: number;
  crmAttempts: number;
  crmAttemptsByOutcome: Record<string, number>;
  /** Attempts the CRM answered as a replay of an already accepted Idempotency-Key: sent twice, accepted once. */
  duplicatesSent: number;
  kills: number;
  unexpectedExits: number;
  pgRestarts: { fast: number; immediate: number };
  crmPhases: Record<string, number>;
  /** Fault phases played by each vendor destination's double. */
  destinationPhases: Record<string, Record<string, number>>;
  /** Per destination (monelec included): lost 0, duplicates 0, order violations 0 is the bar. */
  destinations: Record<string, DestinationVerdict>;
  retries: number;
  maxDeliveryDelayMs: number;
  p95DeliveryDelayMs: number;
  /** The event that waited longest: when it was made (seconds into the soak, to set against the kills and restarts logged), its attempts, and how many earlier events of its lead or request it had to wait for. */
  slowest?: { delayMs: number; createdAtS: number; attempts: number; earlierInAggregate: number };
  lost: number;
  duplicatesAccepted: number;
  unknownAccepted: number;
  orderViolations: number;
  stuck: { pending: number; dead: number };
  partialWrites: Record<string, number>;
  acknowledgedMissing: Record<string, number>;
  crmOutOfDate: number;
  logs: LogResult;
  drainMs: number;
  problems: string[];
  ok: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uniform = ([min, max]: [number, number]) => min + Math.random() * (max - min);

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log;
  const dir = await mkdtemp(join(tmpdir(), "raccordement-soak-"));
  const crmKey = `soak-crm-key-${Math.random().toString(36).slice(2, 12)}`;
  const webhookSecret = `whsec_soak_${Math.random().toString(36).slice(2, 14)}${Math.random().toString(36).slice(2, 14)}`;
  const pgPort = await freePort();
  const functionsPort = await freePort();
  const stripePort = await freePort();
  const examplePort = await freePort();

  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    // --- what outlives the kills: Postgres, the CRM sandbox and its recorder -------------
    const pgDir = join(dir, "postgres");
    let pg: LocalPostgres = await startPostgres({ dataDir: pgDir, port: pgPort });
    let pgUp = true;
    cleanups.push(async () => pgUp && pg.stop());
    const sql = postgres(pg.url, { max: 2, onnotice: () => {}, connect_timeout: 5, idle_timeout: 5 });
    cleanups.push(() => sql.end({ timeout: 5 }));
    const sandbox = await startCrmSandbox({ apiKey: crmKey, quiet: true });
    cleanups.push(() => sandbox.close());
    const recorder = await startCrmRecorder(sandbox.url);
    cleanups.push(() => recorder.close());
    const doubles = await startSoakDoubles(opts.destinations === false ? [] : undefined);
    cleanups.push(() => doubles.close());
    const destinationEnv = { ...doubles.env, ...soakDestinationEnv(doubles.names) };
    const vendorSecrets = Object.entries(doubles.env).filter(([k]) => /KEY|TOKEN|SECRET/.test(k)).map(([, v]) => v);
    const scanner = new LogScanner([crmKey, webhookSecret, LOCAL_SERVICE_ROLE_KEY, ...vendorSecrets]);

    const env: Record<string, string> = {
      ...destinationEnv,
      LOCAL_DATA_DIR: join(dir, "data"),
      DATABASE_URL: pg.url,
      FUNCTIONS_PORT: String(functionsPort),
      DB_PORT: String(pgPort),
      CRM_SANDBOX_PORT: "0",
      STRIPE_DOUBLE_PORT: String(stripePort),
      EXAMPLE_PAGE_PORT: String(examplePort),
      MONELEC_API_URL: recorder.url,
      MONELEC_API_KEY: crmKey,
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      CRM_TIMEOUT_MS: "2000",
      CRM_RETRY_SCHEDULE: opts.retrySchedule,
      CRM_SWEEP_INTERVAL_MS: "200",
      RATE_LIMIT_PER_MINUTE: "0",
    };

    // --- the stack, restarted after every kill (and after an unexpected exit) ----------------
    const proc = { stack: null as StackProcess | null };
    let killing = false;
    let unexpectedExits = 0;
    const startStackWithRetry = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const started = Date.now();
          const s = await spawnStack(env, 60_000, { onLine: (line) => scanner.add(line) });
          s.exited.then(() => {
            if (!killing && proc.stack === s) {
              unexpectedExits++;
              log(`soak: npm start exited on its own (exit ${s.child.exitCode}, signal ${s.child.signalCode})`);
              proc.stack = null;
            }
          });
          proc.stack = s;
          log(`soak: npm start up in ${Date.now() - started} ms`);
          return;
        } catch (err) {
          if (attempt >= 20) throw err;
          log(`soak: npm start failed (attempt ${attempt}): ${(err as Error).message.split("\n").slice(0, 2).join(" ").slice(0, 200)}`);
          await sleep(1_000);
        }
      }
    };
    await startStackWithRetry();
    cleanups.push(async () => {
      killing = true;
      await proc.stack?.killGroup("SIGTERM");
    });

    const stats = newStats();
    const acked = newAcknowledged();
    const journeys = new Journeys(
      () => ({
        functionsUrl: `http://127.0.0.1:${functionsPort}/functions/v1`,
        stripeApiUrl: `http://127.0.0.1:${stripePort}`,
        anonKey: LOCAL_ANON_KEY,
        webhookSecret,
        async openPaymentIntent(requestId) {
          const [row] = await sql<{ pi: string; amount: number }[]>`
            select stripe_payment_intent_id as pi, amount from payments
            where request_id = ${requestId} and status = 'pending' order by created_at desc limit 1`;
          return row ?? null;
        },
      }),
      stats,
      acked,
      { thinkMs: opts.thinkMs, stepDeadlineMs: 120_000 },
    );

    const startedAt = Date.now();
    const endAt = startedAt + opts.seconds * 1_000;
    const elapsed = () => ((Date.now() - startedAt) / 1000).toFixed(1);

    // --- the CRM's moods -------------------------------------------------------------------
    const crmPhases: Record<string, number> = {};
    const conductor = (async () => {
      // Good (ok or flaky) and bad phases alternate, the bad ones in turn: the retry schedule is long, not infinite.
      const bad = ["down", "throttle", "error", "slow"];
      let turn = Math.floor(Math.random() * bad.length);
      let good = true;
      while (Date.now() < endAt) {
        const phase: string = good ? (Math.random() < 0.4 ? "ok" : "flaky") : bad[turn++ % bad.length];
        good = !good;
        crmPhases[phase] = (crmPhases[phase] ?? 0) + 1;
        if (phase === "ok") sandbox.setFaults({ mode: "ok" });
        else if (phase === "flaky") sandbox.setFaults({ mode: "flaky", failRate: 0.3 });
        else if (phase === "down") sandbox.setFaults({ mode: "down" });
        else if (phase === "throttle") sandbox.setFaults({ mode: "throttle", retryAfter: 1 });
        else if (phase === "error") sandbox.setFaults({ mode: "error", status: pick([500, 502, 503]) });
        else sandbox.setFaults({ mode: "slow", delayMs: pick([500, 2_500]) }); // 2.5 s: past the backend's 2 s timeout, yet accepted
        const lasts = Math.min(uniform(opts.crmPhase) * 1_000, Math.max(0, endAt - Date.now()));
        log(`soak: ${elapsed()} s — CRM ${phase} for ${(lasts / 1000).toFixed(1)} s`);
        await sleep(lasts);
      }
      sandbox.setFaults({ mode: "ok" });
    })();
    // Each vendor destination's moods, on its own clock: ok and bad phases alternate, the bad ones in turn.
    const destinationPhases: Record<string, Record<string, number>> = {};
    const vendorConductors = doubles.names.map(async (name) => {
      const phases: Record<string, number> = (destinationPhases[name] = {});
      const bad = ["down", "throttle", "error", "slow"];
      let turn = Math.floor(Math.random() * bad.length);
      let good = Math.random() < 0.5;
      while (Date.now() < endAt) {
        const phase = good ? "ok" : bad[turn++ % bad.length];
        good = !good;
        phases[phase] = (phases[phase] ?? 0) + 1;
        doubles.server.get(name).setFaults(vendorFault(phase, pick));
        await sleep(Math.min(uniform(opts.crmPhase) * 1_000, Math.max(0, endAt - Date.now())));
      }
      doubles.server.get(name).setFaults({ mode: "ok" });
    });

    // --- kills and Postgres restarts, one at a time ------------------------------------------
    let kills = 0;
    const pgRestarts = { fast: 0, immediate: 0 };
    const disruptor = (async () => {
      const killTimes = opts.killAt ? [...opts.killAt] : [];
      const pgTimes = opts.pgRestartAt ? [...opts.pgRestartAt] : [];
      let nextKill = opts.killAt ? killTimes.shift() : uniform(opts.killEvery);
      let nextPg = opts.pgRestartAt ? pgTimes.shift() : uniform(opts.pgRestartEvery) * 0.6;
      for (;;) {
        const t = (Date.now() - startedAt) / 1000;
        const next = Math.min(nextKill ?? Infinity, nextPg ?? Infinity);
        if (next === Infinity || startedAt + next * 1_000 >= endAt) break;
        if (t < next) {
          await sleep(Math.min((next - t) * 1_000, 500));
          continue;
        }
        if (!proc.stack) await startStackWithRetry();
        if (next === nextKill) {
          log(`soak: ${elapsed()} s — SIGKILL of the whole stack (kill ${kills + 1})`);
          killing = true;
          await proc.stack?.killGroup("SIGKILL");
          proc.stack = null;
          killing = false;
          kills++;
          await sleep(Math.random() * 1_500);
          await startStackWithRetry();
          nextKill = opts.killAt ? killTimes.shift() : t + uniform(opts.killEvery);
        } else {
          const mode = Math.random() < 0.5 ? "fast" : "immediate";
          const downMs = 500 + Math.random() * 3_500;
          log(`soak: ${elapsed()} s — Postgres ${mode} shutdown, down for ${(downMs / 1000).toFixed(1)} s`);
          pgUp = false;
          if (mode === "immediate") {
            const pid = Number((await readFile(join(pgDir, "postmaster.pid"), "utf8")).split("\n")[0]);
            process.kill(pid, "SIGQUIT"); // crash-like: recovery from the WAL at the next start
          }
          await pg.stop();
          await sleep(downMs);
          pg = await startPostgres({ dataDir: pgDir, port: pgPort });
          pgUp = true;
          pgRestarts[mode]++;
          nextPg = opts.pgRestartAt ? pgTimes.shift() : t + uniform(opts.pgRestartEvery);
        }
      }
    })();

    // --- the visitors ---------------------------------------------------------------------------
    let lastProgress = Date.now();
    const workers = Array.from({ length: opts.concurrency }, async (_, w) => {
      await sleep(w * 150);
      while (Date.now() < endAt) {
        await journeys.run();
        if (Date.now() - lastProgress > 15_000) {
          lastProgress = Date.now();
          log(`soak: ${elapsed()} s — journeys ${stats.completed}/${stats.started}, CRM attempts ${recorder.attempts.length}, accepted ${sandbox.accepted().length}`);
        }
      }
    });
    await Promise.all([conductor, disruptor, ...vendorConductors]);
    log(`soak: ${elapsed()} s — traffic window over; letting the ${stats.started - stats.completed - stats.abandoned} journeys in flight finish`);
    await Promise.race([Promise.all(workers), sleep(240_000)]);

    // --- heal and drain -------------------------------------------------------------------------
    sandbox.setFaults({ mode: "ok" });
    for (const name of doubles.names) doubles.server.get(name).setFaults({ mode: "ok" });
    if (!proc.stack) await startStackWithRetry();
    const drainStarted = Date.now();
    let stuck = { pending: 0, dead: 0 };
    for (;;) {
      try {
        const rows = await sql<{ state: string; n: number }[]>`
          select case when state = 'dead' then 'dead' else 'pending' end as state, count(*)::int as n
          from crm_deliveries where state in ('pending', 'blocked', 'dead') group by 1`;
        stuck = { pending: rows.find((r) => r.state === "pending")?.n ?? 0, dead: rows.find((r) => r.state === "dead")?.n ?? 0 };
        if (stuck.pending === 0) break;
      } catch {
        // Postgres just came back: ask again
      }
      if (Date.now() - drainStarted > opts.drainTimeoutMs) break;
      await sleep(250);
    }
    const drainMs = Date.now() - drainStarted;
    log(`soak: backlog drained in ${(drainMs / 1000).toFixed(1)} s (pending ${stuck.pending}, dead ${stuck.dead})`);
    await sleep(3_500); // answers of the sandbox's slow phase still on their way (replays)

    // --- stop the stack (gracefully) before reading its logs ------------------------------------
    killing = true;
    await proc.stack?.killGroup("SIGTERM");
    proc.stack = null;

    const destinations = await verifyDestinations(sql, doubles);
    const report = await verify({ sql, sandbox, recorder, acked, stats, scanner, opts, kills, unexpectedExits, pgRestarts, crmPhases, destinationPhases, destinations, stuck, drainMs, startedAt });
    return report;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)];
}

async function verify(ctx: {
  sql: postgres.Sql;
  sandbox: Awaited<ReturnType<typeof startCrmSandbox>>;
  recorder: Awaited<ReturnType<typeof startCrmRecorder>>;
  acked: Acknowledged;
  stats: JourneyStats;
  scanner: LogScanner;
  opts: SoakOptions;
  kills: number;
  unexpectedExits: number;
  pgRestarts: { fast: number; immediate: number };
  crmPhases: Record<string, number>;
  destinationPhases: Record<string, Record<string, number>>;
  destinations: Record<string, DestinationVerdict>;
  stuck: { pending: number; dead: number };
  drainMs: number;
  startedAt: number;
}): Promise<SoakReport> {
  const { sql, sandbox, recorder, acked } = ctx;
  // monelec's deliveries, one per event. `superseded`: a newer snapshot of the record went instead.
  const events = await sql<{ id: string; seq: number; aggregate_id: string; state: string; attempts: number; created_at: Date; payment_status: string | null }[]>`
    select e.id::text, e.seq::int, e.record_id::text as aggregate_id, coalesce(d.state, 'missing') as state,
           coalesce(d.attempts, 0) as attempts, e.created_at, e.data->>'payment_status' as payment_status
    from crm_events e left join crm_deliveries d on d.event_id = e.id and d.destination = 'monelec'
    order by e.seq`;
  const accepted = sandbox.accepted();
  const firstAccept = new Map<string, { index: number; at: number }>();
  let duplicatesAccepted = 0;
  accepted.forEach((a, index) => {
    const key = a.idempotencyKey ?? `(no key #${index})`;
    if (firstAccept.has(key)) duplicatesAccepted++;
    else firstAccept.set(key, { index, at: Date.parse(a.receivedAt) });
  });
  const eventIds = new Set(events.map((e) => e.id));
  const unknownAccepted = [...firstAccept.keys()].filter((k) => !eventIds.has(k)).length;
  // Lost: neither accepted nor superseded by a later snapshot of its record that was accepted.
  const acceptedLater = (e: (typeof events)[number]) =>
    events.some((x) => x.aggregate_id === e.aggregate_id && x.seq > e.seq && firstAccept.has(x.id));
  const lost = events.filter((e) => !firstAccept.has(e.id) && !(e.state === "superseded" && acceptedLater(e))).length;
  const delays = events.flatMap((e) => (firstAccept.has(e.id) ? [firstAccept.get(e.id)!.at - e.created_at.getTime()] : [])).sort((a, b) => a - b);
  let slowest: SoakReport["slowest"];
  for (const e of events) {
    const accept = firstAccept.get(e.id);
    if (!accept) continue;
    const delay = accept.at - e.created_at.getTime();
    if (!slowest || delay > slowest.delayMs) {
      slowest = {
        delayMs: delay,
        createdAtS: (e.created_at.getTime() - ctx.startedAt) / 1000,
        attempts: e.attempts,
        earlierInAggregate: events.filter((x) => x.aggregate_id === e.aggregate_id && x.seq < e.seq).length,
      };
    }
  }

  // Per aggregate, the CRM accepted the events in creation (seq) order.
  let orderViolations = 0;
  type EventRow = (typeof events)[number];
  const byAggregate = new Map<string, EventRow[]>();
  for (const e of events) byAggregate.set(e.aggregate_id, [...(byAggregate.get(e.aggregate_id) ?? []), e]);
  for (const list of byAggregate.values()) {
    const order = list.filter((e) => firstAccept.has(e.id)).map((e) => firstAccept.get(e.id)!.index);
    if (order.some((v, i) => i > 0 && v <= order[i - 1])) orderViolations++;
  }

  const [partial] = await sql<Record<string, number>[]>`
    select
      (select count(*)::int from leads l where not exists (select 1 from crm_events e where e.record_id = l.id)) as "leads without event",
      (select count(*)::int from callbacks c where not exists (select 1 from crm_events e where e.record_id = c.id)) as "callbacks without event",
      (select count(*)::int from requests r where not exists (select 1 from crm_events e where e.record_id = r.id)) as "requests without event",
      (select count(*)::int from payments p where not exists (
         select 1 from crm_events e where e.record_id = p.request_id and e.data->>'payment_intent_id' = p.stripe_payment_intent_id)) as "payments without event",
      (select count(*)::int from crm_events e where not exists (select 1 from leads where id = e.record_id)
         and not exists (select 1 from callbacks where id = e.record_id) and not exists (select 1 from requests where id = e.record_id)) as "events without row",
      (select count(*)::int from crm_events e where not exists (select 1 from crm_deliveries d where d.event_id = e.id)) as "events without delivery"`;

  const present = async (table: string, ids: string[]) =>
    new Set((await sql<{ id: string }[]>`select id::text from ${sql(table)} where id in (select value::uuid from jsonb_array_elements_text(${sql.json(ids)}))`).map((r) => r.id));
  const leads = await present("leads", [...acked.leads]);
  const requests = await present("requests", [...acked.requests]);
  const callbacks = await present("callbacks", [...acked.callbacks]);
  const pis = new Set((await sql<{ pi: string }[]>`select stripe_payment_intent_id as pi from payments`).map((r) => r.pi));
  const statuses = new Map(
    (await sql<{ id: string; payment_status: string }[]>`select id::text, payment_status from requests`).map((r) => [r.id, r.payment_status]),
  );
  const acknowledgedMissing = {
    leads: [...acked.leads].filter((id) => !leads.has(id)).length,
    requests: [...acked.requests].filter((id) => !requests.has(id)).length,
    callbacks: [...acked.callbacks].filter((id) => !callbacks.has(id)).length,
    payments: [...acked.payments.keys()].filter((pi) => !pis.has(pi)).length,
    "payment statuses": [...acked.settled].filter(([id, status]) => statuses.get(id) !== status).length,
  };
  // The CRM ends with each request's current payment status (its last event is the latest snapshot).
  let crmOutOfDate = 0;
  for (const [id, status] of statuses) {
    const list = byAggregate.get(id);
    if (list && list[list.length - 1].payment_status !== status) crmOutOfDate++;
  }

  const byOutcome: Record<string, number> = {};
  for (const a of recorder.attempts) {
    const k = a.status === null ? "dropped" : a.replayed ? "replayed" : String(a.status);
    byOutcome[k] = (byOutcome[k] ?? 0) + 1;
    if (a.abandoned && a.status !== null && a.status < 300) byOutcome["accepted after the backend gave up"] = (byOutcome["accepted after the backend gave up"] ?? 0) + 1;
  }
  const logs = ctx.scanner.result({ emails: acked.emails, phones: acked.phones });

  const report: SoakReport = {
    seconds: ctx.opts.seconds,
    concurrency: ctx.opts.concurrency,
    journeys: ctx.stats,
    events: events.length,
    delivered: events.filter((e) => e.state === "delivered").length,
    superseded: events.filter((e) => e.state === "superseded").length,
    crmAttempts: recorder.attempts.length,
    crmAttemptsByOutcome: byOutcome,
    duplicatesSent: recorder.attempts.filter((a) => a.replayed).length,
    kills: ctx.kills,
    unexpectedExits: ctx.unexpectedExits,
    pgRestarts: ctx.pgRestarts,
    crmPhases: ctx.crmPhases,
    destinationPhases: ctx.destinationPhases,
    destinations: {
      ...ctx.destinations,
      monelec: { ...ctx.destinations.monelec, checked: events.length, lost, duplicates: duplicatesAccepted + unknownAccepted, orderViolations },
    },
    retries: events.reduce((n, e) => n + e.attempts, 0) - events.length,
    maxDeliveryDelayMs: delays.length ? delays[delays.length - 1] : 0,
    p95DeliveryDelayMs: delays.length ? delays[Math.floor(delays.length * 0.95)] : 0,
    slowest,
    lost,
    duplicatesAccepted,
    unknownAccepted,
    orderViolations,
    stuck: ctx.stuck,
    partialWrites: partial,
    acknowledgedMissing,
    crmOutOfDate,
    logs,
    drainMs: ctx.drainMs,
    problems: [],
    ok: false,
  };
  const p = report.problems;
  if (report.events === 0) p.push("no event was committed");
  if (lost) p.push(`${lost} committed events never accepted by the CRM`);
  if (duplicatesAccepted) p.push(`${duplicatesAccepted} events accepted twice`);
  if (unknownAccepted) p.push(`${unknownAccepted} accepted events with no crm_events row`);
  if (orderViolations) p.push(`${orderViolations} aggregates whose events the CRM accepted out of order`);
  if (ctx.stuck.pending || ctx.stuck.dead) p.push(`stuck: ${ctx.stuck.pending} pending, ${ctx.stuck.dead} dead`);
  for (const [k, v] of Object.entries(partial)) if (v) p.push(`partial writes: ${v} ${k}`);
  for (const [k, v] of Object.entries(acknowledgedMissing)) if (v) p.push(`acknowledged but missing: ${v} ${k}`);
  if (crmOutOfDate) p.push(`${crmOutOfDate} requests whose last CRM event is not their current payment status`);
  if (logs.leaks.length) p.push(`${logs.leaks.length} log lines leak a secret or personal data`);
  if (ctx.stats.abandoned) p.push(`${ctx.stats.abandoned} journeys abandoned: ${JSON.stringify(ctx.stats.abandonReasons)}`);
  for (const [name, d] of Object.entries(report.destinations)) {
    if (d.lost || d.duplicates || d.orderViolations || d.stuck.pending || d.stuck.dead) {
      p.push(`${name}: lost ${d.lost}, duplicates ${d.duplicates}, order violations ${d.orderViolations}, stuck ${d.stuck.pending} pending ${d.stuck.dead} dead (${d.examples.join("; ")})`);
    }
  }
  if (ctx.unexpectedExits) p.push(`npm start exited on its own ${ctx.unexpectedExits} times`);
  report.ok = p.length === 0;
  return report;
}

export function formatReport(r: SoakReport): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k}: ${v}`).join(", ") || "none";
  const retried5xx = Object.values(r.journeys.retried5xx).reduce((a, b) => a + b, 0);
  return [
    "",
    "──────────────────────────── chaos soak report ────────────────────────────",
    ` traffic window         ${r.seconds} s, ${r.concurrency} concurrent journeys`,
    ` journeys               ${r.journeys.started} started, ${r.journeys.completed} completed, ${r.journeys.abandoned} abandoned`,
    ` steps                  ${r.journeys.stepsOk} ok; retried after 5xx: ${retried5xx} (${kv(r.journeys.retried5xx)}); after no answer: ${r.journeys.retriedNetwork}`,
    ` payments via fallback  ${r.journeys.paymentFallbacks} (the Stripe double died with the stack: the signed event sent again)`,
    ` events                 ${r.events} committed, ${r.delivered} delivered, ${r.superseded} superseded by a newer snapshot`,
    ` CRM attempts           ${r.crmAttempts} (${kv(r.crmAttemptsByOutcome)})`,
    ` CRM phases             ${kv(r.crmPhases)}`,
    ` destinations           lost / duplicates / order violations (checked${"; vendors: records, and emails held as two people"})`,
    ...Object.entries(r.destinations).map(([name, d]) =>
      `   ${name.padEnd(20)} ${d.lost} / ${d.duplicates} / ${d.orderViolations}  (${d.checked}${d.samePersonTwice ? `; same person twice: ${d.samePersonTwice}` : ""})` +
      (r.destinationPhases[name] ? `  phases ${kv(r.destinationPhases[name])}` : "")),
    ` kills survived         ${r.kills} (SIGKILL of the whole npm start process group)`,
    ` pg restarts            ${r.pgRestarts.fast + r.pgRestarts.immediate} (fast: ${r.pgRestarts.fast}, immediate: ${r.pgRestarts.immediate})`,
    ` retries                ${r.retries} (sum(attempts) − events)`,
    ` max delivery delay     ${s(r.maxDeliveryDelayMs)} (p95 ${s(r.p95DeliveryDelayMs)}; backlog drained in ${s(r.drainMs)} after healing)`,
    ...(r.slowest ? [`   slowest event        made at ${r.slowest.createdAtS.toFixed(1)} s, ${r.slowest.attempts} attempts, behind ${r.slowest.earlierInAggregate} earlier events of its lead/request`] : []),
    ` lost                   ${r.lost}`,
    ` duplicates accepted    ${r.duplicatesAccepted} (sent again but answered as replays: ${r.duplicatesSent}; accepted with no event row: ${r.unknownAccepted})`,
    ` order violations       ${r.orderViolations}`,
    ` stuck                  ${r.stuck.pending + r.stuck.dead} (pending ${r.stuck.pending}, dead ${r.stuck.dead})`,
    ` partial writes         ${Object.values(r.partialWrites).reduce((a, b) => a + b, 0)}`,
    ` acknowledged, missing  ${Object.values(r.acknowledgedMissing).reduce((a, b) => a + b, 0)}; CRM not up to date: ${r.crmOutOfDate}`,
    ` log lines              ${r.logs.lines} (${r.logs.json} JSON, ${r.logs.other} other), leaks: ${r.logs.leaks.length}`,
    ` server error lines     ${Object.values(r.logs.errors).reduce((a, b) => a + b, 0)}${Object.entries(r.logs.errors).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `\n   ${String(v).padStart(5)}× ${k}`).join("")}`,
    ` result                 ${r.ok ? "OK" : `FAILED — ${r.problems.join("; ")}`}`,
    "────────────────────────────────────────────────────────────────────────────",
  ].join("\n");
}
