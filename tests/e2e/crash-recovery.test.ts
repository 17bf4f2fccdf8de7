/**
 * The whole local stack (`npm start`) killed with SIGKILL while deliveries are
 * in flight: after a restart, all data is there and every committed event
 * reaches the CRM, each accepted once. The CRM sandbox belongs to the test so
 * that it outlives the crash.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localDatabaseUrl } from "../../scripts/lib/database-url.ts";
import { LOCAL_ANON_KEY } from "../../scripts/local/dev-keys.ts";
import { startCrmSandbox, type CrmSandbox } from "../../scripts/local/crm-sandbox.ts";
import { validLead, validSubmit } from "../../scripts/lib/sample-bodies.ts";
import { freePort } from "../../scripts/lib/free-port.ts";
import { spawnStack, type StackProcess } from "../../scripts/lib/stack-process.ts";
import { eventually } from "../helpers/test-stack.ts";

const KEY = "crash-test-key";
let crm: CrmSandbox;
let env: Record<string, string>;
let running: StackProcess | undefined;

beforeAll(async () => {
  crm = await startCrmSandbox({ apiKey: KEY, quiet: true });
  env = {
    LOCAL_DATA_DIR: await mkdtemp(join(tmpdir(), "raccordement-crash-")),
    FUNCTIONS_PORT: String(await freePort()),
    DB_PORT: String(await freePort()),
    CRM_SANDBOX_PORT: "0",
    STRIPE_DOUBLE_PORT: "0",
    EXAMPLE_PAGE_PORT: "0",
    MONELEC_API_URL: crm.url,
    MONELEC_API_KEY: KEY,
    CRM_TIMEOUT_MS: "2000",
    CRM_RETRY_SCHEDULE: "200ms,200ms,200ms,200ms,200ms",
    CRM_SWEEP_INTERVAL_MS: "200",
  };
});
afterAll(async () => {
  await running?.killGroup("SIGTERM");
  await crm?.close();
});

const call = (name: string, body: unknown) =>
  fetch(`${running!.functionsUrl}/${name}`, {
    method: "POST",
    headers: { authorization: `Bearer ${LOCAL_ANON_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("crash recovery", () => {
  it("SIGKILL of the whole stack mid-delivery loses nothing; SIGTERM leaves no orphan Postgres", async () => {
    const started = Date.now();
    running = await spawnStack(env);
    console.log(`npm start came up in ${Date.now() - started} ms`);

    crm.setFaults({ mode: "slow", delayMs: 1_500 });
    const leadIds: string[] = [];
    const requestIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const lead = await call("form-start", validLead());
      expect(lead.status).toBe(200);
      leadIds.push((await lead.json()).lead_id);
      const request = await call("form-submit", validSubmit());
      expect(request.status).toBe(200);
      requestIds.push((await request.json()).request_id);
    }
    await eventually(() => crm.attempts() >= 3, 5_000); // deliveries are in flight
    await running.killGroup("SIGKILL");
    const acceptedBeforeRestart = crm.accepted().length;
    expect(acceptedBeforeRestart).toBeLessThan(10);

    crm.setFaults({ mode: "ok" });
    running = await spawnStack(env);
    const sql = postgres(localDatabaseUrl(Number(env.DB_PORT)), { max: 1, onnotice: () => {} });
    try {
      const leads = await sql`select id from leads`;
      const requests = await sql`select id from requests`;
      expect(leads.map((r) => r.id).sort()).toEqual([...leadIds].sort());
      expect(requests.map((r) => r.id).sort()).toEqual([...requestIds].sort());

      const events = (await sql`select id from crm_events`).map((r) => r.id);
      expect(events).toHaveLength(10);
      await eventually(() => crm.accepted().length === 10, 30_000, 200);
      expect(crm.accepted().map((c) => c.idempotencyKey).sort()).toEqual([...events].sort());
      await eventually(async () => (await sql`select 1 from crm_deliveries where state <> 'delivered'`).length === 0, 10_000);
    } finally {
      await sql.end();
    }

    await running.killGroup("SIGTERM");
    expect(running.output.join("")).toContain("stopping");
    const pidFile = join(env.LOCAL_DATA_DIR, "postgres", "postmaster.pid");
    if (existsSync(pidFile)) {
      const pid = Number((await readFile(pidFile, "utf8")).split("\n")[0]);
      expect(() => process.kill(pid, 0)).toThrow();
    }
    running = undefined;
  }, 120_000);
});
