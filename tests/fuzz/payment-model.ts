/**
 * Generators, a model and batch checks for create-payment-intent and
 * stripe-webhook.
 *
 * create-payment-intent: valid = the id of an existing unpaid request (200,
 * one payment and one /requests event the first time; the same open
 * PaymentIntent and nothing new when asked again), settled request → 409,
 * unknown uuid → 404, malformed → 400, with the product's schema as oracle.
 *
 * stripe-webhook: Stripe-shaped events for known, outside-made and unknown
 * PaymentIntents, signed with the stack's secret, and the same unsigned,
 * wrongly signed, tampered, expired, replayed (same id) or hostile. Never a
 * 5xx; a bad signature → 400 and nothing written; a repeated id → nothing
 * new; a PaymentIntent the site did not create → `unknown_payment`, no
 * payment; captured money never goes back to unpaid; one CRM event per status
 * change. Expected statuses come from the independent model of Stripe's
 * semantics (tests/helpers/stripe-payment-oracle.ts), never from the product.
 */
import fc from "fast-check";
import Stripe from "stripe";
import { CrmRequestBody } from "../../scripts/local/crm-contract.ts";
import { type EventKind, requestOutcome } from "../helpers/stripe-payment-oracle.ts";
import type { PaymentStatus } from "../../src/validation/enums.ts";
import { CreatePaymentIntentInput } from "../../src/validation/schemas.ts";
import type { TestStack } from "../helpers/test-stack.ts";
import {
  type BodySpec,
  encodeJson,
  type FieldSpec,
  type FormCase,
  formCase,
  hostileString,
  hostileValue,
  type Json,
  objectOf,
  PoolRef,
  toWire,
  validUuid,
} from "./arbitraries.ts";
import { serverErrorsSince } from "./form-model.ts";
import { type Answer, type FuzzReport, fivexxCause, post, short, type Violation } from "./harness.ts";
import { errorShapeProblem, expectedOutcome } from "./oracle.ts";

type Sql = TestStack["db"]["sql"];

// --- shared: requests made directly in the database ----------------------------------------------

const TYPES = ["definitif", "provisoire", "modification", "augmentation_puissance", "photovoltaique"];

export async function insertRequests(sql: Sql, n: number, paymentStatus: PaymentStatus): Promise<Array<{ id: string; type: string }>> {
  return await sql<{ id: string; type: string }[]>`
    with c as (
      insert into customers (email, phone, full_name, client_type)
      select 'fz-' || gen_random_uuid() || '@example.fr', '+33612345678', 'Fuzz Pool', 'particulier'
      from generate_series(1, ${n})
      returning id, email, phone, full_name, client_type
    )
    insert into requests (customer_id, type_raccordement, address, city, zip_code, status, payment_status,
                          email, phone, full_name, client_type)
    select id, (${TYPES}::text[])[1 + floor(random() * 5)::int], '1 rue du Test', 'Paris', '75001', 'submitted', ${paymentStatus},
           email, phone, full_name, client_type
    from c
    returning id::text, type_raccordement as type`;
}

export async function loadPrices(sql: Sql): Promise<Map<string, { amount: number; currency: string }>> {
  const rows = await sql<{ type_raccordement: string; amount: number; currency: string }[]>`select type_raccordement, amount, currency from prices`;
  return new Map(rows.map((r) => [r.type_raccordement, { amount: r.amount, currency: r.currency }]));
}

// --- create-payment-intent ---------------------------------------------------------------------------

type CpiState = "fresh" | "retry" | "open" | "settled";
const CPI_POOLS: CpiState[] = ["fresh", "fresh", "fresh", "retry", "open", "open", "settled"];

const cpiRequestId: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...CPI_POOLS), fc.nat({ max: 1_000_000 }), fc.constantFrom<PoolRef["style"]>("plain", "plain", "plain", "upper", "padded")).map(([pool, i, style]) => new PoolRef(pool, i, style)) },
  { weight: 2, arbitrary: validUuid }, // unknown request: 404
);

const tricky = (valid: fc.Arbitrary<Json>): FieldSpec => ({
  valid,
  required: true,
  tricky: fc.oneof(
    valid,
    validUuid.map((u) => `{${u}}`),
    validUuid.map((u) => u.replace(/-/g, "")),
    fc.constantFrom<Json>("00000000-0000-0000-0000-000000000000", "1; drop table requests", "null", 0, true, [], {}),
    hostileString,
  ),
});

// A forged `amount` or `currency` is an unknown field (400 unknown_field, CONTRACT §2): near-valid
// bodies add unknown keys; valid ones carry the request id alone.
export const CREATE_PAYMENT_INTENT: BodySpec = {
  request_id: tricky(cpiRequestId),
};

