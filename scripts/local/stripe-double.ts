/**
 * Local Stripe double: a loopback HTTP server speaking just enough of Stripe's
 * API for the official SDK (create/retrieve PaymentIntents), plus a test
 * control API (`/_double/...`) that moves a PaymentIntent to a new state and
 * sends the matching event, signed with the webhook secret, to stripe-webhook.
 * State lives in memory; with `stateFile` (the local stack keeps it in its data
 * directory, beside Postgres) every change is also appended to a journal, read
 * back on start, so a restart never forgets a PaymentIntent the database still
 * references. A line torn by a crash is skipped; the journal is compacted on
 * start (written to a temporary file, then renamed over the old one).
 *
 * It follows Stripe's API reference where our code relies on it: "Idempotent
 * requests" (a key replays the first successful answer, with
 * `Idempotent-Replayed: true`; the same key with other parameters is a 400
 * `idempotency_error`), "The PaymentIntent object" (its statuses: `setStatus`
 * moves one without an event, as when Stripe's event is late or lost), and
 * "Errors" (the `{"error": {type, code, message, param}}` shape, 401 without a
 * valid key, 404 `resource_missing`).
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import {
  buildEvent,
  type ChargeRecord,
  isSupportedEventType,
  nowSeconds,
  type PaymentIntentRecord,
  type PaymentIntentStatus,
  randomId,
  type StripeEventRecord,
  type SupportedEventType,
} from "./stripe-events.ts";

export type { ChargeRecord, PaymentIntentRecord, PaymentIntentStatus, SupportedEventType } from "./stripe-events.ts";

export interface StripeDoubleOptions {
  webhookSecret: string;
  webhookUrl?: string;
  port?: number;
  host?: string;
  quiet?: boolean;
  /** A journal file that keeps the state across restarts (default: memory only). */
  stateFile?: string;
}

type JournalLine =
  | { intent: PaymentIntentRecord }
  | { charge: ChargeRecord }
  | { event: { id: string; payload: string } }
  | { idempotent: { key: string; fingerprint: string; status: number; body: string } };

export interface StripeDouble {
  url: string;
  port: number;
  paymentIntents(): PaymentIntentRecord[];
  setWebhookUrl(url: string): void;
  /**
   * Moves a PaymentIntent to any status without sending an event, as when
   * Stripe's event is late or was lost (e.g. `processing` for a bank debit,
   * `succeeded` while the webhook answered 503).
   */
  setStatus(paymentIntentId: string, status: PaymentIntentStatus): void;
  /** The next `count` API calls fail with this error (Stripe's shape), as in an outage. */
  failNext(count: number, error?: { status: number; type: string; message: string }): void;
  /** Calls received on the API (not the control routes), e.g. to count Stripe calls per request. */
  apiCalls(): Array<{ method: string; path: string; idempotencyKey?: string }>;
  sendEvent(
    type: SupportedEventType,
    paymentIntentId: string,
  ): Promise<{ eventId: string; webhookStatus: number; webhookBody: string }>;
  close(): Promise<void>;
}

const WEBHOOK_TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 1024 * 1024;
const ACTIONS: Record<string, SupportedEventType> = {
  succeed: "payment_intent.succeeded",
  fail: "payment_intent.payment_failed",
  cancel: "payment_intent.canceled",
  refund: "charge.refunded",
};

/** An error answered in Stripe's `{"error": {...}}` shape, so the SDK raises its own typed errors. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly extra: { code?: string; param?: string } = {},
  ) {
    super(message);
  }
}

const missing = (id: string) =>
  new ApiError(404, "invalid_request_error", `No such payment_intent: '${id}'`, { code: "resource_missing", param: "intent" });

/** `a[b][c]=v` → `{ a: { b: { c: "v" } } }`, Stripe's (and qs's) bracket notation. */
type Form = { [key: string]: string | Form };
function parseForm(body: string): Form {
  const out: Form = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.replace(/\]/g, "").split("[");
    let node = out;
    path.slice(0, -1).forEach((seg) => {
      if (typeof node[seg] !== "object") node[seg] = {};
      node = node[seg] as Form;
    });
    node[path[path.length - 1]] = value;
  }
  return out;
}

