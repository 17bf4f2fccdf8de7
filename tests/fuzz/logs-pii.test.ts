/**
 * Secrets and personal data never reach the logs. Full journeys run against
 * the real functions — successes and failures: a CRM that refuses (422) or
 * fails (500) while echoing the whole body back, throttles (429), is down or
 * slow; invalid inputs; bad Stripe signatures; unknown payments; inputs that
 * make the server fail — and every line the functions process printed is
 * checked: JSON, and free of the CRM key, the webhook secret, the Stripe
 * secret key, the service-role key, every email used and every phone number
 * used (its national digits, in any format).
 */
import { createServer, type Server } from "node:http";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEvent } from "../../scripts/local/stripe-events.ts";
import { eventually, startTestStack, type TestStack } from "../helpers/test-stack.ts";

const SECRETS = {
  crmKey: "pii-test-crm-key-7f3a9c51e2",
  stripeSecretKey: "sk_test_piitest_5e8b2d41c7a9f0",
  webhookSecret: "whsec_piitest_0a1b2c3d4e5f60718293",
  serviceRoleKey: "pii-test-service-role-key-93ab5c",
};

/** People whose data goes through the journeys: each email and phone must stay out of the logs. */
const PEOPLE = [
  { email: "Alice.Martin-PII@exemple-pii.fr", phones: ["06 23 45 67 81", "+33 6 23 45 67 81"], national: "623456781", name: "Alice Martin" },
  { email: "bob.durand+crm@pii-mail.com", phones: ["07.58.21.94.36", "0033758219436"], national: "758219436", name: "Bob Durand-Lefèvre" },
  { email: "chloe_pii.77@exemple-pii.org", phones: ["01 42 68 53 07", "+33142685307"], national: "142685307", name: "Chloé Petit" },
  { email: "dan.ok@pii-mail.net", phones: ["+44 7911 123456"], national: "7911123456", name: "Dan O'Kane" },
];

/** A CRM that can accept, refuse or fail — and that echoes the body back in its errors, as some do. */
type CrmMode = "ok" | "echo-422" | "echo-500" | "throttle" | "down" | "slow";
let crmMode: CrmMode = "ok";
let crmServer: Server;
let crmUrl = "";
const crmSeen: string[] = [];

let stack: TestStack;

beforeAll(async () => {
  crmServer = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      crmSeen.push(body);
      const mode = crmMode;
      if (mode === "down") return void req.socket.destroy();
      const answer = () => {
        if (mode === "echo-422") return res.writeHead(422, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid", received: JSON.parse(body || "{}") }));
        if (mode === "echo-500") return res.writeHead(500, { "content-type": "text/plain" }).end(`Internal error while saving ${body}`);
        if (mode === "throttle") return res.writeHead(429, { "retry-after": "1" }).end("slow down");
        res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ id: "crm_1", received: true }));
      };
      if (mode === "slow") setTimeout(answer, 2_500); // past CRM_TIMEOUT_MS
      else answer();
    });
  });
  await new Promise<void>((resolve) => crmServer.listen(0, "127.0.0.1", resolve));
  crmUrl = `http://127.0.0.1:${(crmServer.address() as { port: number }).port}/api/external`;
  stack = await startTestStack({
    RATE_LIMIT_PER_MINUTE: "0",
    MONELEC_API_URL: crmUrl,
    MONELEC_API_KEY: SECRETS.crmKey,
    STRIPE_SECRET_KEY: SECRETS.stripeSecretKey,
    STRIPE_WEBHOOK_SECRET: SECRETS.webhookSecret,
    SUPABASE_SERVICE_ROLE_KEY: SECRETS.serviceRoleKey,
    CRM_TIMEOUT_MS: "1000",
    CRM_RETRY_SCHEDULE: "200ms,300ms,300ms",
  });
});
afterAll(async () => {
  await stack?.close();
  crmServer?.closeAllConnections();
  await new Promise((r) => crmServer?.close(r));
});

const json = async (res: Response) => ({ status: res.status, body: await res.json() });

async function signedWebhook(event: object, secret = SECRETS.webhookSecret) {
  const payload = JSON.stringify(event);
  return fetch(`${stack.functionsUrl}/stripe-webhook`, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": Stripe.webhooks.generateTestHeaderString({ payload, secret }) },
    body: payload,
  });
}

