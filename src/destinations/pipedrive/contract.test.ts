/**
 * The pipedrive destination against its double. The oracle is Pipedrive's
 * documented API as the double enforces it (see double.ts): what the double
 * holds after a delivery (one person per email/phone, one lead or deal per
 * record, linked to the person, status following the payment) and how its
 * documented answers (401, 400, 402, 403, 404, 422, 429 with x-ratelimit-*
 * headers, the daily write limit) are classified.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { callbackEvent, leadEvent, nextEvent, requestEvent, startHarness, type Harness } from "../../../tests/helpers/destination-harness.ts";
import type { VendorDouble } from "../double-kit.ts";
import type { DeliveryEvent } from "../types.ts";
import { createPipedriveDouble, type PipedriveDoubleOptions } from "./double.ts";
import { classifyPipedrive, DEFAULT_PIPEDRIVE_API_URL, LOCAL_PIPEDRIVE_TOKEN, nextUtcMidnight, pipedrive, type PipedriveSettings } from "./index.ts";

interface Person { id: number; name: string; emails: { value: string }[]; phones: { value: string }[] }
interface Lead { id: string; title: string; person_id: number | null }
interface Deal { id: number; title: string; person_id: number | null; status: string; value: number; currency: string; lost_reason: string | null; won_time: string | null }
type State = { persons: Person[]; leads: Lead[]; deals: Deal[] };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The double, with an answer that can be held back after the double acted on
 * the request: "created at Pipedrive, but the answer never came back".
 */
function lagging(inner: VendorDouble) {
  let lag: { path: string; method: string; ms: number } | null = null;
  const double: VendorDouble = {
    name: inner.name,
    state: () => inner.state(),
    reset: () => { lag = null; inner.reset(); },
    async handle(req) {
      const res = await inner.handle(req);
      const l = lag;
      if (l && req.method === l.method && new URL(req.url).pathname === l.path) {
        lag = null;
        await sleep(l.ms);
      }
      return res;
    },
  };
  return { double, holdAnswer: (method: string, path: string, ms: number) => { lag = { method, path, ms }; } };
}

async function withHarness<T>(options: PipedriveDoubleOptions, run: (h: Harness<PipedriveSettings>) => Promise<T>): Promise<T> {
  const h = await startHarness(pipedrive, createPipedriveDouble(options));
  try {
    return await run(h);
  } finally {
    await h.close();
  }
}

const raw = (h: Harness<PipedriveSettings>, path: string, init: RequestInit = {}, token: string | null = LOCAL_PIPEDRIVE_TOKEN) =>
  fetch(`${h.settings.apiUrl}${path}`, {
    ...init,
    headers: { "content-type": "application/json", ...(token ? { "x-api-token": token } : {}), ...(init.headers as Record<string, string> | undefined) },
  });

