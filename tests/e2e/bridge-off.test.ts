/**
 * No destination configured: forms work, events are kept as `skipped` (no
 * delivery), nothing is sent; once a destination exists, `crm backfill`
 * queues each record's current snapshot once and the sweeper delivers it.
 * Also `crm test` and `crm status`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_SANDBOX_CRM_KEY } from "../../scripts/local/dev-keys.ts";
import { loadDestinations } from "../../src/config.ts";
import { leadBody } from "../../src/crm/monelec-bodies.ts";
import { createLogger } from "../../src/log.ts";
import { createOutbox } from "../../src/outbox/outbox.ts";
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

const monelecEnv = () => ({ DATABASE_URL: stack.databaseUrl, MONELEC_API_URL: stack.crmUrl, MONELEC_API_KEY: LOCAL_SANDBOX_CRM_KEY });

describe("bridge off", () => {
  it("stores events without deliveries and sends nothing; backfill then delivers each record's current state once", async () => {
    const { lead_id } = await (await stack.call("form-start", validLead())).json();
    await stack.call("form-start", { ...validLead(), lead_id, lastname: "Updated" });
    const { request_id } = await (await stack.call("form-submit", validSubmit())).json();
    await stack.call("contact-callback", validCallback());
    // A lead written before the bridge existed: no event at all.
    const [legacy] = await stack.db.sql`insert into leads (email) values ('legacy@example.fr') returning id`;

    const [counts] = await stack.db.sql`select (select count(*)::int from crm_events where fanout = 0) as skipped,
                                               (select count(*)::int from crm_deliveries) as deliveries`;
    expect(counts).toEqual({ skipped: 4, deliveries: 0 });
    const dispatch = await (await fetch(`${stack.functionsUrl}/crm-dispatch`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.serviceRoleKey}` },
    })).json();
    expect(dispatch.enabled).toBe(false);
    expect(stack.crmSandbox!.attempts()).toBe(0);

    const noDestination = await crmCli(["backfill"], { DATABASE_URL: stack.databaseUrl });
    expect(noDestination.code).toBe(2);
    expect(noDestination.stderr).toMatch(/no destination is configured/);

    const report = JSON.parse((await crmCli(["backfill", "--json"], monelecEnv())).stdout);
    expect(report).toEqual({ destinations: ["monelec"], queued: { lead: 2, callback: 1, request: 1 } });
    const again = JSON.parse((await crmCli(["backfill", "--json"], monelecEnv())).stdout);
    expect(again.queued).toEqual({ lead: 0, callback: 0, request: 0 });

    // The key is now set: a sweeper with it delivers the backlog.
    await sweep(createOutbox({
      sql: stack.db.sql,
      log: createLogger({}, () => {}),
      origin: "test",
      destinations: loadDestinations(monelecEnv(), 2_000),
      timeoutMs: 2_000,
      retryScheduleMs: [100],
    }));
    const calls = stack.crmSandbox!.accepted();
    expect(calls).toHaveLength(4);
    const leadCall = calls.find((c) => (c.body as { lovable_lead_id: string }).lovable_lead_id === lead_id)!;
    expect((leadCall.body as { lastName: string }).lastName).toBe("Updated"); // the current snapshot
    expect(calls.some((c) => (c.body as { lovable_request_id?: string }).lovable_request_id === request_id)).toBe(true);
    expect(calls.find((c) => (c.body as { lovable_lead_id?: string }).lovable_lead_id === legacy.id)!.body)
      .toEqual(leadBody({ id: legacy.id, email: "legacy@example.fr" }));
  });

  it("crm status reports counts per destination; --json is machine-readable", async () => {
    const status = JSON.parse((await crmCli(["status", "--json"], monelecEnv())).stdout);
    expect(status.skipped_events).toBe(4);
    expect(status.destinations).toEqual([expect.objectContaining({
      name: "monelec",
      counts: { pending: 0, blocked: 0, delivered: 4, dead: 0, discarded: 0, superseded: 0 },
      oldest_pending_age_seconds: null,
      last_delivery_at: expect.any(String),
      paused: null,
    })]);
    const human = await crmCli(["status"], monelecEnv());
    expect(human.stdout).toMatch(/destination\s+pending\s+blocked\s+delivered\s+dead/);
    expect(human.stdout).toMatch(/monelec/);
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
    const none = await crmCli(["test"], { MONELEC_API_URL: stack.crmUrl });
    expect(none.stdout).toMatch(/no destination is configured/);
    expect(stack.crmSandbox!.accepted()).toHaveLength(4);
  }, 90_000);

  it("crm with bad arguments explains itself", async () => {
    const res = await crmCli(["retry"], { DATABASE_URL: stack.databaseUrl });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/retry needs an event id/);
    const unknown = await crmCli(["retry", crypto.randomUUID()], { DATABASE_URL: stack.databaseUrl });
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(/0 dead deliver/);
  }, 60_000);
});