export const cpiCase = formCase(CREATE_PAYMENT_INTENT);

interface CpiRequest {
  id: string;
  type: string;
  state: CpiState;
  pi?: string;
}

/** The requests create-payment-intent is asked about, and what we know of them. */
export class CpiModel {
  readonly byId = new Map<string, CpiRequest>();
  private readonly queues: Record<CpiState, CpiRequest[]> = { fresh: [], retry: [], open: [], settled: [] };

  constructor(private readonly sql: Sql, readonly prices: Map<string, { amount: number; currency: string }>) {}

  private add(rows: Array<{ id: string; type: string }>, state: CpiState) {
    for (const r of rows) {
      const req = { id: r.id, type: r.type, state };
      this.byId.set(r.id, req);
      this.queues[state].push(req);
    }
  }

  /** Enough unused fresh and retry requests for one batch, and some settled ones. */
  async topUp(batchSize: number) {
    if (this.queues.fresh.length < batchSize) this.add(await insertRequests(this.sql, 64, "pending"), "fresh");
    if (this.queues.retry.length < batchSize) {
      this.add(await insertRequests(this.sql, 16, "failed"), "retry");
      this.add(await insertRequests(this.sql, 16, "canceled"), "retry");
    }
    if (this.queues.settled.length < batchSize) {
      this.add(await insertRequests(this.sql, 8, "paid"), "settled");
      this.add(await insertRequests(this.sql, 8, "refunded"), "settled");
    }
  }

  /** A resolver for one batch: every reference gets a different request. */
  resolver() {
    const used = new Set<string>();
    return (ref: PoolRef): string => {
      const state = ref.pool as CpiState;
      const queue = this.queues[state];
      if (state === "fresh" || state === "retry") {
        const req = queue.shift();
        if (!req) return crypto.randomUUID();
        used.add(req.id);
        return req.id;
      }
      for (let k = 0; k < queue.length; k++) {
        const req = queue[(ref.index + k) % queue.length];
        if (!used.has(req.id)) {
          used.add(req.id);
          return req.id;
        }
      }
      return crypto.randomUUID();
    };
  }

  opened(req: CpiRequest, pi: string) {
    req.state = "open";
    req.pi = pi;
    this.queues.open.push(req);
  }
}

