/**
 * The outbox against real Postgres and the CRM sandbox over loopback HTTP,
 * driven directly through the core modules (no functions process).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startCrmSandbox, type CrmSandbox } from "../../scripts/local/crm-sandbox.ts";
import { leadBody } from "../../src/crm/monelec-bodies.ts";
import { monelecDestination } from "../../src/crm/monelec.ts";
import { createSql, type Pool } from "../../src/db/sql.ts";
import { createLogger } from "../../src/log.ts";
import { claimDue } from "../../src/outbox/claim.ts";
import { deliverNow, type DeliveryContext } from "../../src/outbox/deliver.ts";
import { insertEvent } from "../../src/outbox/enqueue.ts";
import { sweep } from "../../src/outbox/sweep.ts";
import type { NewCrmEvent } from "../../src/outbox/types.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

const KEY = "outbox-test-key";
let db: TestDatabase;
let crm: CrmSandbox;
const logs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  crm = await startCrmSandbox({ apiKey: KEY, quiet: true });
});
afterAll(async () => {
  await crm?.close();
  await db?.drop();
});
afterEach(async () => {
  crm.reset();
  await db.sql`delete from crm_events`;
});

function context(sql: Pool = db.sql, overrides: Partial<DeliveryContext> = {}): DeliveryContext {
  return {
    sql,
    destination: monelecDestination({ apiUrl: crm.url, apiKey: KEY }),
    timeoutMs: 2_000,
    retryScheduleMs: [50, 50, 50],
    leaseMs: 5_000,
    log: createLogger({}, (l) => logs.push(l)),
    origin: "test",
    ...overrides,
  };
}

/** Queues `n` lead events, `perAggregate` of them on each aggregate. */
async function queue(n: number, perAggregate = 1): Promise<NewCrmEvent[]> {
  const events: NewCrmEvent[] = [];
  let aggregateId = crypto.randomUUID();
  for (let i = 0; i < n; i++) {
    if (i % perAggregate === 0) aggregateId = crypto.randomUUID();
    const event = {
      id: crypto.randomUUID(),
      endpoint: "/leads" as const,
      aggregateType: "lead" as const,
      aggregateId,
      body: leadBody({ id: aggregateId, email: `n${i}@example.fr`, firstname: `v${i}` }),
    };
    await insertEvent(db.sql, event, "pending");
    events.push(event);
  }
  return events;
}

const states = async () =>
  Object.fromEntries((await db.sql`select state, count(*)::int as n from crm_events group by state`).map((r) => [r.state, r.n]));

describe("sweeping", () => {
  it("two sweepers racing over 1,000 due events: each event is sent and accepted exactly once", async () => {
    await queue(1_000);
    const other = createSql(db.url, 4);
    try {
      const [a, b] = await Promise.all([
        sweep(context(db.sql), { concurrency: 16, maxDurationMs: 60_000 }),
        sweep(context(other), { concurrency: 16, maxDurationMs: 60_000 }),
      ]);
      expect(a.delivered + b.delivered).toBe(1_000);
      expect(a.delivered).toBeGreaterThan(0);
      expect(b.delivered).toBeGreaterThan(0);
    } finally {
      await other.end();
    }
    expect(crm.attempts()).toBe(1_000); // no event was even sent twice
    const keys = crm.accepted().map((c) => c.idempotencyKey);
    expect(new Set(keys).size).toBe(1_000);
    expect(await states()).toEqual({ delivered: 1_000 });
  }, 90_000);

  it("sends the contract's headers and the stored body", async () => {
    const [event] = await queue(1);
    await sweep(context());
    const [call] = crm.accepted();
    expect(call.idempotencyKey).toBe(event.id);
    expect(call.endpoint).toBe("/leads");
    expect(call.body).toMatchObject({ lovable_lead_id: event.aggregateId, email: "n0@example.fr" });
  });
});

describe("ordering", () => {
  it("a later event of an aggregate never overtakes an earlier undelivered one", async () => {
    const [first, second, third] = await queue(3, 3);
    crm.setFaults({ mode: "error", status: 503, times: 1 });
    await deliverNow(context(), first); // fails, will retry in ~50 ms
    expect(await claimDue(db.sql, { limit: 10, leaseMs: 1_000, eventId: second.id })).toEqual([]);
    expect(crm.accepted()).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 100));
    await sweep(context());
    await sweep(context());
    await sweep(context());
    expect(crm.accepted().map((c) => c.idempotencyKey)).toEqual([first.id, second.id, third.id]);
  });

  it("a dead event holds back the later ones until it is retried", async () => {
    const [first, second] = await queue(2, 2);
    crm.setFaults({ mode: "reject", times: 1 });
    await sweep(context());
    await sweep(context());
    const rows = await db.sql`select id, state from crm_events order by seq`;
    expect(rows.map((r) => r.state)).toEqual(["dead", "pending"]);
    expect(crm.accepted()).toHaveLength(0);
    await db.sql`update crm_events set state = 'pending', attempts = 0 where id = ${first.id}`;
    await sweep(context());
    await sweep(context());
    expect(crm.accepted().map((c) => c.idempotencyKey)).toEqual([first.id, second.id]);
  });

  it("the immediate path sends the aggregate's next events when the CRM accepts", async () => {
    const [first, second] = await queue(2, 2);
    await deliverNow(context(), first);
    expect(crm.accepted().map((c) => c.idempotencyKey)).toEqual([first.id, second.id]);
  });
});

