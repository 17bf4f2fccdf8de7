import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestStack, eventually, type TestStack } from "../helpers/test-stack.ts";
let s: TestStack;
beforeAll(async () => { s = await startTestStack(); }, 60000);
afterAll(async () => { await s?.close(); });
it("smoke", async () => {
  const r = await s.call("form-start", { email: "a@example.fr" });
  if (r.status !== 200) console.log(s.logs.join("\n"));
  expect(r.status).toBe(200);
  const { lead_id } = await r.json();
  await eventually(() => s.crmSandbox!.accepted().length === 1);
  const r2 = await s.call("form-start", { email: "a@example.fr", lead_id, firstname: "Z" });
  expect(r2.status).toBe(200);
  await eventually(() => s.crmSandbox!.accepted().length === 2);
  const rows = await s.db.sql`select destination, state, attempts from crm_deliveries`;
  console.log(rows, await s.db.sql`select * from crm_attempts`);
  console.log(s.logs.slice(-5).join("\n"));
});