describe("pipedrive settings", () => {
  it("is off without PIPEDRIVE_API_TOKEN, defaults to api.pipedrive.com, and names the variable that is wrong", () => {
    expect(pipedrive.settings({})).toBeUndefined();
    expect(pipedrive.settings({ PIPEDRIVE_API_TOKEN: "  " })).toBeUndefined();
    expect(pipedrive.settings({ PIPEDRIVE_API_TOKEN: "abc123" })).toEqual({ apiToken: "abc123", apiUrl: DEFAULT_PIPEDRIVE_API_URL });
    expect(pipedrive.settings({ PIPEDRIVE_API_TOKEN: "abc", PIPEDRIVE_API_URL: "https://acme.pipedrive.com/" })?.apiUrl).toBe("https://acme.pipedrive.com");
    expect(() => pipedrive.settings({ PIPEDRIVE_API_URL: "https://api.pipedrive.com" })).toThrow(/PIPEDRIVE_API_TOKEN/);
    expect(() => pipedrive.settings({ PIPEDRIVE_API_TOKEN: "abc", PIPEDRIVE_API_URL: "not a url" })).toThrow(/PIPEDRIVE_API_URL/);
    expect(() => pipedrive.settings({ PIPEDRIVE_API_TOKEN: "abc", PIPEDRIVE_API_URL: "ftp://x.example" })).toThrow(/PIPEDRIVE_API_URL/);
    expect(() => pipedrive.settings({ PIPEDRIVE_API_TOKEN: "abc", PIPEDRIVE_API_URL: "https://api.pipedrive.com/v1" })).toThrow(/PIPEDRIVE_API_URL.*\/v1/);
    expect(() => pipedrive.settings({ PIPEDRIVE_API_TOKEN: "a b" })).toThrow(/PIPEDRIVE_API_TOKEN/);
    expect(() => pipedrive.settings({ PIPEDRIVE_API_TOKEN: "abc", PIPEDRIVE_RATE_LIMIT: "fast" })).toThrow(/PIPEDRIVE_RATE_LIMIT/);
    expect(() => pipedrive.settings({ PIPEDRIVE_API_TOKEN: "abc", PIPEDRIVE_RATE_LIMIT: "0" })).toThrow(/PIPEDRIVE_RATE_LIMIT/);
  });

  it("paces to the documented 20 requests / 2 s (10 searches / 2 s) at 3 calls per delivery, unless PIPEDRIVE_RATE_LIMIT says otherwise", () => {
    const s = pipedrive.settings({ PIPEDRIVE_API_TOKEN: "abc" })!;
    const pace = pipedrive.rateLimit(s);
    // Calls in any 2-second window stay within the documented smallest limits.
    expect(pace.burst * pipedrive.maxCallsPerDelivery).toBeLessThanOrEqual(20);
    expect(pace.perSecond * 2 * pipedrive.maxCallsPerDelivery).toBeLessThanOrEqual(20);
    expect(pace.perSecond * 2).toBeLessThanOrEqual(10); // at most one search per delivery
    expect(pace.perSecond).toBeGreaterThan(0);
    expect(pipedrive.rateLimit(pipedrive.settings({ PIPEDRIVE_API_TOKEN: "abc", PIPEDRIVE_RATE_LIMIT: "5" })!)).toEqual({ perSecond: 5, burst: 10 });
  });
});

