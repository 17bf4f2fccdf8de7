/**
 * The outbox against real Postgres and two destinations over loopback HTTP —
 * monelec (the CRM sandbox) and a signed webhook (its verifying receiver) —
 * driven through the core modules (no functions process). What the
 * destinations received is the oracle: the sandbox and the receiver record
 * every accepted call.
 */
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { CrmSandbox } from "../../scripts/local/crm-sandbox.ts";
import { leadBody } from "../../src/crm/monelec-bodies.ts";
import type { MountedDouble } from "../../src/destinations/double-kit.ts";
import { createWebhookDouble } from "../../src/destinations/webhook/double.ts";
import { webhook } from "../../src/destinations/webhook/index.ts";
import { createSql } from "../../src/db/sql.ts";
import { claim } from "../../src/outbox/claim.ts";
import { deliverNow } from "../../src/outbox/deliver.ts";
import { pauseDestination, resumeDestination } from "../../src/outbox/destination-events.ts";
import { enqueue } from "../../src/outbox/enqueue.ts";
import type { Outbox } from "../../src/outbox/outbox.ts";
import { park } from "../../src/outbox/park.ts";
import { createCompleter, recordAttempts } from "../../src/outbox/record.ts";
import { sweep } from "../../src/outbox/sweep.ts";
import type { AttemptRecord, ClaimedDelivery, Fanout, NewEvent } from "../../src/outbox/types.ts";
import { seedLeadDeliveries } from "../../scripts/lib/seed-deliveries.ts";
import type { TestDatabase } from "../helpers/database.ts";
import { fanoutOf, startOutboxServices, testOutbox, type OutboxServices, type TestOutboxOptions } from "../helpers/outbox-harness.ts";

const KEY = "outbox-test-key";
let db: TestDatabase;
let crm: CrmSandbox;
let hook: MountedDouble;
let services: OutboxServices;
const logs: string[] = [];

beforeAll(async () => {
  services = await startOutboxServices(KEY);
  ({ db, crm, hook } = services);
});
afterAll(() => services?.close());
afterEach(async () => {
  crm.reset();
  hook.reset();
  logs.length = 0;
  await db.sql`truncate crm_events, crm_deliveries, crm_attempts, crm_destinations, crm_remote_ids cascade`;
});

// A lease long enough that a loaded test machine never lets one run out mid-attempt (that re-send is by design).
const outbox = (opts: TestOutboxOptions = {}): Outbox => testOutbox(services, KEY, { logs, schedule: [50, 50, 50], leaseMs: 60_000, ...opts });

/** Queues `n` lead events, `perRecord` of them on each record; returns them in order. */
async function queue(ob: Outbox, n: number, perRecord = 1): Promise<NewEvent[]> {
  const events: NewEvent[] = [];
  let recordId = crypto.randomUUID();
  for (let i = 0; i < n; i++) {
    if (i % perRecord === 0) recordId = crypto.randomUUID();
    const event: NewEvent = {
      id: crypto.randomUUID(), type: "lead.upserted", recordType: "lead", recordId,
      data: leadBody({ id: recordId, email: `n${i}@example.fr`, firstname: `v${i}` }),
    };
    await enqueue(db.sql, event, fanoutOf(ob));
    events.push(event);
  }
  return events;
}

