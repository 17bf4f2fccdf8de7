import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { startCrmSandbox, type CrmSandbox } from "../../scripts/local/crm-sandbox.ts";

const API_KEY = "sandbox-test-key-123";
let sandbox: CrmSandbox;
let origin: string; // http://127.0.0.1:PORT, for the control API
const logs: string[] = [];

const lead = (over: Record<string, unknown> = {}) => ({
  email: "jean@example.fr",
  phone: "+33612345678",
  firstName: "Jean",
  lastName: "Dupont",
  serviceType: "definitif",
  postalCode: "75001",
  source: "lovable-website",
  lovable_lead_id: crypto.randomUUID(),
  utm_source: null,
  utm_medium: null,
  utm_campaign: null,
  ...over,
});

const request = (over: Record<string, unknown> = {}) => ({
  lovable_request_id: crypto.randomUUID(),
  email: "jean@example.fr",
  phone: null,
  full_name: "Jean Dupont",
  client_type: "particulier",
  company_name: null,
  siren: null,
  type_raccordement: "definitif",
  usage: null,
  address: "1 rue de Rivoli",
  city: "Paris",
  zip_code: "75001",
  phase: "monophase",
  power_kva: 12,
  is_viabilise: true,
  status: "submitted",
  payment_status: "paid",
  payment_intent_id: "pi_123",
  amount: 12900,
  currency: "eur",
  ...over,
});

function post(endpoint: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${sandbox.url}${endpoint}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": API_KEY, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function expect422(body: unknown, field: string, endpoint = "/leads") {
  const res = await post(endpoint, body);
  expect(res.status).toBe(422);
  const json = (await res.json()) as { error: string; fields: Record<string, string> };
  expect(json.error).toBe("validation_failed");
  expect(Object.keys(json.fields)).toContain(field);
}

beforeAll(async () => {
  vi.spyOn(console, "log").mockImplementation((line: unknown) => void logs.push(String(line)));
  sandbox = await startCrmSandbox({ apiKey: API_KEY, port: 0 });
  origin = new URL(sandbox.url).origin;
});
afterAll(async () => {
  await sandbox.close();
  vi.restoreAllMocks();
});
beforeEach(() => {
  sandbox.reset();
  logs.length = 0;
});

