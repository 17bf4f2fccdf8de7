/**
 * The Stripe double driven by the real `stripe` SDK, and its webhooks checked
 * with the SDK's own signature verification.
 */
import { appendFileSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startStripeDouble, type StripeDouble } from "../../scripts/local/stripe-double.ts";

const SECRET = "whsec_test_double";

interface Received {
  raw: string;
  signature: string;
  contentType: string;
}

let double: StripeDouble;
let receiver: Server;
let received: Received[] = [];
let stripe: Stripe;

const sdk = (key: string) =>
  new Stripe(key, {
    host: "127.0.0.1",
    port: String(double.port),
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 0,
  });

const control = async (path: string) => {
  const res = await fetch(`${double.url}${path}`, { method: "POST" });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const verify = (r: Received) =>
  stripe.webhooks.constructEventAsync(r.raw, r.signature, SECRET, 300, Stripe.createSubtleCryptoProvider());

const newIntent = () =>
  stripe.paymentIntents.create({
    amount: 14900,
    currency: "eur",
    metadata: { request_id: "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f" },
    automatic_payment_methods: { enabled: true },
    description: "Demande de raccordement",
  });

beforeAll(async () => {
  // Stands in for stripe-webhook: records what it gets, answers 200.
  receiver = createServer(async (req, res) => {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    received.push({
      raw,
      signature: String(req.headers["stripe-signature"] ?? ""),
      contentType: String(req.headers["content-type"] ?? ""),
    });
    res.writeHead(200, { "content-type": "application/json" }).end('{"received":true}');
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const { port } = receiver.address() as AddressInfo;
  double = await startStripeDouble({ webhookSecret: SECRET, webhookUrl: `http://127.0.0.1:${port}/`, quiet: true });
  stripe = sdk("sk_test_123");
});

afterAll(async () => {
  await double?.close();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

beforeEach(() => {
  received = [];
});

describe("Stripe API emulation", () => {
  it("creates a PaymentIntent the SDK understands", async () => {
    const pi = await newIntent();
    expect(pi.id).toMatch(/^pi_[A-Za-z0-9]{24}$/);
    expect(pi.object).toBe("payment_intent");
    expect(pi.amount).toBe(14900);
    expect(pi.currency).toBe("eur");
    expect(pi.status).toBe("requires_payment_method");
    expect(pi.metadata).toEqual({ request_id: "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f" });
    expect(pi.description).toBe("Demande de raccordement");
    expect(pi.client_secret).toMatch(new RegExp(`^${pi.id}_secret_[A-Za-z0-9]+$`));
    expect(pi.lastResponse.requestId).toMatch(/^req_/);
    expect(double.paymentIntents().map((p) => p.id)).toContain(pi.id);
  });

  it("retrieves a PaymentIntent", async () => {
    const pi = await newIntent();
    const again = await stripe.paymentIntents.retrieve(pi.id);
    expect(again.id).toBe(pi.id);
    expect(again.client_secret).toBe(pi.client_secret);
  });

  it("answers 404 resource_missing for an unknown id", async () => {
    const err = await stripe.paymentIntents.retrieve("pi_doesnotexist").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 404, code: "resource_missing" });
  });

  it("rejects a key that is not sk_test_ without echoing it", async () => {
    const err = await sdk("sk_live_fake_key_1").paymentIntents.retrieve("pi_x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect((err as Error).message).toContain("Invalid API Key provided");
    expect((err as Error).message).not.toContain("sk_live_fake_key_1");
  });

  it("validates amount and currency with a param", async () => {
    const bad = await stripe.paymentIntents.create({ amount: -5, currency: "eur" }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(bad).toMatchObject({ statusCode: 400, param: "amount" });
    const cur = await stripe.paymentIntents.create({ amount: 100, currency: "euro" }).catch((e: unknown) => e);
    expect(cur).toMatchObject({ statusCode: 400, param: "currency" });
  });

  it("replays an idempotent request and refuses a reused key with other params", async () => {
    const key = `payment-${crypto.randomUUID()}`;
    const params = { amount: 14900, currency: "eur", metadata: { request_id: "r1" } };
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    const second = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect(second.id).toBe(first.id);
    // The fetch client keeps headers in a Headers object: check the replay marker with a raw request.
    const raw = await fetch(`${double.url}/v1/payment_intents`, {
      method: "POST",
      headers: { authorization: "Bearer sk_test_123", "idempotency-key": `raw-${key}`, "content-type": "application/x-www-form-urlencoded" },
      body: "amount=100&currency=eur",
    });
    const replay = await fetch(raw.url, {
      method: "POST",
      headers: { authorization: "Bearer sk_test_123", "idempotency-key": `raw-${key}`, "content-type": "application/x-www-form-urlencoded" },
      body: "amount=100&currency=eur",
    });
    expect(raw.headers.get("idempotent-replayed")).toBeNull();
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(((await replay.json()) as { id: string }).id).toBe(((await raw.json()) as { id: string }).id);
    const other = await stripe.paymentIntents.create({ ...params, amount: 100 }, { idempotencyKey: key }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
  });
});

describe("control API and webhooks", () => {
  it("succeed moves the PI and sends a signed payment_intent.succeeded", async () => {
    const pi = await newIntent();
    const { status, body } = await control(`/_double/payment_intents/${pi.id}/succeed`);
    expect(status).toBe(200);
    expect(body.webhook_status).toBe(200);
    expect(received).toHaveLength(1);
    expect(received[0].contentType).toContain("application/json");
    const event = await verify(received[0]);
    expect(event.id).toBe(body.event_id);
    expect(event.type).toBe("payment_intent.succeeded");
    const obj = event.data.object as Stripe.PaymentIntent;
    expect(obj).toMatchObject({ id: pi.id, status: "succeeded", amount_received: 14900 });
    expect(obj.latest_charge).toMatch(/^ch_/);
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe("succeeded");
  });

  it("a signature made with another secret does not verify", async () => {
    const pi = await newIntent();
    await control(`/_double/payment_intents/${pi.id}/cancel`);
    await expect(
      stripe.webhooks.constructEventAsync(received[0].raw, received[0].signature, "whsec_other", 300, Stripe.createSubtleCryptoProvider()),
    ).rejects.toThrow();
  });

  it("fail and cancel send their events", async () => {
    const pi = await newIntent();
    const failed = await double.sendEvent("payment_intent.payment_failed", pi.id);
    expect(failed.webhookStatus).toBe(200);
    expect(failed.webhookBody).toBe('{"received":true}');
    const failedEvent = await verify(received[0]);
    expect(failedEvent.type).toBe("payment_intent.payment_failed");
    expect((failedEvent.data.object as Stripe.PaymentIntent).last_payment_error?.code).toBe("card_declined");
    await control(`/_double/payment_intents/${pi.id}/cancel`);
    const canceled = await verify(received[1]);
    expect(canceled.type).toBe("payment_intent.canceled");
    expect((canceled.data.object as Stripe.PaymentIntent).status).toBe("canceled");
  });

  it("refund sends charge.refunded pointing at the PI", async () => {
    const pi = await newIntent();
    await control(`/_double/payment_intents/${pi.id}/succeed`);
    const { body } = await control(`/_double/payment_intents/${pi.id}/refund`);
    const event = await verify(received[1]);
    expect(event.id).toBe(body.event_id);
    expect(event.type).toBe("charge.refunded");
    const charge = event.data.object as Stripe.Charge;
    expect(charge).toMatchObject({ object: "charge", payment_intent: pi.id, amount: 14900, amount_refunded: 14900, refunded: true });
    expect(charge.metadata.request_id).toBe(pi.metadata.request_id);
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe("succeeded");
  });

  it("refuses to refund a PI that never succeeded", async () => {
    const pi = await newIntent();
    const { status, body } = await control(`/_double/payment_intents/${pi.id}/refund`);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ type: "invalid_request_error" });
    expect(received).toHaveLength(0);
  });

  it("resend delivers the identical event with a fresh signature", async () => {
    const pi = await newIntent();
    const { body } = await control(`/_double/payment_intents/${pi.id}/succeed`);
    const again = await control(`/_double/events/${String(body.event_id)}/resend`);
    expect(again.body).toEqual({ event_id: body.event_id, webhook_status: 200 });
    expect(received).toHaveLength(2);
    expect(received[1].raw).toBe(received[0].raw);
    expect((await verify(received[1])).id).toBe(body.event_id);
  });

  it("lists PIs and 404s unknown PIs and events", async () => {
    const res = await fetch(`${double.url}/_double/payment_intents`);
    expect(((await res.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);
    expect((await control("/_double/payment_intents/pi_nope/succeed")).status).toBe(404);
    expect((await control("/_double/events/evt_nope/resend")).status).toBe(404);
  });
});

describe("state kept in a journal (stateFile)", () => {
  it("survives a restart: intents, charges, events to resend and idempotent replies; a torn last line is skipped", async () => {
    const stateFile = join(await mkdtemp(join(tmpdir(), "stripe-double-state-")), "stripe-double.jsonl");
    const { port } = receiver.address() as AddressInfo;
    const options = { webhookSecret: SECRET, webhookUrl: `http://127.0.0.1:${port}/`, quiet: true, stateFile };
    const outer = double;
    try {
      double = await startStripeDouble(options);
      stripe = sdk("sk_test_123");
      const paid = await stripe.paymentIntents.create({ amount: 14900, currency: "eur" }, { idempotencyKey: "pay-1" });
      const pending = await newIntent();
      const { body } = await control(`/_double/payment_intents/${paid.id}/succeed`);
      await double.close();
      appendFileSync(stateFile, '{"intent":{"id":"pi_torn"'); // a crash mid-write

      double = await startStripeDouble(options);
      stripe = sdk("sk_test_123");
      expect((await stripe.paymentIntents.retrieve(pending.id)).status).toBe("requires_payment_method");
      expect(await stripe.paymentIntents.retrieve(paid.id)).toMatchObject({ status: "succeeded", latest_charge: expect.stringMatching(/^ch_/) });
      const replay = await stripe.paymentIntents.create({ amount: 14900, currency: "eur" }, { idempotencyKey: "pay-1" });
      expect(replay.id).toBe(paid.id);
      expect((await control(`/_double/payment_intents/${paid.id}/refund`)).status).toBe(200); // the charge came back too
      expect((await control(`/_double/events/${body.event_id}/resend`)).status).toBe(200);
      expect((await control(`/_double/payment_intents/${pending.id}/succeed`)).status).toBe(200);
      expect(readFileSync(stateFile, "utf8")).not.toContain("pi_torn");
    } finally {
      await double.close();
      double = outer;
      stripe = sdk("sk_test_123");
    }
  });
});
