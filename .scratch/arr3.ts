import { createSql } from "../src/db/sql.ts";
const sql = createSql(Deno.args[0], 1);
const v = ["monelec"];
const frag = sql`x as (select * from unnest(${v}::text[], ${[5]}::int[]) as d(a, b))`;
try { console.log(await sql`with ${frag} select * from x`); } catch (e) { console.log("ERR nested", (e as Error).message); }
try { console.log(await sql`select ${v}::text[] as x`); } catch (e) { console.log("ERR plain", (e as Error).message); }
try { console.log(await sql`select ${["a","b"]}::text[] as x`); } catch (e) { console.log("ERR plain2", (e as Error).message); }
await sql.end();