async function journey(person: (typeof PEOPLE)[number], phone: string) {
  const lead = await json(await stack.call("form-start", { email: person.email, phone, firstname: person.name.split(" ")[0], lastname: person.name.split(" ")[1], utm_source: person.email }));
  expect(lead.status).toBe(200);
  const again = await stack.call("form-start", { lead_id: lead.body.lead_id, email: person.email, phone, connection_type: "definitif", postal_code: "75011" });
  expect(again.status).toBe(200);
  const submit = await json(await stack.call("form-submit", {
    lead_id: lead.body.lead_id,
    customer: { email: person.email, phone, full_name: person.name, client_type: "professionnel", company_name: `${person.name} SARL`, siren: "732 829 320" },
    request: { type_raccordement: "photovoltaique", usage: `contact ${person.email} / ${phone}`, address: `${phone} rue des Tests`, city: "Paris", zip_code: "75011", power_kva: 9 },
  }));
  expect(submit.status).toBe(200);
  const pay = await json(await stack.call("create-payment-intent", { request_id: submit.body.request_id }));
  expect(pay.status).toBe(200);
  await stack.stripeDouble!.sendEvent("payment_intent.succeeded", pay.body.payment_intent_id);
  await stack.stripeDouble!.sendEvent("charge.refunded", pay.body.payment_intent_id);
  const callback = await stack.call("contact-callback", { full_name: person.name, phone, postal_code: "69001", source: person.email });
  expect(callback.status).toBe(200);
  return { requestId: submit.body.request_id as string, pi: pay.body.payment_intent_id as string };
}