describe("pipedrive against its double", () => {
  const lag = lagging(createPipedriveDouble());
  let h: Harness<PipedriveSettings>;
  const state = () => h.double.double.state() as unknown as State;

  beforeAll(async () => {
    h = await startHarness(pipedrive, lag.double);
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.double.reset();
    h.remembered.clear();
  });

  const deliver = async (event: DeliveryEvent, opts?: { timeoutMs?: number }) => h.deliver(event, opts);

  it("a lead: one person found by exact email or created, and one lead linked to it", async () => {
    const event = leadEvent({ email: "marie.curie@example.fr", firstname: "Marie", lastname: "Curie" });
    expect((await deliver(event)).kind).toBe("delivered");

    const { persons, leads } = state();
    expect(persons).toHaveLength(1);
    expect(persons[0]).toMatchObject({ name: "Marie Curie", emails: [{ value: "marie.curie@example.fr", primary: true }], phones: [{ value: "+33612345678" }] });
    expect(leads).toHaveLength(1);
    expect(leads[0].person_id).toBe(persons[0].id);
    expect(leads[0].title).toContain(event.recordId);

    const calls = h.double.calls();
    const search = calls.find((c) => c.path === "/api/v2/persons/search")!;
    expect(search.query).toMatchObject({ term: "marie.curie@example.fr", fields: "email", exact_match: "true" });
    expect(calls.every((c) => c.headers["x-api-token"] === LOCAL_PIPEDRIVE_TOKEN)).toBe(true);
  });

  it("the lead's next snapshot updates the same lead (PATCH), no second person or lead", async () => {
    const first = leadEvent({ lastname: "Curie" });
    expect((await deliver(first)).kind).toBe("delivered");
    const next = nextEvent(first, { lastName: "Skłodowska-Curie", serviceType: "definitif" });
    expect((await deliver(next)).kind).toBe("delivered");

    const { persons, leads } = state();
    expect(persons).toHaveLength(1);
    expect(leads).toHaveLength(1);
    expect(leads[0].title).toContain("Skłodowska-Curie");
    expect(leads[0].title).toContain("definitif");
    expect(h.double.calls().filter((c) => c.method === "PATCH" && c.path === `/v1/leads/${leads[0].id}`)).toHaveLength(1);
  });

  it("exact match: an existing person with the same email is reused, one whose email only contains it is not", async () => {
    expect((await deliver(leadEvent({ email: "xmarie@example.fr" }))).kind).toBe("delivered");
    expect((await deliver(leadEvent({ email: "marie@example.fr" }))).kind).toBe("delivered");
    expect((await deliver(leadEvent({ email: "MARIE@example.fr" }))).kind).toBe("delivered");

    const { persons, leads } = state();
    expect(persons.map((p) => p.emails[0].value).sort()).toEqual(["marie@example.fr", "xmarie@example.fr"]);
    const marie = persons.find((p) => p.emails[0].value === "marie@example.fr")!;
    expect(leads.filter((l) => l.person_id === marie.id)).toHaveLength(2);
  });

  it("a call-back: a person found by exact phone or created (no email), and its lead", async () => {
    const a = callbackEvent({ phone: "+33698765432", full_name: "Ana Lopez Garcia" });
    const b = callbackEvent({ phone: "+33698765432", full_name: "Ana Lopez" });
    expect((await deliver(a)).kind).toBe("delivered");
    expect((await deliver(b)).kind).toBe("delivered");

    const { persons, leads } = state();
    expect(persons).toHaveLength(1);
    expect(persons[0]).toMatchObject({ name: "Ana Lopez Garcia", emails: [], phones: [{ value: "+33698765432" }] });
    expect(leads).toHaveLength(2);
    expect(leads.every((l) => l.person_id === persons[0].id)).toBe(true);
    expect(h.double.calls().find((c) => c.path === "/api/v2/persons/search")!.query).toMatchObject({ term: "+33698765432", fields: "phone", exact_match: "true" });
  });

  it("a request: one deal linked to the person, open while pending, then won when paid and lost when refunded — the same deal", async () => {
    const pending = requestEvent({ email: "jean.dupont@example.fr", full_name: "Jean Dupont", payment_status: "pending" });
    expect((await deliver(pending)).kind).toBe("delivered");
    let { persons, deals } = state();
    expect(persons).toHaveLength(1);
    expect(deals).toHaveLength(1);
    expect(deals[0]).toMatchObject({ person_id: persons[0].id, status: "open" });
    expect(deals[0].title).toContain(pending.recordId);

    const paid = nextEvent(pending, { status: "paid", payment_status: "paid", payment_intent_id: "pi_test_1", amount: 15000, currency: "eur" });
    expect((await deliver(paid)).kind).toBe("delivered");
    ({ deals } = state());
    expect(deals).toHaveLength(1);
    expect(deals[0]).toMatchObject({ status: "won", value: 150, currency: "EUR" });
    expect(deals[0].won_time).not.toBeNull();

    const refunded = nextEvent(paid, { payment_status: "refunded" });
    expect((await deliver(refunded)).kind).toBe("delivered");
    ({ persons, deals } = state());
    expect(persons).toHaveLength(1);
    expect(deals).toHaveLength(1);
    expect(deals[0].status).toBe("lost");
    expect(deals[0].lost_reason).toBeTruthy();
  });

  it("a lead and a request of the same email share the person", async () => {
    expect((await deliver(leadEvent({ email: "same@example.fr" }))).kind).toBe("delivered");
    expect((await deliver(requestEvent({ email: "same@example.fr" }))).kind).toBe("delivered");
    const { persons, leads, deals } = state();
    expect(persons).toHaveLength(1);
    expect(leads[0].person_id).toBe(persons[0].id);
    expect(deals[0].person_id).toBe(persons[0].id);
  });

  it("retry after a timeout (double slower than the time limit): no duplicate", async () => {
    const event = requestEvent();
    h.double.setFaults({ mode: "slow", delayMs: 800, path: "/api/v2/deals", times: 1 });
    const first = await deliver(event, { timeoutMs: 300 });
    expect(first).toMatchObject({ kind: "retry", httpStatus: null });
    await sleep(600);
    expect((await deliver(event)).kind).toBe("delivered");
    const { persons, deals } = state();
    expect(persons).toHaveLength(1);
    expect(deals).toHaveLength(1);
  });

  it("a deal created at Pipedrive whose answer was lost is found again by its title, not created twice", async () => {
    const event = requestEvent({ payment_status: "pending" });
    lag.holdAnswer("POST", "/api/v2/deals", 800);
    const first = await deliver(event, { timeoutMs: 300 });
    expect(first.kind).toBe("retry");
    expect(state().deals).toHaveLength(1); // Pipedrive did create it
    expect(h.remembered.get(`${event.recordId}/deal`)).toBeUndefined();
    await sleep(600);

    const paid = nextEvent(event, { payment_status: "paid", payment_intent_id: "pi_1", amount: 9900, currency: "eur" });
    expect((await deliver(paid)).kind).toBe("delivered");
    const { deals } = state();
    expect(deals).toHaveLength(1);
    expect(deals[0]).toMatchObject({ status: "won", value: 99 });
    expect(h.remembered.get(`${event.recordId}/deal`)).toBe(String(deals[0].id));
  });

  it("a lead created at Pipedrive whose answer was lost is found again, not created twice", async () => {
    const event = leadEvent();
    lag.holdAnswer("POST", "/v1/leads", 800);
    expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
    expect(state().leads).toHaveLength(1);
    await sleep(600);
    expect((await deliver(event)).kind).toBe("delivered");
    expect(state().leads).toHaveLength(1);
    expect(state().persons).toHaveLength(1);
  });

  it("a person created at Pipedrive whose answer was lost is found again by email, not created twice", async () => {
    const event = requestEvent();
    lag.holdAnswer("POST", "/api/v2/persons", 800);
    expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
    expect(state().persons).toHaveLength(1);
    await sleep(600);
    expect((await deliver(event)).kind).toBe("delivered");
    const { persons, deals } = state();
    expect(persons).toHaveLength(1);
    expect(deals).toHaveLength(1);
    expect(deals[0].person_id).toBe(persons[0].id);
  });

  it("restart between the two calls (second call's path down): the remembered person is reused, no duplicate", async () => {
    const event = callbackEvent();
    h.double.setFaults({ mode: "down", path: "/v1/leads", times: 1 });
    const first = await deliver(event);
    expect(first.kind).toBe("retry");
    expect(h.remembered.get(`${event.recordId}/person`)).toBe(String(state().persons[0].id));
    expect(state().leads).toHaveLength(0);

    expect((await deliver(event)).kind).toBe("delivered");
    const { persons, leads } = state();
    expect(persons).toHaveLength(1);
    expect(leads).toHaveLength(1);
    expect(h.double.calls().filter((c) => c.path === "/api/v2/persons/search")).toHaveLength(1);
  });

  it("a 422 for one record is dead with Pipedrive's error; other records still go through", async () => {
    h.double.setFaults({ mode: "reject", status: 422, path: "/v1/leads", times: 1 });
    const rejected = await deliver(leadEvent());
    expect(rejected).toMatchObject({ kind: "dead", httpStatus: 422 });
    expect((rejected as { error: string }).error).toMatch(/POST \/v1\/leads: HTTP 422/);
    expect((await deliver(leadEvent())).kind).toBe("delivered");
  });

  it("Pipedrive's validation (400) is dead with its message: a currency that is not a 3-letter code", async () => {
    const event = requestEvent({ payment_status: "paid", payment: { payment_intent_id: "pi_x", amount: 100, currency: "euro" } });
    const outcome = await deliver(event);
    expect(outcome).toMatchObject({ kind: "dead", httpStatus: 400 });
    expect((outcome as { error: string }).error).toMatch(/POST \/api\/v2\/deals: HTTP 400 — Validation failed: currency/);
    expect(state().deals).toHaveLength(0);
  });

  it("an event without the key of its person is dead before any call", async () => {
    const event = leadEvent();
    const outcome = await deliver({ ...event, data: { ...event.data, email: null } });
    expect(outcome).toMatchObject({ kind: "dead", httpStatus: null });
    expect((outcome as { error: string }).error).toMatch(/email/);
    expect(h.double.calls()).toHaveLength(0);
  });

  it("a remembered deal deleted at Pipedrive (404) is dead, with the reason", async () => {
    const event = requestEvent();
    expect((await deliver(event)).kind).toBe("delivered");
    h.double.double.reset(); // everything deleted at Pipedrive
    const outcome = await deliver(nextEvent(event, { payment_status: "paid" }));
    expect(outcome).toMatchObject({ kind: "dead", httpStatus: 404 });
    expect((outcome as { error: string }).error).toMatch(/PATCH \/api\/v2\/deals\/\d+: HTTP 404 — Deal not found/);
  });

  it("401 (wrong token) pauses the destination with the variable to fix; 402 pauses too; 403 is dead; 5xx retries", async () => {
    const wrong = { ...h.settings, apiToken: "wrong-token" };
    const refused = await h.deliver(leadEvent(), { settings: wrong });
    expect(refused).toMatchObject({ kind: "pause", httpStatus: 401 });
    expect((refused as { reason: string }).reason).toMatch(/PIPEDRIVE_API_TOKEN/);

    h.double.setFaults({ mode: "reject", status: 402, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "pause", httpStatus: 402 });
    h.double.setFaults({ mode: "reject", status: 403, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "dead", httpStatus: 403 });
    h.double.setFaults({ mode: "error", status: 503, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 503 });
    h.double.setFaults({ mode: "throttle", retryAfter: 7, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 7000 });
  });

  it("test(): token accepted, creates nothing; a wrong token and a wrong URL are told apart", async () => {
    const good = await h.test();
    expect(good).toMatchObject({ ok: true, reachable: true, credentialsAccepted: true });
    expect(state()).toEqual({ persons: [], leads: [], deals: [] });
    expect(h.double.calls().map((c) => `${c.method} ${c.path}`)).toEqual(["GET /v1/users/me"]);

    expect(await h.test({ ...h.settings, apiToken: "wrong" })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false, httpStatus: 401 });
    expect(await h.test({ ...h.settings, apiUrl: `${h.server.url}/elsewhere` })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: null, httpStatus: 404 });
    const closed = await h.test({ ...h.settings, apiUrl: "http://127.0.0.1:9" });
    expect(closed).toMatchObject({ ok: false, reachable: false, credentialsAccepted: null });
    expect(closed.message).toMatch(/PIPEDRIVE_API_URL/);
  });
});

