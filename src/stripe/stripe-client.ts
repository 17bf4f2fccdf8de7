/**
 * The Stripe SDK set up for edge runtimes: fetch-based HTTP client, and an API
 * base that STRIPE_API_URL can redirect (stripe-mock, the local double).
 */
import Stripe from "stripe";

export type { Stripe };

export function createStripe(secretKey: string, apiUrl?: string): Stripe {
  const options: Stripe.StripeConfig = {
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 2,
    timeout: 15_000,
  };
  if (apiUrl) {
    const url = new URL(apiUrl);
    options.host = url.hostname;
    options.port = url.port || (url.protocol === "https:" ? "443" : "80");
    options.protocol = url.protocol.replace(":", "") as "http" | "https";
  }
  return new Stripe(secretKey, options);
}

const cryptoProvider = Stripe.createSubtleCryptoProvider();

/** How far a signature's timestamp may be from now, either way (Stripe's default, 5 minutes). */
export const STRIPE_TOLERANCE_SECONDS = 300;

/**
 * Verifies `Stripe-Signature` on the raw body (5-minute tolerance) with Web
 * Crypto. Needs only the webhook secret, not an API key. Throws Stripe's
 * signature error when it does not match.
 */
export function verifyStripeEvent(rawBody: string, signature: string, secret: string): Promise<Stripe.Event> {
  return Stripe.webhooks.constructEventAsync(rawBody, signature, secret, STRIPE_TOLERANCE_SECONDS, cryptoProvider);
}
