/**
 * The webhook destination against a receiver that verifies Standard Webhooks
 * signatures (./double.ts, its own node:crypto verifier). The oracles are the
 * specification (published test vector, header formats, 410 rule) and what the
 * receiver accepted — never the module's own signing code.
 */
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RecordedCall } from "../double-kit.ts";
import type { DeliveryEvent } from "../types.ts";
import { callbackEvent, leadEvent, nextEvent, requestEvent, startHarness, type Harness } from "../../../tests/helpers/destination-harness.ts";
import { createWebhookDouble, type ReceivedMessage, type Rejection, type DuplicateDelivery } from "./double.ts";
import { LOCAL_WEBHOOK_PATH, LOCAL_WEBHOOK_SECRET, webhook, type WebhookSettings } from "./index.ts";
import { decodeSecret, sign, signatureHeader } from "./signature.ts";

// Another well-formed secret (32 bytes of readable ASCII), which the receiver does not hold.
const OTHER_SECRET = "whsec_" + Buffer.from("another-local-secret-for-tests!!").toString("base64");

/** The test's own HMAC: base64 HMAC-SHA256 over "<id>.<ts>.<body>", key = base64 after whsec_. */
function expectedSignature(secret: string, id: string, ts: number | string, body: string): string {
  return createHmac("sha256", Buffer.from(secret.slice("whsec_".length), "base64")).update(`${id}.${ts}.${body}`).digest("base64");
}

/** Whether one of the `v1,` entries of a recorded call is the test's own signature of its body. */
function signedBy(call: RecordedCall, secret: string): boolean {
  const body = typeof call.body === "string" ? call.body : JSON.stringify(call.body);
  const want = expectedSignature(secret, call.headers["webhook-id"], call.headers["webhook-timestamp"], body);
  return (call.headers["webhook-signature"] ?? "").split(" ").includes(`v1,${want}`);
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Standard Webhooks signature: fixed vectors", () => {
  it("reproduces the specification's published test vector", async () => {
    // The standard-webhooks reference libraries' vector: secret, msg id, timestamp, payload → signature.
    const secret = `whsec_${"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`; // public, from the specification's tests
    const payload = '{"test": 2432232314}';
    const sig = await sign(decodeSecret(secret), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, payload);
    expect(sig).toBe("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    expect(sig).toBe(expectedSignature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, payload));
  });

  it("signs a UTF-8 body as its UTF-8 bytes, like node:crypto", async () => {
    const id = "3f1c2a9e-8d4b-4c1e-9a57-0b6f2d8e4c11";
    const body = JSON.stringify({ type: "lead.upserted", timestamp: "2025-03-01T09:30:00.000Z", data: { firstName: "Hélène", city: "Besançon" } });
    const sig = await sign(decodeSecret(LOCAL_WEBHOOK_SECRET), id, 1740821400, body);
    expect(sig).toBe(expectedSignature(LOCAL_WEBHOOK_SECRET, id, 1740821400, body));
    // A change of one character changes the signature.
    expect(sig).not.toBe(expectedSignature(LOCAL_WEBHOOK_SECRET, id, 1740821400, body.replace("Hélène", "Helene")));
  });

  it("signs with every secret of a rotation, space-separated, in order", async () => {
    const header = await signatureHeader([OTHER_SECRET, LOCAL_WEBHOOK_SECRET], "evt", 1700000000, "{}");
    expect(header).toBe(`v1,${expectedSignature(OTHER_SECRET, "evt", 1700000000, "{}")} v1,${expectedSignature(LOCAL_WEBHOOK_SECRET, "evt", 1700000000, "{}")}`);
  });
});

