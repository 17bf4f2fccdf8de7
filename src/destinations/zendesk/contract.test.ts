/**
 * The zendesk destination against its double. The oracle is Zendesk's
 * documented API as the double enforces it (see double.ts): what the double
 * holds after deliveries (one end user per email or external_id, one ticket per
 * call-back, the API admin never demoted), its idempotency semantics, and how
 * its documented answers (401, anonymous /users/me, 403, 404, 409, 422, 429 with
 * Retry-After, 400 IdempotentRequestError) are classified.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { callbackEvent, leadEvent, nextEvent, requestEvent, startHarness, type Harness } from "../../../tests/helpers/destination-harness.ts";
import type { VendorDouble } from "../double-kit.ts";
import type { DeliveryEvent } from "../types.ts";
import { createZendeskDouble, type ZendeskDoubleOptions } from "./double.ts";
import { basicAuth, classifyZendesk, DEFAULT_ZENDESK_RATE, LOCAL_ZENDESK_EMAIL, LOCAL_ZENDESK_TOKEN, zendesk, type ZendeskSettings } from "./index.ts";

interface User { id: number; name: string; email: string | null; external_id: string | null; phone: string | null; role: string; notes: string | null; details: string | null }
interface Ticket {
  id: number; subject: string; external_id: string; requester_id: number; type: string; priority: string; tags: string[];
  comments: { body: string; public: boolean }[];
}
type State = { users: User[]; tickets: Ticket[] };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The double, with an answer held back after it acted ("created, but the answer never came"), and an optional lagging ticket list. */
function lagging(inner: VendorDouble) {
  let lag: { path: string; method: string; ms: number } | null = null;
  let staleList = false;
  const double: VendorDouble = {
    name: inner.name,
    state: () => inner.state(),
    reset: () => { lag = null; staleList = false; inner.reset(); },
    async handle(req) {
      const url = new URL(req.url);
      if (staleList && req.method === "GET" && url.pathname === "/api/v2/tickets") {
        return new Response(JSON.stringify({ tickets: [], next_page: null, previous_page: null, count: 0 }), { status: 200, headers: { "content-type": "application/json" } });
      }
      const res = await inner.handle(req);
      const l = lag;
      if (l && req.method === l.method && url.pathname === l.path) {
        lag = null;
        await sleep(l.ms);
      }
      return res;
    },
  };
  return {
    double,
    holdAnswer: (method: string, path: string, ms: number) => { lag = { method, path, ms }; },
    /** GET /api/v2/tickets answers an empty list (as if an index lagged behind). */
    staleTicketList: () => { staleList = true; },
  };
}

async function withHarness<T>(options: ZendeskDoubleOptions, run: (h: Harness<ZendeskSettings>) => Promise<T>): Promise<T> {
  const h = await startHarness(zendesk, createZendeskDouble(options));
  try {
    return await run(h);
  } finally {
    await h.close();
  }
}

const AUTH = basicAuth(LOCAL_ZENDESK_EMAIL, LOCAL_ZENDESK_TOKEN);
const raw = (h: Harness<ZendeskSettings>, path: string, init: RequestInit = {}, auth: string | null = AUTH) =>
  fetch(`${h.settings.url}${path}`, {
    ...init,
    headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}), ...(init.headers as Record<string, string> | undefined) },
  });