export async function runCpiBatch(stack: TestStack, model: CpiModel, cases: FormCase[], report: FuzzReport): Promise<Violation[]> {
  const sql = stack.db.sql;
  const violations: Violation[] = [];
  const fail = (signature: string, detail: string, index?: number) =>
    violations.push({ signature: `create-payment-intent: ${signature}`, detail, index });
  await model.topUp(cases.length);
  const resolve = model.resolver();
  const reqs = cases.map((c) => toWire(encodeJson(c.body, resolve), c.wire));
  const outcomes = reqs.map((r) => expectedOutcome(CreatePaymentIntentInput, r));
  // What each valid body refers to, as the model knew it before the batch.
  const targets = outcomes.map((o) => (o.kind === "valid" ? model.byId.get(o.data.request_id.toLowerCase()) : undefined));
  const statesBefore = targets.map((t) => t && { ...t });

  const [before] = await sql<{ payments: number; seq: number }[]>`
    select (select count(*)::int from payments) as payments, (select coalesce(max(seq), 0)::int from crm_events) as seq`;
  const logsBefore = stack.logs.length;
  const answers: Answer[] = await Promise.all(
    reqs.map((r) =>
      post(`${stack.functionsUrl}/create-payment-intent`, r.bytes, { authorization: `Bearer ${stack.anonKey}`, "content-type": r.contentType }),
    ),
  );
  const serverErrors = serverErrorsSince(stack, logsBefore);

  let newPayments = 0;
  const expectedEvents = new Map<string, { pi: string; amount: number; index: number }>();
  answers.forEach((answer, i) => {
    const expected = outcomes[i];
    const target = statesBefore[i];
    const code = (answer.json as { error?: { code?: string } } | undefined)?.error?.code;
    const input = short(cases[i].body);
    let want: { status: number; code?: string };
    if (expected.kind === "invalid") want = { status: expected.status, code: expected.code };
    else if (!target) want = { status: 404, code: "request_not_found" };
    else if (target.state === "settled") want = { status: 409, code: "already_paid" };
    else want = { status: 200 };
    report.count(cases[i].flavour, expected.kind === "valid" ? `valid-${target?.state ?? "unknown"}` : `invalid-${expected.status}`, answer.status, code);

    if (answer.status >= 500) {
      const cause = fivexxCause(serverErrors, answers.filter((a) => a.status >= 500).length);
      fail(`${answer.status} ${code ?? answer.error ?? ""}${cause}`, `input ${input} → ${answer.text.slice(0, 200)}; server errors: ${serverErrors.join(" | ")}`, i);
    } else if (answer.status !== want.status || (want.code && code !== want.code)) {
      fail(`expected ${want.status} ${want.code ?? ""}, got ${answer.status} ${code ?? ""}`, `input ${input} → ${answer.text.slice(0, 300)}`, i);
    }
    if (answer.status !== 200 && errorShapeProblem(answer.json)) fail(`${answer.status} without the error shape`, `${answer.text.slice(0, 200)}`, i);
    if (answer.status !== 200 || !target || expected.kind !== "valid") return;

    const body = answer.json as { client_secret?: unknown; payment_intent_id?: unknown; amount?: unknown; currency?: unknown };
    const price = model.prices.get(target.type)!;
    if (typeof body.payment_intent_id !== "string" || typeof body.client_secret !== "string" || !body.client_secret.startsWith(`${body.payment_intent_id}_secret_`)) {
      fail("200 without a PaymentIntent and its client_secret", answer.text.slice(0, 200), i);
      return;
    }
    if (body.amount !== price.amount || body.currency !== price.currency) {
      fail("amount is not the server's price", `${target.type}: ${body.amount} ${body.currency} vs ${price.amount} ${price.currency}`, i);
    }
    const live = model.byId.get(target.id)!;
    if (target.state === "open") {
      if (body.payment_intent_id !== target.pi) fail("asking again did not return the open PaymentIntent", `${target.pi} vs ${body.payment_intent_id}`, i);
    } else {
      newPayments++;
      expectedEvents.set(target.id, { pi: body.payment_intent_id, amount: price.amount, index: i });
      model.opened(live, body.payment_intent_id);
    }
  });

  const [after] = await sql<{ payments: number }[]>`select count(*)::int as payments from payments`;
  if (after.payments - before.payments !== newPayments) {
    fail(`${after.payments - before.payments} new payments, expected ${newPayments}`, `answers ${answers.map((a) => a.status).join(",")}`);
  }
  const events = await sql<{ aggregate_id: string; endpoint: string; body: Record<string, unknown> }[]>`
    select record_id::text as aggregate_id, case type when 'request.upserted' then '/requests' else '/leads' end as endpoint, data as body from crm_events where seq > ${before.seq}`;
  if (events.length !== expectedEvents.size) {
    fail(`${events.length} new crm_events, expected ${expectedEvents.size}`, `answers ${answers.map((a) => a.status).join(",")}`);
  }
  for (const e of events) {
    const want = expectedEvents.get(e.aggregate_id);
    if (!want) {
      fail("an event for no new payment", short(e));
      continue;
    }
    const parsed = CrmRequestBody.safeParse(e.body);
    if (!parsed.success) fail("event body the CRM would refuse", short(parsed.error.issues), want.index);
    const b = e.body;
    if (e.endpoint !== "/requests" || b.lovable_request_id !== e.aggregate_id || b.payment_status !== "pending" || b.payment_intent_id !== want.pi || b.amount !== want.amount || b.currency !== "eur") {
      fail("event body is not the request's snapshot with its payment", short(b), want.index);
    }
  }
  if (expectedEvents.size > 0) {
    const rows = await sql<{ request_id: string; status: string; amount: number; pi: string; payment_status: string }[]>`
      select p.request_id::text, p.status, p.amount, p.stripe_payment_intent_id as pi, r.payment_status
      from payments p join requests r on r.id = p.request_id where p.request_id = any(${[...expectedEvents.keys()]}::uuid[])`;
    for (const [requestId, want] of expectedEvents) {
      const mine = rows.filter((r) => r.request_id === requestId);
      if (mine.length !== 1 || mine[0].pi !== want.pi || mine[0].status !== "pending" || mine[0].amount !== want.amount || mine[0].payment_status !== "pending") {
        fail("payment row is not the PaymentIntent answered", `${requestId}: ${short(mine)}`, want.index);
      }
    }
  }
  return violations;
}

// --- stripe-webhook ------------------------------------------------------------------------------------

const PI_TYPES = ["payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"] as const;
const OTHER_TYPES = ["payment_intent.created", "payment_intent.processing", "charge.succeeded", "customer.created", "invoice.paid", "checkout.session.completed", "payout.paid"];
/** What each event tells, in the model's terms (a charge.refunded in full or in part by its amount_refunded). */
const KIND: Record<string, (c: WebhookCase) => EventKind> = {
  "payment_intent.succeeded": () => "succeeded",
  "payment_intent.payment_failed": () => "failed",
  "payment_intent.canceled": () => "canceled",
  "charge.refunded": (c) => (c.refund === "full" ? "refund_full" : "refund_partial"),
};