describe("webhook settings", () => {
  const url = "https://n8n.example.fr/webhook/crm";

  it("is disabled when neither variable is set (or both are blank)", () => {
    expect(webhook.settings({})).toBeUndefined();
    expect(webhook.settings({ WEBHOOK_URL: " ", WEBHOOK_SECRET: "" })).toBeUndefined();
  });

  it("refuses half a configuration, naming the missing variable", () => {
    expect(() => webhook.settings({ WEBHOOK_URL: url })).toThrow(/WEBHOOK_SECRET/);
    expect(() => webhook.settings({ WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET })).toThrow(/WEBHOOK_URL/);
  });

  it("refuses a malformed secret with an error naming WEBHOOK_SECRET, never echoing it", () => {
    const key = LOCAL_WEBHOOK_SECRET.slice("whsec_".length); // a well-formed key, to break
    const bad = [
      key, // no whsec_ prefix
      "whsec_", // nothing after it
      "whsec_not*base64*at*all!", // not base64
      `whsec_${key.slice(0, -1)}`, // bad length (padding missing)
      "whsec_c2hvcnQta2V5", // 9 bytes: under the spec's 24
      `whsec_zzzz${key} whsec_x`, // second secret of a rotation malformed
    ];
    for (const secret of bad) {
      let error: Error | undefined;
      try {
        webhook.settings({ WEBHOOK_URL: url, WEBHOOK_SECRET: secret });
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message, secret).toMatch(/WEBHOOK_SECRET/);
      for (const part of secret.split(" ")) if (part.length > 8) expect(error!.message).not.toContain(part.slice(6));
    }
  });

  it("refuses a URL that is not absolute http(s) or carries credentials", () => {
    for (const u of ["n8n.example.fr/webhook", "ftp://example.fr/hook", "https://user:pw@example.fr/hook"]) {
      expect(() => webhook.settings({ WEBHOOK_URL: u, WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET }), u).toThrow(/WEBHOOK_URL/);
    }
  });

  it("paces at 50/s (burst 100) unless WEBHOOK_RATE_LIMIT says otherwise; one call per delivery", () => {
    const s = webhook.settings({ WEBHOOK_URL: url, WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET })!;
    expect(webhook.rateLimit(s)).toEqual({ perSecond: 50, burst: 100 });
    const slow = webhook.settings({ WEBHOOK_URL: url, WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET, WEBHOOK_RATE_LIMIT: "5" })!;
    expect(webhook.rateLimit(slow)).toEqual({ perSecond: 5, burst: 10 });
    for (const v of ["0", "-3", "fast"]) {
      expect(() => webhook.settings({ WEBHOOK_URL: url, WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET, WEBHOOK_RATE_LIMIT: v })).toThrow(/WEBHOOK_RATE_LIMIT/);
    }
    expect(webhook.maxCallsPerDelivery).toBe(1);
  });

  it("accepts a rotation: several well-formed secrets separated by spaces", () => {
    expect(webhook.settings({ WEBHOOK_URL: url, WEBHOOK_SECRET: `${OTHER_SECRET} ${LOCAL_WEBHOOK_SECRET}` })!.secrets).toEqual([OTHER_SECRET, LOCAL_WEBHOOK_SECRET]);
  });
});