/** Like Stripe: keep the prefix and the last four characters, never the whole key. */
const maskKey = (key: string) => (key.length > 12 ? `${key.slice(0, 8)}${"*".repeat(key.length - 12)}${key.slice(-4)}` : "****");

export async function startStripeDouble(opts: StripeDoubleOptions): Promise<StripeDouble> {
  const intents = new Map<string, PaymentIntentRecord>();
  const charges = new Map<string, ChargeRecord>();
  // Payloads exactly as sent, so a resend is byte-for-byte the same event.
  const events = new Map<string, string>();
  const idempotent = new Map<string, { fingerprint: string; status: number; body: string }>();
  let webhookUrl = opts.webhookUrl;
  const calls: Array<{ method: string; path: string; idempotencyKey?: string }> = [];
  let failures: { count: number; error: ApiError } = { count: 0, error: new ApiError(500, "api_error", "") };

  const journal = opts.stateFile;
  const record = (...lines: JournalLine[]) => {
    if (journal) appendFileSync(journal, lines.map((l) => JSON.stringify(l) + "\n").join(""));
  };
  if (journal && existsSync(journal)) {
    for (const line of readFileSync(journal, "utf8").split("\n")) {
      if (!line.trim()) continue;
      let entry: JournalLine;
      try {
        entry = JSON.parse(line);
      } catch {
        continue; // torn by a crash mid-write: that change never answered
      }
      if ("intent" in entry) intents.set(entry.intent.id, entry.intent);
      else if ("charge" in entry) charges.set(entry.charge.id, entry.charge);
      else if ("event" in entry) events.set(entry.event.id, entry.event.payload);
      else if ("idempotent" in entry) idempotent.set(entry.idempotent.key, entry.idempotent);
    }
    const compacted: JournalLine[] = [
      ...[...intents.values()].map((intent) => ({ intent })),
      ...[...charges.values()].map((charge) => ({ charge })),
      ...[...events].map(([id, payload]) => ({ event: { id, payload } })),
      ...[...idempotent].map(([key, v]) => ({ idempotent: { key, ...v } })),
    ];
    writeFileSync(`${journal}.tmp`, compacted.map((l) => JSON.stringify(l) + "\n").join(""));
    renameSync(`${journal}.tmp`, journal);
  }

  function createIntent(form: Form): PaymentIntentRecord {
    const { amount, currency, description, metadata } = form;
    if (amount === undefined) throw new ApiError(400, "invalid_request_error", "Missing required param: amount.", { code: "parameter_missing", param: "amount" });
    if (typeof amount !== "string" || !/^\d+$/.test(amount) || Number(amount) <= 0 || !Number.isSafeInteger(Number(amount))) {
      throw new ApiError(400, "invalid_request_error", `Invalid positive integer: ${String(amount)}`, { code: "parameter_invalid_integer", param: "amount" });
    }
    if (typeof currency !== "string" || !/^[a-zA-Z]{3}$/.test(currency)) {
      throw new ApiError(400, "invalid_request_error", `Invalid currency: ${String(currency ?? "")}`, { code: "parameter_invalid_string", param: "currency" });
    }
    const id = randomId("pi_");
    const pi: PaymentIntentRecord = {
      id,
      object: "payment_intent",
      amount: Number(amount),
      amount_received: 0,
      currency: currency.toLowerCase(),
      status: "requires_payment_method",
      client_secret: randomId(`${id}_secret_`),
      metadata: typeof metadata === "object" ? (metadata as Record<string, string>) : {},
      description: typeof description === "string" ? description : null,
      created: nowSeconds(),
      livemode: false,
      latest_charge: null,
      last_payment_error: null,
      canceled_at: null,
      cancellation_reason: null,
      automatic_payment_methods: { enabled: true },
    };
    intents.set(id, pi);
    return pi;
  }

  /**
   * Moves the PaymentIntent and returns the event describing it. Deliberately
   * permissive (e.g. `fail` after `succeed`) so tests can replay out-of-order
   * deliveries; only a refund needs a charge to exist.
   */
  function transition(type: SupportedEventType, piId: string): StripeEventRecord {
    const pi = intents.get(piId);
    if (!pi) throw missing(piId);
    switch (type) {
      case "payment_intent.succeeded": {
        const charge: ChargeRecord = {
          id: randomId("ch_"), object: "charge", amount: pi.amount, amount_captured: pi.amount, amount_refunded: 0,
          captured: true, paid: true, refunded: false, status: "succeeded", payment_intent: pi.id,
          currency: pi.currency, metadata: { ...pi.metadata }, created: nowSeconds(), livemode: false,
        };
        charges.set(charge.id, charge);
        Object.assign(pi, { status: "succeeded", amount_received: pi.amount, latest_charge: charge.id, last_payment_error: null });
        return buildEvent(type, pi);
      }
      case "payment_intent.payment_failed":
        Object.assign(pi, {
          status: "requires_payment_method",
          last_payment_error: { code: "card_declined", message: "Your card was declined.", type: "card_error" },
        });
        return buildEvent(type, pi);
      case "payment_intent.canceled":
        Object.assign(pi, { status: "canceled", canceled_at: nowSeconds() });
        return buildEvent(type, pi);
      case "charge.refunded": {
        const charge = pi.status === "succeeded" && pi.latest_charge ? charges.get(pi.latest_charge) : undefined;
        if (!charge) throw new ApiError(400, "invalid_request_error", `PaymentIntent ${pi.id} has no successful charge to refund.`, { code: "charge_not_refundable" });
        if (charge.refunded) throw new ApiError(400, "invalid_request_error", `Charge ${charge.id} has already been refunded.`, { code: "charge_already_refunded" });
        Object.assign(charge, { amount_refunded: charge.amount, refunded: true });
        return buildEvent(type, charge);
      }
    }
  }

  /** POSTs a payload with a fresh signature. A network failure is status 0, not a throw: the event stays resendable. */
  async function deliver(payload: string): Promise<{ status: number; body: string }> {
    if (!webhookUrl) throw new Error("stripe-double: no webhookUrl set (pass it to startStripeDouble or call setWebhookUrl)");
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: opts.webhookSecret });
    try {
      const res = await fetch(webhookUrl, {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": signature },
        body: payload,
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      return { status: res.status, body: await res.text() };
    } catch (err) {
      return { status: 0, body: `delivery failed: ${(err as Error).message}` };
    }
  }

  async function sendEvent(type: SupportedEventType, paymentIntentId: string) {
    if (!isSupportedEventType(type)) throw new Error(`stripe-double: unsupported event type '${String(type)}'`);
    if (!webhookUrl) throw new Error("stripe-double: no webhookUrl set (pass it to startStripeDouble or call setWebhookUrl)");
    const event = transition(type, paymentIntentId);
    const payload = JSON.stringify(event, null, 2);
    events.set(event.id, payload);
    const pi = intents.get(paymentIntentId)!;
    const charge = pi.latest_charge ? charges.get(pi.latest_charge) : undefined;
    record({ intent: pi }, ...(charge ? [{ charge }] : []), { event: { id: event.id, payload } });
    const { status, body } = await deliver(payload);
    return { eventId: event.id, webhookStatus: status, webhookBody: body };
  }

  async function route(method: string, path: string, req: IncomingMessage, body: string): Promise<[number, unknown, Record<string, string>?]> {
    // Test control API: no auth, the server only listens on loopback by default.
    const control = path.match(/^\/_double\/payment_intents\/([^/]+)\/([a-z]+)$/);
    if (method === "POST" && control) {
      const type = Object.hasOwn(ACTIONS, control[2]) ? ACTIONS[control[2]] : undefined;
      if (!type) throw new ApiError(404, "invalid_request_error", `Unknown action '${control[2]}' (succeed | fail | cancel | refund).`);
      const sent = await sendEvent(type, control[1]);
      return [200, { event_id: sent.eventId, webhook_status: sent.webhookStatus }];
    }
    const resend = path.match(/^\/_double\/events\/([^/]+)\/resend$/);
    if (method === "POST" && resend) {
      const payload = events.get(resend[1]);
      if (!payload) throw new ApiError(404, "invalid_request_error", `No such event: '${resend[1]}'`, { code: "resource_missing" });
      const { status } = await deliver(payload);
      return [200, { event_id: resend[1], webhook_status: status }];
    }
    if (method === "GET" && path === "/_double/payment_intents") {
      return [200, { object: "list", data: [...intents.values()], has_more: false, url: path }];
    }
    if (!path.startsWith("/v1/")) throw new ApiError(404, "invalid_request_error", `Unrecognized request URL (${method}: ${path}).`);

    const idempotencyHeader = req.headers["idempotency-key"];
    calls.push({ method, path, idempotencyKey: typeof idempotencyHeader === "string" ? idempotencyHeader : undefined });
    if (failures.count > 0) {
      failures.count--;
      throw failures.error;
    }
    const auth = req.headers.authorization ?? "";
    const key = auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
    if (!key) throw new ApiError(401, "invalid_request_error", "You did not provide an API key.");
    if (!key.startsWith("sk_test_")) throw new ApiError(401, "invalid_request_error", `Invalid API Key provided: ${maskKey(key)}`);

    if (method === "POST" && path === "/v1/payment_intents") {
      const idemKey = req.headers["idempotency-key"];
      const fingerprint = `${method} ${path}\n${body}`;
      const stored = typeof idemKey === "string" ? idempotent.get(idemKey) : undefined;
      if (stored && stored.fingerprint !== fingerprint) {
        throw new ApiError(400, "idempotency_error",
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.`);
      }
      // The saved answer as it was, not the object's current state (as Stripe does).
      if (stored) return [stored.status, JSON.parse(stored.body), { "idempotent-replayed": "true" }];
      const pi = createIntent(parseForm(body));
      // Only successes are stored: Stripe does not save results of requests that failed validation.
      const result = { fingerprint, status: 200, body: JSON.stringify(pi) };
      if (typeof idemKey === "string") idempotent.set(idemKey, result);
      record({ intent: pi }, ...(typeof idemKey === "string" ? [{ idempotent: { key: idemKey, ...result } }] : []));
      return [200, pi];
    }
    const get = path.match(/^\/v1\/payment_intents\/([^/]+)$/);
    if (method === "GET" && get) {
      const pi = intents.get(get[1]);
      if (!pi) throw missing(get[1]);
      return [200, pi];
    }
    throw new ApiError(404, "invalid_request_error", `Unrecognized request URL (${method}: ${path}).`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    // The path only: query strings are not ours to log.
    const path = new URL(req.url ?? "/", "http://double").pathname;
    let status = 500;
    let payload: unknown;
    let headers: Record<string, string> = {};
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY_BYTES) throw new ApiError(413, "invalid_request_error", "Request body too large.");
        chunks.push(chunk as Buffer);
      }
      [status, payload, headers = {}] = await route(method, path, req, Buffer.concat(chunks).toString("utf8"));
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, "api_error", (err as Error).message);
      status = e.status;
      payload = { error: { type: e.type, message: e.message, ...e.extra } };
    }
    res.writeHead(status, { "content-type": "application/json", "request-id": randomId("req_", 14), ...headers });
    res.end(JSON.stringify(payload));
    if (!opts.quiet) {
      console.log(JSON.stringify({ ts: new Date().toISOString(), level: "info", msg: "stripe-double", method, path, status }));
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? "127.0.0.1";

  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    paymentIntents: () => [...intents.values()].map((pi) => structuredClone(pi)),
    setWebhookUrl: (url) => {
      webhookUrl = url;
    },
    sendEvent,
    setStatus: (id, status) => {
      const pi = intents.get(id);
      if (!pi) throw new Error(`stripe-double: no PaymentIntent ${id}`);
      pi.status = status;
    },
    apiCalls: () => calls.map((c) => ({ ...c })),
    failNext: (count, error = { status: 500, type: "api_error", message: "An unknown error occurred." }) => {
      failures = { count, error: new ApiError(error.status, error.type, error.message) };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // The SDK's fetch keeps connections alive; without this close() waits for them to time out.
        server.closeAllConnections();
      }),
  };
}

/** `npx tsx scripts/local/stripe-double.ts` runs it standalone (STRIPE_WEBHOOK_SECRET, STRIPE_WEBHOOK_URL, STRIPE_DOUBLE_PORT). */
if (import.meta.url === `file://${process.argv[1]}`) {
  const double = await startStripeDouble({
    webhookSecret: process.env.STRIPE_WEBHOOK_SECRET ?? "whsec_local",
    webhookUrl: process.env.STRIPE_WEBHOOK_URL,
    port: Number(process.env.STRIPE_DOUBLE_PORT ?? 12111),
  });
  console.log(JSON.stringify({ ts: new Date().toISOString(), level: "info", msg: "stripe-double listening", url: double.url }));
}