export type Auth = "signed" | "unsigned" | "wrong-secret" | "tampered" | "expired" | "garbage";

export interface WebhookCase {
  auth: Auth;
  garbage: string;
  shape: "stripe" | "replay" | "hostile-field" | "hostile";
  type: string;
  target: "slot" | "outside" | "unknown";
  index: number;
  eventId: string;
  piSuffix: string;
  amount: number;
  currency: string;
  metadata: "request" | "none" | "upper" | "hostile";
  metadataExtra: Array<[string, Json]>;
  refund: "full" | "partial";
  piRef: "string" | "object";
  hostileField: [string, Json];
  hostile: Json;
  pretty: boolean;
}

const alnum = (n: number) => fc.string({ unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".split("")), minLength: n, maxLength: n });

export const webhookCase: fc.Arbitrary<WebhookCase> = fc.record({
  auth: fc.oneof(
    { weight: 14, arbitrary: fc.constant<Auth>("signed") },
    { weight: 1, arbitrary: fc.constantFrom<Auth>("unsigned", "wrong-secret", "tampered", "expired", "garbage") },
  ),
  garbage: fc.oneof(
    fc.constantFrom("t=1,v1=deadbeef", "v1=", "t=", "", ",,,", "t=9999999999,v1=00", "t=abc,v1=xyz,v0=1", "whsec_x", "t=1700000000"),
    fc.string({ unit: "binary-ascii", maxLength: 80 }).map((s) => s.replace(/[^\x20-\x7e]/g, "")),
  ),
  shape: fc.oneof(
    { weight: 12, arbitrary: fc.constant<WebhookCase["shape"]>("stripe") },
    { weight: 2, arbitrary: fc.constant<WebhookCase["shape"]>("replay") },
    { weight: 2, arbitrary: fc.constant<WebhookCase["shape"]>("hostile-field") },
    { weight: 1, arbitrary: fc.constant<WebhookCase["shape"]>("hostile") },
  ),
  type: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...PI_TYPES) },
    { weight: 3, arbitrary: fc.constant("charge.refunded") },
    { weight: 2, arbitrary: fc.constantFrom(...OTHER_TYPES) },
  ),
  target: fc.oneof(
    { weight: 8, arbitrary: fc.constant<WebhookCase["target"]>("slot") },
    { weight: 2, arbitrary: fc.constant<WebhookCase["target"]>("outside") },
    { weight: 1, arbitrary: fc.constant<WebhookCase["target"]>("unknown") },
  ),
  index: fc.nat({ max: 1_000_000 }),
  eventId: alnum(24),
  piSuffix: alnum(24),
  amount: fc.oneof(fc.integer({ min: 50, max: 99_999_999 }), fc.constantFrom(1, 14900, 99999999)),
  currency: fc.constantFrom("eur", "usd", "gbp", "chf", "jpy"),
  metadata: fc.constantFrom<WebhookCase["metadata"]>("request", "request", "request", "none", "upper", "hostile"),
  // Stripe metadata values are strings of at most 500 characters.
  metadataExtra: fc.array(fc.tuple(fc.constantFrom("order", "note", "__proto__", "request_id ", "email", "constructor"), fc.oneof(hostileString.map((v) => v.slice(0, 500)), fc.constant<Json>("x"))), { maxLength: 2 }),
  refund: fc.constantFrom<WebhookCase["refund"]>("full", "full", "full", "partial"),
  piRef: fc.constantFrom<WebhookCase["piRef"]>("string", "string", "object"),
  hostileField: fc.tuple(
    fc.constantFrom("id", "type", "data", "data.object", "data.object.id", "data.object.amount", "data.object.currency", "data.object.metadata", "data.object.payment_intent", "data.object.refunded", "created", "object"),
    fc.oneof(
      { weight: 7, arbitrary: hostileValue(["id", "type", "data", "object", "metadata", "request_id", "amount"]) },
      { weight: 3, arbitrary: fc.constantFrom<Json>("evt_\u0000", "\u0000", "evt_\ud800", "evt_" + "x".repeat(300), "", " ") },
    ),
  ),
  hostile: hostileValue(["id", "type", "data", "object", "metadata", "request_id"]),
  pretty: fc.boolean(),
});

interface PaymentState {
  requestId: string;
  /** The events the webhook applied to it (their order does not matter). */
  seen: Set<EventKind>;
  /** Marked by the product as an anomaly (seen only through hostile events): it no longer counts. */
  anomaly: boolean;
  amount: number;
  currency: string;
}

