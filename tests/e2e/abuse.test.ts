/**
 * Abuse limits and access, against the Deno-served functions: a per-IP rate
 * limit kept in Postgres, the honeypot, and crm-dispatch's service-role check.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validCallback, validLead, validSubmit } from "../../scripts/lib/sample-bodies.ts";
import { eventually, startTestStack, type TestStack } from "../helpers/test-stack.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ RATE_LIMIT_PER_MINUTE: "3" });
});
afterAll(async () => {
  await stack?.close();
});

const from = (ip: string) => ({ headers: { "x-forwarded-for": ip } });
const count = async (table: string) => (await stack.db.sql`select count(*)::int as n from ${stack.db.sql(table)}`)[0].n;

describe("rate limit", () => {
  it("answers 429 with Retry-After past the limit, writing nothing; other IPs and functions are not affected", async () => {
    for (let i = 0; i < 3; i++) expect((await stack.call("form-start", validLead(), from("203.0.113.7"))).status).toBe(200);
    const leads = await count("leads");
    const events = await count("crm_events");
    const limited = await stack.call("form-start", validLead(), from("203.0.113.7"));
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await limited.json()).error).toMatchObject({ code: "rate_limited", message: expect.stringMatching(/réessayez/) });
    expect(await count("leads")).toBe(leads);
    expect(await count("crm_events")).toBe(events);

    expect((await stack.call("form-start", validLead(), from("203.0.113.8"))).status).toBe(200);
    expect((await stack.call("contact-callback", validCallback(), from("203.0.113.7"))).status).toBe(200);
  });

  it("covers form-submit and contact-callback too", async () => {
    for (let i = 0; i < 3; i++) expect((await stack.call("form-submit", validSubmit(), from("198.51.100.1"))).status).toBe(200);
    const requests = await count("requests");
    const customers = await count("customers");
    expect((await stack.call("form-submit", validSubmit(), from("198.51.100.1"))).status).toBe(429);
    expect(await count("requests")).toBe(requests);
    expect(await count("customers")).toBe(customers);
    for (let i = 0; i < 3; i++) await stack.call("contact-callback", validCallback(), from("198.51.100.2"));
    expect((await stack.call("contact-callback", validCallback(), from("198.51.100.2"))).status).toBe(429);
  });

  it("keeps one row per client key (older windows are dropped)", async () => {
    await stack.db.sql`insert into rate_limits (key, window_start, hits) values ('form-start:192.0.2.1', now() - interval '5 minutes', 99)`;
    expect((await stack.call("form-start", validLead(), from("192.0.2.1"))).status).toBe(200);
    const rows = await stack.db.sql`select hits from rate_limits where key = 'form-start:192.0.2.1'`;
    expect(rows).toEqual([{ hits: 1 }]);
  });
});

describe("honeypot", () => {
  it("a filled honeypot looks accepted but stores and sends nothing", async () => {
    await eventually(async () => (await stack.db.sql`select 1 from crm_events where state = 'pending'`).length === 0);
    stack.crmSandbox!.reset();
    const before = { leads: await count("leads"), requests: await count("requests"), callbacks: await count("callbacks"), events: await count("crm_events") };
    const lead = await stack.call("form-start", { ...validLead(), website: "http://spam.example" }, from("192.0.2.50"));
    expect(lead.status).toBe(200);
    expect((await lead.json()).lead_id).toMatch(/^[0-9a-f-]{36}$/);
    const submit = await stack.call("form-submit", { ...validSubmit(), website: "x" }, from("192.0.2.50"));
    expect(Object.keys(await submit.json()).sort()).toEqual(["customer_id", "request_id"]);
    const callback = await stack.call("contact-callback", { ...validCallback(), website: "x" }, from("192.0.2.50"));
    expect(callback.status).toBe(200);
    // Invalid data behind a filled honeypot is not revealed as invalid either.
    expect((await stack.call("form-start", { email: "nope", website: "x" }, from("192.0.2.50"))).status).toBe(200);
    expect({ leads: await count("leads"), requests: await count("requests"), callbacks: await count("callbacks"), events: await count("crm_events") })
      .toEqual(before);
    await new Promise((r) => setTimeout(r, 300));
    expect(stack.crmSandbox!.attempts()).toBe(0);
  });

  it("an empty honeypot is a normal submission", async () => {
    expect((await stack.call("form-start", { ...validLead(), website: "" }, from("192.0.2.51"))).status).toBe(200);
  });
});

describe("crm-dispatch access", () => {
  const dispatch = (headers: Record<string, string>) =>
    fetch(`${stack.functionsUrl}/crm-dispatch`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });

  it("refuses no key and the anon key; runs with the service-role key", async () => {
    expect((await dispatch({})).status).toBe(401);
    const anon = await dispatch({ authorization: `Bearer ${stack.anonKey}` });
    expect(anon.status).toBe(401);
    expect((await anon.json()).error.code).toBe("unauthorized");
    const service = await dispatch({ authorization: `Bearer ${stack.serviceRoleKey}` });
    expect(service.status).toBe(200);
    expect(await service.json()).toMatchObject({ enabled: true, claimed: expect.any(Number) });
  });
});