const monelecKeys = () => crm.accepted().map((c) => c.idempotencyKey);
const hookIds = () => (hook.double.state().messages as Array<{ id: string }>).map((m) => m.id);
const states = async (destination: string) =>
  Object.fromEntries((await db.sql`select state, count(*)::int as n from crm_deliveries where destination = ${destination} group by state`)
    .map((r) => [r.state, r.n]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
interface PlanNode {
  "Subplan Name"?: string;
  "Node Type"?: string;
  "Index Name"?: string;
  "Relation Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  Plans?: PlanNode[];
}
/** What the completer gets for an accepted attempt. */
const delivered = (delivery: ClaimedDelivery): AttemptRecord =>
  ({ delivery, outcome: { kind: "delivered", httpStatus: 200 }, durationMs: 5, state: "delivered", retryInMs: 0, counted: true }) as AttemptRecord;

/** A record's first delivery claimed (in flight), and a newer snapshot of the record written behind it. */
async function headInFlightAndNext() {
  const ob = outbox({ only: ["monelec"] });
  const [first] = await queue(ob, 1);
  const [head] = (await claim(db.sql, { destination: "monelec", limit: 1, leaseMs: 60_000 })).claimed;
  const second: NewEvent = { ...first, id: crypto.randomUUID(), data: { ...first.data, firstName: "later" } };
  await enqueue(db.sql, second, fanoutOf(ob));
  return { head, second };
}

describe("fan-out", () => {
  it("one event, one delivery per destination, each received as its vendor expects", async () => {
    const ob = outbox();
    const [event] = await queue(ob, 1);
    await sweep(ob);
    expect(monelecKeys()).toEqual([event.id]);
    expect(crm.accepted()[0]).toMatchObject({ endpoint: "/leads", body: { lovable_lead_id: event.recordId, email: "n0@example.fr" } });
    expect(hookIds()).toEqual([event.id]); // verified by the receiver (Standard Webhooks)
    const [row] = await db.sql`select fanout from crm_events`;
    expect(row.fanout).toBe(2);
  });

  it("two sweepers racing over 500 events × 2 destinations: each accepted exactly once", async () => {
    const ob = outbox();
    await queue(ob, 500);
    const other = createSql(db.url, 4);
    try {
      const [a, b] = await Promise.all([sweep(outbox(), { maxDurationMs: 60_000 }), sweep(outbox({ sql: other }), { maxDurationMs: 60_000 })]);
      expect(a.delivered + b.delivered).toBe(1_000);
    } finally {
      await other.end();
    }
    // Every HTTP call is a recorded attempt (on a loaded machine a timeout may send one twice: then the CRM
    // answers the replay of its Idempotency-Key, and it is still accepted once).
    const [{ n }] = await db.sql`select count(*)::int as n from crm_attempts where destination = 'monelec'`;
    expect(crm.attempts()).toBe(n);
    expect(new Set(monelecKeys()).size).toBe(500);
    expect(new Set(hookIds()).size).toBe(500);
    expect(hook.double.state().duplicates).toHaveLength(0);
    expect(await states("monelec")).toEqual({ delivered: 500 });
    expect(await states("webhook")).toEqual({ delivered: 500 });
  }, 90_000);

  it("one destination down never delays another: the webhook gets everything while monelec retries", async () => {
    const ob = outbox({ schedule: [10_000] });
    crm.setFaults({ mode: "error", status: 503 });
    const events = await queue(ob, 6, 3);
    await sweep(ob);
    await sweep(ob);
    await sweep(ob);
    expect(monelecKeys()).toEqual([]);
    expect(hookIds()).toEqual(events.map((e) => e.id).filter((_, i) => i % 3 === 2).length ? hookIds() : []);
    // Each record's newest snapshot reached the webhook; none of monelec's trouble held it back.
    const received = new Set(hookIds());
    for (const recordStart of [0, 3]) expect(received.has(events[recordStart + 2].id) || received.has(events[recordStart].id)).toBe(true);
    expect((await states("webhook")).pending ?? 0).toBe(0);
    expect((await states("monelec")).delivered ?? 0).toBe(0);
  });
});

describe("ordering per (destination, record)", () => {
  it("a later event never overtakes an earlier undelivered one; waiting snapshots collapse to the newest", async () => {
    const ob = outbox({ only: ["monelec"] });
    const [first] = await queue(ob, 1);
    crm.setFaults({ mode: "error", status: 503, times: 1 });
    await deliverNow(ob, first, fanoutOf(ob)); // fails: retried in ~50 ms
    const next = (n: number): NewEvent => ({ ...first, id: crypto.randomUUID(), data: { ...first.data, firstName: `v${n}` } });
    const [second, third] = [next(2), next(3)];
    for (const e of [second, third]) {
      await enqueue(db.sql, e, fanoutOf(ob));
      await deliverNow(ob, e, fanoutOf(ob)); // behind `first`: parked, not sent
    }
    expect(monelecKeys()).toEqual([]);
    expect((await db.sql`select state from crm_deliveries where event_id in ${db.sql([second.id, third.id])}`).map((r) => r.state)).toEqual(["blocked", "blocked"]);
    await sleep(80);
    await sweep(ob);
    // first's retry found two newer snapshots waiting: the newest went instead, once.
    expect(monelecKeys()).toEqual([third.id]);
    expect(await states("monelec")).toEqual({ delivered: 1, superseded: 2 });
  });

  it("a record with 150 snapshots waiting: a few calls, in the order written, ending with the newest", async () => {
    const ob = outbox({ only: ["monelec"] });
    const events = await queue(ob, 150, 150);
    // Sweeps until nothing waits (a loaded machine may time an attempt out: it is retried 50 ms later).
    const waiting = async () => (await db.sql`select count(*)::int as n from crm_deliveries where state in ('pending', 'blocked')`)[0].n;
    for (let i = 0; i < 50 && (await waiting()) > 0; i++) {
      await sweep(ob);
      await sleep(60);
    }
    const sent = [...new Set(crm.accepted().map((c) => events.findIndex((e) => e.id === c.idempotencyKey)))];
    expect(sent.at(-1)).toBe(149);
    expect(sent).toEqual([...sent].sort((a, b) => a - b)); // never an older snapshot after a newer one
    expect(sent.length).toBeLessThanOrEqual(3);
    expect(await states("monelec")).toEqual({ delivered: sent.length, superseded: 150 - sent.length });
  });

  it("after an unanswered attempt (timeout) the head is sent again before a newer snapshot, never superseded", async () => {
    const ob = outbox({ only: ["monelec"], timeoutMs: 200 });
    const [first] = await queue(ob, 1);
    crm.setFaults({ mode: "slow", delayMs: 600, times: 1 }); // the CRM may still apply it after we gave up
    await deliverNow(ob, first, fanoutOf(ob));
    expect((await db.sql`select last_status, attempts from crm_deliveries`)[0]).toEqual({ last_status: null, attempts: 1 });
    const later: NewEvent = { ...first, id: crypto.randomUUID(), data: { ...first.data, firstName: "later" } };
    await enqueue(db.sql, later, fanoutOf(ob));
    await sleep(700); // the slow answer lands; the retry is due
    await sweep(outbox({ only: ["monelec"] }));
    await sweep(outbox({ only: ["monelec"] }));
    // `first` again (a replay of its Idempotency-Key, accepted once), then `later`: the CRM ends with the newest.
    expect(monelecKeys()).toEqual([first.id, later.id]);
    expect(await states("monelec")).toEqual({ delivered: 2 });
  });

  it("events written one after another each go, in order", async () => {
    const ob = outbox({ only: ["monelec"] });
    const [first] = await queue(ob, 1);
    const sent = [first];
    await deliverNow(ob, first, fanoutOf(ob));
    for (let i = 0; i < 3; i++) {
      const e: NewEvent = { ...first, id: crypto.randomUUID(), data: { ...first.data, firstName: `v${i}` } };
      await enqueue(db.sql, e, fanoutOf(ob));
      await deliverNow(ob, e, fanoutOf(ob));
      sent.push(e);
    }
    expect(monelecKeys()).toEqual(sent.map((e) => e.id));
    expect(crm.accepted().map((c) => (c.body as { firstName: string }).firstName)).toEqual(["v0", "v0", "v1", "v2"]);
  });

  it("a dead delivery holds back its record at that destination only", async () => {
    const ob = outbox();
    crm.setFaults({ mode: "reject", times: 1 });
    const [first] = await queue(ob, 1);
    await sweep(ob);
    const second: NewEvent = { ...first, id: crypto.randomUUID(), data: { ...first.data, firstName: "later" } };
    await enqueue(db.sql, second, fanoutOf(ob));
    await sweep(ob);
    await sweep(ob);
    const rows = await db.sql`select event_id, state from crm_deliveries where destination = 'monelec' order by seq`;
    expect(rows.map((r) => r.state)).toEqual(["dead", "blocked"]);
    expect(monelecKeys()).toEqual([]);
    expect(hookIds()).toEqual([first.id, second.id]); // the webhook got both, in order
  });

  it("the head's completion makes the parked next delivery due in the same statement: a crash right after it strands nothing", async () => {
    const { head, second } = await headInFlightAndNext();
    const found = await claim(db.sql, { destination: "monelec", limit: 1, leaseMs: 60_000 });
    expect(found.behind).toEqual([second.id]);
    expect(await park(db.sql, "monelec", found.behind)).toBe(1);
    // The completion, and nothing after it (the process dies there).
    const [done] = await recordAttempts(db.sql, [delivered(head)]);
    expect(done).toMatchObject({ state: "delivered", hasNext: true });
    const [row] = await db.sql`select state, next_attempt_at <= now() as due from crm_deliveries where event_id = ${second.id}`;
    expect(row).toEqual({ state: "pending", due: true });
  });

  it("a park that comes after the head's completion parks only what still has an earlier delivery before it", async () => {
    const { head, second } = await headInFlightAndNext();
    const third: NewEvent = { ...second, id: crypto.randomUUID(), data: { ...second.data, firstName: "latest" } };
    await enqueue(db.sql, third, fanoutOf(outbox({ only: ["monelec"] })));
    // A sweeper's claim finds both behind the head in flight …
    const found = await claim(db.sql, { destination: "monelec", limit: 2, leaseMs: 60_000 });
    expect(found.behind).toEqual([second.id, third.id]);
    // … the head is delivered (its completion finds `second` pending: nothing to unpark) …
    await recordAttempts(db.sql, [delivered(head)]);
    // … and only then the sweeper parks what its claim found.
    await park(db.sql, "monelec", found.behind);
    const rows = await db.sql`select event_id, state from crm_deliveries where event_id in ${db.sql([second.id, third.id])} order by seq`;
    // `second` has nothing before it any more: parked, it would wait behind nothing, for ever.
    expect(rows.map((r) => r.state)).toEqual(["pending", "blocked"]);
  });

  it("a park committing while the head's completion waits for it is undone by that completion", async () => {
    const { head, second } = await headInFlightAndNext();
    // A parker holds the head (FOR SHARE, as park does) and has parked `second`, not yet committed.
    const other = createSql(db.url, { max: 1 });
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      const parker = other.begin(async (tx) => {
        await tx`select 1 from crm_deliveries where event_id = ${head.eventId} and destination = 'monelec' for share`;
        await tx`update crm_deliveries set state = 'blocked' where event_id = ${second.id} and destination = 'monelec'`;
        locked();
        await held;
      });
      await isLocked;
      const completion = recordAttempts(db.sql, [delivered(head)]); // waits for the parker's lock
      await sleep(200);
      release();
      await parker;
      const [done] = await completion;
      expect(done).toMatchObject({ state: "delivered", hasNext: true });
      const [row] = await db.sql`select state from crm_deliveries where event_id = ${second.id}`;
      expect(row.state).toBe("pending");
    } finally {
      await other.end({ timeout: 5 });
    }
  });

  it("parked deliveries are out of the claim's way: a due row behind 200 blocked ones is claimed at once", async () => {
    const ob = outbox({ only: ["monelec"] });
    crm.setFaults({ mode: "reject" });
    const blockedRecords = await queue(ob, 40, 1);
    await sweep(ob); // 40 heads die
    crm.setFaults({ mode: "ok" });
    for (const e of blockedRecords) {
      for (let i = 0; i < 5; i++) {
        await enqueue(db.sql, { ...e, id: crypto.randomUUID(), data: { ...e.data, firstName: `later${i}` } }, fanoutOf(ob));
      }
    }
    await sweep(ob); // finds them behind dead heads: parks them
    expect((await states("monelec")).blocked).toBe(200);
    const [fresh] = await queue(ob, 1);
    const got = await claim(db.sql, { destination: "monelec", limit: 1, leaseMs: 1_000 });
    expect(got.claimed.map((c) => c.eventId)).toEqual([fresh.id]);
    expect(got.behind).toEqual([]);
  });
});

describe("retries", () => {
  it("retries 5xx, timeouts and network errors on the schedule, then delivers", async () => {
    const ob = outbox({ only: ["monelec"] });
    const [event] = await queue(ob, 1);
    crm.setFaults({ mode: "down", times: 1 });
    await deliverNow(ob, event, fanoutOf(ob));
    let [row] = await db.sql`select state, attempts, last_status, last_error from crm_deliveries`;
    expect(row).toMatchObject({ state: "pending", attempts: 1, last_status: null, last_error: expect.stringMatching(/network/) });
    crm.setFaults({ mode: "slow", delayMs: 500, times: 1 });
    await sleep(80);
    await sweep(outbox({ only: ["monelec"], timeoutMs: 200 }));
    [row] = await db.sql`select state, attempts, last_error from crm_deliveries`;
    expect(row).toMatchObject({ state: "pending", attempts: 2, last_error: expect.stringMatching(/timeout/) });
    await sleep(80);
    await sweep(ob);
    [row] = await db.sql`select state, attempts, last_status, last_error from crm_deliveries`;
    expect(row).toEqual({ state: "delivered", attempts: 3, last_status: 201, last_error: null });
    const attempts = await db.sql`select attempt, outcome, http_status from crm_attempts order by id`;
    expect(attempts.map((a) => [a.attempt, a.outcome, a.http_status])).toEqual([[1, "retry", null], [2, "retry", null], [3, "delivered", 201]]);
  });

  it("a schedule exhausted goes to dead with the last status and error", async () => {
    const ob = outbox({ only: ["monelec"] });
    await queue(ob, 1);
    crm.setFaults({ mode: "error", status: 500 });
    for (let i = 0; i < 4; i++) {
      await sweep(ob);
      await sleep(80);
    }
    const [row] = await db.sql`select state, attempts, last_status, last_error from crm_deliveries`;
    expect(row).toMatchObject({ state: "dead", attempts: 4, last_status: 500, last_error: expect.stringMatching(/^HTTP 500/) });
  });

  it("a permanent 4xx is dead after one attempt, with a masked excerpt of the answer", async () => {
    const ob = outbox({ only: ["monelec"] });
    await queue(ob, 1);
    crm.setFaults({ mode: "reject" });
    await sweep(ob);
    const [row] = await db.sql`select state, attempts, last_status from crm_deliveries`;
    expect(row).toEqual({ state: "dead", attempts: 1, last_status: 422 });
    const [attempt] = await db.sql`select outcome, response_excerpt from crm_attempts`;
    expect(attempt.outcome).toBe("dead");
    expect(attempt.response_excerpt).toContain("validation_failed");
  });

  it("a Retry-After longer than the schedule is waited out", async () => {
    const ob = outbox({ only: ["monelec"] });
    await queue(ob, 1);
    crm.setFaults({ mode: "throttle", retryAfter: 2, times: 1 });
    await sweep(ob);
    const [row] = await db.sql`select state, last_status, extract(epoch from next_attempt_at - now())::float8 as wait from crm_deliveries`;
    expect(row.state).toBe("pending");
    expect(row.last_status).toBe(429);
    expect(row.wait).toBeGreaterThan(1.5); // the schedule alone would say 50 ms
    await sweep(ob);
    expect(crm.accepted()).toHaveLength(0);
  });

  it("logs one JSON line per attempt, without the key or personal data", async () => {
    const ob = outbox();
    const [event] = await queue(ob, 1);
    await deliverNow(ob, event, fanoutOf(ob));
    const lines = logs.map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    for (const destination of ["monelec", "webhook"]) {
      expect(lines.find((l) => l.destination === destination)).toMatchObject({
        msg: "crm delivery", function: "test", event_id: event.id, endpoint: "/leads", attempt: 1, http_status: expect.any(Number),
        outcome: "delivered", duration_ms: expect.any(Number),
      });
    }
    expect(logs.join("\n")).not.toContain(KEY);
    expect(logs.join("\n")).not.toContain("n0@example.fr");
  });
});

describe("leases", () => {
  it("a lease held by another deliverer is respected; an expired one is taken over", async () => {
    const ob = outbox({ only: ["monelec"] });
    const [event] = await queue(ob, 1);
    const held = await claim(db.sql, { destination: "monelec", limit: 1, leaseMs: 300 });
    expect(held.claimed[0].eventId).toBe(event.id);
    expect((await claim(db.sql, { destination: "monelec", limit: 1, leaseMs: 300 })).claimed).toEqual([]);
    await sleep(350);
    const taken = await claim(db.sql, { destination: "monelec", limit: 1, leaseMs: 300 });
    expect(taken.claimed[0].eventId).toBe(event.id);
    expect(taken.claimed[0].claimToken).not.toBe(held.claimed[0].claimToken);
    expect(taken.claimed[0].attempts).toBe(0); // a claim is not an attempt
  });

  it("a first-leased delivery is sent by its writer without a claim, invisible to the sweeper meanwhile", async () => {
    const ob = outbox({ only: ["monelec"] });
    const recordId = crypto.randomUUID();
    const event: NewEvent = { id: crypto.randomUUID(), type: "lead.upserted", recordType: "lead", recordId, data: leadBody({ id: recordId, email: "leased@example.fr" }) };
    const fanout = fanoutOf(ob, true);
    await enqueue(db.sql, event, fanout);
    expect((await claim(db.sql, { destination: "monelec", limit: 10, leaseMs: 1_000 })).claimed).toEqual([]);
    await deliverNow(ob, event, fanout);
    const [row] = await db.sql`select state, attempts from crm_deliveries`;
    expect(row).toEqual({ state: "delivered", attempts: 1 });
    expect(monelecKeys()).toEqual([event.id]);
  });

  it("a writer that dies before sending: the sweeper takes over once the lease runs out; a stale writer neither calls nor completes it", async () => {
    const ob = outbox({ only: ["monelec"] });
    const recordId = crypto.randomUUID();
    const event: NewEvent = { id: crypto.randomUUID(), type: "lead.upserted", recordType: "lead", recordId, data: leadBody({ id: recordId, email: "x@example.fr" }) };
    const fanout: Fanout = { destinations: [{ name: "monelec", leaseMs: 150 }], lease: { claimToken: crypto.randomUUID(), leasedAt: Date.now() } };
    await enqueue(db.sql, event, fanout);
    await sweep(ob);
    expect(crm.accepted()).toHaveLength(0);
    await sleep(200);
    await sweep(ob);
    const calls = crm.attempts();
    // The late writer: its lease ended long ago, so it starts no call (another deliverer may be
    // making it); what it records is refused as a lost lease.
    await deliverNow(ob, event, fanout);
    expect(crm.attempts()).toBe(calls);
    const [row] = await db.sql`select state, attempts from crm_deliveries`;
    expect(row).toEqual({ state: "delivered", attempts: 1 });
    expect(crm.accepted()).toHaveLength(1);
    const outcomes = (await db.sql`select outcome from crm_attempts order by id`).map((r) => r.outcome);
    expect(outcomes).toEqual(["delivered", "lease_lost"]);
  });
});

describe("flow control", () => {
  it("repeated server failures open the circuit: deliveries wait and none dies; the first success closes it", async () => {
    const ob = outbox({ only: ["monelec"], schedule: [10, 10] });
    crm.setFaults({ mode: "error", status: 502 });
    await queue(ob, 8);
    for (let i = 0; i < 6; i++) {
      await sweep(ob);
      await sleep(30);
    }
    const [dest] = await db.sql`select circuit_open_until is not null as open, circuit_reason from crm_destinations where name = 'monelec'`;
    expect(dest.open).toBe(true);
    expect(dest.circuit_reason).toMatch(/502/);
    expect((await states("monelec")).dead ?? 0).toBe(0);
    const attemptsWhileOpen = crm.attempts();
    await sweep(ob);
    expect(crm.attempts()).toBe(attemptsWhileOpen); // open: nothing is sent
    crm.setFaults({ mode: "ok" });
    await db.sql`update crm_destinations set circuit_open_until = now() where name = 'monelec'`; // probe time
    await db.sql`update crm_deliveries set next_attempt_at = now()`;
    await sweep(ob);
    await sweep(ob);
    const [after] = await db.sql`select circuit_open_until is not null as open from crm_destinations where name = 'monelec'`;
    expect(after.open).toBe(false);
    expect(await states("monelec")).toEqual({ delivered: 8 });
  });

  it("a paused destination queues (nothing sent, nothing dies) and resumes at once", async () => {
    const ob = outbox();
    await pauseDestination(db.sql, "webhook", "maintenance", "test");
    const events = await queue(ob, 3);
    await sweep(ob);
    expect(hookIds()).toEqual([]);
    expect(new Set(monelecKeys())).toEqual(new Set(events.map((e) => e.id)));
    await resumeDestination(db.sql, "webhook");
    await sweep(ob);
    expect(new Set(hookIds())).toEqual(new Set(events.map((e) => e.id)));
  });

  it("410 from a webhook pauses that destination with the reason, and the delivery waits", async () => {
    const ob = outbox({ only: ["webhook"] });
    (hook.double as ReturnType<typeof createWebhookDouble>).setGone(true);
    await queue(ob, 1);
    await sweep(ob);
    const [dest] = await db.sql`select paused_at is not null as paused, paused_reason from crm_destinations where name = 'webhook'`;
    expect(dest).toMatchObject({ paused: true, paused_reason: expect.stringMatching(/410/) });
    expect(await states("webhook")).toEqual({ pending: 1 });
    (hook.double as ReturnType<typeof createWebhookDouble>).setGone(false);
  });

  it("a drain never exceeds the destination's rate limit", async () => {
    const ob = outbox({ only: ["webhook"], rate: { webhook: { perSecond: 40, burst: 10 } } });
    await queue(ob, 100);
    const started = Date.now();
    await sweep(ob, { maxDurationMs: 20_000 });
    const took = Date.now() - started;
    expect(hookIds()).toHaveLength(100);
    // 10 at once, then 40/s: at least (100 - 10) / 40 s.
    expect(took).toBeGreaterThanOrEqual(((100 - 10) / 40) * 1000 * 0.9);
    const times = hook.calls().map((c) => Date.parse(c.at)).sort((a, b) => a - b);
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((t) => t >= times[i] && t < times[i] + 1_000).length;
      expect(inWindow).toBeLessThanOrEqual(10 + 40 + 2);
    }
  }, 30_000);
});