describe("zendesk settings", () => {
  const full = { ZENDESK_URL: "https://acme.zendesk.com", ZENDESK_EMAIL: "bridge@acme.fr", ZENDESK_API_TOKEN: "tok123" };

  it("is off when nothing is set, needs all three variables, and names the one that is wrong", () => {
    expect(zendesk.settings({})).toBeUndefined();
    expect(zendesk.settings(full)).toEqual({ url: "https://acme.zendesk.com", email: "bridge@acme.fr", apiToken: "tok123" });
    expect(zendesk.settings({ ...full, ZENDESK_URL: "https://acme.zendesk.com/" })?.url).toBe("https://acme.zendesk.com");
    expect(() => zendesk.settings({ ZENDESK_URL: full.ZENDESK_URL })).toThrow(/ZENDESK_EMAIL and ZENDESK_API_TOKEN are not set/);
    expect(() => zendesk.settings({ ...full, ZENDESK_API_TOKEN: " " })).toThrow(/ZENDESK_API_TOKEN is not set/);
    expect(() => zendesk.settings({ ZENDESK_RATE_LIMIT: "2" })).toThrow(/ZENDESK_RATE_LIMIT/);
    expect(() => zendesk.settings({ ...full, ZENDESK_URL: "acme" })).toThrow(/ZENDESK_URL/);
    expect(() => zendesk.settings({ ...full, ZENDESK_URL: "http://acme.zendesk.com" })).toThrow(/ZENDESK_URL must be an https URL/);
    expect(zendesk.settings({ ...full, ZENDESK_URL: "http://127.0.0.1:4010/zendesk" })?.url).toBe("http://127.0.0.1:4010/zendesk");
    expect(() => zendesk.settings({ ...full, ZENDESK_URL: "https://acme.zendesk.com/api/v2" })).toThrow(/without \/api\/v2/);
    expect(() => zendesk.settings({ ...full, ZENDESK_EMAIL: "bridge" })).toThrow(/ZENDESK_EMAIL/);
    expect(() => zendesk.settings({ ...full, ZENDESK_EMAIL: "bridge@acme.fr/token" })).toThrow(/ZENDESK_EMAIL/);
    expect(() => zendesk.settings({ ...full, ZENDESK_API_TOKEN: "a b" })).toThrow(/ZENDESK_API_TOKEN/);
    expect(() => zendesk.settings({ ...full, ZENDESK_RATE_LIMIT: "fast" })).toThrow(/ZENDESK_RATE_LIMIT/);
  });

  it("paces to the Team plan's 200 requests a minute at 3 calls per delivery, unless ZENDESK_RATE_LIMIT says otherwise", () => {
    const pace = zendesk.rateLimit(zendesk.settings(full)!);
    expect(pace).toEqual(DEFAULT_ZENDESK_RATE);
    // Most calls in any minute: the burst plus a minute of refill, each delivery at most maxCallsPerDelivery calls.
    expect((pace.burst + pace.perSecond * 60) * zendesk.maxCallsPerDelivery).toBeLessThanOrEqual(200);
    expect(zendesk.rateLimit(zendesk.settings({ ...full, ZENDESK_RATE_LIMIT: "6" })!)).toEqual({ perSecond: 6, burst: 30 });
  });

  it("authenticates with an API token: Basic base64(<email>/token:<token>)", () => {
    expect(basicAuth("a@b.fr", "xyz")).toBe(`Basic ${Buffer.from("a@b.fr/token:xyz").toString("base64")}`);
  });
});

