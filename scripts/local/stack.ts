/**
 * The whole local stack, as one object: embedded Postgres (migrated), the CRM
 * sandbox and the Stripe double (unless real URLs are given), the Deno-served
 * functions, and the sweeper timer that calls crm-dispatch. `npm start`, the
 * end-to-end tests and the benchmark all start it through here.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DEFAULT_SITE_URL } from "../../src/config.ts";
import { type DoublesServer, serveDoubles } from "../../src/destinations/double-kit.ts";
import { DOUBLES } from "../../src/destinations/doubles.ts";
import { DESTINATIONS } from "../../src/destinations/registry.ts";
import { migrate } from "../lib/migrate.ts";
import { type CrmSandbox, startCrmSandbox } from "./crm-sandbox.ts";
import { startFunctions, type FunctionsProcess } from "./deno-functions.ts";
import { LOCAL_ANON_KEY, LOCAL_SANDBOX_CRM_KEY, LOCAL_SERVICE_ROLE_KEY, LOCAL_STRIPE_SECRET_KEY } from "./dev-keys.ts";
import { startExamplePage } from "./example-page/server.ts";
import { type LocalPostgres, startPostgres } from "./postgres.ts";
import { type StripeDouble, startStripeDouble } from "./stripe-double.ts";

export interface StackOptions {
  /** The caller's environment (CONTRACT §1 variables). */
  env: Record<string, string | undefined>;
  /** Where Postgres data and local secrets live (default LOCAL_DATA_DIR, else `.data`). */
  dataDir?: string;
  /** Lines printed by the functions process (default: stdout). */
  onOutput?: (line: string) => void;
  /** Run the crm-dispatch timer (default true). */
  sweep?: boolean;
  /** Serve the example page on EXAMPLE_PAGE_PORT (default: only when EXAMPLE_PAGE_PORT is set; `npm start` turns it on). */
  examplePage?: boolean;
}

export interface Stack {
  functionsUrl: string;
  databaseUrl: string;
  crmUrl: string;
  crmApiKey: string | undefined;
  stripeApiUrl: string | undefined;
  anonKey: string;
  serviceRoleKey: string;
  webhookSecret: string;
  sweepIntervalMs: number;
  /** Present when the stack runs its own sandbox / double. */
  crmSandbox?: CrmSandbox;
  /** The destinations' doubles (LOCAL_DESTINATIONS), and which destinations point at them. */
  doubles?: DoublesServer;
  doubledDestinations: string[];
  /** The destinations the functions have enabled. */
  enabledDestinations: string[];
  stripeDouble?: StripeDouble;
  functions: FunctionsProcess;
  /** The example page (scripts/local/example-page), when it is served. */
  examplePageUrl?: string;
  /** Why the example page is not served, when it was asked for (it never stops the stack). */
  examplePageProblem?: string;
  /** Runs one sweep now through crm-dispatch. */
  sweepNow(): Promise<unknown>;
  stop(): Promise<void>;
}

const DEFAULT_DATA_DIR = resolve(new URL("../../.data", import.meta.url).pathname);

