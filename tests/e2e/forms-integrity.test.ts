/**
 * What a later or repeated submission must not change, end to end through the
 * Deno-served functions: a request's contact details (and what the CRM
 * receives for it) when someone else submits with the same email; a retry with
 * the same Idempotency-Key; a lead updated through its lead_id; a client that
 * vanishes mid-body. Expected CRM bodies come from CONTRACT §3, not the code.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validCallback, validLead, validSubmit } from "../../scripts/lib/sample-bodies.ts";
import { eventually, startTestStack, type TestStack } from "../helpers/test-stack.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

const accepted = (requestId: string) =>
  stack.crmSandbox!.accepted().filter((a) => (a.body as { lovable_request_id?: string }).lovable_request_id === requestId);

describe("a victim's request against a later submission with the same email", () => {
  it("keeps its own contact details, in the database, in later snapshots and in what the CRM receives", async () => {
    const victim = validSubmit("victim@example.fr");
    victim.customer = { email: "victim@example.fr", phone: "06 11 22 33 44", full_name: "Victime Réelle", client_type: "professionnel", company_name: "Vraie SARL", siren: "732829320" } as never;
    const mine = await (await stack.call("form-submit", victim)).json();
    const attacker = validSubmit("VICTIM@example.fr");
    attacker.customer = { ...attacker.customer, phone: "07 99 99 99 99", full_name: "Mallory Attaquant" };
    expect((await stack.call("form-submit", attacker)).status).toBe(200);

    // The victim pays: the /requests snapshots sent now must still be the victim's.
    const pay = await (await stack.call("create-payment-intent", { request_id: mine.request_id })).json();
    await stack.stripeDouble!.sendEvent("payment_intent.succeeded", pay.payment_intent_id);

    const expected = {
      lovable_request_id: mine.request_id,
      email: "victim@example.fr",
      phone: "+33611223344",
      full_name: "Victime Réelle",
      client_type: "professionnel",
      company_name: "Vraie SARL",
      siren: "732829320",
    };
    const [row] = await stack.db.sql`
      select id::text as lovable_request_id, email, phone, full_name, client_type, company_name, siren
      from requests where id = ${mine.request_id}`;
    expect(row).toEqual(expected);
    const bodies = (await eventually((): ReturnType<typeof accepted> | undefined => {
      const got = accepted(mine.request_id);
      return got.length === 3 ? got : undefined; // submitted, pending with its payment, paid
    }))!;
    for (const { body } of bodies) expect(body).toMatchObject(expected);
    expect(bodies.map((b) => (b.body as { payment_status: string }).payment_status)).toEqual(["pending", "pending", "paid"]);
  });
});

describe("Idempotency-Key", () => {
  const withKey = (key: string) => ({ headers: { "idempotency-key": key } });
  const events = async (aggregate: string) =>
    (await stack.db.sql`select count(*)::int as n from crm_events where record_id = ${aggregate}`)[0].n;

  it("the same key twice: one record, one CRM event, the same answer", async () => {
    for (const [name, body, idField, table] of [
      ["form-start", validLead(), "lead_id", "leads"],
      ["form-submit", validSubmit(), "request_id", "requests"],
      ["contact-callback", validCallback(), "callback_id", "callbacks"],
    ] as const) {
      const key = crypto.randomUUID();
      const first = await stack.call(name, body, withKey(key));
      const firstBody = await first.json();
      const again = await stack.call(name, body, withKey(key));
      expect(again.status, name).toBe(200);
      expect(await again.json(), name).toEqual(firstBody);
      expect(again.headers.get("idempotent-replayed"), name).toBe("true");
      const id = firstBody[idField];
      expect(await stack.db.sql`select 1 from ${stack.db.sql(table)} where id = ${id}`, name).toHaveLength(1);
      expect(await events(id), name).toBe(1);
    }
  });

  it("ten concurrent requests with one key: one record, one event, ten identical answers", async () => {
    const key = crypto.randomUUID();
    const body = validSubmit();
    const answers = await Promise.all(Array.from({ length: 10 }, () => stack.call("form-submit", body, withKey(key))));
    const bodies = await Promise.all(answers.map((a) => a.json()));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(await stack.db.sql`select 1 from requests where email = ${body.customer.email}`).toHaveLength(1);
    expect(await events(bodies[0].request_id)).toBe(1);
  });

  it("the same key with another body: 422, nothing written; a malformed key: 400", async () => {
    const key = crypto.randomUUID();
    expect((await stack.call("form-start", validLead(), withKey(key))).status).toBe(200);
    const other = validLead();
    const reused = await stack.call("form-start", other, withKey(key));
    expect(reused.status).toBe(422);
    expect((await reused.json()).error.code).toBe("idempotency_key_reused");
    expect(await stack.db.sql`select 1 from leads where email = ${other.email}`).toHaveLength(0);
    const bad = await stack.call("form-start", validLead(), withKey("x".repeat(300)));
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.fields).toHaveProperty("Idempotency-Key");
  });

  it("a key older than 24 hours is forgotten: the request is processed again", async () => {
    const key = crypto.randomUUID();
    const body = validLead();
    const first = await (await stack.call("form-start", body, withKey(key))).json();
    await stack.db.sql`update idempotency_keys set created_at = now() - interval '25 hours' where function = 'form-start'`;
    const second = await (await stack.call("form-start", body, withKey(key))).json();
    expect(second.lead_id).not.toBe(first.lead_id);
    const [{ n }] = await stack.db.sql`select count(*)::int as n from idempotency_keys where created_at < now() - interval '24 hours'`;
    expect(n).toBe(0);
  });
});

describe("form-start with a lead_id", () => {
  it("changes only the fields sent; the CRM gets the merged lead", async () => {
    const lead = validLead();
    const { lead_id } = await (await stack.call("form-start", lead)).json();
    const res = await stack.call("form-start", { lead_id, email: lead.email, lastname: "Sklodowska" });
    expect(res.status).toBe(200);
    const [row] = await stack.db.sql`select lastname, firstname, utm_source, utm_campaign, phone from leads where id = ${lead_id}`;
    expect(row).toEqual({ lastname: "Sklodowska", firstname: "Marie", utm_source: "google", utm_campaign: "pv-2026", phone: "+33612345678" });
    const [event] = await stack.db.sql`select data as body from crm_events where record_id = ${lead_id} order by seq desc limit 1`;
    expect(event.body).toMatchObject({ lastName: "Sklodowska", firstName: "Marie", utm_source: "google", utm_campaign: "pv-2026", lovable_lead_id: lead_id });
  });

  it("an unknown lead_id is 404 lead_not_found and creates nothing", async () => {
    const lead_id = crypto.randomUUID();
    const res = await stack.call("form-start", { ...validLead(), lead_id });
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe("lead_not_found");
    expect(await stack.db.sql`select 1 from leads where id = ${lead_id}`).toHaveLength(0);
    expect(await stack.db.sql`select 1 from crm_events where record_id = ${lead_id}`).toHaveLength(0);
  });
});

describe("a client that vanishes mid-body", () => {
  it("is neither a 5xx nor an error log line", async () => {
    const url = new URL(`${stack.functionsUrl}/form-start`);
    const before = stack.logs.length;
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write(
            `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${stack.anonKey}\r\n` +
              `Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"email": "half`,
          );
          setTimeout(() => socket.destroy(), 100);
        });
        socket.on("close", () => resolve());
        socket.on("error", () => resolve());
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    const lines = stack.logs.slice(before);
    expect(lines.filter((l) => /"level":"error"|"status":5\d\d|function crashed/.test(l))).toEqual([]);
    expect((await stack.call("form-start", validLead())).status).toBe(200);
  });
});