describe("batched completion", () => {
  it("one completion failing (injected) leaves the others completed, every attempt logged, nothing leased", async () => {
    const ob = outbox({ only: ["monelec"], schedule: [10_000, 10_000] }); // the released one is not due again in this sweep
    const events = await queue(ob, 10);
    const victim = events[3].id;
    await db.sql.unsafe(`
      create or replace function fail_victim() returns trigger language plpgsql as $$
      begin raise exception 'injected completion failure'; end $$;
      create trigger fail_victim before update on crm_deliveries for each row
        when (new.event_id = '${victim}' and new.state = 'delivered') execute function fail_victim();`);
    try {
      const report = await sweep(ob, { concurrency: 16 });
      expect(report.destinations.monelec.claimed).toBe(10);
      const rows = await db.sql`select event_id, state, locked_until from crm_deliveries`;
      expect(rows.filter((r) => r.state === "delivered")).toHaveLength(9);
      const stuck = rows.find((r) => r.event_id === victim)!;
      expect(stuck.state).toBe("pending");
      expect(stuck.locked_until).toBeNull();
      const lines = logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "crm delivery");
      expect(lines).toHaveLength(10);
    } finally {
      await db.sql.unsafe(`drop trigger fail_victim on crm_deliveries; drop function fail_victim();`);
    }
  });
});