describe("retries", () => {
  it("retries 5xx, timeouts and network errors on the schedule, then delivers", async () => {
    const [event] = await queue(1);
    crm.setFaults({ mode: "down", times: 1 });
    await deliverNow(context(), event);
    let [row] = await db.sql`select state, attempts, last_status, last_error from crm_events`;
    expect(row).toMatchObject({ state: "pending", attempts: 1, last_status: null, last_error: expect.stringMatching(/network/) });
    crm.setFaults({ mode: "slow", delayMs: 500, times: 1 });
    await new Promise((r) => setTimeout(r, 80));
    await sweep(context(db.sql, { timeoutMs: 200 }));
    [row] = await db.sql`select state, attempts, last_error from crm_events`;
    expect(row).toMatchObject({ state: "pending", attempts: 2, last_error: "timeout after 200 ms" });
    await new Promise((r) => setTimeout(r, 80));
    await sweep(context());
    [row] = await db.sql`select state, attempts, last_status, last_error from crm_events`;
    expect(row).toEqual({ state: "delivered", attempts: 3, last_status: 201, last_error: null });
  });

  it("a schedule exhausted goes to dead with the last status and error", async () => {
    await queue(1);
    crm.setFaults({ mode: "error", status: 500 });
    for (let i = 0; i < 4; i++) {
      await sweep(context());
      await new Promise((r) => setTimeout(r, 80));
    }
    const [row] = await db.sql`select state, attempts, last_status, last_error from crm_events`;
    expect(row).toMatchObject({ state: "dead", attempts: 4, last_status: 500, last_error: expect.stringMatching(/^HTTP 500/) });
  });

  it("a permanent 4xx is dead after one attempt", async () => {
    await queue(1);
    crm.setFaults({ mode: "reject" });
    await sweep(context());
    const [row] = await db.sql`select state, attempts, last_status from crm_events`;
    expect(row).toEqual({ state: "dead", attempts: 1, last_status: 422 });
  });

  it("a Retry-After longer than the schedule is waited out", async () => {
    await queue(1);
    crm.setFaults({ mode: "throttle", retryAfter: 2, times: 1 });
    await sweep(context());
    const [row] = await db.sql`
      select state, last_status, extract(epoch from next_attempt_at - now())::float8 as wait from crm_events`;
    expect(row.state).toBe("pending");
    expect(row.last_status).toBe(429);
    expect(row.wait).toBeGreaterThan(1.5); // the schedule alone would say 50 ms
    await sweep(context());
    expect(crm.accepted()).toHaveLength(0);
  });

  it("a lease held by another deliverer is respected; an expired one is taken over", async () => {
    const [event] = await queue(1);
    const [held] = await claimDue(db.sql, { limit: 1, leaseMs: 300 });
    expect(held.id).toBe(event.id);
    expect(await claimDue(db.sql, { limit: 1, leaseMs: 300 })).toEqual([]);
    await new Promise((r) => setTimeout(r, 350));
    const [taken] = await claimDue(db.sql, { limit: 1, leaseMs: 300 });
    expect(taken.id).toBe(event.id);
    expect(taken.claimToken).not.toBe(held.claimToken);
  });

  it("logs one JSON line per attempt, without the key or personal data", async () => {
    logs.length = 0;
    const [event] = await queue(1);
    await deliverNow(context(), event);
    const lines = logs.map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      function: "test", event_id: event.id, endpoint: "/leads", attempt: 1, http_status: 201, outcome: "delivered",
      duration_ms: expect.any(Number),
    });
    expect(logs.join("\n")).not.toContain(KEY);
    expect(logs.join("\n")).not.toContain("n0@example.fr");
  });
});

describe("first lease (an event written for a brand-new aggregate)", () => {
  async function queueLeased(leaseMs: number) {
    const aggregateId = crypto.randomUUID();
    const event = {
      id: crypto.randomUUID(),
      endpoint: "/leads" as const,
      aggregateType: "lead" as const,
      aggregateId,
      body: leadBody({ id: aggregateId, email: "leased@example.fr" }),
    };
    const lease = { claimToken: crypto.randomUUID(), leaseMs };
    await insertEvent(db.sql, event, "pending", undefined, lease);
    return { event, lease };
  }

  it("is delivered by its writer without a claim, and is invisible to the sweeper meanwhile", async () => {
    const { event, lease } = await queueLeased(5_000);
    expect(await claimDue(db.sql, { limit: 10, leaseMs: 1_000 })).toEqual([]);
    await deliverNow(context(), event, lease);
    const [row] = await db.sql`select state, attempts from crm_events where id = ${event.id}`;
    expect(row).toEqual({ state: "delivered", attempts: 1 });
    expect(crm.accepted().map((c) => c.idempotencyKey)).toEqual([event.id]);
  });

  it("is taken over by the sweeper when its writer dies before sending it", async () => {
    const { event } = await queueLeased(200);
    await sweep(context());
    expect(crm.accepted()).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 250));
    await sweep(context());
    const [row] = await db.sql`select state, attempts from crm_events where id = ${event.id}`;
    expect(row).toEqual({ state: "delivered", attempts: 2 });
  });

  it("a stale writer cannot complete an event the sweeper took over", async () => {
    const { event, lease } = await queueLeased(100);
    await new Promise((r) => setTimeout(r, 150));
    await sweep(context()); // delivered by the sweeper under a new claim token
    await deliverNow(context(), event, lease); // the late writer sends again (same Idempotency-Key)
    const [row] = await db.sql`select state, attempts from crm_events where id = ${event.id}`;
    expect(row).toEqual({ state: "delivered", attempts: 2 });
    expect(crm.accepted()).toHaveLength(1);
  });
});
