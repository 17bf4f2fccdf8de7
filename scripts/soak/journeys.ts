/**
 * A visitor's journey, driven like a browser would: form-start (sometimes
 * twice, the second time with the lead_id), form-submit with the lead_id,
 * create-payment-intent, the payment through the Stripe double (or, when the
 * double died with the stack, the signed event Stripe would keep sending),
 * sometimes a refund, and a call-back request. A step that gets a 5xx or no
 * answer is retried after a pause (it did not commit, or its answer was lost);
 * a 200 is a commit, and what it returned is kept for the final checks.
 */
import { randomUUID } from "node:crypto";
import Stripe from "stripe";
import { toE164 } from "../../src/validation/normalize.ts";
import { buildEvent } from "../local/stripe-events.ts";

export interface Target {
  functionsUrl: string;
  stripeApiUrl: string;
  anonKey: string;
  webhookSecret: string;
  /** The pending PaymentIntent of a request, read from the database (when the double forgot it). */
  openPaymentIntent(requestId: string): Promise<{ pi: string; amount: number } | null>;
}

export interface JourneyStats {
  started: number;
  completed: number;
  abandoned: number;
  stepsOk: number;
  /** Attempts answered with a 5xx, by status. */
  retried5xx: Record<string, number>;
  /** Attempts with no answer (connection refused or reset: the stack was down). */
  retriedNetwork: number;
  /** Payments completed with a self-signed event because the double had lost the PaymentIntent. */
  paymentFallbacks: number;
  abandonReasons: Record<string, number>;
}

/** What the backend acknowledged with a 200: it must all be in the database, and its events at the CRM. */
export interface Acknowledged {
  leads: Set<string>;
  requests: Set<string>;
  callbacks: Set<string>;
  /** PaymentIntent → request. */
  payments: Map<string, string>;
  /** Requests whose payment (or refund) stripe-webhook accepted: their final payment_status. */
  settled: Map<string, "paid" | "refunded">;
  /** The personal data the journeys sent (emails; phones as their 9 national digits), for the log check. */
  emails: Set<string>;
  phones: Set<string>;
}

export function newStats(): JourneyStats {
  return { started: 0, completed: 0, abandoned: 0, stepsOk: 0, retried5xx: {}, retriedNetwork: 0, paymentFallbacks: 0, abandonReasons: {} };
}

export function newAcknowledged(): Acknowledged {
  return { leads: new Set(), requests: new Set(), callbacks: new Set(), payments: new Map(), settled: new Map(), emails: new Set(), phones: new Set() };
}

class Abandon extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)];
const digits = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join("");

