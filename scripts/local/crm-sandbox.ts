/**
 * CRM sandbox: a loopback stand-in for monelec.net. It enforces the contract
 * the real CRM would (API key, JSON, schema, Idempotency-Key) and can be told
 * to misbehave (down, slow, 5xx, 429, 422) so the outbox's retries can be seen.
 *
 * Driven in-process (the returned object) or over HTTP from another process:
 *   GET /_sandbox/received, POST /_sandbox/faults, POST /_sandbox/reset, GET / (HTML).
 * Run alone: CRM_SANDBOX_API_KEY=... [CRM_SANDBOX_PORT=4010] npx tsx scripts/local/crm-sandbox.ts
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { CrmLeadBody, CrmRequestBody } from "./crm-contract.ts";

export const BASE_PATH = "/api/external";
const ENDPOINTS = { "/leads": CrmLeadBody, "/requests": CrmRequestBody } as const;
type Endpoint = keyof typeof ENDPOINTS;

export interface Accepted { endpoint: Endpoint; idempotencyKey: string | null; body: unknown; receivedAt: string }

const FaultsSchema = z.strictObject({
  mode: z.enum(["ok", "down", "error", "slow", "flaky", "throttle", "reject"]),
  times: z.number().int().positive().optional(),
  delayMs: z.number().int().nonnegative().optional(),
  failRate: z.number().min(0).max(1).optional(),
  retryAfter: z.number().int().nonnegative().optional(),
  status: z.number().int().min(400).max(599).optional(),
});
export type Faults = z.infer<typeof FaultsSchema>;

export interface CrmSandbox {
  /** Base URL, e.g. http://127.0.0.1:PORT/api/external; the backend appends /leads and /requests. */
  url: string;
  port: number;
  accepted(): Accepted[];
  attempts(): number;
  setFaults(f: Faults): void;
  reset(): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1_000_000;
const sha256 = (s: string) => createHash("sha256").update(s).digest();
// Hashing first gives equal-length buffers, so neither content nor length leaks through timing.
const sameSecret = (a: string, b: string) => timingSafeEqual(sha256(a), sha256(b));

