/**
 * Everything a function needs, built once per isolate from the validated
 * config. Runtime specifics (fetch, the Stripe SDK instance) can be injected.
 */
import type { Config } from "./config.ts";
import { monelecDestination } from "./crm/monelec.ts";
import type { Destination } from "./crm/destination.ts";
import { createSql, type Pool } from "./db/sql.ts";
import { HttpError } from "./http/http-error.ts";
import { createLogger, type Logger } from "./log.ts";
import { deliverNow, type DeliveryContext } from "./outbox/deliver.ts";
import type { EventState, FirstLease, NewCrmEvent } from "./outbox/types.ts";
import { runInBackground } from "./runtime/background.ts";
import { createStripe, type Stripe } from "./stripe/stripe-client.ts";

export interface AppDeps {
  config: Config;
  sql: Pool;
  log: Logger;
  destination: Destination;
  /** The Stripe SDK; throws a 503 when STRIPE_SECRET_KEY is not set. */
  stripe(): Stripe;
  outbox: {
    /** State a new event is written in: `pending`, or `skipped` when the bridge is off. */
    newEventState: EventState;
    delivery(origin: string): DeliveryContext;
    /** A first lease for an event of a brand-new aggregate, or undefined when the bridge is off. */
    firstLease(): FirstLease | undefined;
    /** Hands the committed event to the background for immediate delivery. */
    afterCommit(origin: string, event: NewCrmEvent, lease?: FirstLease): void;
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
  const destination = monelecDestination(config.crm);
  let stripe = overrides.stripe;
  const delivery = (origin: string): DeliveryContext => ({
    sql,
    destination,
    timeoutMs: config.crm.timeoutMs,
    retryScheduleMs: config.crm.retryScheduleMs,
    leaseMs: config.crm.leaseMs,
    log,
    origin,
    fetch: overrides.fetch,
  });
  return {
    config,
    sql,
    log,
    destination,
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
      newEventState: destination.enabled ? "pending" : "skipped",
      delivery,
      firstLease() {
        return destination.enabled ? { claimToken: crypto.randomUUID(), leaseMs: config.crm.leaseMs } : undefined;
      },
      afterCommit(origin, event, lease) {
        if (destination.enabled) runInBackground(deliverNow(delivery(origin), event, lease));
      },
    },
  };
}