/** A random French mobile number the contract's validation accepts, written as visitors do. */
function validMobile(): string {
  for (;;) {
    const phone = `0${pick(["6", "7"])} ${digits(2)} ${digits(2)} ${digits(2)} ${digits(2)}`;
    if (toE164(phone)) return phone;
  }
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

export class Journeys {
  constructor(
    private readonly target: () => Target,
    readonly stats: JourneyStats,
    readonly acked: Acknowledged,
    private readonly opts: { thinkMs: number; stepDeadlineMs: number },
  ) {}

  /** POST until a non-5xx answer (bounded); 5xx and network errors are counted and retried, except `passOn` statuses. */
  private async call(url: () => string, body: string, headers: () => Record<string, string>, passOn: number[] = []): Promise<Answer> {
    const deadline = Date.now() + this.opts.stepDeadlineMs;
    let pause = 200;
    for (;;) {
      let status = 0;
      try {
        const res = await fetch(url(), { method: "POST", headers: headers(), body, signal: AbortSignal.timeout(20_000) });
        status = res.status;
        const text = await res.text();
        if (status < 500 || passOn.includes(status)) {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: the caller decides
          }
          return { status, body: parsed };
        }
        this.stats.retried5xx[status] = (this.stats.retried5xx[status] ?? 0) + 1;
      } catch {
        this.stats.retriedNetwork++;
      }
      if (Date.now() > deadline) throw new Abandon(`no answer in time (last ${status || "network error"})`);
      await sleep(pause);
      pause = Math.min(pause * 2, 2_000);
    }
  }

  private fn(name: string, payload: unknown, passOn: number[] = []): Promise<Answer> {
    return this.call(
      () => `${this.target().functionsUrl}/${name}`,
      JSON.stringify(payload),
      () => ({ authorization: `Bearer ${this.target().anonKey}`, "content-type": "application/json" }),
      passOn,
    );
  }

  private ok(name: string, a: Answer): Record<string, unknown> {
    if (a.status !== 200) throw new Abandon(`${name} answered ${a.status} ${String((a.body.error as { code?: string } | undefined)?.code ?? "")}`);
    this.stats.stepsOk++;
    return a.body;
  }

  private think() {
    return sleep(Math.random() * this.opts.thinkMs);
  }

  async run(): Promise<void> {
    this.stats.started++;
    try {
      await this.journey();
      this.stats.completed++;
    } catch (err) {
      this.stats.abandoned++;
      const reason = err instanceof Abandon ? err.message : `error: ${(err as Error).message}`;
      this.stats.abandonReasons[reason] = (this.stats.abandonReasons[reason] ?? 0) + 1;
    }
  }

  private async journey() {
    const tag = randomUUID().slice(0, 8);
    const email = `soak-${tag}@example.fr`;
    const phone = validMobile();
    this.acked.emails.add(email);
    this.acked.phones.add(phone.replace(/\D/g, "").slice(1));
    const type = pick(["definitif", "provisoire", "modification", "augmentation_puissance", "photovoltaique"]);

    const lead = this.ok("form-start", await this.fn("form-start", { email, phone, firstname: "Soak", connection_type: type, utm_source: "soak" }));
    const leadId = String(lead.lead_id);
    this.acked.leads.add(leadId);
    await this.think();
    if (Math.random() < 0.5) {
      const again = this.ok("form-start", await this.fn("form-start", { lead_id: leadId, email, phone, lastname: `Test ${tag}`, postal_code: "75011" }));
      this.acked.leads.add(String(again.lead_id));
      await this.think();
    }

    const submit = this.ok("form-submit", await this.fn("form-submit", {
      lead_id: leadId,
      customer: { email, phone, full_name: `Soak Test ${tag}`, client_type: "particulier" },
      request: { type_raccordement: type, address: "1 rue du Soak", city: "Paris", zip_code: "75011", power_kva: 9, is_viabilise: true },
    }));
    const requestId = String(submit.request_id);
    this.acked.requests.add(requestId);
    await this.think();

    const { pi, amount } = await this.createPaymentIntent(requestId);
    await this.think();
    await this.stripe(requestId, pi, amount, "succeed");
    this.acked.settled.set(requestId, "paid");
    if (Math.random() < 0.25) {
      await this.think();
      await this.stripe(requestId, pi, amount, "refund");
      this.acked.settled.set(requestId, "refunded");
    }
    await this.think();

    const callback = this.ok("contact-callback", await this.fn("contact-callback", { full_name: `Soak ${tag}`, phone, postal_code: "69001", source: "soak" }));
    this.acked.callbacks.add(String(callback.callback_id));
  }

  /**
   * create-payment-intent, retried. After a stack restart the Stripe double has
   * forgotten the open PaymentIntent a lost answer created, and asking again
   * gets a 502: then the PaymentIntent is read from the database.
   */
  private async createPaymentIntent(requestId: string): Promise<{ pi: string; amount: number }> {
    const deadline = Date.now() + this.opts.stepDeadlineMs;
    for (;;) {
      const a = await this.fn("create-payment-intent", { request_id: requestId }, [502]);
      if (a.status !== 502) {
        const body = this.ok("create-payment-intent", a);
        const pi = String(body.payment_intent_id);
        this.acked.payments.set(pi, requestId);
        return { pi, amount: Number(body.amount) };
      }
      this.stats.retried5xx[502] = (this.stats.retried5xx[502] ?? 0) + 1;
      const open = await this.target().openPaymentIntent(requestId).catch(() => null);
      if (open) {
        this.acked.payments.set(open.pi, requestId);
        return open;
      }
      if (Date.now() > deadline) throw new Abandon("create-payment-intent: 502 and no open PaymentIntent");
      await sleep(500);
    }
  }

  /**
   * The payment (or refund) as Stripe would deliver it: through the double's
   * control API, which signs and sends the event; when its webhook delivery
   * fails, the double re-sends it; when the double is gone or does not know
   * the PaymentIntent, the same event is built and signed here, and re-sent
   * until stripe-webhook takes it — Stripe retries for days.
   */
  private async stripe(requestId: string, pi: string, amount: number, action: "succeed" | "refund") {
    const deadline = Date.now() + this.opts.stepDeadlineMs;
    const t = this.target();
    try {
      const res = await fetch(`${t.stripeApiUrl}/_double/payment_intents/${pi}/${action}`, { method: "POST", signal: AbortSignal.timeout(20_000) });
      if (res.ok) {
        const sent = (await res.json()) as { event_id: string; webhook_status: number };
        let status = sent.webhook_status;
        for (let pause = 200; status !== 200 && Date.now() < deadline; pause = Math.min(pause * 2, 2_000)) {
          if (status >= 500 || status === 0) this.countWebhookRetry(status);
          else break; // a 4xx: build the event ourselves below
          await sleep(pause);
          const again = await fetch(`${this.target().stripeApiUrl}/_double/events/${sent.event_id}/resend`, { method: "POST", signal: AbortSignal.timeout(20_000) });
          if (!again.ok) break; // the double restarted and forgot the event
          status = ((await again.json()) as { webhook_status: number }).webhook_status;
        }
        if (status === 200) {
          this.stats.stepsOk++;
          return;
        }
      }
    } catch {
      this.stats.retriedNetwork++;
    }
    // The double is gone or has forgotten this PaymentIntent: the signed event Stripe would send.
    this.stats.paymentFallbacks++;
    const object = action === "succeed"
      ? { id: pi, object: "payment_intent", amount, currency: "eur", status: "succeeded", metadata: { request_id: requestId } }
      : { id: `ch_soak_${pi.slice(3)}`, object: "charge", amount, amount_refunded: amount, refunded: true, payment_intent: pi, currency: "eur", metadata: { request_id: requestId } };
    const event = buildEvent(action === "succeed" ? "payment_intent.succeeded" : "charge.refunded", object, { id: `evt_soak_${action}_${pi}` });
    const payload = JSON.stringify(event);
    const a = await this.call(
      () => `${this.target().functionsUrl}/stripe-webhook`,
      payload,
      () => ({ "content-type": "application/json", "stripe-signature": Stripe.webhooks.generateTestHeaderString({ payload, secret: this.target().webhookSecret }) }),
    );
    this.ok(`stripe-webhook (${action})`, a);
  }

  private countWebhookRetry(status: number) {
    if (status === 0) this.stats.retriedNetwork++;
    else this.stats.retried5xx[status] = (this.stats.retried5xx[status] ?? 0) + 1;
  }
}
