/** The limit holds across isolates: two independent pools (two "isolates") share one count. */
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

describe("rate limit across isolates", () => {
  it("counts hits from every isolate against the same client", async () => {
    const config = loadConfig({ DATABASE_URL: db.url, RATE_LIMIT_PER_MINUTE: "4" });
    const isolates = [0, 1].map(() =>
      formStart(createAppDeps(config, { sql: createSql(db.url, 1), log: createLogger({}, () => {}) }))
    );
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await isolates[i % 2](new Request("http://local/form-start", {
        method: "POST",
        headers: { "content-type": "application/json", "cf-connecting-ip": "2001:db8::1" },
        body: JSON.stringify({ email: `iso${i}@example.fr` }),
      }));
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });
});
