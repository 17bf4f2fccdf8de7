/**
 * Which Postgres the tools use: DATABASE_URL, else SUPABASE_DB_URL, else the
 * local stack's embedded server (CONTRACT §1).
 */
export const LOCAL_DB_USER = "postgres";
export const LOCAL_DB_PASSWORD = "postgres";

export function localDatabaseUrl(port: number): string {
  return `postgres://${LOCAL_DB_USER}:${LOCAL_DB_PASSWORD}@127.0.0.1:${port}/postgres`;
}

export function databaseUrlFromEnv(env: Record<string, string | undefined>): string {
  return env.DATABASE_URL ?? env.SUPABASE_DB_URL ?? localDatabaseUrl(Number(env.DB_PORT ?? 54322));
}
