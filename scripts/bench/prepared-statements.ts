/**
 * Prepared statements on or off, on a direct connection: N form-start requests
 * through the real handler (the same single CTE statement production sends),
 * against a throwaway embedded Postgres, bridge off (no CRM work), rate limit
 * on (its upsert is part of the statement). Rounds alternate the two settings
 * so that warm-up and disk state favour neither.
 *
 *   npx tsx scripts/bench/prepared-statements.ts [requests=5000] [rounds=3] [concurrency=1]
 *
 * Prints a table; the numbers this repository keeps are in docs/operations.md.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAppDeps } from "../../src/app-deps.ts";
import { loadConfig } from "../../src/config.ts";
import { createSql } from "../../src/db/sql.ts";
import { formStart } from "../../src/functions/form-start.ts";
import { createLogger } from "../../src/log.ts";
import { freePort } from "../lib/free-port.ts";
import { migrate } from "../lib/migrate.ts";
import { startPostgres } from "../local/postgres.ts";
import { formStartBody } from "./bodies.ts";
import { percentile, round, sorted } from "./stats.ts";

const [requests = 5000, rounds = 3, concurrency = 1] = process.argv.slice(2).map(Number);

const dir = await mkdtemp(join(tmpdir(), "prepared-bench-"));
const pg = await startPostgres({ dataDir: join(dir, "data"), port: await freePort(), persistent: false });
try {
  await migrate(pg.url);
  const results: Record<string, { ms: number; p50: number; p95: number }[]> = { "prepare: true": [], "prepare: false": [] };
  for (let r = 0; r < rounds; r++) {
    for (const prepare of r % 2 === 0 ? [true, false] : [false, true]) {
      const sql = createSql(pg.url, { max: concurrency, prepare, applicationName: "bench" });
      const deps = createAppDeps(loadConfig({ DATABASE_URL: pg.url, RATE_LIMIT_PER_MINUTE: "1000000" }), { sql, log: createLogger({}, () => {}) });
      const handler = formStart(deps);
      const one = async (i: number) => {
        const res = await handler(new Request("http://bench.local/functions/v1/form-start", {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": `10.0.${(i >> 8) & 255}.${i & 255}` },
          body: JSON.stringify(formStartBody()),
        }));
        if (res.status !== 200) throw new Error(`form-start answered ${res.status}: ${await res.text()}`);
      };
      for (let i = 0; i < 50; i++) await one(i); // connections open, types fetched, JIT warm
      const times: number[] = [];
      let next = 0;
      const started = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < requests) {
          const i = next++;
          const t = performance.now();
          await one(i);
          times.push(performance.now() - t);
        }
      }));
      const ms = performance.now() - started;
      const s = sorted(times);
      results[`prepare: ${prepare}`].push({ ms, p50: percentile(s, 50), p95: percentile(s, 95) });
      await sql.end({ timeout: 5 });
    }
  }
  console.log(`${requests} form-start requests × ${rounds} rounds, concurrency ${concurrency}, embedded Postgres, direct connection`);
  console.log("| setting | total ms (each round) | requests/s (mean) | p50 ms | p95 ms |");
  console.log("|---|---|---|---|---|");
  for (const [name, runs] of Object.entries(results)) {
    const mean = (f: (x: (typeof runs)[number]) => number) => runs.reduce((a, x) => a + f(x), 0) / runs.length;
    console.log(`| ${name} | ${runs.map((x) => Math.round(x.ms)).join(" / ")} | ${round((requests * 1000) / mean((x) => x.ms), 0)} | ${round(mean((x) => x.p50))} | ${round(mean((x) => x.p95))} |`);
  }
} finally {
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}