/** The request's status from its one payment, by the independent model. */
const modelledStatus = (p: PaymentState): PaymentStatus => (p.anomaly ? "pending" : requestOutcome([p.seen]).status);

/** The payments stripe-webhook is fuzzed against, and their statuses as the contract says they must be. */
export class WebhookModel {
  readonly payments = new Map<string, PaymentState>(); // by PaymentIntent id
  readonly requests = new Map<string, PaymentStatus>(); // payment_status by request id
  slots: string[] = []; // PaymentIntent ids with a live (not terminal) request
  bare: string[] = []; // requests with no payment, for outside-made PaymentIntents
  readonly accepted: Array<{ id: string; payload: string }> = []; // events answered 200
  readonly seen = new Set<string>();

  constructor(private readonly sql: Sql, readonly prices: Map<string, { amount: number; currency: string }>) {}

  async topUp(batchSize: number) {
    this.slots = this.slots.filter((pi) => this.requests.get(this.payments.get(pi)!.requestId) !== "refunded");
    if (this.slots.length < batchSize * 4) {
      const rows = await insertRequests(this.sql, 64, "pending");
      const values = rows.map((r) => ({ id: r.id, pi: `pi_fz_${crypto.randomUUID().replace(/-/g, "")}`, ...this.prices.get(r.type)! }));
      await this.sql`
        insert into payments (request_id, stripe_payment_intent_id, amount, currency, status)
        select t.request_id, t.pi, t.amount, t.currency, 'pending'
        from unnest(${values.map((v) => v.id)}::uuid[], ${values.map((v) => v.pi)}::text[], ${values.map((v) => v.amount)}::int[], ${values.map((v) => v.currency)}::text[])
          as t(request_id, pi, amount, currency)`;
      for (const v of values) {
        this.payments.set(v.pi, { requestId: v.id, seen: new Set(), anomaly: false, amount: v.amount, currency: v.currency });
        this.requests.set(v.id, "pending");
        this.slots.push(v.pi);
      }
    }
    if (this.bare.length < batchSize) {
      for (const r of await insertRequests(this.sql, 32, "pending")) {
        this.requests.set(r.id, "pending");
        this.bare.push(r.id);
      }
    }
  }
}

interface Planned {
  c: WebhookCase;
  payload: string;
  header: string | null;
  /** Must it be accepted and applied exactly as modelled (Stripe-shaped, well signed)? */
  exact: boolean;
  expectStatus?: number;
  expectNote?: string;
  /** The request it may change, with what the model says must follow. */
  requestId?: string;
  pi?: string;
  kind?: EventKind;
  eventId: string;
}

const MAX_EVENT_BYTES = 64 * 1024; // the functions' body limit (CONTRACT §2)
const WRONG_SECRET = "whsec_not_the_right_one_0123456789";

function sign(payload: string, secret: string, timestamp?: number) {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
}

function setPath(event: Record<string, unknown>, path: string, value: Json) {
  const parts = path.split(".");
  let node = event as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) {
    if (typeof node[p] !== "object" || node[p] === null) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  Object.defineProperty(node, parts[parts.length - 1], { value, enumerable: true, writable: true, configurable: true });
}

