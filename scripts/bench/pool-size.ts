/**
 * DB_POOL_MAX, measured: form-start under closed-loop load (autocannon, in its
 * own process) against the local stack — the real Deno-served function, the
 * embedded Postgres — once per pool size. Every size gets its own functions
 * process (a fresh pool) on the same database; bridge off and rate limit off,
 * so the database round trip is all a request waits for.
 *
 *   npx tsx scripts/bench/pool-size.ts [sizes=1,2,4,8] [seconds=10] [connections=32]
 *
 * Prints a table; the numbers this repository keeps, and how they were read
 * to choose the default, are in docs/operations.md ("Pool size").
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../lib/free-port.ts";
import { startStack } from "../local/stack.ts";
import { formStartBody } from "./bodies.ts";
import { startLoadGenerator } from "./load.ts";
import { percentile, round, sorted } from "./stats.ts";

const [sizesArg = "1,2,4,8", secondsArg = "10", connectionsArg = "32"] = process.argv.slice(2);
const sizes = sizesArg.split(",").map(Number);
const seconds = Number(secondsArg);
const connections = Number(connectionsArg);

const dir = await mkdtemp(join(tmpdir(), "pool-size-bench-"));
const common = { CRM_SANDBOX_PORT: "0", STRIPE_DOUBLE_PORT: "0", RATE_LIMIT_PER_MINUTE: "0", MONELEC_API_KEY: "" };
const quiet = () => {};
const owner = await startStack({
  env: { ...common, FUNCTIONS_PORT: String(await freePort()), DB_PORT: String(await freePort()), DB_POOL_MAX: "1" },
  dataDir: dir,
  onOutput: quiet,
  sweep: false,
});
const load = startLoadGenerator();
try {
  const rows: string[] = [];
  for (const size of sizes) {
    const stack = await startStack({
      env: { ...common, DATABASE_URL: owner.databaseUrl, FUNCTIONS_PORT: String(await freePort()), DB_POOL_MAX: String(size) },
      dataDir: join(dir, `pool-${size}`),
      onOutput: quiet,
      sweep: false,
    });
    try {
      const u = new URL(stack.functionsUrl);
      const job = {
        origin: u.origin,
        startPath: `${u.pathname}/form-start`,
        submitPath: `${u.pathname}/form-submit`,
        fixed: { path: `${u.pathname}/form-start`, body: JSON.stringify(formStartBody()) },
        headers: { authorization: `Bearer ${stack.anonKey}`, "content-type": "application/json" },
        connections,
      };
      await load.run({ ...job, durationS: 3 }); // warm-up: JIT, the pool's connections
      const outcome = await load.run({ ...job, durationS: seconds });
      const times = sorted(outcome.latencies["form-start"]);
      const ok = outcome.status["form-start"]["200"] ?? 0;
      const other = Object.entries(outcome.status["form-start"]).filter(([s]) => s !== "200").map(([s, n]) => `${n}×${s}`).join(" ") || "none";
      rows.push(`| ${size} | ${round(ok / outcome.durationS, 0)} | ${round(percentile(times, 50))} | ${round(percentile(times, 95))} | ${round(percentile(times, 99))} | ${other}${outcome.errors ? `, ${outcome.errors} errors` : ""} |`);
      console.error(rows.at(-1));
    } finally {
      await stack.stop();
    }
  }
  console.log(`form-start, ${connections} concurrent clients, ${seconds} s per size, one functions process per size (local stack, embedded Postgres)`);
  console.log("| DB_POOL_MAX | requests/s | p50 ms | p95 ms | p99 ms | non-200 |");
  console.log("|---|---|---|---|---|---|");
  for (const row of rows) console.log(row);
} finally {
  await load.stop();
  await owner.stop();
  await rm(dir, { recursive: true, force: true });
}
