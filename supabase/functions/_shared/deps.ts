/**
 * Built once per function and isolate (module scope). On Supabase every
 * function is its own isolate; the local stack serves them all from one
 * process, so keying by function keeps their pools apart there too — the
 * sweeper cannot starve the forms of connections, as in production.
 * Configuration comes from the environment here and nowhere else.
 */
import { createAppDeps, type AppDeps } from "../../../src/app-deps.ts";
import { loadConfig } from "../../../src/config.ts";

const byFunction = new Map<string, AppDeps>();

export function appDeps(functionName: string): AppDeps {
  let deps = byFunction.get(functionName);
  if (!deps) {
    deps = createAppDeps(loadConfig(Deno.env.toObject()), { applicationName: functionName });
    byFunction.set(functionName, deps);
  }
  return deps;
}
