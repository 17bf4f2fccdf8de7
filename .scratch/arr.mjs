import postgres from "postgres";
const sql = postgres(process.argv[2], { prepare: false, max: 1, onnotice(){} });
for (const v of [["a"], ["a","b"], [true], [1.5, 2]]) {
  try { console.log(JSON.stringify(v), await sql`select ${v}::text[] as x`); } catch (e) { console.log("ERR", JSON.stringify(v), e.message); }
  try { console.log("arr", JSON.stringify(v), await sql`select ${sql.array(v)}::text[] as x`); } catch (e) { console.log("ERR arr", JSON.stringify(v), e.message); }
}
await sql.end();
