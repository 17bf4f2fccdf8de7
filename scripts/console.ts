/**
 * `npm run console` — the operator console (CONTRACT §6), against DATABASE_URL
 * (else SUPABASE_DB_URL, else the local stack's Postgres), on
 * http://127.0.0.1:<CONSOLE_PORT, 54326>/. Prints the URL with a fresh access
 * token; without it every route answers 401.
 *   --port <n>          instead of CONSOLE_PORT
 *   --allow-remote      with CONSOLE_HOST set: listen on that (non-loopback) address
 * Actions are recorded as CONSOLE_ACTOR, else the OS user.
 */
import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { actorFrom } from "../src/operator/activity.ts";
import { startConsoleServer } from "./console/serve.ts";
import { databaseUrlFromEnv } from "./lib/database-url.ts";
import { loadLocalEnv } from "./lib/load-local-env.ts";
import { withLocalStackDestinations } from "./lib/local-destinations.ts";
import { destinationsFrom, parseArgs, runMain, UsageError } from "./lib/cli.ts";

runMain(async (argv) => {
  const { flags } = parseArgs(argv, { booleans: ["allow-remote"] });
  // Local settings from supabase/functions/.env, like `npm start` and `npm run crm` (the environment wins).
  let env: Record<string, string | undefined>;
  try {
    env = withLocalStackDestinations(loadLocalEnv());
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const port = Number(flags.port ?? env.CONSOLE_PORT ?? 54326);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`CONSOLE_PORT / --port must be a port number, got "${flags.port ?? env.CONSOLE_PORT}"`);
  const host = env.CONSOLE_HOST?.trim() || "127.0.0.1";
  const destinations = destinationsFrom(env);
  let server;
  try {
    server = await startConsoleServer({
      databaseUrl: databaseUrlFromEnv(env),
      destinations,
      actor: actorFrom(env, userInfo().username),
      port,
      host,
      allowRemote: flags["allow-remote"] === true && Boolean(env.CONSOLE_HOST),
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  console.log(`Operator console: ${server.url}`);
  console.log(`(destinations configured here: ${destinations.map((d) => d.name).join(", ") || "none"}; Ctrl+C to stop)`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await server.close();
  return 0;
});
