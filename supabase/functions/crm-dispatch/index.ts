import { crmDispatch } from "../../../src/functions/crm-dispatch.ts";
import { appDeps } from "../_shared/deps.ts";

export default { fetch: crmDispatch(appDeps("crm-dispatch")) };
