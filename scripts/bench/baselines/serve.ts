/**
 * BENCHMARK BASELINES — not the product. The two designs the integration study
 * weighed against the outbox, served under Deno like the real functions so the
 * comparison is fair. Same validation and HTTP shell as the product
 * (jsonEndpoint + the zod schemas) and the same CRM bodies and request
 * (monelec-bodies + the monelec destination module), but the lead / request is written
 * WITHOUT an outbox row, and the CRM call is either
 *   /await/<fn>      awaited before answering (the visitor waits for the CRM), or
 *   /waituntil/<fn>  fired without awaiting, as EdgeRuntime.waitUntil(fetch(…)):
 *                    nothing records it, nothing retries it.
 * GET /_stats: CRM calls in flight / sent / failed (for settling between runs).
 *
 *   deno run -A scripts/bench/baselines/serve.ts   (env: BASELINE_PORT, DATABASE_URL, MONELEC_API_URL, MONELEC_API_KEY, …)
 */
import { createAppDeps } from "../../../src/app-deps.ts";
import { loadConfig } from "../../../src/config.ts";
import { leadBody, requestBody } from "../../../src/crm/monelec-bodies.ts";
import { submissionRows } from "../../../src/functions/form-submit.ts";
import { jsonEndpoint, type Handler } from "../../../src/http/json-endpoint.ts";
import { monelec, type MonelecSettings } from "../../../src/destinations/monelec/index.ts";
import type { EventType } from "../../../src/outbox/types.ts";
import { FormStartInput, FormSubmitInput } from "../../../src/validation/schemas.ts";

/** The little of Deno this file uses (typed here so that tsc, with Node types, checks it too). */
interface DenoRuntime {
  env: { toObject(): Record<string, string> };
  serve(
    opts: { hostname: string; port: number; onListen?: () => void },
    handler: (req: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: "SIGTERM" | "SIGINT", fn: () => void): void;
  exit(code: number): never;
  readonly ppid: number;
}
const runtime = (globalThis as unknown as { Deno: DenoRuntime }).Deno;
const env = runtime.env.toObject();
const deps = createAppDeps(loadConfig(env));
const { sql, config } = deps;

type Strategy = "await" | "waituntil";
const stats = { inFlight: 0, sent: 0, failed: 0 };

const monelecSettings = monelec.settings(env) as MonelecSettings;

/** One CRM call, made exactly as the product makes it (the monelec module), with nothing recorded. */
async function callCrm(type: EventType, recordId: string, data: Record<string, unknown>): Promise<void> {
  stats.inFlight++;
  try {
    const outcome = await monelec.deliver(
      { id: crypto.randomUUID(), type, recordType: type === "request.upserted" ? "request" : "lead", recordId, createdAt: new Date().toISOString(), data, attempt: 1 },
      monelecSettings,
      {
        fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(config.crm.timeoutMs) }),
        remote: { get: () => undefined, set: async () => {} },
        exclusive: (_key, fn) => fn(),
        log: deps.log,
      },
    );
    if (outcome.kind === "delivered") stats.sent++;
    else stats.failed++;
  } finally {
    stats.inFlight--;
  }
}

async function toCrm(strategy: Strategy, type: EventType, recordId: string, data: Record<string, unknown>) {
  const call = callCrm(type, recordId, data);
  if (strategy === "await") await call; // the study's "await the CRM": a failure is swallowed, the visitor waits anyway
  // "waituntil": not awaited; the promise lives on its own, like EdgeRuntime.waitUntil(fetch(…)).
}

function formStart(strategy: Strategy): Handler {
  return jsonEndpoint(deps, {
    name: `baseline-${strategy}-form-start`,
    schema: FormStartInput,
    async handle(input) {
      const { lead_id, ...fields } = input;
      const id = lead_id ?? crypto.randomUUID();
      const columns = Object.keys(FormStartInput.shape).filter((c) => c !== "lead_id");
      const row = Object.fromEntries(columns.map((c) => [c, fields[c as keyof typeof fields] ?? null]));
      await sql`
        insert into leads ${sql({ id, ...row })}
        on conflict (id) do update set ${sql(row)}, updated_at = now()`;
      await toCrm(strategy, "lead.upserted", id, leadBody({ id, ...fields }));
      return { lead_id: id };
    },
  });
}

function formSubmit(strategy: Strategy): Handler {
  return jsonEndpoint(deps, {
    name: `baseline-${strategy}-form-submit`,
    schema: FormSubmitInput,
    async handle(input) {
      const { lead_id } = input;
      const { customer, request } = submissionRows(input);
      const { email: _email, ...customerUpdate } = customer;
      const [row] = await sql<{ id: string; customer_id: string }[]>`
        with customer as (
          insert into customers ${sql(customer)}
          on conflict (email) do update set ${sql(customerUpdate)}, updated_at = now()
          returning id
        )
        insert into requests (id, customer_id, lead_id, type_raccordement, usage, address, city,
                              zip_code, phase, power_kva, is_viabilise, status, payment_status)
        select ${request.id}::uuid, customer.id, (select id from leads where id = ${lead_id ?? null}::uuid),
               ${request.type_raccordement}, ${request.usage}, ${request.address}, ${request.city},
               ${request.zip_code}, ${request.phase}, ${request.power_kva}, ${request.is_viabilise},
               'submitted', 'pending'
        from customer
        returning id, customer_id`;
      const body = requestBody({ ...customer, ...request, status: "submitted", payment_status: "pending", payment: null });
      await toCrm(strategy, "request.upserted", request.id, body);
      return { request_id: row.id, customer_id: row.customer_id };
    },
  });
}

const routes = new Map<string, Handler>([
  ["/await/form-start", formStart("await")],
  ["/await/form-submit", formSubmit("await")],
  ["/waituntil/form-start", formStart("waituntil")],
  ["/waituntil/form-submit", formSubmit("waituntil")],
]);

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const anonKey = env.SUPABASE_ANON_KEY;

const port = Number(env.BASELINE_PORT ?? "0");
const server = runtime.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req, info) => {
  const path = new URL(req.url).pathname;
  if (path === "/health" || path === "/_stats") return json(stats);
  const handler = routes.get(path);
  if (!handler) return json({ error: { code: "not_found" } }, 404);
  // The same gateway work the product's local router does: key check, x-forwarded-for.
  const bearer = req.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
  if (anonKey && bearer !== anonKey) return json({ error: { code: "unauthorized" } }, 401);
  const headers = new Headers(req.headers);
  headers.set("x-forwarded-for", info.remoteAddr.hostname);
  return await handler(new Request(req.url, { method: req.method, headers, body: req.body }));
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  runtime.addSignalListener(signal, () => void server.shutdown().finally(() => runtime.exit(0)));
}
// Never outlive the benchmark.
const parent = runtime.ppid;
setInterval(() => {
  if (runtime.ppid !== parent) runtime.exit(0);
}, 500);
