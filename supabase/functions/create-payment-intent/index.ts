import { createPaymentIntent } from "../../../src/functions/create-payment-intent.ts";
import { appDeps } from "../_shared/deps.ts";

export default { fetch: createPaymentIntent(appDeps("create-payment-intent")) };