describe("CRM sandbox contract", () => {
  it("listens on loopback with the /api/external base", () => {
    expect(sandbox.url).toBe(`http://127.0.0.1:${sandbox.port}/api/external`);
    expect(sandbox.port).toBeGreaterThan(0);
  });

  it("accepts a valid lead with 201 and records it", async () => {
    const body = lead();
    const res = await post("/leads", body, { "idempotency-key": "evt-1" });
    expect(res.status).toBe(201);
    const json = (await res.json()) as { id: string; received: boolean };
    expect(json.id).toMatch(/^crm_/);
    expect(json.received).toBe(true);
    const [rec] = sandbox.accepted();
    expect(rec).toMatchObject({ endpoint: "/leads", idempotencyKey: "evt-1", body });
    expect(new Date(rec.receivedAt).toISOString()).toBe(rec.receivedAt);
    expect(sandbox.attempts()).toBe(1);
  });

  it("accepts a lead with only a phone, and a request with and without payment", async () => {
    expect((await post("/leads", lead({ email: null }))).status).toBe(201);
    expect((await post("/requests", request())).status).toBe(201);
    const unpaid = request({ payment_status: "pending" }) as Record<string, unknown>;
    delete unpaid.payment_intent_id;
    delete unpaid.amount;
    delete unpaid.currency;
    expect((await post("/requests", unpaid)).status).toBe(201);
    expect(sandbox.accepted().map((a) => a.endpoint)).toEqual(["/leads", "/requests", "/requests"]);
  });

  it("refuses a wrong or missing API key with 401", async () => {
    const wrong = await post("/leads", lead(), { "x-api-key": "nope" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: "invalid_api_key" });
    const missing = await fetch(`${sandbox.url}/leads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(lead()),
    });
    expect(missing.status).toBe(401);
    expect(sandbox.accepted()).toHaveLength(0);
    expect(sandbox.attempts()).toBe(2);
  });

  it("refuses a non-JSON content type or body with 400", async () => {
    expect((await post("/leads", JSON.stringify(lead()), { "content-type": "text/plain" })).status).toBe(400);
    expect((await post("/leads", "{not json")).status).toBe(400);
  });

  it("refuses invalid bodies with 422 naming the field", async () => {
    await expect422(lead({ email: "not-an-email" }), "email");
    await expect422(lead({ extra: 1 }), "extra");
    const { postalCode: _omit, ...missing } = lead();
    await expect422(missing, "postalCode");
    await expect422(lead({ serviceType: "nucleaire" }), "serviceType");
    await expect422(lead({ email: null, phone: null }), "email");
    await expect422(lead({ phone: "0612345678" }), "phone");
    await expect422(request({ type_raccordement: "non-specifie" }), "type_raccordement", "/requests");
    await expect422(request({ currency: undefined }), "currency", "/requests");
    await expect422(request({ amount: 12.5 }), "amount", "/requests");
    expect(sandbox.accepted()).toHaveLength(0);
  });

  it("replays a duplicate Idempotency-Key with 200 and records it once", async () => {
    const body = lead();
    const first = await post("/leads", body, { "idempotency-key": "evt-dup" });
    expect(first.status).toBe(201);
    const firstJson = await first.json();
    const again = await post("/leads", body, { "idempotency-key": "evt-dup" });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual(firstJson);
    expect(sandbox.accepted()).toHaveLength(1);
    expect(sandbox.attempts()).toBe(2);
  });

  it("answers 404 elsewhere and 405 for other methods", async () => {
    expect((await post("/contacts", lead())).status).toBe(404);
    expect((await fetch(`${sandbox.url}/leads`, { headers: { "x-api-key": API_KEY } })).status).toBe(405);
  });
});

describe("fault injection", () => {
  it("down: the connection is dropped, fetch rejects", async () => {
    sandbox.setFaults({ mode: "down" });
    await expect(post("/leads", lead())).rejects.toThrow();
    expect(sandbox.attempts()).toBe(1);
    expect(sandbox.accepted()).toHaveLength(0);
  });

  it("error: 503 by default, or the given status", async () => {
    sandbox.setFaults({ mode: "error" });
    expect((await post("/leads", lead())).status).toBe(503);
    sandbox.setFaults({ mode: "error", status: 502 });
    expect((await post("/leads", lead())).status).toBe(502);
  });

  it("throttle: 429 with Retry-After", async () => {
    sandbox.setFaults({ mode: "throttle", retryAfter: 7 });
    const res = await post("/leads", lead());
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    sandbox.setFaults({ mode: "throttle" });
    expect((await post("/leads", lead())).headers.get("retry-after")).toBe("1");
  });

  it("reject: 422", async () => {
    sandbox.setFaults({ mode: "reject" });
    expect((await post("/leads", lead())).status).toBe(422);
  });

  it("times: 2 applies to the next two requests, then back to ok", async () => {
    sandbox.setFaults({ mode: "error", times: 2 });
    expect((await post("/leads", lead())).status).toBe(503);
    expect((await post("/leads", lead())).status).toBe(503);
    expect((await post("/leads", lead())).status).toBe(201);
    expect(sandbox.attempts()).toBe(3);
    expect(sandbox.accepted()).toHaveLength(1);
  });

  it("slow: answers normally after delayMs", async () => {
    const delayMs = 250;
    sandbox.setFaults({ mode: "slow", delayMs });
    const started = performance.now();
    const res = await post("/leads", lead());
    // -1: Node's timers have millisecond granularity and may round down.
    expect(performance.now() - started).toBeGreaterThanOrEqual(delayMs - 1);
    expect(res.status).toBe(201);
  });

  it("flaky with failRate 1: always 500", async () => {
    sandbox.setFaults({ mode: "flaky", failRate: 1 });
    for (let i = 0; i < 3; i++) expect((await post("/leads", lead())).status).toBe(500);
    sandbox.setFaults({ mode: "flaky", failRate: 0 });
    expect((await post("/leads", lead())).status).toBe(201);
  });

  it("reset() clears accepted, attempts and faults", async () => {
    await post("/leads", lead());
    sandbox.setFaults({ mode: "error" });
    sandbox.reset();
    expect(sandbox.accepted()).toEqual([]);
    expect(sandbox.attempts()).toBe(0);
    expect((await post("/leads", lead())).status).toBe(201);
  });
});

describe("control API and page", () => {
  it("drives faults, reads and resets over HTTP", async () => {
    const setFaults = await fetch(`${origin}/_sandbox/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ mode: "throttle", times: 1, retryAfter: 3 }),
    });
    expect(setFaults.status).toBe(204);
    expect((await post("/leads", lead())).status).toBe(429);
    const body = lead();
    expect((await post("/leads", body, { "idempotency-key": "evt-http" })).status).toBe(201);

    const received = (await (await fetch(`${origin}/_sandbox/received`)).json()) as { accepted: unknown[]; attempts: number };
    expect(received.attempts).toBe(2);
    expect(received.accepted).toEqual([expect.objectContaining({ endpoint: "/leads", idempotencyKey: "evt-http", body })]);

    expect((await fetch(`${origin}/_sandbox/reset`, { method: "POST" })).status).toBe(204);
    expect(sandbox.accepted()).toEqual([]);
    expect(sandbox.attempts()).toBe(0);
  });

  it("refuses invalid faults with 400", async () => {
    const res = await fetch(`${origin}/_sandbox/faults`, { method: "POST", body: JSON.stringify({ mode: "explode" }) });
    expect(res.status).toBe(400);
  });

  it("serves a self-refreshing HTML page, newest first, escaping HTML", async () => {
    await post("/leads", lead({ firstName: "first" }));
    await post("/leads", lead({ firstName: "<script>alert(1)</script>" }));
    const res = await fetch(`${origin}/`);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("<title>CRM sandbox</title>");
    expect(html).toMatch(/<meta http-equiv="refresh" content="2">/);
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html.indexOf("&lt;script&gt;")).toBeLessThan(html.indexOf("firstName=first"));
  });
});

describe("logging", () => {
  it("logs one JSON line per CRM request, without body, key, email or phone", async () => {
    await post("/leads", lead(), { "idempotency-key": "evt-log" });
    await post("/leads", lead(), { "x-api-key": "wrong" });
    await new Promise((r) => setTimeout(r, 20)); // "close" fires just after the client has its answer
    expect(logs).toHaveLength(2);
    const [ok, refused] = logs.map((l) => JSON.parse(l));
    expect(ok).toMatchObject({ level: "info", msg: "crm-sandbox", endpoint: "/leads", status: 201, idempotency_key: "evt-log" });
    expect(refused).toMatchObject({ endpoint: "/leads", status: 401, idempotency_key: null });
    for (const line of logs) {
      for (const secret of [API_KEY, "jean@example.fr", "+33612345678", "Dupont", "wrong"]) expect(line).not.toContain(secret);
    }
  });
});