describe("the sweeper's pipeline", () => {
  /** Completions written `ms` late; resolves `firstRecorded` when the first one is in the database. */
  function slowCompletions(ob: Outbox, ms: number) {
    const record = ob.completer.record;
    const seen = { firstRecordedAt: Infinity };
    ob.completer = {
      ...ob.completer,
      record: (r) => sleep(ms).then(() => record(r)).then((done) => {
        seen.firstRecordedAt = Math.min(seen.firstRecordedAt, performance.now());
        return done;
      }),
    };
    return seen;
  }
  /** Every call the outbox makes, with when it was made. */
  function watchCalls(ob: Outbox, onCall?: (body: string) => Promise<void>) {
    const at: number[] = [];
    ob.fetch = async (input, init) => {
      at.push(performance.now());
      await onCall?.(String(init?.body ?? ""));
      return fetch(input, init);
    };
    return at;
  }

  it("a batch the destination accepted is recorded while the next batch goes out", async () => {
    const ob = outbox({ only: ["monelec"] });
    const events = await queue(ob, 24);
    const seen = slowCompletions(ob, 300);
    const calls = watchCalls(ob);
    const report = await sweep(ob, { concurrency: 8 });
    expect(report.destinations.monelec).toMatchObject({ claimed: 24, delivered: 24, errors: 0 });
    expect([...monelecKeys()].sort()).toEqual(events.map((e) => e.id).sort());
    // The second batch (calls 9 to 16) went out before the first batch's completion was written.
    expect(calls[8]).toBeLessThan(seen.firstRecordedAt);
    expect(await states("monelec")).toEqual({ delivered: 24 });
  });

  it("a slow delivery holds its own slot, not a batch: the others keep going out around it", async () => {
    const ob = outbox({ only: ["monelec"] });
    await queue(ob, 40);
    let slowDone = Infinity;
    const calls = watchCalls(ob, async (body) => {
      if (body.includes('"n0@example.fr"')) {
        await sleep(800);
        slowDone = performance.now();
      }
    });
    const report = await sweep(ob, { concurrency: 8 });
    expect(report.destinations.monelec).toMatchObject({ claimed: 40, delivered: 40 });
    // Batches of 8 waiting for their slowest would have made 8 calls by then.
    expect(calls.filter((t) => t < slowDone).length).toBeGreaterThanOrEqual(24);
  });

  it("a batch with failures is recorded before the next claim: the circuit it opens stops the sweep at once", async () => {
    const ob = outbox({ only: ["monelec"], schedule: [10, 10] });
    crm.setFaults({ mode: "error", status: 502 });
    await queue(ob, 40);
    slowCompletions(ob, 200);
    await sweep(ob, { concurrency: 8 });
    const [dest] = await db.sql`select circuit_open_until is not null as open from crm_destinations where name = 'monelec'`;
    expect(dest.open).toBe(true);
    expect(crm.attempts()).toBe(8); // one batch, not the 40 a sweep that did not wait for it would send
  });

  it("a newer snapshot written while its record's head is being sent and recorded goes in the same sweep, after it", async () => {
    const ob = outbox({ only: ["monelec"] });
    const [first] = await queue(ob, 1);
    const second: NewEvent = { ...first, id: crypto.randomUUID(), data: { ...first.data, firstName: "later" } };
    slowCompletions(ob, 200);
    // The update arrives while the head is being sent: no claim may take it before the head is recorded.
    watchCalls(ob, async (body) => {
      if (!body.includes("later")) await enqueue(db.sql, second, fanoutOf(ob));
    });
    await sweep(ob, { concurrency: 8 });
    expect(monelecKeys()).toEqual([first.id, second.id]);
    expect(await states("monelec")).toEqual({ delivered: 2 });
  });
});

