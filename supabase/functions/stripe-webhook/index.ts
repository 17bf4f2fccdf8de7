import { stripeWebhook } from "../../../src/functions/stripe-webhook.ts";
import { appDeps } from "../_shared/deps.ts";

export default { fetch: stripeWebhook(appDeps("stripe-webhook")) };
