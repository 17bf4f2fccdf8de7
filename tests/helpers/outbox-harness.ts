/**
 * What the outbox's integration tests run against: a fresh database, the CRM
 * sandbox (monelec) and the webhook's verifying receiver on loopback, and an
 * outbox over both with a quick retry schedule and (unless a test says
 * otherwise) rate limits out of the way.
 */
import { startCrmSandbox, type CrmSandbox } from "../../scripts/local/crm-sandbox.ts";
import { loadDestinations } from "../../src/config.ts";
import type { Pool } from "../../src/db/sql.ts";
import { serveDoubles, type DoublesServer, type MountedDouble } from "../../src/destinations/double-kit.ts";
import type { RateLimit } from "../../src/destinations/types.ts";
import { createWebhookDouble } from "../../src/destinations/webhook/double.ts";
import { webhook } from "../../src/destinations/webhook/index.ts";
import { createLogger } from "../../src/log.ts";
import { createOutbox, type Outbox } from "../../src/outbox/outbox.ts";
import type { Fanout } from "../../src/outbox/types.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";

export interface OutboxServices {
  db: TestDatabase;
  crm: CrmSandbox;
  doubles: DoublesServer;
  hook: MountedDouble;
  close(): Promise<void>;
}

export async function startOutboxServices(crmKey: string): Promise<OutboxServices> {
  const db = await createTestDatabase();
  const crm = await startCrmSandbox({ apiKey: crmKey, quiet: true });
  const doubles = await serveDoubles([createWebhookDouble()]);
  return {
    db, crm, doubles, hook: doubles.get("webhook"),
    async close() {
      await doubles.close();
      await crm.close();
      await db.drop();
    },
  };
}

export interface TestOutboxOptions {
  sql?: Pool;
  /** Where the outbox's JSON log lines go (default: nowhere). */
  logs?: string[];
  schedule?: number[];
  timeoutMs?: number;
  only?: string[];
  /** One limit for every destination, or one per destination name (default 10,000/s). */
  rate?: RateLimit | Record<string, RateLimit>;
  leaseMs?: number;
}

export function testOutbox(s: OutboxServices, crmKey: string, opts: TestOutboxOptions = {}): Outbox {
  const env = { MONELEC_API_KEY: crmKey, MONELEC_API_URL: s.crm.url, ...webhook.localEnv(s.doubles.urlOf("webhook")) };
  const rateOf = (name: string): RateLimit => {
    const r = opts.rate as (RateLimit & Record<string, RateLimit>) | undefined;
    return (r && "perSecond" in r ? r : r?.[name]) ?? { perSecond: 10_000, burst: 10_000 };
  };
  return createOutbox({
    sql: opts.sql ?? s.db.sql,
    log: createLogger({}, (line) => void opts.logs?.push(line)),
    origin: "test",
    destinations: loadDestinations(env, opts.timeoutMs ?? 2_000)
      .filter((d) => !opts.only || opts.only.includes(d.name))
      .map((d) => ({ ...d, leaseMs: opts.leaseMs ?? d.leaseMs, rate: rateOf(d.name) })),
    timeoutMs: opts.timeoutMs ?? 2_000,
    retryScheduleMs: opts.schedule ?? [50, 50],
  });
}

/** One delivery per destination of `ob`; `lease`: the writer sends them itself (a brand-new record). */
export const fanoutOf = (ob: Outbox, lease = false): Fanout => ({
  destinations: [...ob.destinations.values()].map((d) => ({ name: d.name, leaseMs: d.leaseMs })),
  ...(lease ? { lease: { claimToken: crypto.randomUUID(), leasedAt: Date.now() } } : {}),
});