describe("pipedrive rate limits (the double's documented 429s)", () => {
  it("over the 2-second burst limit: 429 with x-ratelimit-* headers → retry after x-ratelimit-reset", () =>
    withHarness({ burstLimit: 2 }, async (h) => {
      const outcome = await h.deliver(leadEvent()); // search, create person, create lead: the third is refused
      expect(outcome).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 2000 });
      const refused = h.double.calls().at(-1)!;
      expect(refused.status).toBe(429);
      const res = await raw(h, "/v1/users/me");
      expect(res.status).toBe(429);
      expect(res.headers.get("x-ratelimit-limit")).toBe("2");
      expect(res.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(res.headers.get("x-ratelimit-reset")).toBe("2");
      expect(await res.json()).toMatchObject({ success: false, error: "Request over limit" });
    }));

  it("over the Search API limit (10 per 2 s): 429 → retry", () =>
    withHarness({ searchBurstLimit: 1 }, async (h) => {
      expect((await h.deliver(leadEvent())).kind).toBe("delivered");
      expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 429 });
    }));

  it("the daily write limit spent (x-daily-requests-left: 0): throttled until midnight UTC, without piling up", () =>
    withHarness({ dailyWriteLimit: 1 }, async (h) => {
      const before = Date.now();
      const outcome = await h.deliver(leadEvent()); // the person uses the last write; the lead is refused
      expect(outcome.kind).toBe("throttled");
      const resumeAt = (outcome as { resumeAt: number }).resumeAt;
      expect([nextUtcMidnight(before), nextUtcMidnight(Date.now())]).toContain(resumeAt);
      expect(new Date(resumeAt).toISOString()).toMatch(/T00:00:00\.000Z$/);
      expect(h.double.calls().at(-1)).toMatchObject({ status: 429 });
    }));
});