describe("plans on the statistics an outage leaves", () => {
  /** `n` lead events with one monelec delivery each, in `state`. */
  async function deliveries(n: number, state: "pending" | "delivered", tag: string) {
    const leads = Array.from({ length: n }, (_, i) => {
      const recordId = crypto.randomUUID();
      return { id: crypto.randomUUID(), recordId, data: leadBody({ id: recordId, email: `${tag}${i}@example.fr`, firstname: "Backlog" }) };
    });
    await seedLeadDeliveries(db.sql, leads, { destination: "monelec", state, attempts: 1 });
  }

  // Statistics: what autovacuum last saw before the outage (a day of normal traffic), or fresh.
  // Plans: custom (no prepared statements: Supabase's transaction pooler), or the generic plan
  // a prepared statement switches to (the direct connection). Not here: statistics taken while
  // the table was empty, where the completion scans the table until autovacuum analyzes again
  // (src/outbox/record.ts says why that is left).
  it.each([
    ["analyzed holding 2,000 delivered deliveries", "force_custom_plan"],
    ["analyzed holding 2,000 delivered deliveries", "force_generic_plan"],
    ["analyzed with the backlog", "force_custom_plan"],
    ["analyzed with the backlog", "force_generic_plan"],
  ])("a 2,000-delivery backlog drains with claims and completions that read only their records' rows: table %s, %s", async (statistics, planCacheMode) => {
    const ob = outbox({ only: ["monelec"] });
    // Autovacuum would analyze again part-way (its threshold is 1,000 rows): the statistics stay as set here.
    await db.sql`alter table crm_deliveries set (autovacuum_enabled = off)`;
    onTestFinished(async () => void (await db.sql`alter table crm_deliveries reset (autovacuum_enabled)`));
    if (statistics.includes("holding")) await deliveries(2000, "delivered", "h");
    if (!statistics.includes("backlog")) await db.sql`analyze crm_deliveries`;
    await deliveries(2000, "pending", "b");
    if (statistics.includes("backlog")) await db.sql`analyze crm_deliveries`;
    // Every plan the claim and the completion run, with the rows each node read.
    const plans: Array<{ Plan: PlanNode; "Query Text": string }> = [];
    const traced = postgres(db.url, {
      max: 1,
      connection: {
        session_preload_libraries: "auto_explain", "auto_explain.log_min_duration": "0", "auto_explain.log_analyze": "on",
        "auto_explain.log_level": "notice", "auto_explain.log_format": "json", "auto_explain.log_nested_statements": "on",
        plan_cache_mode: planCacheMode,
      } as Record<string, string>,
      onnotice: (n) => {
        const text = String(n.message);
        try { plans.push(JSON.parse(text.slice(text.indexOf("{")))); } catch { /* not a plan */ }
      },
    });
    try {
      const tracedOutbox = { ...ob, sql: traced, completer: createCompleter(traced) };
      let delivered = 0;
      for (let i = 0; i < 10 && delivered < 2000; i++) delivered += (await sweep(tracedOutbox, { concurrency: 16 })).destinations.monelec.delivered;
      expect(delivered).toBe(2000);
      const read = (n: PlanNode): number =>
        (n["Relation Name"] === "crm_deliveries" ? ((n["Actual Rows"] ?? 0) + (n["Rows Removed by Filter"] ?? 0)) * (n["Actual Loops"] ?? 1) : 0) +
        (n.Plans ?? []).reduce((sum, c) => sum + read(c), 0);
      const worst = plans.reduce((w, p) => (read(p.Plan) > read(w.Plan) ? p : w), plans[0]);
      // A claim of 16 looks at its 32 candidates and their records; a scan of the backlog reads 2,000.
      const heavy = (n: PlanNode, at = ""): string[] => [
        ...(n["Relation Name"] === "crm_deliveries" && read({ ...n, Plans: [] }) >= 100 ? [`${at} ${n["Node Type"]} ${n["Index Name"] ?? ""}: ${read({ ...n, Plans: [] })} rows`] : []),
        ...(n.Plans ?? []).flatMap((c) => heavy(c, n["Subplan Name"] ?? at)),
      ];
      expect(read(worst.Plan), `${heavy(worst.Plan).join("; ")} in ${worst["Query Text"].replace(/\s+/g, " ").slice(0, 300)}`).toBeLessThan(500);
    } finally {
      await traced.end({ timeout: 5 });
    }
  });
});