describe("webhook destination against a verifying receiver", () => {
  const receiver = createWebhookDouble();
  let h: Harness<WebhookSettings>;
  const state = () => receiver.state() as { messages: ReceivedMessage[]; duplicates: DuplicateDelivery[]; rejected: Rejection[] };
  const calls = () => h.double.calls();
  const settingsWith = (env: Record<string, string>) => webhook.settings({ ...webhook.localEnv(h.server.urlOf("webhook")), ...env })!;

  beforeAll(async () => {
    h = await startHarness(webhook, receiver);
  });
  afterAll(() => h.close());
  beforeEach(() => h.double.reset());

  /** The receiver's message for this event, checked against the event (not against the mapping). */
  function expectReceived(event: DeliveryEvent) {
    const got = state().messages.filter((m) => m.id === event.id);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ id: event.id, type: event.type, timestamp: new Date(event.createdAt).toISOString(), data: event.data });
    return got[0];
  }

  it.each([
    ["lead.upserted", () => leadEvent()],
    ["callback.created", () => callbackEvent()],
    ["request.upserted", () => requestEvent()],
  ])("delivers %s: one signed POST the receiver verifies and records", async (type, make) => {
    const event = make();
    const before = nowSeconds();
    const out = await h.deliver(event);
    expect(out).toMatchObject({ kind: "delivered", httpStatus: 200 });

    const m = expectReceived(event);
    expect(m.type).toBe(type);
    const [c] = calls();
    expect(calls()).toHaveLength(1);
    expect(c.method).toBe("POST");
    expect(c.path).toBe(LOCAL_WEBHOOK_PATH);
    expect(c.headers["content-type"]).toMatch(/^application\/json/);
    expect(c.headers["webhook-id"]).toBe(event.id);
    expect(c.headers["webhook-timestamp"]).toMatch(/^\d+$/);
    expect(Number(c.headers["webhook-timestamp"])).toBeGreaterThanOrEqual(before);
    expect(Number(c.headers["webhook-timestamp"])).toBeLessThanOrEqual(nowSeconds());
    expect(c.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(signedBy(c, LOCAL_WEBHOOK_SECRET)).toBe(true);
    expect(Object.keys(c.body as object)).toEqual(["type", "timestamp", "data"]);
    expect(state().duplicates).toEqual([]);
  });

  it("sends each later snapshot of a record as its own message, in order, never as a duplicate", async () => {
    const pending = requestEvent({ payment_status: "pending" });
    const paid = nextEvent(pending, { payment_status: "paid", payment_intent_id: "pi_test_1", amount: 4900, currency: "eur" });
    const refunded = nextEvent(paid, { payment_status: "refunded" });
    for (const e of [pending, paid, refunded]) expect((await h.deliver(e)).kind).toBe("delivered");

    const msgs = state().messages;
    expect(msgs.map((m) => m.id)).toEqual([pending.id, paid.id, refunded.id]);
    expect(msgs.map((m) => m.data.payment_status)).toEqual(["pending", "paid", "refunded"]);
    expect(new Set(msgs.map((m) => m.data.lovable_request_id)).size).toBe(1);
    expect(msgs[2].data).toMatchObject({ payment_intent_id: "pi_test_1", amount: 4900, currency: "eur" });
    expect(state().duplicates).toEqual([]);
  });

  it("keeps webhook-id across a retry: error, then success with a new timestamp, both signatures valid", async () => {
    const event = leadEvent();
    h.double.setFaults({ mode: "error", status: 503, times: 1 });
    const first = await h.deliver(event);
    expect(first).toMatchObject({ kind: "retry", httpStatus: 503 });
    await sleep(1_050 - (Date.now() % 1_000)); // the next Unix second
    const second = await h.deliver({ ...event, attempt: 2 });
    expect(second.kind).toBe("delivered");

    const [a, b] = calls();
    expect(calls()).toHaveLength(2);
    expect(a.headers["webhook-id"]).toBe(event.id);
    expect(b.headers["webhook-id"]).toBe(event.id);
    expect(Number(b.headers["webhook-timestamp"])).toBeGreaterThan(Number(a.headers["webhook-timestamp"]));
    expect(signedBy(a, LOCAL_WEBHOOK_SECRET)).toBe(true);
    expect(signedBy(b, LOCAL_WEBHOOK_SECRET)).toBe(true);
    expect(a.body).toEqual(b.body); // the same payload, only the attempt's metadata changed
    expect(expectReceived(event).attemptTimestamp).toBe(Number(b.headers["webhook-timestamp"]));
  });

  it("sends the same bytes on every attempt, even when the retry's body comes back from Postgres with its keys reordered", async () => {
    const event = leadEvent();
    expect((await h.deliver(event)).kind).toBe("delivered"); // accepted, but (say) the completion was lost
    // jsonb returns an object's keys shortest first: the sweeper's copy of the same event.
    const fromDatabase = Object.fromEntries(Object.entries(event.data).sort(([a], [b]) => a.length - b.length || (a < b ? -1 : 1)));
    expect(Object.keys(fromDatabase)).not.toEqual(Object.keys(event.data));
    expect((await h.deliver({ ...event, data: fromDatabase, attempt: 2 })).kind).toBe("delivered");
    const [a, b] = calls();
    expect(JSON.stringify(b.body)).toBe(JSON.stringify(a.body));
    expect(state().messages.filter((m) => m.id === event.id)).toHaveLength(1);
    expect(state().duplicates).toMatchObject([{ id: event.id, samePayload: true }]);
  });

  it("retries after a timeout; the receiver ends up with the event once", async () => {
    const event = callbackEvent();
    h.double.setFaults({ mode: "slow", delayMs: 800, times: 1 });
    const first = await h.deliver(event, { timeoutMs: 200 });
    expect(first.kind).toBe("retry");
    expect((first as { error: string }).error).toMatch(/timeout/i);
    const second = await h.deliver({ ...event, attempt: 2 });
    expect(second.kind).toBe("delivered");
    await sleep(900); // let the slow first attempt finish at the receiver, if it ever gets there
    expectReceived(event);
    expect(state().duplicates.every((d) => d.id === event.id && d.samePayload)).toBe(true);
  });

  it("records a repeated webhook-id as a duplicate, not a second message", async () => {
    const event = leadEvent();
    expect((await h.deliver(event)).kind).toBe("delivered");
    expect((await h.deliver({ ...event, attempt: 2 })).kind).toBe("delivered");
    expectReceived(event);
    expect(state().duplicates).toMatchObject([{ id: event.id, samePayload: true }]);
  });

  it("pauses the destination on 410 Gone, with a reason that hides the URL's path", async () => {
    receiver.setGone(true);
    try {
      const out = await h.deliver(leadEvent());
      expect(out.kind).toBe("pause");
      expect(out.httpStatus).toBe(410);
      const reason = (out as { reason: string }).reason;
      expect(reason).toMatch(/410/);
      expect(reason).toMatch(/stop sending/);
      expect(reason).not.toContain(LOCAL_WEBHOOK_PATH);
      expect(state().messages).toEqual([]);
    } finally {
      receiver.setGone(false);
    }
    h.double.setFaults({ mode: "reject", status: 410, times: 1 });
    expect((await h.deliver(leadEvent())).kind).toBe("pause");
  });

  it("honours Retry-After on 429; 5xx retries; 400/422/404 are dead", async () => {
    h.double.setFaults({ mode: "throttle", retryAfter: 7, times: 1 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 7_000 });
    h.double.setFaults({ mode: "error", status: 502, times: 1 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 502 });
    for (const status of [408, 425]) {
      h.double.setFaults({ mode: "reject", status, times: 1 });
      expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: status });
    }
    for (const status of [400, 422]) {
      h.double.setFaults({ mode: "reject", status, times: 1 });
      expect(await h.deliver(leadEvent())).toMatchObject({ kind: "dead", httpStatus: status });
    }
    const wrongPath = settingsWith({ WEBHOOK_URL: `${h.server.urlOf("webhook")}/hooks/nope` });
    expect(await h.deliver(leadEvent(), { settings: wrongPath })).toMatchObject({ kind: "dead", httpStatus: 404 });
    expect(state().messages).toEqual([]);
  });

  it("a network failure is a retry whose error does not quote the URL's path", async () => {
    const closed = webhook.settings({ WEBHOOK_URL: `http://127.0.0.1:1${LOCAL_WEBHOOK_PATH}?token=abc`, WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET })!;
    const out = await h.deliver(leadEvent(), { settings: closed });
    expect(out).toMatchObject({ kind: "retry", httpStatus: null });
    expect((out as { error: string }).error).not.toContain("token=abc");
  });

  it("a wrong (well-formed) secret is refused by the receiver: dead 401 naming WEBHOOK_SECRET", async () => {
    const out = await h.deliver(leadEvent(), { settings: settingsWith({ WEBHOOK_SECRET: OTHER_SECRET }) });
    expect(out).toMatchObject({ kind: "dead", httpStatus: 401 });
    expect((out as { error: string }).error).toMatch(/WEBHOOK_SECRET/);
    expect(state().messages).toEqual([]);
    expect(state().rejected).toMatchObject([{ status: 401, reason: "No matching signature found" }]);
  });

  it("during a rotation the receiver accepts the delivery by the one secret it holds", async () => {
    const event = leadEvent();
    const out = await h.deliver(event, { settings: settingsWith({ WEBHOOK_SECRET: `${OTHER_SECRET} ${LOCAL_WEBHOOK_SECRET}` }) });
    expect(out.kind).toBe("delivered");
    expect(calls()[0].headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(signedBy(calls()[0], OTHER_SECRET) && signedBy(calls()[0], LOCAL_WEBHOOK_SECRET)).toBe(true);
    expectReceived(event);
  });

  describe("the receiver itself (what makes it an oracle)", () => {
    const post = (body: string, headers: Record<string, string>) =>
      fetch(`${h.server.urlOf("webhook")}${LOCAL_WEBHOOK_PATH}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    const envelope = JSON.stringify({ type: "lead.upserted", timestamp: new Date().toISOString(), data: { email: "a@example.fr" } });
    const signed = (id: string, ts: number, body: string, secret = LOCAL_WEBHOOK_SECRET) => ({
      "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": `v1,${expectedSignature(secret, id, ts, body)}`,
    });

    it("accepts an intact signed body and refuses the same headers over a tampered one", async () => {
      const headers = { ...signed("evt-ok", nowSeconds(), envelope) };
      // The module's own header for the same content is what the receiver verifies too.
      headers["webhook-signature"] = await signatureHeader([LOCAL_WEBHOOK_SECRET], "evt-ok", Number(headers["webhook-timestamp"]), envelope);
      expect((await post(envelope, headers)).status).toBe(200);
      const tampered = envelope.replace("a@example.fr", "b@example.fr");
      const t = { ...signed("evt-tampered", nowSeconds(), envelope) };
      expect((await post(tampered, t)).status).toBe(401);
      expect(state().messages.map((m) => m.id)).toEqual(["evt-ok"]);
      expect(state().rejected).toMatchObject([{ id: "evt-tampered", status: 401, reason: "No matching signature found" }]);
    });

    it("refuses missing signatures and timestamps more than 5 minutes away", async () => {
      const now = nowSeconds();
      const { ["webhook-signature"]: _sig, ...unsigned } = signed("evt-1", now, envelope);
      expect((await post(envelope, unsigned)).status).toBe(401);
      expect((await post(envelope, signed("evt-2", now - 301, envelope))).status).toBe(401);
      expect((await post(envelope, signed("evt-3", now + 301, envelope))).status).toBe(401);
      expect((await post(envelope, signed("evt-4", now, envelope, OTHER_SECRET))).status).toBe(401);
      expect(state().rejected.map((r) => r.reason)).toEqual([
        expect.stringMatching(/Missing required headers/),
        "Message timestamp too old",
        "Message timestamp too new",
        "No matching signature found",
      ]);
      expect((await post(envelope, signed("evt-5", now - 200, envelope))).status).toBe(200);
      expect(state().messages.map((m) => m.id)).toEqual(["evt-5"]);
    });
  });

  describe("test (crm test --destination webhook)", () => {
    it("checks reachability with OPTIONS and creates nothing at the receiver", async () => {
      const check = await h.test();
      expect(check).toMatchObject({ ok: true, reachable: true, credentialsAccepted: null, httpStatus: 204 });
      expect(check.message).toMatch(/WEBHOOK_SECRET is well-formed/);
      expect(check.message).toMatch(/Not checked/);
      expect(calls().map((c) => c.method)).toEqual(["OPTIONS"]);
      expect(state()).toEqual({ messages: [], duplicates: [], rejected: [] });
    });

    it("tells a wrong URL (404 at that path, or nothing listening) from a malformed secret", async () => {
      const wrongPath = await h.test(settingsWith({ WEBHOOK_URL: `${h.server.urlOf("webhook")}/hooks/nope` }));
      expect(wrongPath).toMatchObject({ ok: false, reachable: true, httpStatus: 404 });
      expect(wrongPath.message).toMatch(/WEBHOOK_URL/);

      const unreachable = await h.test(webhook.settings({ WEBHOOK_URL: `http://127.0.0.1:1${LOCAL_WEBHOOK_PATH}`, WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET })!);
      expect(unreachable).toMatchObject({ ok: false, reachable: false, httpStatus: null });
      expect(unreachable.message).toMatch(/WEBHOOK_URL/);
      expect(unreachable.message).not.toContain(LOCAL_WEBHOOK_PATH);

      // A malformed secret never gets as far as a check: the settings name it.
      expect(() => settingsWith({ WEBHOOK_SECRET: "whsec_c2hvcnQta2V5" })).toThrow(/WEBHOOK_SECRET/);
      // A well-formed but wrong secret cannot be told without a delivery, and the check says so.
      const wrongSecret = await h.test(settingsWith({ WEBHOOK_SECRET: OTHER_SECRET }));
      expect(wrongSecret).toMatchObject({ ok: true, credentialsAccepted: null });
      expect(wrongSecret.message).toMatch(/Not checked: whether the receiver accepts the signature/);
    });

    it("reports a gone receiver", async () => {
      receiver.setGone(true);
      try {
        expect(await h.test()).toMatchObject({ ok: false, reachable: true, httpStatus: 410 });
      } finally {
        receiver.setGone(false);
      }
    });
  });
});
