/**
 * `npm run crm -- forget` and `status` as an operator runs them, against the
 * local stack (Deno-served functions, the CRM sandbox): a person who filled
 * the forms is erased from every table; the command names the destination that
 * had received them; its log line carries neither the email nor the phone;
 * `status` shows crm-dispatch's recorded runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validLead, validSubmit } from "../../scripts/lib/sample-bodies.ts";
import { crmCli } from "../helpers/crm-cli.ts";
import { eventually, startTestStack, type TestStack } from "../helpers/test-stack.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

describe("crm forget", () => {
  it("erases what the forms stored and sent, names the destination that had it, logs no personal data", async () => {
    const email = `forget-${crypto.randomUUID().slice(0, 8)}@example.fr`;
    const other = `stays-${crypto.randomUUID().slice(0, 8)}@example.fr`;
    for (const e of [email, other]) {
      expect((await stack.call("form-start", { ...validLead(e), phone: e === email ? "06 11 22 33 44" : "06 55 66 77 88" })).status).toBe(200);
      expect((await stack.call("form-submit", validSubmit(e))).status).toBe(200);
    }
    await eventually(async () => (await stack.db.sql`select count(*)::int as n from crm_deliveries where state = 'delivered'`)[0].n === 4);

    const env = { DATABASE_URL: stack.databaseUrl };
    const refused = await crmCli(["forget", "nobody"], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/neither an email address nor a valid phone number.*nothing was erased/);

    const run = await crmCli(["forget", email.toUpperCase()], env); // normalised as the forms do
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Erased \(email\): 1 lead\(s\), 0 call-back\(s\), 1 customer\(s\), 1 request\(s\)/);
    expect(run.stdout).toMatch(/These destinations had received this person's data[\s\S]*monelec\s+2/);
    const [line] = run.stderr.split("\n").filter((l) => l.includes('"crm forget"'));
    expect(JSON.parse(line)).toMatchObject({ msg: "crm forget", kind: "email", received_by: ["monelec"] });
    expect(run.stderr + run.stdout).not.toContain(email.split("@")[0]);

    const [left] = await stack.db.sql`
      select (select count(*)::int from leads where email = ${email}) + (select count(*)::int from customers where email = ${email})
           + (select count(*)::int from crm_events where data::text like ${`%${email}%`}) as n,
             (select count(*)::int from crm_events where data->>'email' = ${other}) as others`;
    expect(left).toEqual({ n: 0, others: 2 });
    // The phone the lead gave is gone too (the lead row held it); the other person's is not.
    const byPhone = JSON.parse((await crmCli(["forget", "06 11 22 33 44", "--json"], env)).stdout);
    expect(byPhone.deleted).toMatchObject({ leads: 0, events: 0 });
  });

  it("status shows crm-dispatch's recorded runs", async () => {
    await eventually(async () => (await stack.db.sql`select count(*)::int as n from crm_dispatch_runs where finished_at is not null`)[0].n > 0);
    const status = await crmCli(["status"], { DATABASE_URL: stack.databaseUrl });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/Last crm-dispatch runs:\nstarted/);
    expect(status.stdout).toMatch(/none here: on Supabase pg_cron calls crm-dispatch/);
    const json = JSON.parse((await crmCli(["status", "--json"], { DATABASE_URL: stack.databaseUrl })).stdout);
    expect(json.runs[0]).toMatchObject({ unfinished: expect.any(Boolean), error: null });
    expect(json.retention).toMatchObject({ days: 30 });
  });
});