/** Builds the request for each case, distinct requests per batch, and what the model expects of it. */
function plan(model: WebhookModel, cases: WebhookCase[], secret: string): Planned[] {
  const used = new Set<string>();
  const takeSlot = (index: number): string | undefined => {
    for (let k = 0; k < model.slots.length; k++) {
      const pi = model.slots[(index + k) % model.slots.length];
      const req = model.payments.get(pi)!.requestId;
      if (!used.has(req)) {
        used.add(req);
        return pi;
      }
    }
    return undefined;
  };
  const takeBare = (index: number): string | undefined => {
    for (let k = 0; k < model.bare.length; k++) {
      const req = model.bare[(index + k) % model.bare.length];
      if (!used.has(req)) {
        used.add(req);
        return req;
      }
    }
    return undefined;
  };

  return cases.map((c): Planned => {
    const eventId = `evt_fz_${c.eventId}`;
    let event: Record<string, unknown>;
    let requestId: string | undefined;
    let pi: string | undefined;
    let exact = c.shape === "stripe" || c.shape === "replay";
    let kind: EventKind | undefined;
    let expectNote: string | undefined;

    if (c.shape === "replay" && model.accepted.length > 0) {
      const k = c.index % model.accepted.length;
      const original = model.accepted[k];
      // Stripe re-sends the same bytes; a second event reusing an id is a duplicate too.
      const payload = c.pretty ? original.payload : original.payload.replace(/"type": ?"[^"]*"/, '"type":"payment_intent.succeeded"');
      return finish(c, payload, { exact: true, expectNote: "duplicate", eventId: original.id });
    }

    const type = c.type;
    let object: Record<string, unknown>;
    let metadataRequest: string | undefined;
    if (c.target === "slot" && (pi = takeSlot(c.index))) {
      const p = model.payments.get(pi)!;
      requestId = p.requestId;
      metadataRequest = p.requestId;
    } else if (c.target === "outside" && (metadataRequest = takeBare(c.index))) {
      pi = `pi_fzout_${c.piSuffix}`;
      if (model.payments.has(pi)) pi = `pi_fzout_${crypto.randomUUID().replace(/-/g, "")}`;
      requestId = metadataRequest;
    } else {
      pi = `pi_unknown_${c.piSuffix}`;
      metadataRequest = crypto.randomUUID(); // no such request
    }
    const metadata = objectOf([...c.metadataExtra.filter(([k]) => k !== "request_id")]);
    if (c.metadata === "request" || c.metadata === "upper") metadata.request_id = c.metadata === "upper" ? metadataRequest.toUpperCase() : metadataRequest;
    else if (c.metadata === "hostile") metadata.request_id = c.metadataExtra[0]?.[1] ?? "'; drop table payments; --";

    if (type === "charge.refunded") {
      const amount = model.payments.get(pi)?.amount ?? c.amount;
      object = {
        id: `ch_${c.piSuffix}`, object: "charge", amount, amount_captured: amount,
        amount_refunded: c.refund === "full" ? amount : Math.max(0, Math.floor(amount / 2)),
        refunded: c.refund === "full", captured: true, paid: true, status: "succeeded", currency: model.payments.get(pi)?.currency ?? c.currency,
        payment_intent: c.piRef === "string" ? pi : { id: pi, object: "payment_intent" }, metadata,
      };
    } else {
      const known = model.payments.get(pi);
      object = {
        id: pi, object: "payment_intent", amount: known?.amount ?? c.amount, currency: known?.currency ?? c.currency,
        status: type === "payment_intent.succeeded" ? "succeeded" : type === "payment_intent.canceled" ? "canceled" : "requires_payment_method",
        metadata, livemode: false,
      };
    }
    event = {
      id: eventId, object: "event", api_version: "2025-01-27.acacia", created: Math.floor(Date.now() / 1000), livemode: false,
      pending_webhooks: 1, request: { id: null, idempotency_key: null }, type, data: { object },
    };

    if (c.shape === "hostile") {
      exact = false;
      event = (typeof c.hostile === "object" && c.hostile !== null && !Array.isArray(c.hostile) ? c.hostile : { value: c.hostile }) as Record<string, unknown>;
    } else if (c.shape === "hostile-field") {
      exact = false;
      setPath(event, c.hostileField[0], c.hostileField[1]);
    }

    // What the contract says follows, for a well-signed Stripe-shaped event.
    if (exact) {
      const toKind = KIND[type];
      if (!toKind) expectNote = "ignored";
      else {
        kind = toKind(c);
        const known = model.payments.get(pi);
        if (known) requestId = known.requestId;
        else {
          // Made outside the site, whatever its metadata claims: recorded for the operator, never a payment.
          requestId = undefined;
          expectNote = "unknown_payment";
        }
      }
    }
    const payload = encodeJson(event as Json, () => "", c.pretty ? 2 : undefined);
    return finish(c, payload, { exact, expectNote, requestId, pi, kind, eventId });
  });

  function finish(c: WebhookCase, payload: string, p: Omit<Planned, "c" | "payload" | "header">): Planned {
    let header: string | null = sign(payload, secret);
    let body = payload;
    switch (c.auth) {
      case "unsigned": header = null; break;
      case "wrong-secret": header = sign(payload, WRONG_SECRET); break;
      case "expired": header = sign(payload, secret, Math.floor(Date.now() / 1000) - 301 - (c.index % 3600)); break;
      case "garbage": header = c.garbage; break;
      case "tampered": body = payload.length > 0 ? payload.replace(/.$/s, (ch) => (ch === "}" ? " }" : "}")) : " "; break;
    }
    const signedOk = c.auth === "signed";
    // Over the 64 KiB body limit: refused as too large whatever its signature.
    if (new TextEncoder().encode(body).length > MAX_EVENT_BYTES) {
      return { ...p, c, payload: body, header, exact: false, expectStatus: 413, expectNote: undefined };
    }
    return {
      ...p,
      c,
      payload: body,
      header,
      exact: p.exact && signedOk,
      expectStatus: signedOk ? (p.exact ? 200 : undefined) : 400,
      expectNote: signedOk ? p.expectNote : undefined,
    };
  }
}

