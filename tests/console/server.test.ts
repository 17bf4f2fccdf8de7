/**
 * The console's server and API against a real Postgres: the token on every
 * route, loopback only, no full email or phone in any answer unless one record
 * is revealed, search by exact email/phone, keyset pages, bulk actions after a
 * dry-run count, replay, export, and the activity log of all of it.
 */
import { execFile } from "node:child_process";
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startConsoleServer, type ConsoleServer } from "../../scripts/console/serve.ts";
import { startCrmSandbox, type CrmSandbox } from "../../scripts/local/crm-sandbox.ts";
import { loadDestinations } from "../../src/config.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { registerDestination, type SeededDelivery, seedCallback, seedEvent, seedLead } from "./seed.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EMAIL = "jeanne.dupont@example.fr";
const PHONE = "+33612345678";
const CB_PHONE = "+33698765432";
/** Every form a full email, phone or name could take in an answer. */
const SECRETS = [EMAIL, PHONE, "0612345678", "06 12 34 56 78", "612345678", CB_PHONE, "698765432", "Jeanne", "Dupont", "Ana", "Lopez Garcia", "autre@example.fr"];

let db: TestDatabase;
let server: ConsoleServer;
let sandbox: CrmSandbox;
let leadId: string;
let otherLead: string;
let callbackId: string;
const seeded: SeededDelivery[] = [];
/** Every answer body the tests received, scanned for personal data at the end. */
const answers: { what: string; body: string }[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  sandbox = await startCrmSandbox({ apiKey: "console-test-key", port: 0, quiet: true });
  for (const d of ["monelec", "webhook"]) await registerDestination(db.sql, d);
  leadId = await seedLead(db.sql, { email: EMAIL, phone: PHONE, firstname: "Jeanne", lastname: "Dupont" });
  otherLead = await seedLead(db.sql, { email: "autre@example.fr" });
  callbackId = await seedCallback(db.sql, { phone: CB_PHONE, fullName: "Ana Lopez Garcia" });
  seeded.push(...await seedEvent(db.sql, "lead", leadId, { monelec: "delivered", webhook: "dead" }, { ageSeconds: 600, status: 400, error: `HTTP 400: ${"Jeanne"} refused` }));
  seeded.push(...await seedEvent(db.sql, "lead", leadId, { monelec: "delivered", webhook: "blocked" }, { ageSeconds: 300 }));
  seeded.push(...await seedEvent(db.sql, "callback", callbackId, { monelec: "dead", webhook: "delivered" }, { ageSeconds: 200, status: 422 }));
  for (let i = 0; i < 120; i++) seeded.push(...await seedEvent(db.sql, "lead", otherLead, { monelec: "delivered" }, { ageSeconds: 100 - i / 2 }));
  // An attempt whose stored error still carries a phone (as a vendor could echo one): the console masks it again.
  await db.sql`update crm_attempts set error = ${`rejected +33612345678 / ${EMAIL}`} where event_id = ${seeded[0].eventId} and destination = 'webhook'`;
  server = await startConsoleServer({
    databaseUrl: db.url,
    destinations: loadDestinations({ MONELEC_API_KEY: "console-test-key", MONELEC_API_URL: sandbox.url }, 2000),
    actor: "test-operator",
    port: 0,
  });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await sandbox?.close();
  await db?.drop();
});

async function get(path: string, init: RequestInit = {}) {
  const res = await fetch(`${server.baseUrl}${path}`, { redirect: "manual", ...init, headers: { "x-console-token": server.token, ...init.headers } });
  const body = await res.text();
  answers.push({ what: `GET ${path}`, body });
  return { res, body, json: () => JSON.parse(body) };
}
async function post(path: string, payload: unknown) {
  const res = await fetch(`${server.baseUrl}${path}`, {
    method: "POST", headers: { "x-console-token": server.token, "content-type": "application/json" }, body: JSON.stringify(payload),
  });
  const body = await res.text();
  answers.push({ what: `POST ${path} ${JSON.stringify(payload)}`, body });
  return { res, body, json: () => JSON.parse(body) };
}

