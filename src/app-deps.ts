/**
 * Everything a function needs, built once per isolate from the validated
 * config. Runtime specifics (fetch, the Stripe SDK instance) can be injected.
 */
import type { Config } from "./config.ts";
import { createSql, type Pool } from "./db/sql.ts";
import { HttpError } from "./http/http-error.ts";
import { createLogger, type Logger } from "./log.ts";
import { deliverNow } from "./outbox/deliver.ts";
import { createOutbox, type Outbox } from "./outbox/outbox.ts";
import type { Fanout, NewEvent } from "./outbox/types.ts";
import { runInBackground } from "./runtime/background.ts";
import { createStripe, type Stripe } from "./stripe/stripe-client.ts";

export interface AppDeps {
  config: Config;
  sql: Pool;
  log: Logger;
  /** The Stripe SDK; throws a 503 when STRIPE_SECRET_KEY is not set. */
  stripe(): Stripe;
  outbox: {
    /** At least one destination is enabled (the bridge is on). */
    enabled: boolean;
    /**
     * The deliveries an event gets: one per enabled destination. `newRecord`:
     * the event is the first of a brand-new record, so its writer takes the
     * first lease and sends it without a claim.
     */
    fanout(newRecord: boolean): Fanout;
    /** Hands the committed event to the background for immediate delivery. */
    afterCommit(origin: string, event: NewEvent, fanout: Fanout): void;
    /** The outbox as `origin` runs it (sweeps, operator tools). */
    runner(origin: string): Outbox;
  };
}

export interface AppDepsOverrides {
  sql?: Pool;
  log?: Logger;
  stripe?: Stripe;
  fetch?: typeof fetch;
  /** Names the pool's connections in pg_stat_activity (the function's name). */
  applicationName?: string;
}

export function createAppDeps(config: Config, overrides: AppDepsOverrides = {}): AppDeps {
  const sql = overrides.sql ?? createSql(config.databaseUrl, {
    max: config.dbPoolMax,
    applicationName: overrides.applicationName,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    lockTimeoutMs: config.dbLockTimeoutMs,
  });
  const log = overrides.log ?? createLogger();
  let stripe = overrides.stripe;
  const runners = new Map<string, Outbox>();
  const runner = (origin: string): Outbox => {
    let ob = runners.get(origin);
    if (!ob) {
      ob = createOutbox({
        sql,
        log,
        origin,
        destinations: config.destinations,
        timeoutMs: config.crm.timeoutMs,
        retryScheduleMs: config.crm.retryScheduleMs,
        fetch: overrides.fetch,
      });
      runners.set(origin, ob);
    }
    return ob;
  };
  const destinations = config.destinations.map((d) => ({ name: d.name, leaseMs: d.leaseMs }));
  return {
    config,
    sql,
    log,
    stripe() {
      if (!stripe) {
        if (!config.stripe.secretKey) {
          log.error("STRIPE_SECRET_KEY is not set: payments are unavailable");
          throw new HttpError(503, "payments_unavailable", "Payments are not available right now.");
        }
        stripe = createStripe(config.stripe.secretKey, config.stripe.apiUrl);
      }
      return stripe;
    },
    outbox: {
      enabled: destinations.length > 0,
      fanout(newRecord) {
        return newRecord && destinations.length > 0
          ? { destinations, lease: { claimToken: crypto.randomUUID(), leasedAt: Date.now() } }
          : { destinations };
      },
      afterCommit(origin, event, fanout) {
        if (fanout.destinations.length > 0) runInBackground(deliverNow(runner(origin), event, fanout));
      },
      runner,
    },
  };
}
