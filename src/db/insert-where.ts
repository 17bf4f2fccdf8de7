/**
 * `insert into <table> (<cols>) select <values> where <condition>`: an insert
 * that a CTE in the same statement can veto (the rate-limit gate).
 */
import type { Sql } from "./sql.ts";

export function insertWhere(sql: Sql, table: string, row: Record<string, unknown>, condition: ReturnType<Sql>) {
  const columns = Object.keys(row);
  const values = columns
    .map((c) => sql`${row[c] as never}`)
    .reduce((list, value) => sql`${list}, ${value}`);
  return sql`insert into ${sql(table)} (${sql(columns)}) select ${values} where ${condition}`;
}
