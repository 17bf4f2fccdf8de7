import postgres from "postgres";
const sql = postgres(process.argv[2], { prepare: false, max: 1, onnotice(){}, transform: { undefined: null } });
const v = ["monelec"];
const frag = sql`x as (select * from unnest(${v}::text[], ${[5]}::int[]) as d(a, b))`;
try { console.log(await sql`with ${frag} select * from x`); } catch (e) { console.log("ERR nested", e.message); }
const frag2 = sql`x as (select * from unnest(${sql.array(v)}::text[], ${sql.array([5])}::int[]) as d(a, b))`;
try { console.log(await sql`with ${frag2} select * from x`); } catch (e) { console.log("ERR nested arr", e.message); }
await sql.end();