describe("zendesk against its double", () => {
  // Idempotency keys live 2 hours at Zendesk; 1.5 s here, so a test can outlive one.
  const KEY_TTL_MS = 1_500;
  const lag = lagging(createZendeskDouble({ idempotencyTtlMs: KEY_TTL_MS }));
  let h: Harness<ZendeskSettings>;
  const state = () => h.double.double.state() as unknown as State;
  const endUsers = () => state().users.filter((u) => u.role === "end-user");

  beforeAll(async () => {
    h = await startHarness(zendesk, lag.double);
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.double.reset();
    h.remembered.clear();
  });
  const deliver = (event: DeliveryEvent, opts?: { timeoutMs?: number }) => h.deliver(event, opts);

  it("a lead becomes one end user matched by email (create_or_update), its details in notes; its id is remembered", async () => {
    const event = leadEvent({ email: "marie.curie@example.fr", firstname: "Marie", lastname: "Curie", postal_code: "75005" });
    expect(await deliver(event)).toMatchObject({ kind: "delivered", httpStatus: 201 });
    const users = endUsers();
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ name: "Marie Curie", email: "marie.curie@example.fr", phone: "+33612345678", external_id: null });
    expect(users[0].notes).toContain(event.recordId);
    expect(users[0].notes).toContain("75005");
    expect(h.remembered.get(`${event.recordId}/user`)).toBe(String(users[0].id));
    const calls = h.double.calls();
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(["POST /api/v2/users/create_or_update"]);
    expect(calls[0].headers.authorization).toBe(AUTH);
  });

  it("the lead's next snapshot, and another lead with the same email in other case, update the same user", async () => {
    const first = leadEvent({ email: "anna@example.fr", lastname: "Curie" });
    expect((await deliver(first)).kind).toBe("delivered");
    expect(await deliver(nextEvent(first, { lastName: "Skłodowska" }))).toMatchObject({ kind: "delivered", httpStatus: 200 });
    expect(await deliver(leadEvent({ email: "ANNA@example.fr" }))).toMatchObject({ kind: "delivered", httpStatus: 200 });
    const users = endUsers();
    expect(users).toHaveLength(1);
    expect(users[0].name).toBe("Marie Curie"); // the last snapshot's name
  });

  it("a lead with the API admin's own email never demotes the admin (no role is sent)", async () => {
    expect((await deliver(leadEvent({ email: LOCAL_ZENDESK_EMAIL }))).kind).toBe("delivered");
    const admin = state().users.find((u) => u.email === LOCAL_ZENDESK_EMAIL)!;
    expect(admin.role).toBe("admin");
    expect(endUsers()).toHaveLength(0);
  });

  it("a request and its payment (pending → paid → refunded) update the same user, notes following the payment", async () => {
    const pending = requestEvent({ email: "jean@example.fr", full_name: "Jean Dupont", payment_status: "pending" });
    expect((await deliver(pending)).kind).toBe("delivered");
    const paid = nextEvent(pending, { payment_status: "paid", payment_intent_id: "pi_1", amount: 9900, currency: "eur" });
    expect((await deliver(paid)).kind).toBe("delivered");
    let users = endUsers();
    expect(users).toHaveLength(1);
    expect(users[0].notes).toContain("Paiement: paid");
    expect(users[0].notes).toContain("99.00 EUR");
    expect(users[0].details).toBe("1 rue de la Paix, 75002 Paris");

    expect((await deliver(nextEvent(paid, { payment_status: "refunded" }))).kind).toBe("delivered");
    users = endUsers();
    expect(users).toHaveLength(1);
    expect(users[0].notes).toContain("Paiement: refunded");
    expect(users[0]).toMatchObject({ name: "Jean Dupont", email: "jean@example.fr" });
  });

  it("a call-back: an end user by external_id (no email) and one private task ticket, with the event id as Idempotency-Key", async () => {
    const event = callbackEvent({ full_name: "Ana Lopez", phone: "+33698765432", postal_code: "69001" });
    expect(await deliver(event)).toMatchObject({ kind: "delivered", httpStatus: 201 });
    const { tickets } = state();
    const users = endUsers();
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ name: "Ana Lopez", email: null, phone: "+33698765432", external_id: `lovable-callback-${event.recordId}` });
    expect(tickets).toHaveLength(1);
    expect(tickets[0]).toMatchObject({
      subject: "Rappel demandé — Ana Lopez (69001)", requester_id: users[0].id, external_id: `lovable-callback-${event.recordId}`,
      type: "task", priority: "normal",
    });
    expect(tickets[0].comments[0]).toMatchObject({ public: false });
    expect(tickets[0].comments[0].body).toContain("+33698765432");
    const post = h.double.calls().find((c) => c.method === "POST" && c.path === "/api/v2/tickets")!;
    expect(post.headers["idempotency-key"]).toBe(event.id);
    expect(h.remembered.get(`${event.recordId}/ticket`)).toBe(String(tickets[0].id));
    // The user was created in this attempt: no ticket could exist yet, so no lookup.
    expect(h.double.calls().map((c) => `${c.method} ${c.path}`)).toEqual(["POST /api/v2/users/create_or_update", "POST /api/v2/tickets"]);
  });

  it("the same call-back delivered again (backfill, replay) checks its remembered ticket and creates nothing", async () => {
    const event = callbackEvent();
    expect((await deliver(event)).kind).toBe("delivered");
    const again = await deliver(nextEvent(event, {}));
    expect(again).toMatchObject({ kind: "delivered", httpStatus: 200 });
    expect(state().tickets).toHaveLength(1);
    expect(endUsers()).toHaveLength(1);
    expect(h.double.calls().at(-1)).toMatchObject({ method: "GET", path: `/api/v2/tickets/${state().tickets[0].id}` });
  });

  it("retry after a timeout (double slower than the time limit): no duplicate", async () => {
    const event = callbackEvent();
    h.double.setFaults({ mode: "slow", delayMs: 800, path: "/api/v2/tickets", times: 1 });
    expect(await deliver(event, { timeoutMs: 300 })).toMatchObject({ kind: "retry", httpStatus: null });
    await sleep(600);
    expect((await deliver(event)).kind).toBe("delivered");
    expect(state().tickets).toHaveLength(1);
    expect(endUsers()).toHaveLength(1);
  });

  it("a ticket created at Zendesk whose answer was lost is found by external_id, not created twice (even once its idempotency key expired)", async () => {
    const event = callbackEvent();
    lag.holdAnswer("POST", "/api/v2/tickets", 800);
    expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
    expect(state().tickets).toHaveLength(1); // Zendesk did create it
    expect(h.remembered.get(`${event.recordId}/ticket`)).toBeUndefined();
    await sleep(KEY_TTL_MS + 200);
    expect((await deliver({ ...event, attempt: 2 })).kind).toBe("delivered");
    expect(state().tickets).toHaveLength(1);
    expect(h.remembered.get(`${event.recordId}/ticket`)).toBe(String(state().tickets[0].id));
  });

  it("…and when the ticket list lags too, the Idempotency-Key makes Zendesk answer the original ticket (lookup: hit)", async () => {
    const event = callbackEvent();
    lag.holdAnswer("POST", "/api/v2/tickets", 800);
    expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
    await sleep(600);
    lag.staleTicketList();
    expect(await deliver({ ...event, attempt: 2 })).toMatchObject({ kind: "delivered", httpStatus: 201 });
    const { tickets } = state();
    expect(tickets).toHaveLength(1);
    expect(h.remembered.get(`${event.recordId}/ticket`)).toBe(String(tickets[0].id));
    const posts = h.double.calls().filter((c) => c.method === "POST" && c.path === "/api/v2/tickets");
    expect(posts).toHaveLength(2);
    expect(posts[1].headers["idempotency-key"]).toBe(event.id);
    expect(posts[1].body).toEqual(posts[0].body);
  });

  it("a user created at Zendesk whose answer was lost is matched again by external_id, not created twice", async () => {
    const event = callbackEvent();
    lag.holdAnswer("POST", "/api/v2/users/create_or_update", 800);
    expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
    expect(endUsers()).toHaveLength(1);
    await sleep(600);
    expect((await deliver(event)).kind).toBe("delivered");
    expect(endUsers()).toHaveLength(1);
    expect(state().tickets).toHaveLength(1);
    expect(state().tickets[0].requester_id).toBe(endUsers()[0].id);
  });

  it("restart between the two calls (ticket path down): the remembered user is reused, no duplicate", async () => {
    const event = callbackEvent();
    h.double.setFaults({ mode: "down", path: "/api/v2/tickets", times: 1 });
    expect((await deliver(event)).kind).toBe("retry");
    expect(h.remembered.get(`${event.recordId}/user`)).toBe(String(endUsers()[0].id));
    expect(state().tickets).toHaveLength(0);

    expect((await deliver(event)).kind).toBe("delivered");
    expect(endUsers()).toHaveLength(1);
    expect(state().tickets).toHaveLength(1);
    expect(h.double.calls().filter((c) => c.path === "/api/v2/users/create_or_update")).toHaveLength(1);
  });

  it("422 RecordInvalid (an email Zendesk finds malformed) is dead with Zendesk's details, nothing created", async () => {
    const outcome = await deliver(leadEvent({ email: "marie@localhost" }));
    expect(outcome).toMatchObject({ kind: "dead", httpStatus: 422 });
    expect((outcome as { error: string }).error).toMatch(/POST \/api\/v2\/users\/create_or_update: HTTP 422 — RecordInvalid — Record validation errors — email: Email: marie@localhost is not properly formatted/);
    expect(endUsers()).toHaveLength(0);
  });

  it("an event without the key of its user is dead before any call", async () => {
    const event = leadEvent();
    expect(await deliver({ ...event, data: { ...event.data, email: null } })).toMatchObject({ kind: "dead", httpStatus: null });
    const cb = callbackEvent();
    expect(await deliver({ ...cb, data: { ...cb.data, phone: null } })).toMatchObject({ kind: "dead", httpStatus: null });
    expect(h.double.calls()).toHaveLength(0);
  });

  it("a remembered ticket deleted at Zendesk (404) is dead, with the reason", async () => {
    const event = callbackEvent();
    expect((await deliver(event)).kind).toBe("delivered");
    h.double.double.reset();
    const outcome = await deliver(nextEvent(event, {}));
    expect(outcome).toMatchObject({ kind: "dead", httpStatus: 404 });
    expect((outcome as { error: string }).error).toMatch(/GET \/api\/v2\/tickets\/\d+: HTTP 404 — RecordNotFound — Not found \(not found: deleted at Zendesk/);
  });

  it("401 (wrong token) pauses naming the variables; 403 pauses; 409 and 5xx retry; 429 retries after Retry-After", async () => {
    const refused = await h.deliver(leadEvent(), { settings: { ...h.settings, apiToken: "wrong" } });
    expect(refused).toMatchObject({ kind: "pause", httpStatus: 401 });
    expect((refused as { error: string }).error).toMatch(/Couldn't authenticate you/);
    expect((refused as { reason: string }).reason).toMatch(/ZENDESK_EMAIL and ZENDESK_API_TOKEN/);

    h.double.setFaults({ mode: "reject", status: 403, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "pause", httpStatus: 403 });
    h.double.setFaults({ mode: "reject", status: 409, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 409 });
    h.double.setFaults({ mode: "error", status: 503, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 503 });
    h.double.setFaults({ mode: "throttle", retryAfter: 7, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 7000 });
  });

  it("test(): credentials accepted and nothing created; a wrong token, a wrong URL and no server are told apart", async () => {
    expect(await h.test()).toMatchObject({ ok: true, reachable: true, credentialsAccepted: true, httpStatus: 200 });
    expect(endUsers()).toHaveLength(0);
    expect(state().tickets).toHaveLength(0);
    expect(h.double.calls().map((c) => `${c.method} ${c.path}`)).toEqual(["GET /api/v2/users/me"]);

    // Zendesk answers /users/me with the anonymous user to credentials it does not accept.
    const wrong = await h.test({ ...h.settings, apiToken: "wrong" });
    expect(wrong).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false, httpStatus: 200 });
    expect(wrong.message).toMatch(/anonymous/);
    h.double.setFaults({ mode: "reject", status: 401, times: 1 });
    expect(await h.test()).toMatchObject({ ok: false, credentialsAccepted: false, httpStatus: 401 });

    expect(await h.test({ ...h.settings, url: `${h.server.url}/elsewhere` })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: null, httpStatus: 404 });
    const closed = await h.test({ ...h.settings, url: "http://127.0.0.1:9" });
    expect(closed).toMatchObject({ ok: false, reachable: false, credentialsAccepted: null });
    expect(closed.message).toMatch(/ZENDESK_URL/);
  });
});

