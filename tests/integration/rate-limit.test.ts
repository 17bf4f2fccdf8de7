/**
 * The rate limit against real Postgres, through the form-start handler: it
 * holds across isolates, reads the client only from the configured header,
 * groups IPv6 by /64, caps every client together, cannot be doubled across a
 * bucket boundary, and survives whatever a header carries.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAppDeps } from "../../src/app-deps.ts";
import { loadConfig } from "../../src/config.ts";
import { createSql } from "../../src/db/sql.ts";
import { formStart } from "../../src/functions/form-start.ts";
import { createLogger } from "../../src/log.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

function isolate(env: Record<string, string>) {
  const config = loadConfig({ DATABASE_URL: db.url, ...env });
  return formStart(createAppDeps(config, { sql: createSql(db.url, 1), log: createLogger({}, () => {}) }));
}

let n = 0;
const post = (handler: ReturnType<typeof isolate>, headers: Record<string, string>) =>
  handler(new Request("http://local/form-start", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ email: `rl${n++}@example.fr` }),
  }));

describe("rate limit", () => {
  // First: the function's global bucket is shared with every test below.
  it("caps all clients of a function together", async () => {
    const handler = isolate({ RATE_LIMIT_PER_MINUTE: "100", RATE_LIMIT_GLOBAL_PER_MINUTE: "3" });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(handler, { "cf-connecting-ip": `198.51.100.${i}` })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it("a client past its own limit does not spend everyone's allowance", async () => {
    const greedy = isolate({ RATE_LIMIT_PER_MINUTE: "2", RATE_LIMIT_GLOBAL_PER_MINUTE: "10" });
    for (let i = 0; i < 50; i++) await post(greedy, { "cf-connecting-ip": "203.0.113.66" });
    // (The global bucket holds the 3 accepted above, plus this client's 2.)
    expect((await post(greedy, { "cf-connecting-ip": "203.0.113.67" })).status).toBe(200);
  });

  it("counts hits from every isolate against the same client", async () => {
    const isolates = [0, 1].map(() => isolate({ RATE_LIMIT_PER_MINUTE: "4" }));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await post(isolates[i % 2], { "cf-connecting-ip": "2001:db8::1" })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it("reads only the configured header: other address headers change nothing", async () => {
    const handler = isolate({ RATE_LIMIT_PER_MINUTE: "2" });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await post(handler, { "cf-connecting-ip": "192.0.2.10", "x-forwarded-for": `10.0.0.${i}`, "x-real-ip": `10.1.0.${i}` })).status);
    }
    expect(statuses).toEqual([200, 200, 429, 429, 429]);
  });

  it("with X-Forwarded-For, takes the entry the trusted proxies appended, not the client's", async () => {
    const handler = isolate({ RATE_LIMIT_PER_MINUTE: "2", CLIENT_IP_HEADER: "x-forwarded-for", TRUSTED_PROXY_HOPS: "1" });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(handler, { "x-forwarded-for": `10.9.0.${i}, 192.0.2.20` })).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it("one IPv6 /64 is one client", async () => {
    const handler = isolate({ RATE_LIMIT_PER_MINUTE: "2" });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(handler, { "cf-connecting-ip": `2001:db8:77:1:${i}::${i + 1}` })).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect((await post(handler, { "cf-connecting-ip": "2001:db8:77:2::1" })).status).toBe(200);
  });

  it("a full previous bucket still counts just after the boundary (no doubling)", async () => {
    const [{ elapsed }] = await db.sql`
      select extract(epoch from now() - date_bin('1 minute', now(), timestamptz 'epoch'))::float8 as elapsed`;
    if (elapsed > 55) await new Promise((r) => setTimeout(r, (61 - elapsed) * 1000));
    await db.sql`
      insert into rate_limit_buckets (key, window_start, hits)
      values (sha256(convert_to('form-start:192.0.2.30', 'UTF8')), date_bin('1 minute', now(), timestamptz 'epoch') - interval '1 minute', 1000)`;
    const res = await post(isolate({ RATE_LIMIT_PER_MINUTE: "4" }), { "cf-connecting-ip": "192.0.2.30" });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("a 10 KB or binary-looking address header is a normal client, never a 5xx", async () => {
    const handler = isolate({ RATE_LIMIT_PER_MINUTE: "4" });
    expect((await post(handler, { "cf-connecting-ip": "x".repeat(10_000) })).status).toBe(200);
    expect((await post(handler, { "cf-connecting-ip": "\u00ff\u00fe' or 1=1 --" })).status).toBe(200);
    const [sizes] = await db.sql`select min(length(key))::int as min, max(length(key))::int as max from rate_limit_buckets`;
    expect(sizes).toEqual({ min: 32, max: 32 });
  });
});