describe("pipedrive 429 headers, as documented (core-api-concepts-rate-limiting)", () => {
  const tooMany = (headers: Record<string, string>, error = "Request over limit") =>
    [new Response("", { status: 429, headers }), JSON.stringify({ success: false, error })] as const;
  const now = Date.UTC(2025, 5, 10, 15, 30);

  it("x-ratelimit-reset alone gives the wait; Retry-After wins when present", () => {
    const [res, body] = tooMany({ "x-ratelimit-limit": "20", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2" });
    expect(classifyPipedrive(res, body, "GET /x", now)).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 2000 });
    const [res2, body2] = tooMany({ "x-ratelimit-reset": "2", "retry-after": "5" });
    expect(classifyPipedrive(res2, body2, "GET /x", now)).toMatchObject({ kind: "retry", retryAfterMs: 5000 });
  });

  it("x-daily-requests-left: 0 alone means the day's quota: throttled until 00:00 UTC", () => {
    const [res, body] = tooMany({ "x-daily-requests-left": "0" }, "Too many requests");
    expect(classifyPipedrive(res, body, "POST /x", now)).toMatchObject({ kind: "throttled", resumeAt: Date.UTC(2025, 5, 11) });
  });

  it("a reset far away (over a minute) is a spent quota too: throttled until then", () => {
    const [res, body] = tooMany({ "x-ratelimit-reset": "3600" });
    expect(classifyPipedrive(res, body, "POST /x", now)).toMatchObject({ kind: "throttled", resumeAt: now + 3_600_000 });
  });
});