describe("zendesk rate limit (the double's documented 429)", () => {
  it("over the account's requests per minute: 429 with Retry-After and X-Rate-Limit → retry after Retry-After", () =>
    withHarness({ requestsPerMinute: 2 }, async (h) => {
      const outcome = await h.deliver(callbackEvent()); // user, then ticket: the third call would be refused…
      expect(outcome.kind).toBe("delivered"); // …but a new user needs only two calls
      const second = await h.deliver(callbackEvent());
      expect(second).toMatchObject({ kind: "retry", httpStatus: 429 });
      const wait = (second as { retryAfterMs: number }).retryAfterMs;
      expect(wait).toBeGreaterThanOrEqual(1000);
      expect(wait).toBeLessThanOrEqual(60_000);
      const res = await raw(h, "/api/v2/users/me");
      expect(res.status).toBe(429);
      expect(res.headers.get("x-rate-limit")).toBe("2");
      expect(res.headers.get("x-rate-limit-remaining")).toBe("0");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(await res.text()).toBe("Number of allowed API requests per minute exceeded");
    }));

  it("Retry-After on a 429 or a 503 is honoured; a 409 without it retries on the schedule", () => {
    const r429 = classifyZendesk(new Response("", { status: 429, headers: { "retry-after": "93" } }), "Number of allowed API requests per minute exceeded", "POST /api/v2/tickets");
    expect(r429).toMatchObject({ kind: "retry", retryAfterMs: 93_000 });
    const r503 = classifyZendesk(new Response("", { status: 503, headers: { "retry-after": "30" } }), "", "GET /x");
    expect(r503).toMatchObject({ kind: "retry", retryAfterMs: 30_000 });
    expect(classifyZendesk(new Response("", { status: 409 }), "", "POST /x")).toMatchObject({ kind: "retry", retryAfterMs: undefined });
  });
});