export async function startCrmSandbox(opts: { apiKey: string; port?: number; host?: string; quiet?: boolean }): Promise<CrmSandbox> {
  const host = opts.host ?? "127.0.0.1";
  let accepted: Accepted[] = [];
  let replies = new Map<string, unknown>(); // Idempotency-Key → first 201 body
  let attempts = 0;
  let faults: Faults = { mode: "ok" };
  const timers = new Set<NodeJS.Timeout>();

  const setFaults = (f: Faults) => { faults = FaultsSchema.parse(f); };
  const reset = () => { accepted = []; replies = new Map(); attempts = 0; faults = { mode: "ok" }; };

  const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    if (body === undefined) res.writeHead(status, headers).end();
    else res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
  };

  /** The fault to play for this request, if any; consumes one of `times`. */
  const takeFault = (): Faults | null => {
    if (faults.mode === "ok") return null;
    const f = faults;
    if (f.times !== undefined) faults = f.times > 1 ? { ...f, times: f.times - 1 } : { mode: "ok" };
    return f;
  };

  const sleep = (ms: number) => new Promise<void>((resolve) => {
    const t = setTimeout(() => { timers.delete(t); resolve(); }, ms);
    timers.add(t);
  });

  async function handleEndpoint(endpoint: Endpoint, req: IncomingMessage, res: ServerResponse) {
    attempts++;
    if (req.method !== "POST") return send(res, 405, { error: "method_not_allowed" }, { allow: "POST" });

    const fault = takeFault();
    if (fault?.mode === "down") return void req.socket.destroy(); // no answer at all: the client sees a network error
    if (fault?.mode === "error") return send(res, fault.status ?? 503, { error: "injected_error" });
    if (fault?.mode === "throttle") return send(res, 429, { error: "rate_limited" }, { "retry-after": String(fault.retryAfter ?? 1) });
    if (fault?.mode === "reject") return send(res, 422, { error: "validation_failed", fields: { _sandbox: "rejected by fault injection" } });
    if (fault?.mode === "flaky" && Math.random() < (fault.failRate ?? 0.3)) return send(res, 500, { error: "injected_flaky_error" });
    if (fault?.mode === "slow") await sleep(fault.delayMs ?? 0);
    if (res.destroyed) return; // closed while we slept

    const key = req.headers["x-api-key"];
    if (typeof key !== "string" || !sameSecret(key, opts.apiKey)) return send(res, 401, { error: "invalid_api_key" });

    const mediaType = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    if (mediaType !== "application/json") return send(res, 400, { error: "content_type_must_be_json" });
    const raw = await readBody(req);
    if (raw === null) return send(res, 413, { error: "body_too_large" });
    let body: unknown;
    try { body = JSON.parse(raw); } catch { return send(res, 400, { error: "invalid_json" }); }

    const parsed = ENDPOINTS[endpoint].safeParse(body);
    if (!parsed.success) return send(res, 422, { error: "validation_failed", fields: fieldErrors(parsed.error.issues) });

    const idempotencyKey = typeof req.headers["idempotency-key"] === "string" ? req.headers["idempotency-key"] : null;
    if (idempotencyKey !== null && replies.has(idempotencyKey)) {
      return send(res, 200, replies.get(idempotencyKey), { "idempotent-replayed": "true" });
    }
    const reply = { id: `crm_${randomBytes(8).toString("hex")}`, received: true };
    if (idempotencyKey !== null) replies.set(idempotencyKey, reply);
    accepted.push({ endpoint, idempotencyKey, body, receivedAt: new Date().toISOString() });
    send(res, 201, reply);
  }

  async function handleControl(path: string, req: IncomingMessage, res: ServerResponse) {
    const route = `${req.method} ${path}`;
    if (route === "GET /") {
      return void res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(renderPage(accepted, attempts, faults));
    }
    if (route === "GET /_sandbox/received") return send(res, 200, { accepted, attempts });
    if (route === "POST /_sandbox/reset") {
      reset();
      return send(res, 204);
    }
    if (route === "POST /_sandbox/faults") {
      const parsed = FaultsSchema.safeParse(safeJson(await readBody(req)));
      if (!parsed.success) return send(res, 400, { error: "invalid_faults", fields: fieldErrors(parsed.error.issues) });
      setFaults(parsed.data);
      return send(res, 204);
    }
    const known = ["/", "/_sandbox/received", "/_sandbox/reset", "/_sandbox/faults"].includes(path);
    send(res, known ? 405 : 404, { error: known ? "method_not_allowed" : "not_found" });
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://sandbox").pathname;
    const endpoint = path.startsWith(BASE_PATH) ? path.slice(BASE_PATH.length) : null;
    const isEndpoint = endpoint === "/leads" || endpoint === "/requests";
    // Log CRM traffic (and stray paths: a wrong base URL shows up as 404s), not the page's self-refresh.
    if (!opts.quiet && path !== "/" && !path.startsWith("/_sandbox/")) {
      res.once("close", () => log(endpoint ?? path, res.writableFinished ? res.statusCode : null, req.headers["idempotency-key"]));
    }
    const work = isEndpoint ? handleEndpoint(endpoint, req, res) : handleControl(path, req, res);
    work.catch(() => { if (!res.headersSent) send(res, 500, { error: "sandbox_failure" }); else res.destroy(); });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const hostInUrl = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${hostInUrl}:${port}${BASE_PATH}`,
    port,
    accepted: () => structuredClone(accepted),
    attempts: () => attempts,
    setFaults,
    reset,
    close: () => new Promise<void>((resolve, reject) => {
      for (const t of timers) clearTimeout(t);
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections(); // keep-alive sockets would otherwise hold close() open
    }),
  };
}

/** Reads the body as text, or null past MAX_BODY_BYTES (drained, not kept, so we can still answer). */
async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return size > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString("utf8");
}

function safeJson(raw: string | null): unknown {
  try { return raw === null ? undefined : JSON.parse(raw); } catch { return undefined; }
}

/** zod issues → {"path.to.field": "message"}; an unknown key is reported under its own name. */
function fieldErrors(issues: z.core.$ZodIssue[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of issues) {
    const prefix = issue.path.map(String);
    const names = issue.code === "unrecognized_keys" ? issue.keys.map((k) => [...prefix, k].join(".")) : [prefix.join(".") || "_body"];
    const message = issue.code === "unrecognized_keys" ? "unknown key" : issue.message;
    for (const name of names) fields[name] ??= message;
  }
  return fields;
}

// The log never carries bodies, the API key, emails or phone numbers: only routing facts.
function log(endpoint: string, status: number | null, idempotencyKey: string | string[] | undefined) {
  const key = typeof idempotencyKey === "string" ? idempotencyKey : null;
  console.log(JSON.stringify({ ts: new Date().toISOString(), level: "info", msg: "crm-sandbox", endpoint, status, idempotency_key: key }));
}

const escapeHtml = (v: unknown) =>
  String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const SUMMARY_FIELDS = {
  "/leads": ["lovable_lead_id", "email", "phone", "firstName", "lastName", "serviceType", "postalCode", "source"],
  "/requests": ["lovable_request_id", "email", "full_name", "type_raccordement", "status", "payment_status", "amount", "currency"],
} as const;

function renderPage(accepted: Accepted[], attempts: number, faults: Faults): string {
  const rows = [...accepted].reverse().map((a) => {
    const body = (a.body ?? {}) as Record<string, unknown>;
    const summary = SUMMARY_FIELDS[a.endpoint].map((k) => `${k}=${escapeHtml(body[k])}`).join(" · ");
    return `<tr><td>${escapeHtml(a.endpoint)}</td><td>${escapeHtml(a.receivedAt)}</td><td>${escapeHtml(a.idempotencyKey)}</td><td>${summary}</td></tr>`;
  });
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>CRM sandbox</title>
<style>body{font-family:sans-serif}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;font-size:13px}</style></head>
<body><h1>CRM sandbox</h1><p>${accepted.length} accepted · ${attempts} attempts · faults: ${escapeHtml(JSON.stringify(faults))}</p>
<table><tr><th>endpoint</th><th>received</th><th>idempotency key</th><th>fields</th></tr>${rows.join("")}</table></body></html>`;
}

// Standalone: lets another process (or a person with a browser) use it.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const apiKey = process.env.CRM_SANDBOX_API_KEY;
  if (!apiKey) throw new Error("set CRM_SANDBOX_API_KEY (the key the backend sends as MONELEC_API_KEY)");
  const sandbox = await startCrmSandbox({ apiKey, port: Number(process.env.CRM_SANDBOX_PORT ?? 4010) });
  console.log(JSON.stringify({ ts: new Date().toISOString(), level: "info", msg: "crm-sandbox listening", url: sandbox.url }));
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void sandbox.close().then(() => process.exit(0)));
}
