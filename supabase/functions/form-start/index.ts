import { formStart } from "../../../src/functions/form-start.ts";
import { appDeps } from "../_shared/deps.ts";

export default { fetch: formStart(appDeps("form-start")) };
