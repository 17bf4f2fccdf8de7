/** A fresh, migrated database for one test file, in the run's embedded Postgres. */
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";
import { migrate } from "../../scripts/lib/migrate.ts";
import { createSql, type Pool } from "../../src/db/sql.ts";

export interface TestDatabase {
  url: string;
  sql: Pool;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject("pgAdminUrl");
  const name = `t_${randomUUID().replace(/-/g, "").slice(0, 16)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  await migrate(url);
  const sql = createSql(url, 4);
  return {
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
