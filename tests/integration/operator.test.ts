/**
 * The operator's repairs against real Postgres and two destinations on
 * loopback: retry with the record's current data, discard, send-now after an
 * outage, backfills (concurrent, and paced by the destination's rate limit).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CrmSandbox } from "../../scripts/local/crm-sandbox.ts";
import { leadBody, requestBody } from "../../src/crm/monelec-bodies.ts";
import type { MountedDouble } from "../../src/destinations/double-kit.ts";
import { webhook } from "../../src/destinations/webhook/index.ts";
import { loadRequestSnapshot } from "../../src/db/request-snapshot.ts";
import { backfill } from "../../src/operator/backfill.ts";
import { discardDead, retryDead, sendPendingNow } from "../../src/operator/retry.ts";
import { enqueue } from "../../src/outbox/enqueue.ts";
import type { Outbox } from "../../src/outbox/outbox.ts";
import { sweep } from "../../src/outbox/sweep.ts";
import type { NewEvent } from "../../src/outbox/types.ts";
import type { TestDatabase } from "../helpers/database.ts";
import { fanoutOf, startOutboxServices, testOutbox, type OutboxServices, type TestOutboxOptions } from "../helpers/outbox-harness.ts";

const KEY = "operator-test-key";
let db: TestDatabase;
let crm: CrmSandbox;
let hook: MountedDouble;
let services: OutboxServices;

beforeAll(async () => {
  services = await startOutboxServices(KEY);
  ({ db, crm, hook } = services);
});
afterAll(() => services?.close());
afterEach(async () => {
  crm.reset();
  hook.reset();
  await db.sql`truncate crm_events, crm_deliveries, crm_attempts, crm_destinations, crm_remote_ids, payments, requests, customers, leads, callbacks cascade`;
});

const outbox = (opts: TestOutboxOptions = {}): Outbox => testOutbox(services, KEY, opts);
const bodiesFor = (recordKey: string, id: string) => crm.accepted().map((c) => c.body as Record<string, unknown>).filter((b) => b[recordKey] === id);
const hookMessages = () => hook.double.state().messages as Array<{ id: string; data: Record<string, unknown> }>;

async function newRequest(): Promise<string> {
  const contact = { email: `c-${crypto.randomUUID().slice(0, 8)}@example.fr`, phone: "+33612345678", full_name: "Jean Dupont", client_type: "particulier" };
  const [c] = await db.sql`insert into customers ${db.sql(contact)} returning id`;
  // A request keeps the contact details it was submitted with.
  const [r] = await db.sql`insert into requests ${db.sql({ customer_id: c.id, type_raccordement: "definitif", address: "1 rue de la Paix", city: "Paris", zip_code: "75002", ...contact })} returning id`;
  return r.id;
}
async function requestEvent(requestId: string): Promise<NewEvent> {
  const snapshot = (await loadRequestSnapshot(db.sql, requestId))!;
  return { id: crypto.randomUUID(), type: "request.upserted", recordType: "request", recordId: requestId, data: requestBody(snapshot) };
}

describe("retry and discard", () => {
  it("a 422-dead request: the data is fixed, retry sends the fixed snapshot, the later `paid` follows; discard unblocks another", async () => {
    const ob = outbox({ only: ["monelec"] });
    const [fixable, hopeless] = [await newRequest(), await newRequest()];
    // The CRM refuses both requests (e.g. a bad city), then each is paid.
    crm.setFaults({ mode: "reject", times: 2 });
    for (const id of [fixable, hopeless]) await enqueue(db.sql, await requestEvent(id), fanoutOf(ob));
    await sweep(ob);
    for (const id of [fixable, hopeless]) {
      await db.sql`update requests set payment_status = 'paid' where id = ${id}`;
      await enqueue(db.sql, await requestEvent(id), fanoutOf(ob));
    }
    await sweep(ob);
    expect(crm.accepted()).toHaveLength(0); // dead heads hold their records back
    expect((await db.sql`select state from crm_deliveries order by seq`).map((r) => r.state)).toEqual(["dead", "dead", "blocked", "blocked"]);

    await db.sql`update requests set city = 'Lyon' where id = ${fixable}`;
    expect(await retryDead(db.sql, { recordId: fixable })).toEqual({ requeued: 1, gone: 0 });
    expect(await discardDead(db.sql, { recordId: hopeless })).toBe(1);
    await sweep(ob);
    await sweep(ob);

    const fixed = bodiesFor("lovable_request_id", fixable);
    expect(fixed.map((b) => [b.city, b.payment_status])).toEqual([["Lyon", "paid"]]); // current data, paid included
    const unblocked = bodiesFor("lovable_request_id", hopeless);
    expect(unblocked.map((b) => b.payment_status)).toEqual(["paid"]); // the later event went after the discard
    expect((await db.sql`select state, count(*)::int as n from crm_deliveries group by state order by state`))
      .toEqual([{ state: "delivered", n: 2 }, { state: "discarded", n: 1 }, { state: "superseded", n: 2 }]);
  });
});

describe("after an outage", () => {
  it("retry --pending-now delivers 1,000 waiting records within seconds, each destination receiving only each record's newest snapshot", async () => {
    const ob = outbox({ schedule: [3_600_000] });
    crm.setFaults({ mode: "error", status: 503 });
    hook.setFaults({ mode: "error", status: 503 });
    const leads: string[] = [];
    for (let i = 0; i < 1_000; i++) leads.push(crypto.randomUUID());
    await db.sql`insert into leads (id, email) select value::uuid, 'lead-' || value || '@example.fr' from jsonb_array_elements_text(${db.sql.json(leads)})`;
    const first = (id: string, n: number): NewEvent => ({
      id: crypto.randomUUID(), type: "lead.upserted", recordType: "lead", recordId: id,
      data: leadBody({ id, email: "x@example.fr", firstname: `v${n}` }),
    });
    for (const id of leads) await enqueue(db.sql, first(id, 1), fanoutOf(ob));
    await sweep(ob, { maxDurationMs: 60_000 }); // every head fails: next try in an hour
    for (const n of [2, 3]) for (const id of leads) await enqueue(db.sql, first(id, n), fanoutOf(ob));
    crm.setFaults({ mode: "ok" });
    hook.setFaults({ mode: "ok" });
    await sweep(ob, { maxDurationMs: 60_000 });
    expect(crm.accepted()).toHaveLength(0); // still waiting for their scheduled slot

    expect(await sendPendingNow(db.sql, {})).toBeGreaterThanOrEqual(2_000); // every record's head, at both destinations
    const started = Date.now();
    await sweep(ob, { concurrency: 32, maxDurationMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(20_000);
    const monelec = crm.accepted().map((c) => c.body as { lovable_lead_id: string; firstName: string });
    expect(monelec).toHaveLength(1_000);
    expect(new Set(monelec.map((b) => b.lovable_lead_id)).size).toBe(1_000);
    expect(new Set(monelec.map((b) => b.firstName))).toEqual(new Set(["v3"]));
    const hooks = hookMessages();
    expect(hooks).toHaveLength(1_000);
    expect(new Set(hooks.map((m) => m.data.firstName))).toEqual(new Set(["v3"]));
  }, 120_000);
});

describe("backfill", () => {
  it("two concurrent backfills produce exactly one event per record and destination", async () => {
    await db.sql`insert into leads (email) select 'b-' || g || '@example.fr' from generate_series(1, 300) g`;
    await db.sql`insert into callbacks (phone, full_name) select '+33612345678', 'Cb ' || g from generate_series(1, 50) g`;
    const [a, b] = await Promise.all([backfill(db.sql, ["monelec", "webhook"]), backfill(db.sql, ["monelec", "webhook"])]);
    expect(a.queued.lead + b.queued.lead).toBe(300);
    expect(a.queued.callback + b.queued.callback).toBe(50);
    const [counts] = await db.sql`select (select count(*)::int from crm_events) as events,
      (select count(*)::int from crm_deliveries where destination = 'monelec') as monelec,
      (select count(*)::int from crm_deliveries where destination = 'webhook') as webhook,
      (select count(distinct record_id)::int from crm_events) as records`;
    expect(counts).toEqual({ events: 350, monelec: 350, webhook: 350, records: 350 });
    // A destination added later only gets what it never had.
    expect((await backfill(db.sql, ["monelec"])).queued).toEqual({ lead: 0, callback: 0, request: 0 });
  });

  it("a backfill of 1,000 records to a new destination never exceeds its rate limit", async () => {
    const ob = outbox({ only: ["webhook"], rate: { perSecond: 250, burst: 25 } });
    await db.sql`insert into leads (email) select 'r-' || g || '@example.fr' from generate_series(1, 1000) g`;
    const report = await backfill(db.sql, ["webhook"]);
    expect(report.queued.lead).toBe(1_000);
    await sweep(ob, { maxDurationMs: 30_000 });
    expect(hookMessages()).toHaveLength(1_000);
    const times = hook.calls().map((c) => Date.parse(c.at)).sort((x, y) => x - y);
    let worst = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i] - times[j] >= 1_000) j++;
      worst = Math.max(worst, i - j + 1);
    }
    expect(worst).toBeLessThanOrEqual(25 + 250 + 5); // burst + one second of refill (timer slack)
    expect(times.at(-1)! - times[0]).toBeGreaterThanOrEqual(((1_000 - 25) / 250) * 1_000 * 0.85);
  }, 60_000);
});
