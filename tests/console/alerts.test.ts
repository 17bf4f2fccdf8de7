/**
 * Alerts (CONTRACT §6) against a loopback chat webhook: one message per
 * incident, never one per event; one "resolved" when it clears; several
 * sweepers at once send once; a refused send is tried again; no personal data.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { evaluateAlerts } from "../../src/alerts/evaluate-alerts.ts";
import { createLogger } from "../../src/log.ts";
import { discardDead } from "../../src/operator/retry.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { registerDestination, seedEvent, seedLead, startReceiver } from "./seed.ts";

let db: TestDatabase;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const log = createLogger({}, () => {});
const EMAIL = "jeanne.dupont@example.fr";
const PHONE = "+33612345678";

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = await startReceiver();
  await registerDestination(db.sql, "monelec");
  await registerDestination(db.sql, "webhook");
});
afterAll(async () => {
  await receiver?.close();
  await db?.drop();
});
beforeEach(async () => {
  await db.sql`truncate crm_events, crm_deliveries, crm_attempts, alert_incidents`;
  await db.sql`update crm_destinations set paused_at = null, circuit_open_until = null`;
  receiver.messages.length = 0;
  receiver.status.code = 200;
});

const config = () => ({ webhookUrl: receiver.url, pendingAgeMs: 15 * 60_000 });
const evaluate = () => evaluateAlerts(db.sql, config(), fetch, log);

describe("alerts", () => {
  it("a dead delivery → one message; fifty more within the incident → none; all discarded → one resolved", async () => {
    const lead = await seedLead(db.sql, { email: EMAIL, phone: PHONE, firstname: "Jeanne", lastname: "Dupont" });
    await seedEvent(db.sql, "lead", lead, { monelec: "dead" });
    await evaluate();
    expect(receiver.messages).toHaveLength(1);
    expect(receiver.messages[0]).toMatch(/monelec/);
    expect(receiver.messages[0]).toMatch(/1 livraison\(s\) en échec/);
    expect(receiver.messages[0]).toMatch(/HTTP 422/);

    for (let i = 0; i < 50; i++) await seedEvent(db.sql, "lead", lead, { monelec: "dead" });
    for (let i = 0; i < 3; i++) await evaluate();
    expect(receiver.messages).toHaveLength(1);

    expect(await discardDead(db.sql, { destination: "monelec" })).toBe(51);
    await evaluate();
    await evaluate();
    expect(receiver.messages).toHaveLength(2);
    expect(receiver.messages[1]).toMatch(/^✅ .*Résolu.*monelec/);

    // A new death is a new incident: told again.
    await seedEvent(db.sql, "lead", lead, { monelec: "dead" });
    await evaluate();
    expect(receiver.messages).toHaveLength(3);
    for (const m of receiver.messages) {
      expect(m).not.toContain(EMAIL);
      expect(m).not.toContain("Jeanne");
      expect(m).not.toContain("Dupont");
      expect(m).not.toMatch(/612345678/);
      expect(m).not.toMatch(/https?:\/\//);
    }
  });

  it("a circuit that opens → one message, from several sweepers at once; closed → one resolved", async () => {
    await db.sql`update crm_destinations set circuit_open_until = now() + interval '30 seconds', circuit_reason = 'HTTP 503' where name = 'webhook'`;
    await Promise.all(Array.from({ length: 6 }, evaluate));
    expect(receiver.messages).toHaveLength(1);
    expect(receiver.messages[0]).toMatch(/webhook.*circuit ouvert/);
    await Promise.all(Array.from({ length: 6 }, evaluate));
    expect(receiver.messages).toHaveLength(1);
    await db.sql`update crm_destinations set circuit_open_until = null where name = 'webhook'`;
    await Promise.all(Array.from({ length: 6 }, evaluate));
    expect(receiver.messages).toHaveLength(2);
    expect(receiver.messages[1]).toMatch(/Résolu — webhook : circuit refermé/);
  });

  it("the oldest pending delivery past ALERT_PENDING_AGE → one message; drained → resolved; a paused destination is not an incident", async () => {
    const lead = await seedLead(db.sql, { email: EMAIL, phone: PHONE });
    await seedEvent(db.sql, "lead", lead, { monelec: "pending" }, { ageSeconds: 10 * 60 });
    await evaluate();
    expect(receiver.messages).toHaveLength(0); // 10 min < 15 min
    await seedEvent(db.sql, "lead", lead, { monelec: "blocked", webhook: "pending" }, { ageSeconds: 20 * 60 });
    await db.sql`update crm_destinations set paused_at = now() where name = 'webhook'`;
    await evaluate();
    await evaluate();
    expect(receiver.messages).toHaveLength(1);
    expect(receiver.messages[0]).toMatch(/Livraisons en retard — monelec : .*attend depuis 20 min \(seuil 15 min\) ; 2 en attente/);
    await db.sql`update crm_deliveries set state = 'delivered', delivered_at = now() where destination = 'monelec'`;
    await evaluate();
    expect(receiver.messages).toHaveLength(2);
    expect(receiver.messages[1]).toMatch(/Résolu — monelec : retard résorbé/);
  });

  it("a webhook that refuses the message: tried again later, sent once it accepts", async () => {
    const lead = await seedLead(db.sql, { email: EMAIL });
    await seedEvent(db.sql, "lead", lead, { monelec: "dead" });
    receiver.status.code = 500;
    expect((await evaluate()).failed).toBe(1);
    receiver.status.code = 200;
    expect((await evaluate()).sent).toBe(0); // its claim still stands
    await db.sql`update alert_incidents set claimed_at = now() - interval '3 minutes'`;
    expect((await evaluate()).sent).toBe(1);
    await evaluate();
    expect(receiver.messages).toHaveLength(1);
  });

  it("an incident that clears before it was ever told stays silent; no webhook URL = nothing at all", async () => {
    const lead = await seedLead(db.sql, { email: EMAIL });
    await seedEvent(db.sql, "lead", lead, { monelec: "dead" });
    receiver.status.code = 500;
    await evaluate();
    receiver.status.code = 200;
    await discardDead(db.sql, {});
    await db.sql`update alert_incidents set claimed_at = now() - interval '3 minutes'`;
    await evaluate();
    expect(receiver.messages).toHaveLength(0);

    await seedEvent(db.sql, "lead", lead, { monelec: "dead" });
    expect(await evaluateAlerts(db.sql, { webhookUrl: undefined, pendingAgeMs: 1 }, fetch, log)).toEqual({ open: 0, sent: 0, failed: 0 });
    expect(receiver.messages).toHaveLength(0);
    const [{ n }] = await db.sql`select count(*)::int as n from alert_incidents where resolved_at is null`;
    expect(n).toBe(0);
  });
});
