/**
 * create-payment-intent — starts paying for a request. The amount is the
 * server's price for the request's type, never the client's. An open
 * PaymentIntent of the same amount is reused, so a reloaded payment page does
 * not create a second charge path.
 */
import type { AppDeps } from "../app-deps.ts";
import { requestBody } from "../crm/monelec-bodies.ts";
import { loadRequestSnapshot } from "../db/request-snapshot.ts";
import { HttpError } from "../http/http-error.ts";
import { jsonEndpoint } from "../http/json-endpoint.ts";
import { enqueue } from "../outbox/enqueue.ts";
import { isSettled } from "../stripe/payment-status.ts";
import type { PaymentStatus } from "../validation/enums.ts";
import { CreatePaymentIntentInput } from "../validation/schemas.ts";

const REUSABLE_PI_STATES = new Set(["requires_payment_method", "requires_confirmation", "requires_action"]);

/** Stripe being unreachable or refusing is not the visitor's fault: a 502 they may retry. */
async function callStripe<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    throw new HttpError(502, "payment_provider_error", `The payment provider could not be reached: ${message}`);
  }
}

interface PricedRequest {
  payment_status: PaymentStatus;
  amount: number;
  currency: string;
  open_payment_intent_id: string | null;
}

export function createPaymentIntent(deps: AppDeps) {
  const { sql } = deps;
  return jsonEndpoint(deps, {
    name: "create-payment-intent",
    schema: CreatePaymentIntentInput,
    async handle({ request_id }) {
      const [priced] = await sql<PricedRequest[]>`
        select r.payment_status, pr.amount, pr.currency,
               (select stripe_payment_intent_id from payments
                where request_id = r.id and status = 'pending' and amount = pr.amount and currency = pr.currency
                order by created_at desc limit 1) as open_payment_intent_id
        from requests r join prices pr on pr.type_raccordement = r.type_raccordement
        where r.id = ${request_id}`;
      if (!priced) throw new HttpError(404, "request_not_found", `No request has id ${request_id}.`);
      if (isSettled(priced.payment_status)) {
        throw new HttpError(409, "already_paid", `Request ${request_id} is already ${priced.payment_status}.`);
      }
      const stripe = deps.stripe();

      if (priced.open_payment_intent_id) {
        const open = await callStripe(() => stripe.paymentIntents.retrieve(priced.open_payment_intent_id!));
        if (REUSABLE_PI_STATES.has(open.status) && open.client_secret) {
          return { client_secret: open.client_secret, payment_intent_id: open.id, amount: open.amount, currency: open.currency };
        }
      }

      const paymentId = crypto.randomUUID();
      const intent = await callStripe(() =>
        stripe.paymentIntents.create(
          {
            amount: priced.amount,
            currency: priced.currency,
            metadata: { request_id, payment_id: paymentId },
            automatic_payment_methods: { enabled: true },
            description: "Demande de raccordement",
          },
          { idempotencyKey: `payment-${paymentId}` },
        )
      );

      const fanout = deps.outbox.fanout(false);
      const event = await sql.begin(async (tx) => {
        const snapshot = await loadRequestSnapshot(tx, request_id, { lock: true });
        if (!snapshot) throw new HttpError(404, "request_not_found", `No request has id ${request_id}.`);
        if (isSettled(snapshot.payment_status)) {
          throw new HttpError(409, "already_paid", `Request ${request_id} is already ${snapshot.payment_status}.`);
        }
        await tx`
          insert into payments (id, request_id, stripe_payment_intent_id, amount, currency, status)
          values (${paymentId}, ${request_id}, ${intent.id}, ${intent.amount}, ${intent.currency}, 'pending')`;
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
        return event;
      });
      deps.outbox.afterCommit("create-payment-intent", event, fanout);
      return {
        client_secret: intent.client_secret,
        payment_intent_id: intent.id,
        amount: intent.amount,
        currency: intent.currency,
      };
    },
  });
}
