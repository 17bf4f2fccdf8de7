/**
 * create-payment-intent — starts paying for a request. The amount is the
 * server's price for the request's type, never the client's.
 *
 * One payment at a time per request: everything happens under the request's
 * row lock, so concurrent calls for one request take turns. The latest attempt
 * is asked of Stripe before anything new is made: still waiting for a payment
 * method → the same PaymentIntent again; taking money (`processing`,
 * `requires_action`, `requires_capture`) → 409 payment_in_progress; already
 * `succeeded` (its webhook may not have arrived yet) → 409 already_paid;
 * canceled → a new attempt. A new PaymentIntent's Stripe idempotency key is
 * the request id and attempt number, so a retry after a crash gets the same
 * PaymentIntent back from Stripe instead of a second one. Stripe is called at
 * most once per request per STRIPE_REQUEST_INTERVAL_MS (429 meanwhile), and
 * every client is rate-limited like the forms.
 */
import { assertAllowed, limitsFor, rateLimitGate } from "../abuse/rate-limit.ts";
import type { AppDeps } from "../app-deps.ts";
import { requestBody } from "../crm/monelec-bodies.ts";
import { loadRequestSnapshot } from "../db/request-snapshot.ts";
import { HttpError } from "../http/http-error.ts";
import { jsonEndpoint } from "../http/json-endpoint.ts";
import type { Logger } from "../log.ts";
import { enqueue } from "../outbox/enqueue.ts";
import { isSettled } from "../stripe/payment-status.ts";
import type { Stripe } from "../stripe/stripe-client.ts";
import type { PaymentStatus } from "../validation/enums.ts";
import { CreatePaymentIntentInput } from "../validation/schemas.ts";

/** Waiting for the visitor: the same PaymentIntent can still be confirmed. */
const REUSABLE = new Set(["requires_payment_method", "requires_confirmation"]);
/** May still take money, or is taking it: no second PaymentIntent meanwhile. */
const IN_PROGRESS = new Set(["processing", "requires_action", "requires_capture"]);

interface LockedRequest {
  payment_status: PaymentStatus;
  amount: number;
  currency: string;
  wait_ms: number;
  attempts: number;
  latest_payment_intent_id: string | null;
  latest_status: PaymentStatus | null;
}

type Answer = { client_secret: string; payment_intent_id: string; amount: number; currency: string };

/** Stripe unreachable or refusing: logged for the operator, a generic 502 the visitor may retry. */
async function callStripe<T>(log: Logger, what: string, requestId: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const e = err as { type?: string; code?: string; statusCode?: number; requestId?: string; message?: string };
    log.error("stripe call failed", {
      call: what,
      request_id: requestId,
      stripe_error_type: e.type,
      stripe_error_code: e.code,
      stripe_status: e.statusCode,
      stripe_request_id: e.requestId,
      error: e.message ?? String(err),
    });
    throw new HttpError(502, "payment_provider_error", "The payment service is not available right now. Please try again in a moment.");
  }
}

