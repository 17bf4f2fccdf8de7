/**
 * Two records of one person — a lead and its request — delivered to Pipedrive
 * at the same moment: each looks the person up, and without a lock shared by
 * every deliverer both would find nobody and create one. The double (Pipedrive
 * accepts two persons with one email, as the real API does) is the oracle.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadDestinations } from "../../src/config.ts";
import { leadBody, requestBody } from "../../src/crm/monelec-bodies.ts";
import { serveDoubles, type DoublesServer } from "../../src/destinations/double-kit.ts";
import { createPipedriveDouble } from "../../src/destinations/pipedrive/double.ts";
import { pipedrive } from "../../src/destinations/pipedrive/index.ts";
import { createLogger } from "../../src/log.ts";
import { deliverNow } from "../../src/outbox/deliver.ts";
import { enqueue } from "../../src/outbox/enqueue.ts";
import { createOutbox } from "../../src/outbox/outbox.ts";
import { sweep } from "../../src/outbox/sweep.ts";
import type { Fanout, NewEvent } from "../../src/outbox/types.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

let db: TestDatabase;
let doubles: DoublesServer;
beforeAll(async () => {
  db = await createTestDatabase();
  doubles = await serveDoubles([createPipedriveDouble()]);
});
afterAll(async () => {
  await doubles?.close();
  await db?.drop();
});

it("a lead and its request delivered at once create one person at Pipedrive", async () => {
  const ob = createOutbox({
    sql: db.sql,
    log: createLogger({}, () => {}),
    origin: "test",
    destinations: loadDestinations(pipedrive.localEnv(doubles.urlOf("pipedrive")), 2_000),
    timeoutMs: 2_000,
    retryScheduleMs: [100, 100, 100],
  });
  const fanout: Fanout = { destinations: [{ name: "pipedrive", leaseMs: 30_000 }] };
  const email = "same.person@example.fr";
  const pairs = Array.from({ length: 5 }, (_, i) => {
    const leadId = crypto.randomUUID();
    const requestId = crypto.randomUUID();
    const who = `p${i}.${email}`;
    const lead: NewEvent = { id: crypto.randomUUID(), type: "lead.upserted", recordType: "lead", recordId: leadId,
      data: leadBody({ id: leadId, email: who, firstname: "Marie", lastname: "Curie" }) };
    const request: NewEvent = { id: crypto.randomUUID(), type: "request.upserted", recordType: "request", recordId: requestId,
      data: requestBody({ id: requestId, email: who, phone: null, full_name: "Marie Curie", client_type: "particulier",
        company_name: null, siren: null, type_raccordement: "definitif", usage: null, address: "1 rue X", city: "Paris",
        zip_code: "75001", phase: null, power_kva: null, is_viabilise: null, status: "submitted", payment_status: "pending", payment: null }) };
    return [lead, request];
  });
  for (const pair of pairs) for (const e of pair) await enqueue(db.sql, e, fanout);
  // Both records of each person at the same moment.
  await Promise.all(pairs.flat().map((e) => deliverNow(ob, e, fanout)));
  for (let i = 0; i < 40 && (await db.sql`select 1 from crm_deliveries where state <> 'delivered'`).length > 0; i++) {
    await new Promise((r) => setTimeout(r, 150));
    await sweep(ob);
  }
  expect((await db.sql`select state, count(*)::int as n from crm_deliveries group by state`)).toEqual([{ state: "delivered", n: 10 }]);
  const persons = doubles.get("pipedrive").double.state().persons as Array<{ emails?: Array<{ value: string }> }>;
  const byEmail = new Map<string, number>();
  for (const p of persons) for (const e of p.emails ?? []) byEmail.set(e.value, (byEmail.get(e.value) ?? 0) + 1);
  expect([...byEmail.values()]).toEqual([1, 1, 1, 1, 1]);
  expect((await db.sql`select count(*)::int as n from crm_locks`)[0].n).toBe(0); // every lock released
});