describe("logs of full journeys, failures included", () => {
  it("carry no secret, no email and no phone number", async () => {
    const sql = stack.db.sql;
    // 1. Everything goes well.
    await journey(PEOPLE[0], PEOPLE[0].phones[0]);

    // 2. The CRM refuses and fails, echoing the bodies back; throttles; is down; is too slow.
    for (const mode of ["echo-422", "echo-500", "throttle", "down", "slow"] as const) {
      crmMode = mode;
      const person = PEOPLE[1 + (["echo-422", "echo-500", "throttle", "down", "slow"].indexOf(mode) % 3)];
      await journey(person, person.phones[mode.length % person.phones.length]);
      await eventually(() => crmSeen.length > 0, 5_000);
      await new Promise((r) => setTimeout(r, mode === "slow" ? 2_500 : 800)); // let retries run in this mode
    }
    crmMode = "ok";

    // 3. Invalid inputs carrying personal data.
    const p = PEOPLE[2];
    for (const [fn, body] of [
      ["form-start", { email: `${p.email}@@`, phone: p.phones[0] }],
      ["form-start", { email: p.email, phone: p.phones[0], postal_code: "7500" }],
      ["form-submit", { customer: { email: p.email, phone: p.phones[1], full_name: p.name, client_type: "professionnel" }, request: {} }],
      ["contact-callback", { full_name: p.name, phone: p.phones[0], postal_code: p.email, source: p.email }],
      ["create-payment-intent", { request_id: p.email }],
    ] as const) {
      expect((await stack.call(fn, body)).status, `${fn} ${JSON.stringify(body)}`).toBe(400);
    }
    expect((await stack.call("form-start", `{"email":"${p.email}","phone":"${p.phones[0]}"`)).status).toBe(400);

    // 4. The server failing on a request full of personal data: a Postgres error whose detail
    //    ("Failing row contains (…)") holds the whole row. The 5xx is logged: its line must be clean too.
    await sql`alter table callbacks add constraint pii_test_forced_failure check (source is distinct from 'force-a-failure')`;
    const failed = await stack.call("contact-callback", { full_name: p.name, phone: p.phones[0], postal_code: "75011", source: "force-a-failure" });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    await sql`alter table callbacks drop constraint pii_test_forced_failure`;
    // Inputs that once made the server fail (fuzzing found them).
    await stack.call("form-submit", {
      customer: { email: p.email, phone: p.phones[0], full_name: p.name, client_type: "particulier" },
      request: { type_raccordement: "definitif", address: p.email, city: "Paris", zip_code: "75001", power_kva: 0.001 },
    });
    await stack.call("contact-callback", { full_name: `${p.name} \ud800`, phone: p.phones[0], source: p.email });

    // 5. Stripe: bad signatures, an unknown payment, a webhook naming a person.
    const d = PEOPLE[3];
    const { requestId, pi } = await journey(d, d.phones[0]);
    const event = buildEvent("payment_intent.succeeded", {
      id: pi, object: "payment_intent", amount: 17900, currency: "eur", metadata: { request_id: requestId, email: d.email, phone: d.phones[0] },
    });
    expect((await signedWebhook(event, "whsec_wrong_secret_000")).status).toBe(400);
    expect((await fetch(`${stack.functionsUrl}/stripe-webhook`, { method: "POST", body: JSON.stringify(event) })).status).toBe(400);
    const unknown = buildEvent("payment_intent.payment_failed", {
      id: "pi_unknown_pii_test", object: "payment_intent", amount: 100, currency: "eur", metadata: { request_id: d.email, customer_phone: d.phones[0] },
    });
    expect((await signedWebhook(unknown)).status).toBe(200);
    expect((await signedWebhook(event)).status).toBe(200);

    // Every event ends delivered, dead (the 422s) or held back behind a dead one: nothing in flight while the logs are read.
    await eventually(async () => (await sql`
      select 1 from crm_deliveries e where e.state = 'pending'
        and not exists (select 1 from crm_deliveries d where d.record_id = e.record_id and d.seq < e.seq and d.state = 'dead')`).length === 0, 30_000, 200);
    await new Promise((r) => setTimeout(r, 300));
    const outcomes = (await sql<{ state: string }[]>`select distinct state from crm_deliveries where state not in ('pending', 'blocked')`).map((r) => r.state).sort();
    expect(outcomes).toEqual(expect.arrayContaining(["dead", "delivered"]));
    expect(outcomes.filter((o) => !["dead", "delivered", "superseded"].includes(o))).toEqual([]);

    // The journeys did reach the paths that log: deliveries, retries, dead events, server errors, unknown payments.
    const lines = stack.logs;
    const text = lines.join("\n");
    expect(text).toMatch(/"outcome":"delivered"/);
    expect(text).toMatch(/"outcome":"retry"/);
    expect(text).toMatch(/"outcome":"dead"/);
    expect(text).toMatch(/"http_status":422/);
    expect(text).toMatch(/"http_status":429/);
    expect(text).toMatch(/timeout after/);
    expect(text).toMatch(/"msg":"unhandled error"/);
    expect(text).toMatch(/PaymentIntent this site did not create/);
    // The CRM did echo personal data back: the logs had something to hide.
    expect(crmSeen.join("\n")).toContain(PEOPLE[1].email.toLowerCase());

    const problems: string[] = [];
    for (const line of lines) {
      try {
        JSON.parse(line);
      } catch {
        problems.push(`not JSON: ${line.slice(0, 200)}`);
      }
      const lower = line.toLowerCase();
      for (const [name, secret] of Object.entries(SECRETS)) if (line.includes(secret)) problems.push(`${name} in: ${line.slice(0, 300)}`);
      for (const person of PEOPLE) {
        if (lower.includes(person.email.toLowerCase())) problems.push(`email ${person.email} in: ${line.slice(0, 300)}`);
        // Digits may be spread by separators ("06 23 45 67 81"): compare the digit runs.
        if (digitsOf(line).includes(person.national)) problems.push(`phone ${person.national} in: ${line.slice(0, 300)}`);
        for (const phone of person.phones) if (line.includes(phone)) problems.push(`phone "${phone}" in: ${line.slice(0, 300)}`);
      }
    }
    expect(problems).toEqual([]);
    console.log(`logs-pii: ${lines.length} log lines checked, ${crmSeen.length} CRM attempts seen, 0 leaks`);
  }, 120_000);
});

/** Runs of digits in a line, with phone separators (space . - ( )) removed inside a run. */
function digitsOf(line: string): string {
  return line.replace(/(\d)[\s.()-]+(?=\d)/g, "$1");
}
