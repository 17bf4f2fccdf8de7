/**
 * LOCAL_DESTINATIONS ("all", or a comma list of destination names): which
 * destinations the local stack points at their doubles, and the settings that
 * do it. The stack serves the doubles; `npm run crm` and the console, against
 * the local stack's database, use the same settings so that they see (and can
 * test, backfill…) the destinations the stack delivers to.
 */
import { DOUBLES } from "../../src/destinations/doubles.ts";
import { DESTINATIONS } from "../../src/destinations/registry.ts";
import type { DestinationModule } from "../../src/destinations/types.ts";
import { databaseUrlFromEnv, localDatabaseUrl } from "./database-url.ts";
import { DEFAULT_PORTS, portFromEnv } from "./ports.ts";

type Env = Record<string, string | undefined>;

/** The destinations to double: named by LOCAL_DESTINATIONS, with a double, and not configured by hand. */
export function doubledDestinations(env: Env): DestinationModule<unknown>[] {
  const names = (env.LOCAL_DESTINATIONS ?? "").split(",").map((n) => n.trim().toLowerCase()).filter(Boolean);
  const wanted = (name: string) => names.includes("all") || names.includes(name);
  return DESTINATIONS.filter((d) => d.name !== "monelec" && DOUBLES[d.name] && wanted(d.name)
    && !Object.keys(d.localEnv("http://x")).some((k) => env[k]));
}

/** `env` with the doubled destinations' settings, for a doubles server at `baseUrl` (…/<name> per double). */
export function withDoubledDestinations(env: Env, baseUrl: string): Env {
  const out = { ...env };
  for (const d of doubledDestinations(env)) Object.assign(out, d.localEnv(`${baseUrl}/${d.name}`));
  return out;
}

/** For the operator tools: against the local stack's database, the doubles of its running stack. */
export function withLocalStackDestinations(env: Env): Env {
  const local = localDatabaseUrl(Number(env.DB_PORT || DEFAULT_PORTS.DB_PORT));
  if (databaseUrlFromEnv(env) !== local) return env;
  return withDoubledDestinations(env, `http://127.0.0.1:${portFromEnv(env, "DESTINATION_DOUBLES_PORT")}`);
}
