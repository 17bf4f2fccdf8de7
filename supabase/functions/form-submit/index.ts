import { formSubmit } from "../../../src/functions/form-submit.ts";
import { appDeps } from "../_shared/deps.ts";

export default { fetch: formSubmit(appDeps("form-submit")) };
