/** `npm run migrate` — applies supabase/migrations to DATABASE_URL (or the local stack's database). */
import { databaseUrlFromEnv } from "./lib/database-url.ts";
import { migrate } from "./lib/migrate.ts";

const result = await migrate(databaseUrlFromEnv(process.env));
console.log(`applied ${result.applied.length} migration(s)${result.applied.length ? `: ${result.applied.join(", ")}` : ""}; ${result.skipped.length} already applied`);
