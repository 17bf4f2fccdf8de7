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
import { claimDataDir } from "../lib/claim-data-dir.ts";
import { doubledDestinations } from "../lib/local-destinations.ts";
import { migrate } from "../lib/migrate.ts";
import { assertPortsFree, listeningOn, type PortClaim, portFromEnv, PortsInUseError } from "../lib/ports.ts";
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
  /**
   * Resolves with a reason when a part of the stack ends by itself (the
   * functions process exits, Postgres exits or is told to shut down), so
   * the owner stops the rest. Never resolves after stop().
   */
  ended: Promise<string>;
  stop(): Promise<void>;
}

/**
 * Every port the stack is about to listen on, by the setting that moves it,
 * given the environment (a service given by URL is not started, so its port
 * is not claimed). Checked all at once before anything starts; a new local
 * service adds its line here.
 */
export function stackPorts(env: Record<string, string | undefined>, opts: { examplePage?: boolean } = {}): PortClaim[] {
  const claims: PortClaim[] = [{ setting: "FUNCTIONS_PORT", port: portFromEnv(env, "FUNCTIONS_PORT"), what: "the functions" }];
  if (!env.DATABASE_URL && !env.SUPABASE_DB_URL) claims.push({ setting: "DB_PORT", port: portFromEnv(env, "DB_PORT"), what: "PostgreSQL" });
  if (!env.MONELEC_API_URL) claims.push({ setting: "CRM_SANDBOX_PORT", port: portFromEnv(env, "CRM_SANDBOX_PORT", true), what: "the CRM sandbox" });
  if (!env.STRIPE_API_URL) claims.push({ setting: "STRIPE_DOUBLE_PORT", port: portFromEnv(env, "STRIPE_DOUBLE_PORT", true), what: "the Stripe double" });
  if (opts.examplePage ?? env.EXAMPLE_PAGE_PORT !== undefined) {
    claims.push({ setting: "EXAMPLE_PAGE_PORT", port: portFromEnv(env, "EXAMPLE_PAGE_PORT", true), what: "the example page" });
  }
  if ((env.LOCAL_DESTINATIONS ?? "").trim()) {
    claims.push({ setting: "DESTINATION_DOUBLES_PORT", port: portFromEnv(env, "DESTINATION_DOUBLES_PORT", true), what: "the destinations' doubles" });
  }
  return claims;
}

const DEFAULT_DATA_DIR = resolve(new URL("../../.data", import.meta.url).pathname);

