/**
 * The local stack restarted between "pay" and the card succeeding: the Stripe
 * double keeps its PaymentIntents with the local data, so the request that was
 * waiting is paid after the restart (stripe-webhook gets the signed event and
 * the database says paid), and asking to pay again returns the same intent.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/free-port.ts";
import { validSubmit } from "../../scripts/lib/sample-bodies.ts";
import { type Stack, startStack } from "../../scripts/local/stack.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { eventually } from "../helpers/test-stack.ts";

let db: TestDatabase;
let dataDir: string;
let stack: Stack | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), "raccordement-stripe-restart-"));
  env = {
    DATABASE_URL: db.url,
    FUNCTIONS_PORT: String(await freePort()),
    STRIPE_DOUBLE_PORT: String(await freePort()),
    CRM_SANDBOX_PORT: "0",
    RATE_LIMIT_PER_MINUTE: "0",
    STRIPE_REQUEST_INTERVAL_MS: "0", // the test asks again at once: no pause between two Stripe calls
  };
});
afterAll(async () => {
  await stack?.stop();
  await db?.drop();
});

const start = () => startStack({ env, dataDir, onOutput: () => {}, sweep: false });
const call = (name: string, body: unknown) =>
  fetch(`${stack!.functionsUrl}/${name}`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack!.anonKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("the Stripe double across a restart", () => {
  it("pays a request whose PaymentIntent was created before the restart", async () => {
    stack = await start();
    const { request_id } = await (await call("form-submit", validSubmit())).json();
    const first = await call("create-payment-intent", { request_id });
    expect(first.status).toBe(200);
    const { payment_intent_id } = await first.json();
    await stack.stop();

    stack = await start();
    // The same intent again (the function retrieves the one the database references).
    const again = await call("create-payment-intent", { request_id });
    expect(again.status, await again.clone().text()).toBe(200);
    expect((await again.json()).payment_intent_id).toBe(payment_intent_id);

    const paid = await fetch(`${stack.stripeApiUrl}/_double/payment_intents/${payment_intent_id}/succeed`, { method: "POST" });
    expect(paid.status).toBe(200);
    expect((await paid.json()).webhook_status).toBe(200);
    await eventually(async () => (await db.sql`select payment_status from requests where id = ${request_id}`)[0].payment_status === "paid");
  }, 90_000);
});
