/** The console's new actions in `npm run crm` too: replay, export, and the activity log of the CLI's changes. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { crmCli } from "../helpers/crm-cli.ts";
import { registerDestination, seedEvent, seedLead } from "./seed.ts";

let db: TestDatabase;
let env: Record<string, string>;
let lead: string;

beforeAll(async () => {
  db = await createTestDatabase();
  env = { DATABASE_URL: db.url, MONELEC_API_KEY: "k", MONELEC_API_URL: "http://127.0.0.1:9/api", CONSOLE_ACTOR: "marie" };
  await registerDestination(db.sql, "monelec");
  lead = await seedLead(db.sql, { email: "cli.person@example.fr", phone: "+33611223344", firstname: "Paul" });
  await seedEvent(db.sql, "lead", lead, { monelec: "dead" }, { ageSeconds: 120 });
});
afterAll(async () => db?.drop());

describe("npm run crm: replay, export, activity", () => {
  it("replay --destination --since queues the current snapshot of each record once, and is recorded", async () => {
    const bad = await crmCli(["replay", "--destination", "monelec"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since/);
    const r = await crmCli(["replay", "--destination", "monelec", "--since", new Date(Date.now() - 600_000).toISOString(), "--json"], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ destination: "monelec", queued: { lead: 1, callback: 0, request: 0 }, gone: 0 });
    const rows = await db.sql`select d.state, e.data->>'email' as email from crm_deliveries d join crm_events e on e.id = d.event_id
                              where d.record_id = ${lead} order by d.seq`;
    expect(rows.map((x) => x.state)).toEqual(["dead", "pending"]);
    expect(rows[1].email).toBe("cli.person@example.fr");
    const [a] = await db.sql`select actor, source, action, count, filter from operator_actions order by id desc limit 1`;
    expect(a).toMatchObject({ actor: "marie", source: "cli", action: "replay", count: 1, filter: { destination: "monelec" } });
  }, 60_000);

  it("export writes the records as CSV, masked unless --personal", async () => {
    const masked = await crmCli(["export", "--destination", "monelec"], env);
    expect(masked.code).toBe(0);
    expect(masked.stdout.split("\r\n")[0]).toMatch(/^record_type,record_id,.*,delivery_monelec$/);
    expect(masked.stdout).toContain(`lead,${lead},lead.upserted`);
    expect(masked.stdout).not.toContain("cli.person@example.fr");
    expect(masked.stdout).not.toContain("Paul");
    const full = await crmCli(["export", "--state", "dead", "--personal"], env);
    expect(full.stdout).toContain("cli.person@example.fr,+33611223344,Paul");
    expect((await crmCli(["export", "--state", "lost"], env)).code).toBe(2);
    const acts = await db.sql`select action, detail from operator_actions where action = 'export' order by id`;
    expect(acts.map((x) => x.detail)).toEqual(["personal data masked", "with personal data"]);
  }, 60_000);
});