export async function startStack(opts: StackOptions): Promise<Stack> {
  const env = opts.env;
  const dataDir = opts.dataDir ?? env.LOCAL_DATA_DIR ?? DEFAULT_DATA_DIR;
  const sweepIntervalMs = Number(env.CRM_SWEEP_INTERVAL_MS ?? 5_000);
  // Every port first, before anything is created, started or stopped.
  const claims = stackPorts(env, opts);
  const port = (setting: string) => claims.find((c) => c.setting === setting)!;
  await assertPortsFree(claims);
  const functionsPort = port("FUNCTIONS_PORT").port;

  const stops: Array<() => Promise<void>> = [];
  let stopped = false;
  const stopAll = async () => {
    stopped = true;
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stops.length = 0;
  };
  let endedBy: (reason: string) => void = () => {};
  const ended = new Promise<string>((resolve) => (endedBy = (reason) => !stopped && resolve(reason)));

  try {
    await mkdir(dataDir, { recursive: true });
    // One stack per data directory: a second one must never stop the first one's Postgres.
    const claim = await claimDataDir(dataDir);
    stops.push(() => claim.release());
    const secrets = await localSecrets(dataDir);
    const anonKey = env.SUPABASE_ANON_KEY ?? LOCAL_ANON_KEY;
    const serviceRoleKey = env.SUPABASE_SERVICE_ROLE_KEY ?? LOCAL_SERVICE_ROLE_KEY;
    const webhookSecret = env.STRIPE_WEBHOOK_SECRET ?? secrets.webhookSecret;

    let databaseUrl = env.DATABASE_URL ?? env.SUPABASE_DB_URL;
    if (!databaseUrl) {
      const pg: LocalPostgres = await listeningOn(port("DB_PORT"), () => startPostgres({ dataDir: join(dataDir, "postgres"), port: port("DB_PORT").port }));
      stops.push(() => pg.stop());
      void pg.ended.then(endedBy);
      databaseUrl = pg.url;
    }
    await migrate(databaseUrl);

    const crmApiKey = env.MONELEC_API_KEY || undefined;
    let crmUrl = env.MONELEC_API_URL;
    let crmSandbox: CrmSandbox | undefined;
    if (!crmUrl) {
      crmSandbox = await listeningOn(port("CRM_SANDBOX_PORT"), () => startCrmSandbox({
        apiKey: crmApiKey ?? LOCAL_SANDBOX_CRM_KEY,
        port: port("CRM_SANDBOX_PORT").port,
        quiet: true,
      }));
      stops.push(() => crmSandbox!.close());
      crmUrl = crmSandbox.url;
    }

    let stripeApiUrl = env.STRIPE_API_URL;
    let stripeDouble: StripeDouble | undefined;
    const webhookUrl = `http://127.0.0.1:${functionsPort}/functions/v1/stripe-webhook`;
    if (!stripeApiUrl) {
      stripeDouble = await listeningOn(port("STRIPE_DOUBLE_PORT"), () => startStripeDouble({
        webhookSecret,
        webhookUrl,
        port: port("STRIPE_DOUBLE_PORT").port,
        quiet: true,
        // Beside Postgres: a restart must not forget a PaymentIntent the database references.
        stateFile: join(dataDir, "stripe-double.jsonl"),
      }));
      stops.push(() => stripeDouble!.close());
      stripeApiUrl = stripeDouble.url;
    }

    // LOCAL_DESTINATIONS=all (or a comma list): every named destination gets its
    // local double and the settings pointing at it, unless its variables are set.
    const doubled = doubledDestinations(env);
    let doubles: DoublesServer | undefined;
    const destinationEnv: Record<string, string | undefined> = {};
    for (const d of DESTINATIONS) {
      const prefix = `${d.name.toUpperCase()}_`;
      for (const [k, v] of Object.entries(env)) if (k.startsWith(prefix)) destinationEnv[k] = v;
    }
    if (doubled.length > 0) {
      doubles = await serveDoubles(doubled.map((d) => DOUBLES[d.name]()), { port: port("DESTINATION_DOUBLES_PORT").port });
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
      RATE_LIMIT_GLOBAL_PER_MINUTE: env.RATE_LIMIT_GLOBAL_PER_MINUTE,
      CLIENT_IP_HEADER: env.CLIENT_IP_HEADER,
      TRUSTED_PROXY_HOPS: env.TRUSTED_PROXY_HOPS,
      STRIPE_REQUEST_INTERVAL_MS: env.STRIPE_REQUEST_INTERVAL_MS,
      ALERT_WEBHOOK_URL: env.ALERT_WEBHOOK_URL,
      ALERT_PENDING_AGE: env.ALERT_PENDING_AGE,
      SUPABASE_ANON_KEY: anonKey,
      SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
    };
    const functions = await listeningOn(port("FUNCTIONS_PORT"), () => startFunctions({
      port: functionsPort,
      env: Object.fromEntries(Object.entries(functionEnv).filter((e): e is [string, string] => Boolean(e[1]))),
      onOutput: opts.onOutput,
    }));
    stops.push(() => functions.stop());
    void functions.exited.then((code) => endedBy(`the functions process exited (code ${code})`));

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
    const pageClaim = claims.find((c) => c.setting === "EXAMPLE_PAGE_PORT");
    if (pageClaim) {
      try {
        const page = await listeningOn(pageClaim, () => startExamplePage({
          port: pageClaim.port,
          functionsUrl: `${functions.url}/functions/v1`,
          anonKey,
          crmSandboxPageUrl: crmSandbox ? `http://127.0.0.1:${crmSandbox.port}/` : undefined,
          stripeDoubleUrl: stripeDouble?.url,
          crmBridgeOn: enabledDestinations.length > 0,
        }));
        stops.push(() => page.close());
        examplePageUrl = page.url;
      } catch (err) {
        // Taken since the check: a refusal like any other port's. Anything else leaves the stack up.
        if (err instanceof PortsInUseError) throw err;
        examplePageProblem = `not served on port ${pageClaim.port}: ${(err as Error).message} (set EXAMPLE_PAGE_PORT)`;
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
      ended,
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
