/**
 * What a Postgres URL in the deploy env file points at, for the checks and for
 * `db push` (docs/deploy.md, "Direct connection vs transaction pooler"):
 *   direct              db.<ref>.supabase.co:5432      (IPv6 unless the IPv4 add-on)
 *   dedicated-pooler    db.<ref>.supabase.co:6543      (PgBouncer, transaction mode)
 *   transaction-pooler  *.pooler.supabase.com:6543     (Supavisor, user postgres.<ref>, IPv4)
 *   session-pooler      *.pooler.supabase.com:5432     (Supavisor, user postgres.<ref>, IPv4)
 * Messages never quote a URL (it holds the database password).
 */

export type DbUrlKind = "direct" | "dedicated-pooler" | "transaction-pooler" | "session-pooler" | "local" | "other";

export interface DbUrlInfo {
  kind: DbUrlKind;
  /** The project the URL names (host db.<ref>… or pooler user postgres.<ref>), if any. */
  ref?: string;
}

/** undefined: not a postgres:// URL. */
export function describeDbUrl(value: string): DbUrlInfo | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return undefined;
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") return undefined;
  const host = u.hostname.toLowerCase();
  const port = u.port || "5432";
  const user = decodeURIComponent(u.username);
  if (/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(host)) return { kind: "local" };
  const direct = /^db\.([a-z]{20})\.supabase\.co$/.exec(host);
  if (direct) return { kind: port === "6543" ? "dedicated-pooler" : "direct", ref: direct[1] };
  if (/\.pooler\.supabase\.com$/.test(host)) {
    const ref = /^[^.]+\.([a-z]{20})$/.exec(user)?.[1];
    return { kind: port === "6543" ? "transaction-pooler" : "session-pooler", ref };
  }
  return { kind: "other" };
}

/**
 * The URL `supabase db push --db-url` should use, from a pooler URL: Supavisor
 * serves session mode on port 5432 of the same host, with the same user and
 * password — what migrations need (a whole session, prepared statements), over IPv4.
 */
export function sessionPoolerUrl(value: string): string | undefined {
  const info = describeDbUrl(value);
  if (info?.kind === "session-pooler") return value;
  if (info?.kind !== "transaction-pooler") return undefined;
  const u = new URL(value);
  u.port = "5432";
  u.searchParams.delete("pgbouncer");
  return u.toString();
}

export type PushTarget = { ok: true; url?: { value: string; label: string }; note?: string } | { ok: false; message: string };

/**
 * Where `db push` connects. SUPABASE_DB_PUSH_URL (environment, then env file)
 * is used as given, once it names this project; else a pooler DATABASE_URL of
 * this project (env file, then environment), on its session port; else the
 * CLI's own route (`--remote=<ref>`: the direct host, IPv6).
 */
export function dbPushTarget(
  projectRef: string,
  sources: { env: Record<string, string | undefined>; file: ReadonlyMap<string, string> },
): PushTarget {
  const pick = (name: string, order: ("env" | "file")[]) => {
    for (const where of order) {
      const v = (where === "env" ? sources.env[name] : sources.file.get(name))?.trim();
      if (v) return { value: v, from: where === "env" ? `${name} (environment)` : `${name} (env file)` };
    }
    return undefined;
  };
  const explicit = pick("SUPABASE_DB_PUSH_URL", ["env", "file"]);
  if (explicit) {
    const info = describeDbUrl(explicit.value);
    if (!info) return { ok: false, message: `${explicit.from} is not a postgres:// URL.` };
    if (info.ref && info.ref !== projectRef) {
      return { ok: false, message: `${explicit.from} names project ${info.ref}, but this deploy targets ${projectRef}: migrations would go to the wrong database.` };
    }
    const session = info.kind === "transaction-pooler" ? sessionPoolerUrl(explicit.value)! : explicit.value;
    return {
      ok: true,
      url: { value: session, label: explicit.from },
      note: info.kind === "transaction-pooler" ? `db push uses the session pooler (port 5432) of ${explicit.from}: migrations need a whole session.` : undefined,
    };
  }
  const pooled = pick("DATABASE_URL", ["file", "env"]);
  if (pooled) {
    const info = describeDbUrl(pooled.value);
    const session = sessionPoolerUrl(pooled.value);
    if (session && info?.ref === projectRef) {
      return { ok: true, url: { value: session, label: `the session pooler of ${pooled.from}` } };
    }
  }
  return { ok: true };
}

/** The CLI's words when the direct host (IPv6 only) cannot be reached from this network. */
export const DIRECT_HOST_UNREACHABLE =
  /IPv6 is not supported|DbConfigIpv6Error|network is unreachable|no route to host|dial tcp \[[0-9a-f:]+\]|lookup db\.[a-z]{20}\.supabase\.co.*no such host/i;

export function directHostRoute(projectRef: string): string {
  return [
    "The CLI could not reach the project's direct database host (db.<ref>.supabase.co: IPv6 only, unless the project has the IPv4 add-on).",
    "Push through Supabase's pooler instead, which is reachable over IPv4:",
    `  1. Dashboard → project ${projectRef} → Connect → "Session pooler": copy the URI`,
    `     (postgresql://postgres.${projectRef}:<password>@aws-0-<region>.pooler.supabase.com:5432/postgres, with your database password).`,
    "  2. Give it to deploy, either way:",
    "       SUPABASE_DB_PUSH_URL=<that URI> npm run deploy -- --only db     (or a SUPABASE_DB_PUSH_URL= line in the env file)",
    "     or set DATABASE_URL in the env file to the transaction pooler (same host, port 6543; the functions use it too):",
    "     deploy then pushes through the same host's session port (5432).",
    "  3. Run npm run deploy again (every step is safe to repeat). See docs/deploy.md.",
  ].join("\n");
}
