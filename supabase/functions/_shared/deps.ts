/**
 * Built once per isolate (module scope): on Supabase every function is its own
 * isolate, locally they share one. Configuration comes from the environment
 * here and nowhere else.
 */
import { createAppDeps, type AppDeps } from "../../../src/app-deps.ts";
import { loadConfig } from "../../../src/config.ts";

let deps: AppDeps | undefined;

export function appDeps(): AppDeps {
  deps ??= createAppDeps(loadConfig(Deno.env.toObject()));
  return deps;
}
