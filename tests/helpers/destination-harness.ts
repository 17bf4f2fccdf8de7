/**
 * A destination module against its double, without the outbox: the double is
 * served on loopback by the kit, the module gets its local settings, and a
 * context whose remembered remote ids survive across "restarts" (a new
 * context over the same store), as the database keeps them in production.
 */
import { serveDoubles, type DoublesServer, type MountedDouble, type VendorDouble } from "../../src/destinations/double-kit.ts";
import type { AttemptOutcome, DeliveryEvent, DestinationContext, DestinationModule, EventType } from "../../src/destinations/types.ts";
import { callbackBody, leadBody, requestBody, type RequestSnapshot } from "../../src/crm/monelec-bodies.ts";
import { createLogger } from "../../src/log.ts";

export interface Harness<S> {
  server: DoublesServer;
  double: MountedDouble;
  settings: S;
  /** Remote ids remembered so far: "<recordId>/<kind>" → id. */
  remembered: Map<string, string>;
  deliver(event: DeliveryEvent, opts?: { timeoutMs?: number; settings?: S }): Promise<AttemptOutcome>;
  test(settings?: S): Promise<import("../../src/destinations/types.ts").DestinationCheck>;
  close(): Promise<void>;
}

export async function startHarness<S>(module: DestinationModule<S>, double: VendorDouble, env: Record<string, string> = {}): Promise<Harness<S>> {
  const server = await serveDoubles([double]);
  const settings = module.settings({ ...module.localEnv(server.urlOf(double.name)), ...env });
  if (!settings) throw new Error(`${module.name}: localEnv did not enable it`);
  const remembered = new Map<string, string>();
  const held = new Set<string>(); // keys locked with exclusive(), as crm_locks holds them
  const context = (recordId: string, timeoutMs: number): DestinationContext => ({
    fetch: (input, init) => fetch(input, { redirect: "manual", ...init, signal: AbortSignal.timeout(timeoutMs) }),
    remote: {
      get: (kind) => remembered.get(`${recordId}/${kind}`),
      async set(kind, id) {
        remembered.set(`${recordId}/${kind}`, id);
      },
    },
    async exclusive(key, fn) {
      if (held.has(key)) return undefined;
      held.add(key);
      try {
        return await fn();
      } finally {
        held.delete(key);
      }
    },
    log: createLogger({ destination: module.name }, () => {}),
  });
  return {
    server,
    double: server.get(double.name),
    settings,
    remembered,
    deliver: (event, opts = {}) => module.deliver(event, opts.settings ?? settings, context(event.recordId, opts.timeoutMs ?? 2_000)),
    test: (s) => module.test(s ?? settings, context(crypto.randomUUID(), 2_000)),
    close: () => server.close(),
  };
}

function event(type: EventType, recordId: string, data: Record<string, unknown>, id = crypto.randomUUID()): DeliveryEvent {
  return {
    id,
    type,
    recordType: type === "lead.upserted" ? "lead" : type === "callback.created" ? "callback" : "request",
    recordId,
    createdAt: new Date().toISOString(),
    data,
    attempt: 1,
  };
}

/** A lead.upserted event (the /leads body of CONTRACT §3). */
export function leadEvent(over: Partial<Parameters<typeof leadBody>[0]> = {}, recordId = crypto.randomUUID()): DeliveryEvent {
  return event("lead.upserted", recordId, leadBody({
    id: recordId, email: `lead-${recordId.slice(0, 8)}@example.fr`, phone: "+33612345678", firstname: "Marie",
    lastname: "Curie", connection_type: "photovoltaique", postal_code: "75005", utm_source: "google",
    utm_medium: "cpc", utm_campaign: "pv", ...over,
  }));
}

/** A callback.created event (no email). */
export function callbackEvent(over: Partial<Parameters<typeof callbackBody>[0]> = {}, recordId = crypto.randomUUID()): DeliveryEvent {
  return event("callback.created", recordId, callbackBody({ id: recordId, full_name: "Ana Lopez Garcia", phone: "+33698765432", postal_code: "69001", source: "footer", ...over }));
}

/** A request.upserted event; pass `payment_status` and `payment` to follow a payment. */
export function requestEvent(over: Partial<RequestSnapshot> = {}, recordId = crypto.randomUUID()): DeliveryEvent {
  return event("request.upserted", recordId, requestBody({
    id: recordId, email: `client-${recordId.slice(0, 8)}@example.fr`, phone: "+33612345678", full_name: "Jean Dupont",
    client_type: "particulier", company_name: null, siren: null, type_raccordement: "definitif", usage: "maison",
    address: "1 rue de la Paix", city: "Paris", zip_code: "75002", phase: "monophase", power_kva: 12,
    is_viabilise: true, status: "submitted", payment_status: "pending", payment: null, ...over,
  }));
}

/** The same record's next snapshot: a new event id, the given data changes. */
export function nextEvent(previous: DeliveryEvent, changes: Record<string, unknown>): DeliveryEvent {
  return { ...previous, id: crypto.randomUUID(), createdAt: new Date().toISOString(), data: { ...previous.data, ...changes }, attempt: 1 };
}