const ROUTES: [string, string][] = [
  ["GET", "/"], ["GET", "/app.js"], ["GET", "/app.css"], ["GET", "/nope"], ["GET", "/api/meta"], ["GET", "/api/overview"],
  ["GET", "/api/deliveries"], ["GET", "/api/deliveries/00000000-0000-0000-0000-000000000000/monelec"], ["GET", "/api/activity"],
  ["POST", "/api/count"], ["POST", "/api/actions/retry"], ["POST", "/api/actions/pause"], ["POST", "/api/actions/export"],
  ["POST", "/api/deliveries/00000000-0000-0000-0000-000000000000/monelec/reveal"], ["HEAD", "/"], ["PUT", "/api/meta"],
];

describe("access", () => {
  it("every route without the token, or with a wrong one, is 401 and shows nothing", async () => {
    const wrong = server.token.slice(0, -1) + (server.token.endsWith("A") ? "B" : "A");
    for (const [method, path] of ROUTES) {
      const body = method === "POST" || method === "PUT" ? "{}" : undefined;
      const tries: RequestInit[] = [
        {},
        { headers: { "x-console-token": wrong } },
        { headers: { cookie: `console_token=${wrong}` } },
        { headers: { authorization: `Bearer ${server.token}` } },
      ];
      for (const init of tries) {
        const res = await fetch(`${server.baseUrl}${path}${init === tries[0] ? "?token=" + wrong : ""}`, {
          method, body, redirect: "manual", ...init, headers: { "content-type": "application/json", ...init.headers },
        });
        expect(res.status, `${method} ${path} ${JSON.stringify(init)}`).toBe(401);
        const text = await res.text();
        expect(text).not.toContain("monelec");
      }
    }
  });

  it("the printed URL's token becomes an HttpOnly SameSite=Strict cookie; a cookie alone never authorises an action", async () => {
    expect(server.url).toBe(`${server.baseUrl}/?token=${server.token}`);
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const first = await fetch(server.url, { redirect: "manual" });
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/");
    const cookie = first.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^console_token=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    const page = await fetch(`${server.baseUrl}/`, { headers: { cookie: cookie.split(";")[0] } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    expect(await page.text()).toContain('<html lang="fr">');
    const api = await fetch(`${server.baseUrl}/api/meta`, { headers: { cookie: cookie.split(";")[0] } });
    expect(api.status).toBe(200);
    const action = await fetch(`${server.baseUrl}/api/actions/pause`, {
      method: "POST", headers: { cookie: cookie.split(";")[0], "content-type": "application/json" }, body: JSON.stringify({ destination: "webhook" }),
    });
    expect(action.status).toBe(401);
    const [{ paused }] = await db.sql`select paused_at is not null as paused from crm_destinations where name = 'webhook'`;
    expect(paused).toBe(false);
  });

  it("answers only to its loopback Host (DNS rebinding), and refuses to listen elsewhere unless told to", async () => {
    // (fetch does not let a caller set Host: node:http does.)
    const status = (host: string) => new Promise<number>((resolve, reject) => {
      request({ host: "127.0.0.1", port: server.port, path: "/api/meta", headers: { "x-console-token": server.token, host } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      }).on("error", reject).end();
    });
    expect(await status(`evil.example:${server.port}`)).toBe(421);
    expect(await status(`localhost:${server.port}`)).toBe(200);
    await expect(startConsoleServer({ databaseUrl: db.url, destinations: [], actor: "x", port: 0, host: "0.0.0.0" }))
      .rejects.toThrow(/refusing to listen on 0\.0\.0\.0.*--allow-remote/);
    // The real entry point: CONSOLE_HOST alone is not enough.
    const run = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(`${ROOT}node_modules/.bin/tsx`, ["scripts/console.ts"], {
        cwd: ROOT, timeout: 30_000, env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/tmp", DATABASE_URL: db.url, CONSOLE_HOST: "0.0.0.0", CONSOLE_PORT: "0" },
      }, (err, _out, stderr) => resolve({ code: err ? Number(err.code) : 0, stderr })));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/refusing to listen on 0\.0\.0\.0/);
  }, 40_000);
});

