/**
 * Operating the outbox (issue #11) against real Postgres and two destinations
 * on loopback (the CRM sandbox, a verifying webhook receiver):
 * - a sweep survives a failing claim statement; a lease that runs out is no attempt;
 * - the schedule's tick calls crm-dispatch only when a delivery is due, records
 *   the call, and `crm status` shows pg_net's answer (pg_net and Vault stood in
 *   for by schemas with their documented shapes: supabase/pg_net's
 *   `net.http_post(url, body, params, headers, timeout_milliseconds) → bigint`
 *   and `net._http_response(id, status_code, …, timed_out, error_msg)`;
 *   Vault's `vault.decrypted_secrets(name, decrypted_secret)`);
 * - crm-dispatch records its runs and runs retention;
 * - retention deletes what is past it, keeps what an operator needs, in bounded steps;
 * - forget leaves no row with the person's email or phone in any table.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CrmSandbox } from "../../scripts/local/crm-sandbox.ts";
import { LOCAL_SERVICE_ROLE_KEY } from "../../scripts/local/dev-keys.ts";
import { createAppDeps } from "../../src/app-deps.ts";
import { loadConfig } from "../../src/config.ts";
import { callbackBody, leadBody, requestBody } from "../../src/crm/monelec-bodies.ts";
import { loadRequestSnapshot } from "../../src/db/request-snapshot.ts";
import { webhook } from "../../src/destinations/webhook/index.ts";
import { crmDispatch } from "../../src/functions/crm-dispatch.ts";
import { createLogger } from "../../src/log.ts";
import { backfill } from "../../src/operator/backfill.ts";
import { forget, parseSubject } from "../../src/operator/forget.ts";
import { runRetention } from "../../src/operator/retention.ts";
import { outboxStatus } from "../../src/operator/status.ts";
import { claim } from "../../src/outbox/claim.ts";
import { enqueue } from "../../src/outbox/enqueue.ts";
import type { Outbox } from "../../src/outbox/outbox.ts";
import { sweep } from "../../src/outbox/sweep.ts";
import type { NewEvent } from "../../src/outbox/types.ts";
import type { MountedDouble } from "../../src/destinations/double-kit.ts";
import type { TestDatabase } from "../helpers/database.ts";
import { fanoutOf, startOutboxServices, testOutbox, type OutboxServices } from "../helpers/outbox-harness.ts";

const KEY = "operations-test-key";
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
  await db.sql`truncate crm_events, crm_deliveries, crm_attempts, crm_destinations, crm_remote_ids, crm_sweeps, crm_dispatch_runs,
               crm_pruned_records, payments, requests, customers, leads, callbacks, rate_limit_buckets, stripe_events cascade`;
  await db.sql`update crm_maintenance set retention_days = 30, retention_started_at = null, retention_finished_at = null,
               retention_more = false, last_retention = null`;
});

const outbox = (only?: string[]): Outbox => testOutbox(services, KEY, { logs, only });
const fanout = (ob: Outbox) => fanoutOf(ob);
const env = () => ({ MONELEC_API_KEY: KEY, MONELEC_API_URL: crm.url, ...webhook.localEnv(services.doubles.urlOf("webhook")) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function leadEvent(ob: Outbox, email: string, phone: string | null = null): Promise<NewEvent> {
  const [lead] = await db.sql`insert into leads (email, phone, firstname) values (${email}, ${phone}, 'Marie') returning *`;
  const event: NewEvent = { id: crypto.randomUUID(), type: "lead.upserted", recordType: "lead", recordId: lead.id, data: leadBody(lead as never) };
  await enqueue(db.sql, event, fanout(ob));
  return event;
}

describe("a sweep survives", () => {
  it("a claim statement that fails once for one destination: the other delivers everything, the next sweep the rest", async () => {
    const ob = outbox();
    for (let i = 0; i < 20; i++) await leadEvent(ob, `s${i}@example.fr`);
    await db.sql.unsafe(`
      create sequence fail_once; -- a sequence: its count survives the failed statement's rollback
      create or replace function fail_claim() returns trigger language plpgsql as $$
      begin
        if nextval('fail_once') = 1 then raise exception 'injected claim failure'; end if;
        return new;
      end $$;
      create trigger fail_claim before update on crm_deliveries for each row
        when (new.destination = 'monelec' and new.claim_token is not null and new.claim_token is distinct from old.claim_token)
        execute function fail_claim();`);
    try {
      const first = await sweep(ob);
      expect(first.destinations.monelec.errors).toBe(1);
      expect(first.destinations.webhook).toMatchObject({ delivered: 20, errors: 0 });
      expect(logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "crm sweep step failed" && l.destination === "monelec")).toHaveLength(1);
      // The failed statement left nothing leased: the next sweep takes every monelec delivery.
      expect((await db.sql`select count(*)::int as n from crm_deliveries where locked_until > now()`)[0].n).toBe(0);
      const second = await sweep(ob);
      expect(second.destinations.monelec.delivered).toBe(20);
      expect(new Set(crm.accepted().map((c) => c.idempotencyKey)).size).toBe(20);
    } finally {
      await db.sql.unsafe(`drop trigger fail_claim on crm_deliveries; drop function fail_claim(); drop sequence fail_once;`);
    }
  });

  it("a lease that runs out without an attempt counts none: the delivery's one attempt is the sweep's", async () => {
    const ob = outbox(["monelec"]);
    await leadEvent(ob, "lease@example.fr");
    const held = await claim(db.sql, { destination: "monelec", limit: 1, leaseMs: 100 }); // an isolate killed right after
    expect(held.claimed).toHaveLength(1);
    await sleep(150);
    await sweep(ob);
    const [row] = await db.sql`select state, attempts from crm_deliveries`;
    expect(row).toEqual({ state: "delivered", attempts: 1 });
    expect((await db.sql`select attempt, outcome from crm_attempts`).map((r) => [r.attempt, r.outcome])).toEqual([[1, "delivered"]]);
  });
});

describe("the schedule (pg_cron → crm_dispatch_tick → pg_net → crm-dispatch)", () => {
  beforeAll(async () => {
    await db.sql.unsafe(`
      create schema if not exists vault;
      create table if not exists vault.decrypted_secrets (name text primary key, decrypted_secret text);
      create schema if not exists net;
      create table if not exists net._http_response (id bigint, status_code integer, content_type text, headers jsonb,
        content text, timed_out boolean, error_msg text, created timestamptz not null default now());
      create table if not exists net.calls (id bigserial primary key, url text, body jsonb, headers jsonb, timeout_milliseconds int);
      create or replace function net.http_post(url text, body jsonb default '{}', params jsonb default '{}',
          headers jsonb default '{"Content-Type": "application/json"}', timeout_milliseconds int default 5000)
        returns bigint language sql as $$
          insert into net.calls (url, body, headers, timeout_milliseconds) values (url, body, headers, timeout_milliseconds) returning id $$;`);
  });
  afterAll(async () => {
    await db.sql.unsafe(`drop schema net cascade; drop schema vault cascade;`);
  });
  afterEach(async () => {
    await db.sql.unsafe(`truncate net.calls, net._http_response, vault.decrypted_secrets`);
  });

  const tick = async () => (await db.sql`select crm_dispatch_tick() as r`)[0].r as string | null;
  const calls = () => db.sql`select url, body, headers from net.calls order by id`;

  it("calls crm-dispatch only when a delivery is due, once at a time, and says when Vault lacks the key", async () => {
    const ob = outbox(["monelec"]);
    expect(await tick()).toBeNull(); // nothing queued
    const event = await leadEvent(ob, "tick@example.fr");
    await db.sql`update crm_deliveries set next_attempt_at = now() + interval '1 hour'`;
    expect(await tick()).toBeNull(); // not due yet
    await db.sql`update crm_deliveries set next_attempt_at = now(), locked_until = now() + interval '1 minute'`;
    expect(await tick()).toBeNull(); // leased: someone is on it
    await db.sql`update crm_deliveries set locked_until = null`;
    await db.sql`insert into crm_destinations (name, paused_at) values ('monelec', now())`;
    expect(await tick()).toBeNull(); // its destination is paused
    await db.sql`update crm_destinations set paused_at = null`;
    expect(await calls()).toHaveLength(0);

    // Due, but Vault has no key: no call, and the reason is recorded (once a minute).
    await db.sql`insert into vault.decrypted_secrets values ('crm_dispatch_url', 'https://ref.supabase.co/functions/v1/crm-dispatch')`;
    expect(await tick()).toBeNull();
    expect(await tick()).toBeNull();
    expect(await db.sql`select problem from crm_sweeps`).toEqual([{ problem: "Vault has no crm_dispatch_service_role_key" }]);

    await db.sql`insert into vault.decrypted_secrets values ('crm_dispatch_service_role_key', 'the-key')`;
    const request = await tick();
    expect(request).not.toBeNull();
    const [call] = await calls();
    const [sweepRow] = await db.sql`select id, request_id from crm_sweeps where problem is null`;
    expect(call).toMatchObject({
      url: "https://ref.supabase.co/functions/v1/crm-dispatch",
      headers: { authorization: "Bearer the-key", "content-type": "application/json" },
      body: { sweep_id: Number(sweepRow.id) },
    });
    expect(sweepRow.request_id).toBe(request);
    expect(await tick()).toBeNull(); // that call is still running
    expect(await calls()).toHaveLength(1);

    // pg_net's answer: 401 (a wrong key in Vault) is what status shows.
    await db.sql`insert into net._http_response (id, status_code, content) values (${request}, 401, '{"error":"unauthorized"}')`;
    const status = await outboxStatus(db.sql, ["monelec"]);
    expect(status.sweeps[0]).toMatchObject({ trigger: "cron", request_id: Number(request), http_status: 401 });
    expect(status.sweeps[0].outcome).toMatch(/HTTP 401.*service-role key/);
    expect(status.sweeps[1].outcome).toBe("not called: Vault has no crm_dispatch_service_role_key");

    // Once the run of that call has finished, the next tick may call again.
    await db.sql`insert into crm_dispatch_runs (sweep_id, finished_at) values (${sweepRow.id}, now())`;
    expect(await tick()).not.toBeNull();
    expect(event.id).toBeTruthy();
  });

  it("crm-dispatch records its run under the call's sweep id, and runs retention when due", async () => {
    const deps = createAppDeps(loadConfig({ DATABASE_URL: db.url, SUPABASE_SERVICE_ROLE_KEY: LOCAL_SERVICE_ROLE_KEY, ...env() }),
      { sql: db.sql, log: createLogger({}, (l) => logs.push(l)) });
    await leadEvent(outbox(), "run@example.fr");
    const [s] = await db.sql`insert into crm_sweeps (trigger, request_id) values ('cron', 7) returning id`;
    const res = await crmDispatch(deps)(new Request("http://x/crm-dispatch", {
      method: "POST", headers: { authorization: `Bearer ${LOCAL_SERVICE_ROLE_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ sweep_id: Number(s.id) }),
    }));
    expect(res.status).toBe(200);
    const [run] = await db.sql`select sweep_id, claimed, delivered, errors, error, finished_at, retention from crm_dispatch_runs`;
    expect(run).toMatchObject({ sweep_id: s.id, claimed: 2, delivered: 2, errors: 0, error: null });
    expect(run.finished_at).not.toBeNull();
    expect(run.retention).toMatchObject({ deliveries: 0, more: false });
    const status = await outboxStatus(db.sql);
    expect(status.runs[0]).toMatchObject({ claimed: 2, delivered: 2, unfinished: false });
    expect(status.sweeps[0].outcome).toBe("ok"); // its run finished (pg_net's table has no answer for it)
    expect(status.retention.days).toBe(30);
    // Retention is not due again within the hour.
    expect((await runRetention(db.sql)).ran).toBe(false);
  });
});

describe("retention", () => {
  const age = (table: string, column: string, days: number, where: string) =>
    db.sql.unsafe(`update ${table} set ${column} = now() - interval '${days} days' where ${where}`);

  it("deletes finished deliveries, their events and attempt logs past CRM_RETENTION_DAYS; keeps dead, pending and recent ones", async () => {
    const ob = outbox();
    const old = await leadEvent(ob, "old@example.fr");
    const mixed = await leadEvent(ob, "mixed@example.fr");
    await sweep(ob);
    const recent = await leadEvent(ob, "recent@example.fr");
    await sweep(ob);
    await db.sql`update crm_deliveries set state = 'dead' where event_id = ${mixed.id} and destination = 'webhook'`;
    const waiting = await leadEvent(ob, "waiting@example.fr");
    for (const e of [old, mixed, waiting]) {
      await age("crm_deliveries", "updated_at", 40, `event_id = '${e.id}'`);
      await age("crm_events", "created_at", 40, `id = '${e.id}'`);
    }
    await age("crm_attempts", "at", 40, `event_id in ('${old.id}', '${mixed.id}')`);
    await age("crm_deliveries", "updated_at", 10, `event_id = '${recent.id}'`);
    // Written while the bridge was off, 40 days ago: one whose lead is gone, one whose lead was never sent.
    const [gone, unsent] = [crypto.randomUUID(), (await db.sql`insert into leads (email) values ('unsent@example.fr') returning id`)[0].id];
    for (const recordId of [gone, unsent]) {
      await db.sql`insert into crm_events (id, type, record_type, record_id, data, fanout, created_at)
                   values (gen_random_uuid(), 'lead.upserted', 'lead', ${recordId}, '{}', 0, now() - interval '40 days')`;
    }
    await db.sql`insert into rate_limit_buckets (key, window_start, hits) values (sha256('old'), now() - interval '10 minutes', 3), (sha256('now'), date_bin('1 minute', now(), timestamptz 'epoch'), 1)`;
    await db.sql`insert into stripe_events (id, type, received_at) values ('evt_old', 'x', now() - interval '91 days'), ('evt_new', 'x', now() - interval '80 days')`;

    const r = await runRetention(db.sql, { days: 30, batch: 2 }); // tiny batches: several steps
    expect(r).toMatchObject({ ran: true, more: false });
    expect(r.steps).toBeGreaterThan(1);
    expect(r.deleted).toMatchObject({ deliveries: 3, events: 1, skipped_events: 1, rate_limits: 1, stripe_events: 1 });
    expect(r.deleted.attempts).toBe(4);

    const left = await db.sql`select e.id, d.destination, d.state from crm_events e left join crm_deliveries d on d.event_id = e.id order by e.seq, d.destination`;
    const by = (id: string) => left.filter((x) => x.id === id).map((x) => `${x.destination}:${x.state}`);
    expect(by(old.id)).toEqual([]);
    expect(by(mixed.id)).toEqual(["webhook:dead"]);
    expect(by(recent.id)).toEqual(["monelec:delivered", "webhook:delivered"]);
    expect(by(waiting.id)).toEqual(["monelec:pending", "webhook:pending"]);
    expect((await db.sql`select record_id from crm_events where fanout = 0`).map((x) => x.record_id)).toEqual([unsent]);
    expect((await db.sql`select key = sha256('now') as now from rate_limit_buckets`).map((x) => x.now)).toEqual([true]);
    expect((await db.sql`select id from stripe_events`).map((x) => x.id)).toEqual(["evt_new"]);

    // A backfill does not send again what retention pruned.
    const before = crm.accepted().length;
    const queued = await backfill(db.sql, ["monelec"]);
    expect(queued.queued.lead).toBe(1); // only "unsent"
    await sweep(ob);
    // (the waiting one was due anyway)
    expect(crm.accepted().slice(before).map((c) => (c.body as { email: string }).email).sort()).toEqual(["unsent@example.fr", "waiting@example.fr"]);

    expect((await runRetention(db.sql, { days: 30 })).ran).toBe(false); // done for the hour
  });
});

describe("forget", () => {
  const X_EMAIL = "erase.me@example.fr";
  const X_PHONE = "+33698765432";
  const Y_EMAIL = "keep.me@example.fr";
  const Y_PHONE = "+33611122233";

  async function person(ob: Outbox, email: string, phone: string, paid: boolean) {
    await leadEvent(ob, email, phone);
    const [cb] = await db.sql`insert into callbacks (full_name, phone) values ('Marie Curie', ${phone}) returning *`;
    await enqueue(db.sql, { id: crypto.randomUUID(), type: "callback.created", recordType: "callback", recordId: cb.id, data: callbackBody(cb as never) }, fanout(ob));
    const [c] = await db.sql`insert into customers (email, phone, full_name, client_type) values (${email}, ${phone}, 'Marie Curie', 'particulier') returning id`;
    const requests: string[] = [];
    for (const status of paid ? ["paid", "pending"] : ["pending"]) {
      // A request keeps its own copy of the contact details it was submitted with.
      const [r] = await db.sql`insert into requests (customer_id, type_raccordement, address, city, zip_code, payment_status,
                                                     email, phone, full_name, client_type)
                               values (${c.id}, 'definitif', '12 rue Pasteur', 'Paris', '75005', ${status},
                                       ${email}, ${phone}, 'Marie Curie', 'particulier') returning id`;
      await db.sql`insert into payments (request_id, stripe_payment_intent_id, amount, currency, status)
                   values (${r.id}, ${`pi_${crypto.randomUUID().slice(0, 8)}`}, 14900, 'eur', ${status})`;
      const snapshot = (await loadRequestSnapshot(db.sql, r.id))!;
      await enqueue(db.sql, { id: crypto.randomUUID(), type: "request.upserted", recordType: "request", recordId: r.id, data: requestBody(snapshot) }, fanout(ob));
      requests.push(r.id);
    }
    return requests;
  }

  /** Every text, varchar and jsonb column of every public table that contains `needle`, as "table.column". */
  async function whereFound(needle: string): Promise<string[]> {
    const columns = await db.sql<{ table_name: string; column_name: string }[]>`
      select c.table_name, c.column_name from information_schema.columns c
      join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
      where c.table_schema = 'public' and c.data_type in ('text', 'character varying', 'jsonb', 'json')`;
    expect(columns.length).toBeGreaterThan(30);
    const found: string[] = [];
    for (const { table_name, column_name } of columns) {
      const [{ n }] = await db.sql.unsafe(`select count(*)::int as n from ${table_name} where strpos(${column_name}::text, $1) > 0`, [needle]);
      if (n > 0) found.push(`${table_name}.${column_name}`);
    }
    return found.sort();
  }

  it("normalises like the forms, and refuses what is neither an email nor a phone", () => {
    expect(parseSubject("  Erase.Me@Example.FR ")).toEqual({ kind: "email", value: X_EMAIL });
    expect(parseSubject("06 98 76 54 32")).toEqual({ kind: "phone", value: X_PHONE });
    expect(parseSubject("+33 6 98 76 54 32")).toEqual({ kind: "phone", value: X_PHONE });
    expect(parseSubject("hello")).toHaveProperty("error");
    expect(parseSubject("a@b")).toHaveProperty("error");
  });

  it("leaves no row with the person's email, then phone, in any table; names the destinations that had it; others intact", async () => {
    const ob = outbox();
    const [paidRequest] = await person(ob, X_EMAIL, X_PHONE, true);
    await person(ob, Y_EMAIL, Y_PHONE, false);
    await sweep(ob);
    await db.sql`insert into crm_remote_ids (destination, record_id, kind, remote_id)
                 select 'webhook', id, 'contact', 'remote-' || left(id::text, 8) from leads`;
    const eventsOfY = await db.sql`select id from crm_events where data->>'email' = ${Y_EMAIL} or data->>'phone' = ${Y_PHONE} order by id`;
    expect(await whereFound(X_EMAIL)).not.toEqual([]);

    const byEmail = await forget(db.sql, { kind: "email", value: X_EMAIL });
    expect(await whereFound(X_EMAIL)).toEqual([]);
    expect(byEmail.deleted).toMatchObject({ leads: 1, customers: 0, requests: 1, payments: 1, events: 3, deliveries: 6, attempts: 6, remote_ids: 1 });
    expect(byEmail.anonymised).toEqual({ customers: 1, requests: 1 });
    expect(byEmail.received_by.map((r) => [r.destination, r.delivered])).toEqual([["monelec", 3], ["webhook", 3]]);
    expect(byEmail.received_by.find((r) => r.destination === "webhook")!.remote_ids).toHaveLength(1);
    // The paid request stays for the accounts, without the address; its payment too.
    const [kept] = await db.sql`select address, city, zip_code, payment_status from requests where id = ${paidRequest}`;
    expect(kept).toEqual({ address: null, city: null, zip_code: null, payment_status: "paid" });
    expect(await db.sql`select status from payments where request_id = ${paidRequest}`).toEqual([{ status: "paid" }]);

    // The call-back still had the phone: forget by phone (as an operator types it).
    expect(await whereFound(X_PHONE)).toEqual(["callbacks.phone", "crm_events.data"].sort());
    const byPhone = await forget(db.sql, parseSubject("06 98 76 54 32") as { kind: "phone"; value: string });
    expect(byPhone.deleted).toMatchObject({ callbacks: 1, events: 1 });
    expect(await whereFound(X_PHONE)).toEqual([]);
    expect(await whereFound("Curie")).toEqual(["callbacks.full_name", "crm_events.data", "customers.full_name", "requests.full_name"]); // Y's only

    // The other person is untouched.
    expect(await db.sql`select id from crm_events where data->>'email' = ${Y_EMAIL} or data->>'phone' = ${Y_PHONE} order by id`).toEqual(eventsOfY);
    expect((await db.sql`select count(*)::int as n from leads where email = ${Y_EMAIL}`)[0].n).toBe(1);
    expect((await db.sql`select count(*)::int as n from customers where email = ${Y_EMAIL} and phone = ${Y_PHONE}`)[0].n).toBe(1);
    expect((await db.sql`select count(*)::int as n from callbacks where phone = ${Y_PHONE}`)[0].n).toBe(1);
    expect((await db.sql`select count(*)::int as n from crm_deliveries where state = 'delivered'`)[0].n).toBe(6);
  });
});
