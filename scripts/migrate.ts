/** `npm run migrate` — applies supabase/migrations to DATABASE_URL (or the local stack's database). */
import { migrate } from "./lib/migrate.ts";

const url = process.env.DATABASE_URL ?? process.env.SUPABASE_DB_URL ??
  `postgres://postgres:postgres@127.0.0.1:${process.env.DB_PORT ?? 54322}/postgres`;
const result = await migrate(url);
console.log(`applied ${result.applied.length} migration(s)${result.applied.length ? `: ${result.applied.join(", ")}` : ""}; ${result.skipped.length} already applied`);
