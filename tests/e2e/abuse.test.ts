/**
 * Abuse limits and access, against the Deno-served functions: a per-client rate
 * limit kept in Postgres (clients told apart by their socket address, through
 * the local gateway, as on Supabase), the honeypot, and crm-dispatch's
 * service-role check.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validCallback, validLead, validSubmit } from "../../scripts/lib/sample-bodies.ts";
import { postFrom } from "../helpers/call-from.ts";
import { eventually, startTestStack, type TestStack } from "../helpers/test-stack.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ RATE_LIMIT_PER_MINUTE: "3" });
});
afterAll(async () => {
  await stack?.close();
});

const count = async (table: string) => (await stack.db.sql`select count(*)::int as n from ${stack.db.sql(table)}`)[0].n;
/** A call from another client: its own loopback address, as the gateway sees the socket. */
const callFrom = (address: string, name: string, body: unknown, headers: Record<string, string> = {}) =>
  postFrom(address, `${stack.functionsUrl}/${name}`, body, { authorization: `Bearer ${stack.anonKey}`, ...headers });

describe("rate limit", () => {
  it("answers 429 with Retry-After past the limit, writing nothing; other clients and functions are not affected", async () => {
    for (let i = 0; i < 3; i++) expect((await callFrom("127.0.0.7", "form-start", validLead())).status).toBe(200);
    const leads = await count("leads");
    const events = await count("crm_events");
    const limited = await callFrom("127.0.0.7", "form-start", validLead());
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.json.error).toMatchObject({ code: "rate_limited", message: expect.stringMatching(/réessayez/) });
    expect(await count("leads")).toBe(leads);
    expect(await count("crm_events")).toBe(events);

    expect((await callFrom("127.0.0.8", "form-start", validLead())).status).toBe(200);
    expect((await callFrom("127.0.0.7", "contact-callback", validCallback())).status).toBe(200);
  });

  it("100 form-starts with 100 different forged address headers from one client are limited as one client", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const forged = `198.18.${Math.floor(i / 250)}.${i % 250}`;
      const res = await callFrom("127.0.0.9", "form-start", validLead(), {
        "x-forwarded-for": forged,
        "x-real-ip": forged,
        "cf-connecting-ip": forged,
      });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(97);
    // And nobody can spend another client's allowance by naming its address.
    expect((await callFrom("127.0.0.10", "form-start", validLead())).status).toBe(200);
  });

  it("covers form-submit, contact-callback and create-payment-intent too", async () => {
    for (let i = 0; i < 3; i++) expect((await callFrom("127.0.0.11", "form-submit", validSubmit())).status).toBe(200);
    const requests = await count("requests");
    const customers = await count("customers");
    expect((await callFrom("127.0.0.11", "form-submit", validSubmit())).status).toBe(429);
    expect(await count("requests")).toBe(requests);
    expect(await count("customers")).toBe(customers);
    for (let i = 0; i < 3; i++) await callFrom("127.0.0.12", "contact-callback", validCallback());
    expect((await callFrom("127.0.0.12", "contact-callback", validCallback())).status).toBe(429);
    // Unknown requests cost no Stripe call, but still count.
    for (let i = 0; i < 3; i++) {
      expect((await callFrom("127.0.0.13", "create-payment-intent", { request_id: crypto.randomUUID() })).status).toBe(404);
    }
    expect((await callFrom("127.0.0.13", "create-payment-intent", { request_id: crypto.randomUUID() })).status).toBe(429);
  });

  it("stores fixed-size keys and deletes buckets that left the window", async () => {
    await stack.db.sql`
      insert into rate_limit_buckets (key, window_start, hits)
      select sha256(convert_to('stale-' || g, 'UTF8')), now() - interval '10 minutes', 5 from generate_series(1, 10) g`;
    expect((await callFrom("127.0.0.14", "form-start", validLead())).status).toBe(200);
    const [stale] = await stack.db.sql`select count(*)::int as n from rate_limit_buckets where window_start < now() - interval '5 minutes'`;
    expect(stale.n).toBe(0);
    const [sizes] = await stack.db.sql`select min(length(key))::int as min, max(length(key))::int as max from rate_limit_buckets`;
    expect(sizes).toEqual({ min: 32, max: 32 });
  });
});

describe("honeypot", () => {
  it("a filled honeypot looks accepted but stores and sends nothing", async () => {
    await eventually(async () => (await stack.db.sql`select 1 from crm_deliveries where state = 'pending'`).length === 0);
    stack.crmSandbox!.reset();
    const before = { leads: await count("leads"), requests: await count("requests"), callbacks: await count("callbacks"), events: await count("crm_events") };
    const lead = await callFrom("127.0.0.50", "form-start", { ...validLead(), website: "http://spam.example" });
    expect(lead.status).toBe(200);
    expect(lead.json.lead_id).toMatch(/^[0-9a-f-]{36}$/);
    const submit = await callFrom("127.0.0.50", "form-submit", { ...validSubmit(), website: "x" });
    expect(Object.keys(submit.json).sort()).toEqual(["customer_id", "request_id"]);
    const callback = await callFrom("127.0.0.50", "contact-callback", { ...validCallback(), website: "x" });
    expect(callback.status).toBe(200);
    // Invalid data behind a filled honeypot is not revealed as invalid either.
    expect((await callFrom("127.0.0.50", "form-start", { email: "nope", website: "x" })).status).toBe(200);
    // Any value a person cannot have typed into an invisible field trips it.
    for (const website of [" ", "\n\t", 0, 1, false, true, [], ["x"], {}, { a: 1 }]) {
      const res = await callFrom("127.0.0.50", "form-start", { ...validLead(), website });
      expect(res.status, JSON.stringify(website)).toBe(200);
    }
    expect({ leads: await count("leads"), requests: await count("requests"), callbacks: await count("callbacks"), events: await count("crm_events") })
      .toEqual(before);
    await new Promise((r) => setTimeout(r, 300));
    expect(stack.crmSandbox!.attempts()).toBe(0);
  });

  it("an empty (or null) honeypot is a normal submission", async () => {
    const leads = await count("leads");
    expect((await callFrom("127.0.0.51", "form-start", { ...validLead(), website: "" })).status).toBe(200);
    expect((await callFrom("127.0.0.51", "form-start", { ...validLead(), website: null })).status).toBe(200);
    expect(await count("leads")).toBe(leads + 2);
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
