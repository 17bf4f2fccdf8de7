import { createAppDeps } from "../src/app-deps.ts";
import { loadConfig } from "../src/config.ts";
import { formStart } from "../src/functions/form-start.ts";
const deps = createAppDeps(loadConfig({ DATABASE_URL: Deno.args[0], MONELEC_API_KEY: "k", MONELEC_API_URL: "http://127.0.0.1:9/x", RATE_LIMIT_PER_MINUTE: "0" }));
const h = formStart(deps);
const r = await h(new Request("http://x/form-start", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "a@b.fr" }) }));
console.log(r.status, await r.text());
await new Promise((r) => setTimeout(r, 500));
Deno.exit(0);
