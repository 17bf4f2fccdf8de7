import { contactCallback } from "../../../src/functions/contact-callback.ts";
import { appDeps } from "../_shared/deps.ts";

export default { fetch: contactCallback(appDeps("contact-callback")) };
