/**
 * One throwaway embedded Postgres for the whole test run; every test file then
 * makes its own database in it (tests/helpers/database.ts).
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startPostgres } from "../../scripts/local/postgres.ts";
import { freePort } from "../../scripts/lib/free-port.ts";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), "raccordement-test-pg-"));
  const pg = await startPostgres({
    dataDir: join(dir, "data"),
    port: await freePort(),
    persistent: false,
    // Throwaway data: durability settings only cost time here.
    settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
  });
  project.provide("pgAdminUrl", pg.url);
  return async () => {
    await pg.stop();
  };
}