export function createPaymentIntent(deps: AppDeps) {
  const { sql } = deps;
  return jsonEndpoint(deps, {
    name: "create-payment-intent",
    schema: CreatePaymentIntentInput,
    async handle({ request_id }, { clientIp, log }) {
      // Its own statement: a refused or failed call below still counts.
      const [gate] = await sql<{ allowed: boolean; retry_after: number }[]>`
        with ${rateLimitGate(sql, limitsFor(deps.config, "create-payment-intent", clientIp))}
        select allowed, retry_after from gate`;
      assertAllowed(gate);
      const stripe = deps.stripe();

      const fanout = deps.outbox.fanout(false);
      const outcome = await sql.begin(async (tx) => {
        const [locked] = await tx<LockedRequest[]>`
          select r.payment_status, pr.amount, pr.currency,
                 greatest(0, ceil(extract(epoch from r.stripe_called_at
                   + ${deps.config.stripeRequestIntervalMs} * interval '1 millisecond' - now()) * 1000))::int as wait_ms,
                 (select count(*)::int from payments where request_id = r.id) as attempts,
                 latest.stripe_payment_intent_id as latest_payment_intent_id, latest.status as latest_status
          from requests r
          join prices pr on pr.type_raccordement = r.type_raccordement
          left join lateral (
            select stripe_payment_intent_id, status from payments
            where request_id = r.id and anomaly is null order by created_at desc, id desc limit 1
          ) latest on true
          where r.id = ${request_id}
          for update of r`;
        if (!locked) throw new HttpError(404, "request_not_found", `No request has id ${request_id}.`);
        if (isSettled(locked.payment_status)) {
          throw new HttpError(409, "already_paid", `Request ${request_id} is already ${locked.payment_status}.`);
        }
        if (locked.wait_ms > 0) {
          const seconds = Math.max(1, Math.ceil(locked.wait_ms / 1000));
          throw new HttpError(429, "rate_limited", `A payment for this request was just prepared; try again in ${seconds} s.`, undefined, {
            "retry-after": String(seconds),
          });
        }
        await tx`update requests set stripe_called_at = now() where id = ${request_id}`;

        // From here on, a Stripe failure is answered after commit, so the call still counts.
        try {
          if (locked.latest_payment_intent_id && (locked.latest_status === "pending" || locked.latest_status === "failed")) {
            const latest = await callStripe(log, "retrieve", request_id, () => stripe.paymentIntents.retrieve(locked.latest_payment_intent_id!));
            if (latest.status === "succeeded") {
              return { refused: new HttpError(409, "already_paid", `Request ${request_id} is already paid.`) };
            }
            if (IN_PROGRESS.has(latest.status)) {
              return {
                refused: new HttpError(409, "payment_in_progress", `A payment for request ${request_id} is in progress; wait for its outcome.`),
              };
            }
            if (REUSABLE.has(latest.status) && latest.client_secret && latest.amount === locked.amount && latest.currency === locked.currency) {
              return { answer: { client_secret: latest.client_secret, payment_intent_id: latest.id, amount: latest.amount, currency: latest.currency } };
            }
          }
          const attempt = locked.attempts + 1;
          const intent: Stripe.PaymentIntent = await callStripe(log, "create", request_id, () =>
            stripe.paymentIntents.create(
              {
                amount: locked.amount,
                currency: locked.currency,
                metadata: { request_id, attempt: String(attempt) },
                automatic_payment_methods: { enabled: true },
                description: "Demande de raccordement",
              },
              { idempotencyKey: `create-payment-intent:${request_id}:${attempt}` },
            )
          );
          const snapshot = (await loadRequestSnapshot(tx, request_id))!;
          await tx`
            insert into payments (request_id, stripe_payment_intent_id, amount, currency, status, attempt)
            values (${request_id}, ${intent.id}, ${intent.amount}, ${intent.currency}, 'pending', ${attempt})`;
          await tx`update requests set payment_status = 'pending', updated_at = now() where id = ${request_id}`;
          const event = {
            id: crypto.randomUUID(),
            type: "request.upserted" as const,
            recordType: "request" as const,
            recordId: request_id,
            data: requestBody({
              ...snapshot,
              payment_status: "pending",
              payment: { payment_intent_id: intent.id, amount: intent.amount, currency: intent.currency },
            }),
          };
          await enqueue(tx, event, fanout);
          const answer: Answer = {
            client_secret: intent.client_secret!,
            payment_intent_id: intent.id,
            amount: intent.amount,
            currency: intent.currency,
          };
          return { answer, event };
        } catch (err) {
          if (err instanceof HttpError && err.code === "payment_provider_error") return { refused: err };
          throw err;
        }
      });
      if (outcome.event) deps.outbox.afterCommit("create-payment-intent", outcome.event, fanout);
      if (outcome.refused) throw outcome.refused;
      return outcome.answer!;
    },
  });
}
