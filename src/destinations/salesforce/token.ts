/**
 * Salesforce access tokens from the OAuth 2.0 client-credentials flow
 * (`POST {SALESFORCE_URL}/services/oauth2/token`, form-encoded
 * grant_type=client_credentials, client_id, client_secret), cached per isolate
 * and per settings. Salesforce's answer carries no `expires_in`: a token lives
 * as long as the org's session timeout (extended by use), so it is kept until a
 * data call answers 401 INVALID_SESSION_ID. Then `accessToken(…, stale)` gets a
 * new one — once for everyone: concurrent deliveries share one in-flight token
 * request, and a delivery whose stale token was already replaced simply takes
 * the new one.
 */
import { excerptOf, networkFailure } from "../http.ts";
import type { AttemptOutcome, DestinationContext } from "../types.ts";

export interface TokenSettings {
  url: string;
  clientId: string;
  clientSecret: string;
}

export type TokenResult = { ok: true; token: string } | { ok: false; outcome: AttemptOutcome; credentialsRefused: boolean };

interface Entry {
  token?: string;
  pending?: Promise<TokenResult>;
}

const cache = new Map<string, Entry>();

const keyOf = (s: TokenSettings) => `${s.url}\n${s.clientId}\n${s.clientSecret}`;

/** Forgets every cached token (tests; a rotated secret is a new key anyway). */
export function clearSalesforceTokens(): void {
  cache.clear();
}

/** OAuth errors of the token endpoint that mean "these credentials / this app setup are refused". */
const REFUSED = new Set(["invalid_client", "invalid_client_id", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_request"]);

const HINTS: Record<string, string> = {
  invalid_client_id: "SALESFORCE_CLIENT_ID is not the consumer key of an app of this org",
  invalid_client: "SALESFORCE_CLIENT_SECRET does not match SALESFORCE_CLIENT_ID",
  invalid_grant: "the app's client-credentials flow has no run-as user, or that user may not log in",
  unsupported_grant_type: "the app does not allow the client-credentials flow, or SALESFORCE_URL is login/test.salesforce.com instead of the org's My Domain",
};

/** The token endpoint's answer → a token, or how the delivery ends. */
export async function requestToken(s: TokenSettings, ctx: Pick<DestinationContext, "fetch">): Promise<TokenResult> {
  let res: Response;
  let text: string;
  try {
    res = await ctx.fetch(`${s.url}/services/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: s.clientId, client_secret: s.clientSecret }).toString(),
      redirect: "manual",
    });
    text = await res.text();
  } catch (err) {
    const out = networkFailure(err) as Extract<AttemptOutcome, { kind: "retry" }>;
    return { ok: false, credentialsRefused: false, outcome: { ...out, error: `token request: ${out.error}` } };
  }
  const excerpt = excerptOf(text);
  let body: { access_token?: unknown; error?: unknown; error_description?: unknown } | null = null;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON */ }
  const st = res.status;
  if (st >= 200 && st < 300) {
    if (typeof body?.access_token === "string" && body.access_token) return { ok: true, token: body.access_token };
    return { ok: false, credentialsRefused: false, outcome: { kind: "retry", httpStatus: st, error: `token request: HTTP ${st} without access_token — not Salesforce's answer? (check SALESFORCE_URL)`, excerpt } };
  }
  const code = typeof body?.error === "string" ? body.error : "";
  const said = [code, typeof body?.error_description === "string" ? body.error_description : ""].filter(Boolean).join(": ");
  const error = `token request: HTTP ${st}${said ? ` ${said}` : excerpt ? ` ${excerpt.slice(0, 200)}` : ""}`;
  if ((st === 400 || st === 401 || st === 403) && REFUSED.has(code)) {
    const hint = HINTS[code] ?? "check SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET";
    return {
      ok: false, credentialsRefused: true,
      outcome: { kind: "pause", httpStatus: st, error, excerpt, reason: `Salesforce refused the client credentials (${said || `HTTP ${st}`}): ${hint}; then resume salesforce.` },
    };
  }
  if (st === 408 || st === 425 || st === 429 || st >= 500) return { ok: false, credentialsRefused: false, outcome: { kind: "retry", httpStatus: st, error, excerpt } };
  // 404 or anything else: not a Salesforce token endpoint — every delivery would fail the same way.
  return {
    ok: false, credentialsRefused: false,
    outcome: { kind: "pause", httpStatus: st, error, excerpt, reason: `The token endpoint ${s.url}/services/oauth2/token answered HTTP ${st}: check SALESFORCE_URL (the org's My Domain URL), then resume salesforce.` },
  };
}

/**
 * The cached token, or a new one. `stale`: the token a data call just saw refused;
 * it is replaced once, whatever the number of deliveries that saw it refused.
 */
export function accessToken(s: TokenSettings, ctx: Pick<DestinationContext, "fetch">, stale?: string): Promise<TokenResult> {
  const key = keyOf(s);
  let entry = cache.get(key);
  if (!entry) cache.set(key, (entry = {}));
  if (entry.token && entry.token !== stale) return Promise.resolve({ ok: true, token: entry.token });
  if (entry.pending) return entry.pending;
  const e = entry;
  e.token = undefined;
  e.pending = (async () => {
    try {
      const result = await requestToken(s, ctx);
      if (result.ok) e.token = result.token;
      return result;
    } finally {
      e.pending = undefined;
    }
  })();
  return e.pending;
}