const isJson = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Moves facts allow: captured money never becomes unpaid, a cancellation is never undone. */
const FORWARD: Record<PaymentStatus, PaymentStatus[]> = {
  pending: ["pending", "paid", "failed", "canceled", "refunded"],
  failed: ["failed", "paid", "canceled", "refunded"],
  canceled: ["canceled", "paid", "refunded"],
  paid: ["paid", "refunded"],
  refunded: ["refunded"],
};

export async function runWebhookBatch(stack: TestStack, model: WebhookModel, cases: WebhookCase[], report: FuzzReport): Promise<Violation[]> {
  const sql = stack.db.sql;
  const violations: Violation[] = [];
  const fail = (signature: string, detail: string, index?: number) =>
    violations.push({ signature: `stripe-webhook: ${signature}`, detail, index });
  await model.topUp(cases.length);
  const planned = plan(model, cases, stack.webhookSecret);

  // Every request a case may touch, and the payments rows of outside PaymentIntents.
  const touched = [...new Set(planned.flatMap((p) => (p.requestId ? [p.requestId] : [])))];
  const snapshot = async () => {
    const [counts] = await sql<{ payments: number; stripe_events: number; seq: number }[]>`
      select (select count(*)::int from payments) as payments, (select count(*)::int from stripe_events) as stripe_events,
             (select coalesce(max(seq), 0)::int from crm_events) as seq`;
    const requests = await sql<{ id: string; payment_status: PaymentStatus }[]>`
      select id::text, payment_status from requests where id = any(${touched}::uuid[])`;
    return { counts, requests: new Map(requests.map((r) => [r.id, r.payment_status])) };
  };
  const before = await snapshot();
  const logsBefore = stack.logs.length;
  const answers = await Promise.all(
    planned.map((p) =>
      post(`${stack.functionsUrl}/stripe-webhook`, new TextEncoder().encode(p.payload), {
        "content-type": "application/json",
        ...(p.header === null ? {} : { "stripe-signature": p.header }),
      }),
    ),
  );
  const serverErrors = serverErrorsSince(stack, logsBefore);
  const after = await snapshot();
  const newEvents = await sql<{ aggregate_id: string; body: Record<string, unknown> }[]>`
    select record_id::text as aggregate_id, data as body from crm_events where seq > ${before.counts.seq} order by seq`;

  let expectStripeEvents = 0;
  let anyLoose = false;
  planned.forEach((p, i) => {
    const answer = answers[i];
    const code = (answer.json as { error?: { code?: string } } | undefined)?.error?.code;
    const note = (answer.json as { note?: string } | undefined)?.note;
    report.count(`${p.c.shape}${p.c.auth === "signed" ? "" : `/${p.c.auth}`}`, p.exact ? "exact" : p.c.auth === "signed" ? "loose" : "bad-signature", answer.status, code ?? note ?? "applied");
    const input = `${p.c.auth} ${p.payload.slice(0, 300)}`;
    if (answer.status >= 500) {
      const cause = fivexxCause(serverErrors, answers.filter((a) => a.status >= 500).length);
      fail(`${answer.status} ${code ?? answer.error ?? ""}${cause}`, `${input} → ${answer.text.slice(0, 200)}; server errors: ${serverErrors.join(" | ")}`, i);
    }
    else if (p.expectStatus !== undefined) {
      if (answer.status !== p.expectStatus) fail(`expected ${p.expectStatus}, got ${answer.status} ${code ?? ""}`, `${input} → ${answer.text.slice(0, 200)}`, i);
    }
    else if (p.c.auth === "signed" && !p.exact && answer.status !== 200 && !(answer.status === 400 && code === (isJson(p.payload) ? "malformed_event" : "invalid_signature"))) {
      fail(`signed event answered ${answer.status} ${code ?? ""}`, `${input} → ${answer.text.slice(0, 200)}`, i);
    }
    if (answer.status !== 200 && errorShapeProblem(answer.json)) fail(`${answer.status} without the error shape`, answer.text.slice(0, 200), i);
    if (answer.status === 200 && p.expectNote && note !== p.expectNote) fail(`expected note ${p.expectNote}, got ${note ?? "none"}`, input, i);
    if (answer.status !== 200) return;
    if (!p.exact) {
      anyLoose = true;
      return;
    }
    // Applied as modelled.
    if (p.expectNote !== "duplicate") {
      expectStripeEvents++;
      model.accepted.push({ id: p.eventId, payload: p.payload });
    }
    if (!p.kind || !p.pi || !model.payments.has(p.pi)) return;
    const payment = model.payments.get(p.pi)!;
    payment.seen.add(p.kind);
    model.requests.set(payment.requestId, modelledStatus(payment));
  });

  // Effects. With a hostile-but-accepted event in the batch, only the invariants are exact.
  const dStripe = after.counts.stripe_events - before.counts.stripe_events;
  const dPayments = after.counts.payments - before.counts.payments;
  if (anyLoose ? dStripe < expectStripeEvents : dStripe !== expectStripeEvents) fail(`${dStripe} new stripe_events, expected ${expectStripeEvents}`, `answers ${answers.map((a) => a.status).join(",")}`);
  // stripe-webhook never makes a payment: only create-payment-intent does.
  if (dPayments !== 0) fail(`${dPayments} new payments, expected none`, `answers ${answers.map((a) => a.status).join(",")}`);
  if (answers.every((a) => a.status !== 200) && (dStripe !== 0 || dPayments !== 0 || newEvents.length !== 0)) {
    fail("a refused event wrote something", `stripe_events +${dStripe}, payments +${dPayments}, crm_events +${newEvents.length}`);
  }
  const anomalous = new Set((await sql<{ request_id: string }[]>`
    select distinct request_id::text from payments where anomaly is not null and request_id = any(${touched}::uuid[])`).map((r) => r.request_id));
  const eventsByRequest = new Map<string, Array<Record<string, unknown>>>();
  for (const e of newEvents) eventsByRequest.set(e.aggregate_id, [...(eventsByRequest.get(e.aggregate_id) ?? []), e.body]);
  for (const requestId of touched) {
    const was = before.requests.get(requestId)!;
    const now = after.requests.get(requestId)!;
    const events = eventsByRequest.get(requestId) ?? [];
    eventsByRequest.delete(requestId);
    const index = planned.findIndex((p) => p.requestId === requestId);
    // A payment found to differ from its price stops counting: its request may go back to pending.
    if (!FORWARD[was].includes(now) && !anomalous.has(requestId)) fail(`payment_status moved backwards ${was} → ${now}`, `request ${requestId}: ${planned[index]?.payload.slice(0, 300)}`, index);
    const modelled = model.requests.get(requestId);
    if (!anyLoose && modelled !== now) fail(`payment_status ${now}, the contract says ${modelled}`, `was ${was}; ${planned[index]?.c.auth} ${planned[index]?.payload.slice(0, 300)}`, index);
    const changed = was !== now;
    if (events.length !== (changed ? 1 : 0)) fail(`${events.length} CRM events for a status ${changed ? "change" : "non-change"} ${was} → ${now}`, `request ${requestId}`, index);
    for (const body of events) {
      const parsed = CrmRequestBody.safeParse(body);
      if (!parsed.success) fail("event body the CRM would refuse", short(parsed.error.issues), index);
      if (body.payment_status !== now || body.lovable_request_id !== requestId) fail("event body does not carry the new status", short(body), index);
    }
    if (anyLoose) model.requests.set(requestId, now);
  }
  for (const [requestId] of eventsByRequest) {
    // A hostile-but-signed event may name any request; otherwise nothing else may change.
    if (!anyLoose) fail("an event for a request no case touched", requestId);
  }
  if (anyLoose) {
    // Resynchronise the model with what the loose events did (their effect is not modelled exactly).
    const rows = await sql<{ pi: string; request_id: string; amount: number; currency: string; captured: boolean; amount_refunded: number; canceled: boolean; failed: boolean; anomaly: string | null }[]>`
      select stripe_payment_intent_id as pi, request_id::text, amount, currency, captured, amount_refunded, canceled, failed, anomaly
      from payments where request_id = any(${touched}::uuid[])`;
    for (const r of rows) {
      // The stored facts, as the events that would have produced them.
      const seen = new Set<EventKind>();
      if (r.captured) seen.add(r.amount_refunded >= r.amount ? "refund_full" : r.amount_refunded > 0 ? "refund_partial" : "succeeded");
      if (r.canceled) seen.add("canceled");
      if (r.failed) seen.add("failed");
      model.payments.set(r.pi, { requestId: r.request_id, seen, anomaly: r.anomaly !== null, amount: r.amount, currency: r.currency });
    }
    const statuses = await sql<{ id: string; payment_status: PaymentStatus }[]>`select id::text, payment_status from requests`;
    for (const r of statuses) if (model.requests.has(r.id)) model.requests.set(r.id, r.payment_status);
  }
  return violations;
}

