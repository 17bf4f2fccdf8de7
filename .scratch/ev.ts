import { createSql } from "../src/db/sql.ts";
import { migrate } from "../scripts/lib/migrate.ts";
import { eventCtes } from "../src/outbox/enqueue.ts";
const url = Deno.args[0];
const sql = createSql(url, 1);
const id = crypto.randomUUID();
const ev = { id: crypto.randomUUID(), type: "lead.upserted" as const, recordType: "lead" as const, recordId: id, data: { a: 1 } };
try {
  console.log(await sql`with lead as (insert into leads (id, email) values (${id}, 'x@y.fr') returning id), ${eventCtes(sql, ev, { destinations: [{ name: "monelec", leaseMs: 15000 }], lease: { claimToken: crypto.randomUUID() } }, "lead")} select 1`);
} catch (e) { console.log("ERR", (e as Error).message); }
await sql.end();
