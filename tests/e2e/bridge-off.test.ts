/**
 * MONELEC_API_KEY unset: forms work, events are kept as `skipped`, nothing is
 * sent; once a key exists, `crm backfill` queues what the CRM never got and
 * the sweeper delivers it. Also `crm test` and `crm status`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_SANDBOX_CRM_KEY } from "../../scripts/local/dev-keys.ts";
import { monelecDestination } from "../../src/crm/monelec.ts";
import { leadBody } from "../../src/crm/monelec-bodies.ts";
import { createLogger } from "../../src/log.ts";
import { sweep } from "../../src/outbox/sweep.ts";
import { crmCli } from "../helpers/crm-cli.ts";
import { validCallback, validLead, validSubmit } from "../../scripts/lib/sample-bodies.ts";
import { startTestStack, type TestStack } from "../helpers/test-stack.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ MONELEC_API_KEY: "" });
});
afterAll(async () => {
  await stack?.close();
});

describe("bridge off", () => {
  it("stores events as skipped and sends nothing; backfill then delivers each aggregate's latest state once", async () => {
    const { lead_id } = await (await stack.call("form-start", validLead())).json();
    await stack.call("form-start", { ...validLead(), lead_id, lastname: "Updated" });
    const { request_id } = await (await stack.call("form-submit", validSubmit())).json();
    await stack.call("contact-callback", validCallback());
    // A lead written before the bridge existed: no event at all.
    const [legacy] = await stack.db.sql`insert into leads (email) values ('legacy@example.fr') returning id`;

    const states = await stack.db.sql`select state, count(*)::int as n from crm_events group by state`;
    expect(states).toEqual([{ state: "skipped", n: 4 }]);
    const dispatch = await (await fetch(`${stack.functionsUrl}/crm-dispatch`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.serviceRoleKey}` },
    })).json();
    expect(dispatch.enabled).toBe(false);
    expect(stack.crmSandbox!.attempts()).toBe(0);

    const env = { DATABASE_URL: stack.databaseUrl };
    const report = JSON.parse((await crmCli(["backfill", "--json"], env)).stdout);
    expect(report).toEqual({ requeued_skipped: 3, created: { leads: 1, callbacks: 0, requests: 0 } });
    const again = JSON.parse((await crmCli(["backfill", "--json"], env)).stdout);
    expect(again).toEqual({ requeued_skipped: 0, created: { leads: 0, callbacks: 0, requests: 0 } });

    // The key is now set: a sweeper with it delivers the backlog.
    await sweep({
      sql: stack.db.sql,
      destination: monelecDestination({ apiUrl: stack.crmUrl, apiKey: LOCAL_SANDBOX_CRM_KEY }),
      timeoutMs: 2_000,
      retryScheduleMs: [100],
      leaseMs: 5_000,
      log: createLogger({}, () => {}),
      origin: "test",
    });
    const calls = stack.crmSandbox!.accepted();
    expect(calls).toHaveLength(4);
    const leadCall = calls.find((c) => (c.body as { lovable_lead_id: string }).lovable_lead_id === lead_id)!;
    expect((leadCall.body as { lastName: string }).lastName).toBe("Updated"); // the newest snapshot
    expect(calls.some((c) => (c.body as { lovable_request_id?: string }).lovable_request_id === request_id)).toBe(true);
    expect(calls.find((c) => (c.body as { lovable_lead_id?: string }).lovable_lead_id === legacy.id)!.body)
      .toEqual(leadBody({ id: legacy.id, email: "legacy@example.fr" }));
  });

  it("crm status reports counts; --json is machine-readable", async () => {
    const env = { DATABASE_URL: stack.databaseUrl };
    const status = JSON.parse((await crmCli(["status", "--json"], env)).stdout);
    expect(status).toMatchObject({
      counts: { pending: 0, dead: 0, delivered: 4, skipped: 1 },
      blocked: 0,
      oldest_pending_age_seconds: null,
      last_delivery_at: expect.any(String),
    });
    const human = await crmCli(["status"], env);
    expect(human.stdout).toMatch(/pending\s+delivered\s+dead\s+skipped\s+blocked/);
  });

  it("crm test checks URL and key without creating anything", async () => {
    const ok = await crmCli(["test"], { MONELEC_API_URL: stack.crmUrl, MONELEC_API_KEY: LOCAL_SANDBOX_CRM_KEY });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/key accepted/);
    const badKey = await crmCli(["test"], { MONELEC_API_URL: stack.crmUrl, MONELEC_API_KEY: "wrong" });
    expect(badKey.code).toBe(1);
    expect(badKey.stdout).toMatch(/refused the key/);
    const unreachable = await crmCli(["test"], { MONELEC_API_URL: "http://127.0.0.1:9", MONELEC_API_KEY: "x" });
    expect(unreachable.stdout).toMatch(/Cannot reach/);
    const noKey = await crmCli(["test"], { MONELEC_API_URL: stack.crmUrl });
    expect(noKey.stdout).toMatch(/not set/);
    expect(stack.crmSandbox!.accepted()).toHaveLength(4);
  });

  it("crm with bad arguments explains itself", async () => {
    const res = await crmCli(["retry"], { DATABASE_URL: stack.databaseUrl });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/retry needs an event id/);
    const unknown = await crmCli(["retry", crypto.randomUUID()], { DATABASE_URL: stack.databaseUrl });
    expect(unknown.stdout).toMatch(/No event/);
  });
});
