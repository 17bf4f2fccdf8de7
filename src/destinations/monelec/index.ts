/**
 * monelec.net (CONTRACT §3): POST {MONELEC_API_URL}/leads or /requests with
 * the event's body as it is, `X-API-Key` and `Idempotency-Key: <event id>`.
 * Its answers follow §3 exactly: any 4xx but 408/425/429 is dead.
 */
import { call, delivered, jsonInit } from "../http.ts";
import type { DeliveryEvent, DestinationCheck, DestinationModule } from "../types.ts";

export interface MonelecSettings {
  apiUrl: string;
  apiKey: string;
}

export const DEFAULT_MONELEC_API_URL = "https://monelec.net/api/external";
export const LOCAL_MONELEC_KEY = "local-sandbox-key";

export function monelecEndpoint(event: Pick<DeliveryEvent, "type">): "/leads" | "/requests" {
  return event.type === "request.upserted" ? "/requests" : "/leads";
}

export const monelec: DestinationModule<MonelecSettings> = {
  name: "monelec",
  maxCallsPerDelivery: 1,
  settings(env) {
    const apiKey = env.MONELEC_API_KEY?.trim();
    if (!apiKey) return undefined;
    return { apiKey, apiUrl: (env.MONELEC_API_URL?.trim() || DEFAULT_MONELEC_API_URL).replace(/\/+$/, "") };
  },
  // monelec.net publishes no limit; 20/s keeps a backlog drain polite.
  rateLimit: () => ({ perSecond: 20, burst: 40 }),
  async deliver(event, s, ctx) {
    const result = await call(ctx, `${s.apiUrl}${monelecEndpoint(event)}`,
      { ...jsonInit(event.data, { "x-api-key": s.apiKey, "idempotency-key": event.id }), redirect: "manual" });
    return result.ok ? delivered(result) : result.outcome;
  },
  async test(s, ctx): Promise<DestinationCheck> {
    // monelec has no read endpoint: an empty lead, which it must refuse, tells key from body.
    let res: Response;
    try {
      res = await ctx.fetch(`${s.apiUrl}/leads`, { ...jsonInit({}, { "x-api-key": s.apiKey }), redirect: "manual" });
      await res.body?.cancel().catch(() => {});
    } catch (err) {
      return { ok: false, reachable: false, credentialsAccepted: null, httpStatus: null, message: `Cannot reach ${s.apiUrl}: ${(err as Error).message} (check MONELEC_API_URL).` };
    }
    const st = res.status;
    if (st === 401 || st === 403) return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: st, message: `The CRM refused the key (HTTP ${st}): check MONELEC_API_KEY.` };
    if (st === 400 || st === 422) return { ok: true, reachable: true, credentialsAccepted: true, httpStatus: st, message: `Reachable, key accepted (an empty lead was refused with HTTP ${st}, as expected; nothing was created).` };
    if (st >= 200 && st < 300) return { ok: true, reachable: true, credentialsAccepted: true, httpStatus: st, message: `Reachable, key accepted — but the CRM accepted an empty lead (HTTP ${st}); check it for an empty record.` };
    if (st === 404) return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `Reachable, but HTTP 404: check MONELEC_API_URL.` };
    return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `Reachable, but HTTP ${st}: could not tell whether the key is valid.` };
  },
  localEnv: (url) => ({ MONELEC_API_URL: url, MONELEC_API_KEY: LOCAL_MONELEC_KEY }),
};