describe("reading", () => {
  it("the overview: a card per destination with its backlog, failures and last success", async () => {
    const o = (await get("/api/overview")).json();
    const names = o.destinations.map((d: { name: string }) => d.name);
    expect(names).toEqual(["monelec", "webhook"]);
    const monelec = o.destinations.find((d: { name: string }) => d.name === "monelec");
    const webhook = o.destinations.find((d: { name: string }) => d.name === "webhook");
    expect(monelec.status).toBe("enabled");
    expect(webhook.status).toBe("not_configured");
    expect(monelec.backlog).toEqual({ pending: 0, blocked: 0, dead: 1 });
    expect(webhook.backlog).toEqual({ pending: 0, blocked: 1, dead: 1 });
    expect(monelec.last_hour.delivered).toBe(122);
    expect(monelec.last_hour.dead).toBe(1);
    expect(monelec.failure_rate).toBeCloseTo(1 / 123, 5);
    expect(webhook.oldest_pending_age_seconds).toBeGreaterThanOrEqual(299);
    expect(o.backlog).toEqual({ pending: 0, blocked: 1, dead: 2 });
    const attempts = o.throughput.points.reduce((s: number, p: { counts: Record<string, number> }) =>
      s + Object.values(p.counts).reduce((a, b) => a + b, 0), 0);
    expect(attempts).toBe(125);
    expect(o.lag.points.reduce((s: number, p: { n: number }) => s + p.n, 0)).toBe(123);
    expect((await get("/api/overview?window=24h")).json().throughput.bucket_seconds).toBe(1800);
  });

  it("keyset pages walk every delivery once, newest first", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = (await get(`/api/deliveries?limit=50${cursor ? `&cursor=${cursor}` : ""}`)).json();
      seen.push(...page.rows.map((r: { seq: string; destination: string }) => `${r.seq}.${r.destination}`));
      cursor = page.next;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    const [{ n }] = await db.sql`select count(*)::int as n from crm_deliveries`;
    expect(seen).toHaveLength(n);
    expect(new Set(seen).size).toBe(n);
    const keys = seen.map((s) => [Number(s.split(".")[0]), s.split(".")[1]] as const);
    for (let i = 1; i < keys.length; i++) {
      expect(keys[i][0] < keys[i - 1][0] || (keys[i][0] === keys[i - 1][0] && keys[i][1] < keys[i - 1][1])).toBe(true);
    }
  });

  it("filters: destination, state, type, HTTP status, time; and search by record id, exact email or phone", async () => {
    const rows = async (q: string) => (await get(`/api/deliveries?${q}`)).json().rows as { event_id: string; destination: string; record_id: string; state: string }[];
    expect((await rows("destination=webhook&state=dead")).map((r) => r.event_id)).toEqual([seeded[1].eventId]);
    expect((await rows("state=dead")).map((r) => r.destination).sort()).toEqual(["monelec", "webhook"]);
    expect((await rows("type=callback.created")).every((r) => r.record_id === callbackId)).toBe(true);
    expect((await rows("status=422")).map((r) => r.record_id)).toEqual([callbackId]);
    expect(await rows(`since=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([]);
    expect((await rows(`until=${new Date(Date.now() - 250_000).toISOString()}&limit=200`)).map((r) => r.record_id)).toEqual([leadId, leadId, leadId, leadId]);
    expect(new Set((await rows(`q=${encodeURIComponent(EMAIL.toUpperCase())}`)).map((r) => r.record_id))).toEqual(new Set([leadId]));
    expect(new Set((await rows(`q=${encodeURIComponent("06 12 34 56 78")}`)).map((r) => r.record_id))).toEqual(new Set([leadId]));
    expect(new Set((await rows(`q=${encodeURIComponent(CB_PHONE)}`)).map((r) => r.record_id))).toEqual(new Set([callbackId]));
    expect((await rows(`q=${callbackId}`)).length).toBe(2);
    expect(await rows(`q=${encodeURIComponent("jeanne.dupont@example.com")}`)).toEqual([]);
    expect(await rows("q=dupont")).toEqual([]); // not a substring search
    const bad = await get("/api/deliveries?state=lost&since=yesterday&status=9");
    expect(bad.res.status).toBe(400);
    expect(Object.keys(bad.json().error.fields).sort()).toEqual(["since", "state", "status"]);
  });

  it("a delivery's page: masked body, its attempt timeline, the record's deliveries in order; reveal shows one record and is recorded", async () => {
    const [dead] = seeded.filter((s) => s.destination === "webhook");
    const d = (await get(`/api/deliveries/${dead.eventId}/webhook`)).json();
    expect(d.delivery.state).toBe("dead");
    expect(d.event.masked).toBe(true);
    expect(d.event.data).toMatchObject({ email: "j***@***.fr", phone: "+***78", firstName: "J***", lastName: "D***", postalCode: "75005" });
    expect(d.attempts).toEqual([expect.objectContaining({ attempt: 1, http_status: 400, outcome: "dead", duration_ms: 42, error: "rejected *** / ***" })]);
    expect(d.record_deliveries.map((r: { destination: string; state: string }) => `${r.destination}:${r.state}`))
      .toEqual(["monelec:delivered", "webhook:dead", "monelec:delivered", "webhook:blocked"]);
    expect((await get(`/api/deliveries/${dead.eventId}/webhook/reveal`)).res.status).toBe(405);

    const revealed = await post(`/api/deliveries/${dead.eventId}/webhook/reveal`, {});
    expect(revealed.json().event).toMatchObject({ masked: false, data: { email: EMAIL, phone: PHONE, firstName: "Jeanne" } });
    answers.pop(); // the one answer allowed to carry personal data
    const activity = (await get("/api/activity")).json().entries;
    expect(activity[0]).toMatchObject({ action: "reveal", actor: "test-operator", source: "console", count: 1,
      filter: { eventId: dead.eventId, destination: "webhook", recordId: leadId } });
    expect((await get(`/api/deliveries/${dead.eventId}/nobody`)).res.status).toBe(404);
  });
});

describe("acting", () => {
  it("retry everything matching: the dry-run count, then exactly those, recorded with their filter", async () => {
    const count = await post("/api/count", { action: "retry", filter: { destination: "monelec" } });
    expect(count.json()).toEqual({ action: "retry", count: 1 });
    expect((await post("/api/count", { action: "retry", filter: { state: "delivered" } })).res.status).toBe(400);
    const done = await post("/api/actions/retry", { filter: { destination: "monelec" } });
    expect(done.json()).toMatchObject({ count: 1, requeued: 1, gone: 0 });
    const states = await db.sql`select d.state from crm_deliveries d where d.record_id = ${callbackId} and destination = 'monelec' order by seq`;
    expect(states.map((s) => s.state)).toEqual(["superseded", "pending"]);
    const [entry] = (await get("/api/activity")).json().entries;
    expect(entry).toMatchObject({ action: "retry", count: 1, filter: { destination: "monelec", state: "dead" }, actor: "test-operator" });
  });

  it("discard, pause/resume, test the connection, backfill, replay since a time: each recorded", async () => {
    expect((await post("/api/actions/discard", { filter: { event_id: seeded[1].eventId, destination: "webhook" } })).json().count).toBe(1);
    expect((await post("/api/actions/pause", { destination: "webhook", reason: "maintenance" })).json().paused).toBe(true);
    const [p] = await db.sql`select paused_reason, paused_by from crm_destinations where name = 'webhook'`;
    expect(p).toEqual({ paused_reason: "maintenance", paused_by: "test-operator" });
    expect((await get("/api/overview")).json().destinations[1].status).toBe("paused");
    expect((await post("/api/actions/resume", { destination: "webhook" })).json().resumed).toBe(true);
    const test = (await post("/api/actions/test", { destination: "monelec" })).json();
    expect(test).toMatchObject({ ok: true, credentialsAccepted: true });
    expect(sandbox.accepted()).toEqual([]); // a check creates nothing
    expect((await post("/api/actions/test", { destination: "webhook" })).res.status).toBe(400); // not configured here
    const before = await db.sql`select count(*)::int as n from crm_deliveries where destination = 'monelec'`;
    const backfill = (await post("/api/actions/backfill", { destination: "monelec" })).json();
    expect(backfill.count).toBe(0); // every record already had a monelec delivery
    const since = new Date(Date.now() - 350_000).toISOString();
    expect((await post("/api/count", { action: "replay", since })).json().count).toBe(3); // lead, callback, other lead
    const replay = (await post("/api/actions/replay", { destination: "monelec", since })).json();
    expect(replay).toMatchObject({ count: 3, queued: { lead: 2, callback: 1, request: 0 } });
    const after = await db.sql`select count(*)::int as n from crm_deliveries where destination = 'monelec'`;
    expect(after[0].n - before[0].n).toBe(3);
    const actions = (await get("/api/activity")).json().entries.map((e: { action: string }) => e.action);
    expect(actions.slice(0, 7)).toEqual(["replay", "backfill", "test", "resume", "pause", "discard", "retry"]);
  });

  it("export: the filtered records with their delivery states, masked unless asked; bad bodies are 4xx naming the field", async () => {
    const masked = await post("/api/actions/export", { filter: { q: EMAIL } });
    expect(masked.res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const lines = masked.body.trim().split("\r\n");
    expect(lines[0]).toMatch(/^record_type,record_id,last_event,last_event_at,email,phone,firstName,lastName,.*,delivery_monelec,delivery_webhook$/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(leadId);
    expect(lines[1]).toContain("j***@***.fr");
    const latest = await db.sql<{ destination: string; state: string }[]>`
      select distinct on (destination) destination, state from crm_deliveries where record_id = ${leadId} order by destination, seq desc`;
    expect(lines[1].endsWith(`,${latest.find((l) => l.destination === "monelec")!.state},${latest.find((l) => l.destination === "webhook")!.state}`)).toBe(true);
    expect(lines[1]).toContain(",+***78,J***,D***,");
    const full = await post("/api/actions/export", { filter: { q: EMAIL }, personal: true });
    answers.pop(); // asked for on purpose, and recorded:
    expect(full.body).toContain(EMAIL);
    expect((await get("/api/activity")).json().entries[0]).toMatchObject({ action: "export", count: 1, detail: "with personal data", filter: { recordIds: [leadId] } });

    const res = await fetch(`${server.baseUrl}/api/actions/retry`, { method: "POST", headers: { "x-console-token": server.token }, body: "{}" });
    expect(res.status).toBe(415);
    expect((await post("/api/actions/replay", { destination: "monelec", since: "soon" })).json().error.fields).toEqual({ since: "must be an ISO 8601 date/time" });
    expect((await post("/api/actions/pause", {})).json().error.fields).toEqual({ destination: "is required: a destination name" });
    expect((await post("/api/actions/nope", {})).res.status).toBe(404);
  });

  it("no answer carried a full email, phone number or name (the reveal and the personal export excepted)", async () => {
    // Visit everything once more, including the page and its script.
    for (const path of ["/", "/app.js", "/api/meta", "/api/overview", "/api/overview?window=24h", "/api/activity", "/api/deliveries?limit=200"]) await get(path);
    for (const s of seeded.slice(0, 6)) await get(`/api/deliveries/${s.eventId}/${s.destination}`);
    expect(answers.length).toBeGreaterThan(40);
    for (const a of answers) for (const secret of SECRETS) expect(a.body.includes(secret), `${a.what} contains ${secret}`).toBe(false);
  });
});