export async function startStack(opts: StackOptions): Promise<Stack> {
  const env = opts.env;
  const dataDir = opts.dataDir ?? env.LOCAL_DATA_DIR ?? DEFAULT_DATA_DIR;
  const functionsPort = Number(env.FUNCTIONS_PORT ?? 54321);
  const dbPort = Number(env.DB_PORT ?? 54322);
  const sweepIntervalMs = Number(env.CRM_SWEEP_INTERVAL_MS ?? 5_000);
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };

  try {
    await mkdir(dataDir, { recursive: true });
    const secrets = await localSecrets(dataDir);
    const anonKey = env.SUPABASE_ANON_KEY ?? LOCAL_ANON_KEY;
    const serviceRoleKey = env.SUPABASE_SERVICE_ROLE_KEY ?? LOCAL_SERVICE_ROLE_KEY;
    const webhookSecret = env.STRIPE_WEBHOOK_SECRET ?? secrets.webhookSecret;

    let databaseUrl = env.DATABASE_URL ?? env.SUPABASE_DB_URL;
    if (!databaseUrl) {
      const pg: LocalPostgres = await startPostgres({ dataDir: join(dataDir, "postgres"), port: dbPort });
      stops.push(() => pg.stop());
      databaseUrl = pg.url;
    }
    await migrate(databaseUrl);

    const crmApiKey = env.MONELEC_API_KEY || undefined;
    let crmUrl = env.MONELEC_API_URL;
    let crmSandbox: CrmSandbox | undefined;
    if (!crmUrl) {
      crmSandbox = await startCrmSandbox({
        apiKey: crmApiKey ?? LOCAL_SANDBOX_CRM_KEY,
        port: Number(env.CRM_SANDBOX_PORT ?? 54323),
        quiet: true,
      });
      stops.push(() => crmSandbox!.close());
      crmUrl = crmSandbox.url;
    }

    let stripeApiUrl = env.STRIPE_API_URL;
    let stripeDouble: StripeDouble | undefined;
    const webhookUrl = `http://127.0.0.1:${functionsPort}/functions/v1/stripe-webhook`;
    if (!stripeApiUrl) {
      stripeDouble = await startStripeDouble({
        webhookSecret,
        webhookUrl,
        port: Number(env.STRIPE_DOUBLE_PORT ?? 54324),
        quiet: true,
      });
      stops.push(() => stripeDouble!.close());
      stripeApiUrl = stripeDouble.url;
    }

    // LOCAL_DESTINATIONS=all (or a comma list): every named destination gets its
    // local double and the settings pointing at it, unless its variables are set.
    const wanted = localDestinations(env.LOCAL_DESTINATIONS);
    const doubled = DESTINATIONS.filter((d) => d.name !== "monelec" && DOUBLES[d.name] && wanted(d.name)
      && !Object.keys(d.localEnv("http://x")).some((k) => env[k]));
    let doubles: DoublesServer | undefined;
    const destinationEnv: Record<string, string | undefined> = {};
    for (const d of DESTINATIONS) {
      const prefix = `${d.name.toUpperCase()}_`;
      for (const [k, v] of Object.entries(env)) if (k.startsWith(prefix)) destinationEnv[k] = v;
    }
    if (doubled.length > 0) {
      doubles = await serveDoubles(doubled.map((d) => DOUBLES[d.name]()), { port: Number(env.DESTINATION_DOUBLES_PORT ?? 54327) });
      stops.push(() => doubles!.close());
      for (const d of doubled) Object.assign(destinationEnv, d.localEnv(doubles.urlOf(d.name)));
    }

    const siteUrl = env.SITE_URL ?? DEFAULT_SITE_URL;
    const functionEnv: Record<string, string | undefined> = {
      ...destinationEnv,
      DATABASE_URL: databaseUrl,
      DB_POOL_MAX: env.DB_POOL_MAX,
      MONELEC_API_URL: crmUrl,
      MONELEC_API_KEY: crmApiKey,
      STRIPE_SECRET_KEY: env.STRIPE_SECRET_KEY ?? (stripeDouble ? LOCAL_STRIPE_SECRET_KEY : undefined),
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      STRIPE_API_URL: stripeApiUrl,
      SITE_URL: siteUrl,
      ALLOWED_ORIGINS: env.ALLOWED_ORIGINS ?? `${siteUrl},http://localhost:*,http://127.0.0.1:*`,
      CRM_TIMEOUT_MS: env.CRM_TIMEOUT_MS,
      CRM_RETRY_SCHEDULE: env.CRM_RETRY_SCHEDULE,
      CRM_SWEEP_INTERVAL_MS: env.CRM_SWEEP_INTERVAL_MS,
      CRM_RETENTION_DAYS: env.CRM_RETENTION_DAYS,
      RATE_LIMIT_PER_MINUTE: env.RATE_LIMIT_PER_MINUTE,
      SUPABASE_ANON_KEY: anonKey,
      SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
    };
    const functions = await startFunctions({
      port: functionsPort,
      env: Object.fromEntries(Object.entries(functionEnv).filter((e): e is [string, string] => Boolean(e[1]))),
      onOutput: opts.onOutput,
    });
    stops.push(() => functions.stop());

    const sweepNow = async () => {
      const res = await fetch(`${functions.url}/functions/v1/crm-dispatch`, {
        method: "POST",
        headers: { authorization: `Bearer ${serviceRoleKey}`, "content-type": "application/json" },
        body: "{}",
        signal: AbortSignal.timeout(60_000),
      });
      return await res.json();
    };
    const enabledDestinations = DESTINATIONS.filter((d) => {
      try {
        return d.settings(functionEnv) !== undefined;
      } catch {
        return false;
      }
    }).map((d) => d.name);
    if (opts.sweep !== false && enabledDestinations.length > 0) {
      let running = false;
      const timer = setInterval(() => {
        if (running) return; // never two sweeps from this timer at once
        running = true;
        sweepNow().catch(() => {}).finally(() => (running = false));
      }, sweepIntervalMs);
      stops.push(async () => clearInterval(timer));
    }

    let examplePageUrl: string | undefined;
    let examplePageProblem: string | undefined;
    if (opts.examplePage ?? env.EXAMPLE_PAGE_PORT !== undefined) {
      const port = Number(env.EXAMPLE_PAGE_PORT ?? 54325);
      try {
        const page = await startExamplePage({
          port,
          functionsUrl: `${functions.url}/functions/v1`,
          anonKey,
          crmSandboxPageUrl: crmSandbox ? `http://127.0.0.1:${crmSandbox.port}/` : undefined,
          stripeDoubleUrl: stripeDouble?.url,
          crmBridgeOn: enabledDestinations.length > 0,
        });
        stops.push(() => page.close());
        examplePageUrl = page.url;
      } catch (err) {
        examplePageProblem = `not served on port ${port}: ${(err as Error).message} (set EXAMPLE_PAGE_PORT)`;
      }
    }

    return {
      functionsUrl: `${functions.url}/functions/v1`,
      databaseUrl,
      crmUrl,
      crmApiKey,
      stripeApiUrl,
      anonKey,
      serviceRoleKey,
      webhookSecret,
      sweepIntervalMs,
      crmSandbox,
      doubles,
      doubledDestinations: doubled.map((d) => d.name),
      enabledDestinations,
      stripeDouble,
      functions,
      examplePageUrl,
      examplePageProblem,
      sweepNow,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** A webhook secret made once per data directory, so it survives restarts and never enters git. */
async function localSecrets(dataDir: string): Promise<{ webhookSecret: string }> {
  const file = join(dataDir, "local-secrets.json");
  if (existsSync(file)) return JSON.parse(await readFile(file, "utf8"));
  const secrets = { webhookSecret: `whsec_local_${randomBytes(24).toString("hex")}` };
  await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** LOCAL_DESTINATIONS: "all", or a comma-separated list of destination names. */
function localDestinations(value: string | undefined): (name: string) => boolean {
  const names = (value ?? "").split(",").map((n) => n.trim().toLowerCase()).filter(Boolean);
  return (name) => names.includes("all") || names.includes(name);
}