describe("the double enforces Zendesk's documented rules", () => {
  let h: Harness<ZendeskSettings>;
  beforeAll(async () => { h = await startHarness(zendesk, createZendeskDouble()); });
  afterAll(() => h.close());
  beforeEach(() => h.double.reset());
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) => raw(h, path, { method: "POST", body: JSON.stringify(body), headers });

  it("API token auth: a refused pair → 401 Couldn't authenticate you; /users/me answers the anonymous user", async () => {
    for (const auth of [null, basicAuth(LOCAL_ZENDESK_EMAIL, "nope"), `Basic ${btoa(`${LOCAL_ZENDESK_EMAIL}:${LOCAL_ZENDESK_TOKEN}`)}`]) {
      const res = await raw(h, "/api/v2/tickets", {}, auth);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "Couldn't authenticate you" });
      const me = await raw(h, "/api/v2/users/me", {}, auth);
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ user: { id: null, name: "Anonymous user" } });
    }
    const me = await (await raw(h, "/api/v2/users/me.json")).json();
    expect(me).toMatchObject({ user: { email: LOCAL_ZENDESK_EMAIL, role: "admin" } });
  });

  it("create_or_update: name required on creation (422), matched by email or external_id (case-insensitive), 201 then 200", async () => {
    const missing = await post("/api/v2/users/create_or_update", { user: { email: "a@example.fr" } });
    expect(missing.status).toBe(422);
    expect(await missing.json()).toMatchObject({ error: "RecordInvalid", description: "Record validation errors", details: { name: [{ error: "ValueTooShort" }] } });
    expect((await post("/api/v2/users/create_or_update", { user: { name: "A", email: "a@example" } })).status).toBe(422);
    expect((await post("/api/v2/users/create_or_update", { user: { name: "A", email: "a@example.fr" } })).status).toBe(201);
    expect((await post("/api/v2/users/create_or_update", { user: { name: "A2", email: "A@EXAMPLE.FR" } })).status).toBe(200);
    expect((await post("/api/v2/users/create_or_update", { user: { name: "B", external_id: "x-1" } })).status).toBe(201);
    expect((await post("/api/v2/users/create_or_update", { user: { name: "B2", external_id: "X-1" } })).status).toBe(200);
    // Without email or external_id nothing identifies the user: Zendesk creates one each time.
    expect((await post("/api/v2/users/create_or_update", { user: { name: "C" } })).status).toBe(201);
    expect((await post("/api/v2/users/create_or_update", { user: { name: "C" } })).status).toBe(201);
    const users = (h.double.double.state() as unknown as State).users;
    expect(users.filter((u) => u.role === "end-user").map((u) => u.name)).toEqual(["A2", "B2", "C", "C"]);
  });

  it("tickets: a comment is required, the requester must exist, type and priority are enumerated", async () => {
    expect((await post("/api/v2/tickets", { ticket: { subject: "S" } })).status).toBe(422);
    expect((await post("/api/v2/tickets", { ticket: { comment: { body: "x" }, requester_id: 424242 } })).status).toBe(422);
    expect((await post("/api/v2/tickets", { ticket: { comment: { body: "x" }, type: "callback" } })).status).toBe(422);
    expect((await post("/api/v2/tickets", { ticket: { comment: { body: "x" }, priority: "asap" } })).status).toBe(422);
    const ok = await post("/api/v2/tickets.json", { ticket: { comment: { body: "x" }, external_id: "e-1" } });
    expect(ok.status).toBe(201);
    const list = await (await raw(h, "/api/v2/tickets?external_id=e-1")).json();
    expect(list.tickets).toHaveLength(1);
    expect((await (await raw(h, "/api/v2/tickets?external_id=e-2")).json()).tickets).toHaveLength(0);
    const missing = await raw(h, "/api/v2/tickets/999999");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "RecordNotFound", description: "Not found" });
  });

  it("Idempotency-Key: miss, then the same body → the original answer (hit), another body → 400 IdempotentRequestError", async () => {
    const body = { ticket: { comment: { body: "call me" }, subject: "S" } };
    const first = await post("/api/v2/tickets", body, { "idempotency-key": "k-1" });
    expect(first.status).toBe(201);
    expect(first.headers.get("x-idempotency-lookup")).toBe("miss");
    const original = await first.json();

    const again = await post("/api/v2/tickets", body, { "idempotency-key": "k-1" });
    expect(again.status).toBe(201);
    expect(again.headers.get("x-idempotency-lookup")).toBe("hit");
    expect(await again.json()).toEqual(original);

    const other = await post("/api/v2/tickets", { ticket: { comment: { body: "other" } } }, { "idempotency-key": "k-1" });
    expect(other.status).toBe(400);
    const error = await other.text();
    expect(JSON.parse(error)).toEqual({ error: "IdempotentRequestError", description: "Request parameters don't match the given idempotency key" });
    expect((h.double.double.state() as unknown as State).tickets).toHaveLength(1);
    expect(classifyZendesk(new Response("", { status: 400 }), error, "POST /api/v2/tickets")).toMatchObject({ kind: "dead", httpStatus: 400 });

    // Another key creates another ticket.
    expect((await post("/api/v2/tickets", body, { "idempotency-key": "k-2" })).headers.get("x-idempotency-lookup")).toBe("miss");
    expect((h.double.double.state() as unknown as State).tickets).toHaveLength(2);
  });

  it("an idempotency key is forgotten after its lifetime (2 hours at Zendesk)", () =>
    withHarness({ idempotencyTtlMs: 50 }, async (h2) => {
      const body = JSON.stringify({ ticket: { comment: { body: "x" } } });
      const send = () => fetch(`${h2.settings.url}/api/v2/tickets`, { method: "POST", body, headers: { "content-type": "application/json", authorization: AUTH, "idempotency-key": "k" } });
      expect((await send()).headers.get("x-idempotency-lookup")).toBe("miss");
      await sleep(80);
      expect((await send()).headers.get("x-idempotency-lookup")).toBe("miss");
      expect((h2.double.double.state() as unknown as State).tickets).toHaveLength(2);
    }));

  it("an unknown endpoint is 404 InvalidEndpoint; every answer carries X-Rate-Limit", async () => {
    const res = await raw(h, "/api/v2/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "InvalidEndpoint" });
    expect(res.headers.get("x-rate-limit")).toBe("200");
  });
});