describe("the double enforces Pipedrive's documented rules", () => {
  let h: Harness<PipedriveSettings>;
  beforeAll(async () => { h = await startHarness(pipedrive, createPipedriveDouble()); });
  afterAll(() => h.close());
  beforeEach(() => h.double.reset());

  const post = (path: string, body: unknown) => raw(h, path, { method: "POST", body: JSON.stringify(body) });

  it("x-api-token: missing or wrong → 401 in Pipedrive's error shape", async () => {
    for (const token of [null, "nope"]) {
      const res = await raw(h, "/api/v2/persons?limit=1", {}, token);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ success: false, error: "unauthorized access", errorCode: 401 });
    }
    expect((await raw(h, "/api/v2/persons?limit=1")).status).toBe(200);
  });

  it("persons: name required; exact_match is a full, case-insensitive match on the chosen field", async () => {
    const missing = await post("/api/v2/persons", { emails: [{ value: "a@example.fr" }] });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ success: false, error: expect.stringMatching(/name/), data: null });
    expect((await post("/api/v2/persons", { name: "A", emails: "a@example.fr" })).status).toBe(400);
    expect((await post("/api/v2/persons", { name: "Anna", emails: [{ value: "anna@example.fr", primary: true, label: "work" }] })).status).toBe(200);

    const search = async (q: string) => (await (await raw(h, `/api/v2/persons/search?${q}`)).json()) as { data: { items: unknown[] } };
    expect((await search("term=ANNA%40example.fr&fields=email&exact_match=true")).data.items).toHaveLength(1);
    expect((await search("term=nna%40example.fr&fields=email&exact_match=true")).data.items).toHaveLength(0);
    expect((await search("term=nna%40example.fr&fields=email")).data.items).toHaveLength(1);
    expect((await search("term=anna%40example.fr&fields=phone&exact_match=true")).data.items).toHaveLength(0);
    expect((await raw(h, "/api/v2/persons/search?term=a&fields=email")).status).toBe(400);
    expect((await raw(h, "/api/v2/persons/search?term=anna&fields=address")).status).toBe(400);
  });

  it("leads: title and a person (or organization) required, the person must exist, value is {amount, currency}", async () => {
    const person = (await (await post("/api/v2/persons", { name: "P" })).json()) as { data: { id: number } };
    const pid = person.data.id;
    expect((await post("/v1/leads", { person_id: pid })).status).toBe(400);
    expect((await post("/v1/leads", { title: "T" })).status).toBe(400);
    expect((await post("/v1/leads", { title: "T", person_id: 999 })).status).toBe(400);
    expect((await post("/v1/leads", { title: "T", person_id: pid, value: 100 })).status).toBe(400);
    expect((await post("/v1/leads", { title: "T", person_id: pid, value: { amount: 100 } })).status).toBe(400);
    const ok = await post("/v1/leads", { title: "T", person_id: pid, value: { amount: 100, currency: "EUR" } });
    expect(ok.status).toBe(201);
    const lead = (await ok.json()) as { data: { id: string } };
    expect(lead.data.id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await raw(h, "/v1/leads/00000000-0000-4000-8000-000000000000", { method: "PATCH", body: "{}" })).status).toBe(404);
    expect((await raw(h, `/v1/leads/${lead.data.id}`, { method: "PATCH", body: JSON.stringify({ person_id: null }) })).status).toBe(400);
  });

  it("deals: title required, status open|won|lost, lost_reason only when lost, the person must exist, unknown deal 404", async () => {
    expect((await post("/api/v2/deals", { value: 10 })).status).toBe(400);
    expect((await post("/api/v2/deals", { title: "D", person_id: 42 })).status).toBe(400);
    expect((await post("/api/v2/deals", { title: "D", status: "closed" })).status).toBe(400);
    expect((await post("/api/v2/deals", { title: "D", status: "open", lost_reason: "x" })).status).toBe(400);
    expect((await post("/api/v2/deals", { title: "D", status: "lost", lost_reason: "x" })).status).toBe(200);
    expect((await raw(h, "/api/v2/deals/999", { method: "PATCH", body: JSON.stringify({ status: "won" }) })).status).toBe(404);
    expect((await raw(h, "/nope")).status).toBe(404);
  });
});
