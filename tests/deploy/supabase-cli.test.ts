/**
 * The deploy commands, run by the real Supabase CLI pinned in package.json,
 * offline: against a stand-in Management API on loopback (functions deploy,
 * secrets set, projects list) and the test run's embedded Postgres (db push).
 * This is what proves, without a Supabase account, that `--use-api` uploads
 * the code outside supabase/functions (src/…) with the import map, that the
 * migrations are accepted by `supabase db push`, and that [db.vault] fills
 * Vault for the crm-dispatch schedule.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { migrate } from "../../scripts/lib/migrate.ts";
import { FUNCTION_SECRETS } from "../../scripts/deploy/env-file.ts";
import { loadFunctions } from "../../scripts/deploy/functions.ts";
import { deploy } from "../../scripts/deploy/main.ts";
import { buildPlan } from "../../scripts/deploy/plan.ts";
import { checkLoggedIn, NOT_LOGGED_IN_MESSAGE } from "../../scripts/deploy/preflight.ts";
import { FAKE_REF, FAKE_TOKEN, type FakeApi, runCliOffline, startFakeManagementApi } from "./fake-management-api.ts";
import { importGraph } from "./import-graph.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SERVICE_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2VjcmV0LXNpZ25hdHVyZQ";

/** A copy of what the CLI reads (supabase/ without its link state, src/), so it never writes into the checkout. */
function projectCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "deploy-cli-project-"));
  cpSync(join(ROOT, "supabase"), join(dir, "supabase"), { recursive: true, filter: (src) => !src.includes(`${join("supabase", ".temp")}`) });
  cpSync(join(ROOT, "src"), join(dir, "src"), { recursive: true });
  return dir;
}

let api: FakeApi;
let project: string;
beforeAll(async () => {
  api = await startFakeManagementApi();
  project = projectCopy();
});
afterAll(async () => {
  await api?.close();
  if (project) rmSync(project, { recursive: true, force: true });
});

describe("npm run deploy --only secrets,functions, with the real CLI", () => {
  const functions = loadFunctions(ROOT).functions;
  const lines: string[] = [];
  let code: number;

  beforeAll(async () => {
    let text = readFileSync(join(ROOT, "supabase/.env.example"), "utf8");
    text = text
      .replace(/^MONELEC_API_KEY=.*$/m, "MONELEC_API_KEY=crm-key-0123")
      .replace(/^STRIPE_SECRET_KEY=.*$/m, "STRIPE_SECRET_KEY=sk_live_0123")
      .replace(/^STRIPE_WEBHOOK_SECRET=.*$/m, "STRIPE_WEBHOOK_SECRET=whsec_0123")
      .replace(/^SUPABASE_SERVICE_ROLE_KEY=.*$/m, `SUPABASE_SERVICE_ROLE_KEY=${SERVICE_KEY}`);
    writeFileSync(join(project, "supabase/.env.production"), text);
    code = await deploy(["--yes", "--project-ref", FAKE_REF, "--only", "secrets,functions"], {
      root: project,
      env: { SUPABASE_ACCESS_TOKEN: FAKE_TOKEN },
      managementApi: { url: api.url, fetch },
      // The commands exactly as planned, pointed at the stand-in API with --profile.
      run: async (args, opts) => {
        const run = await runCliOffline([...args, "--profile", api.profilePath], { cwd: project, env: opts.env });
        lines.push(`$ supabase ${args.join(" ")}`, run.output);
        return { code: run.code, stdout: run.output, stderr: "" };
      },
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
      isTTY: false,
      confirm: async () => false,
    });
  }, 180_000);

  it("succeeds: secrets set, then each function deployed", () => {
    expect(code, lines.join("\n")).toBe(0);
    const calls = api.requests.filter((r) => r.method === "POST").map((r) => (r.path.endsWith("/secrets") ? "secrets" : r.query.get("slug")));
    expect(calls).toEqual(["secrets", ...functions.map((f) => f.name)]);
  });

  it("uploads each entry with everything it imports — src/ included — and the import map, with config.toml's verify_jwt", () => {
    for (const fn of functions) {
      const upload = api.requests.find((r) => r.path === `/v1/projects/${FAKE_REF}/functions/deploy` && r.query.get("slug") === fn.name);
      expect(upload, `no upload for ${fn.name}`).toBeDefined();
      expect(upload!.metadata).toMatchObject({
        name: fn.name,
        entrypoint_path: `supabase/functions/${fn.name}/index.ts`,
        import_map_path: "supabase/functions/import_map.json",
        verify_jwt: fn.verifyJwt,
      });
      const uploaded = [...upload!.files!.keys()];
      const needed = importGraph(ROOT, `supabase/functions/${fn.name}/index.ts`).files;
      expect([...needed].some((f) => f.startsWith("src/"))).toBe(true);
      expect(uploaded).toEqual(expect.arrayContaining(["supabase/functions/import_map.json", ...needed]));
      for (const path of uploaded) {
        expect(path).toMatch(/^(supabase\/functions|src)\//);
        expect(upload!.files!.get(path), path).toBe(readFileSync(join(ROOT, path), "utf8"));
      }
    }
    expect(functions.find((f) => f.name === "stripe-webhook")?.verifyJwt).toBe(false);
  });

  it("sends every function secret from the file, and keeps SUPABASE_SERVICE_ROLE_KEY out", () => {
    expect(lines.join("\n")).toContain("skipping: SUPABASE_SERVICE_ROLE_KEY");
    const sent = api.requests.find((r) => r.method === "POST" && r.path === `/v1/projects/${FAKE_REF}/secrets`);
    const secrets = sent?.json as { name: string; value: string }[];
    // Every line of the example (required ones, and the optional alert settings it lists).
    expect(secrets.map((s) => s.name).sort()).toEqual([...FUNCTION_SECRETS, "ALERT_WEBHOOK_URL", "ALERT_PENDING_AGE"].sort());
    expect(secrets.find((s) => s.name === "STRIPE_SECRET_KEY")?.value).toBe("sk_live_0123");
    expect(secrets.find((s) => s.name === "CRM_TIMEOUT_MS")?.value).toBe("");
  });
});

describe("supabase projects list without a login", () => {
  it("fails, and deploy's login check turns that into its refusal", async () => {
    const result = await checkLoggedIn({}, async (args) => {
      const run = await runCliOffline([...args, "--profile", api.profilePath], { cwd: project, env: { SUPABASE_ACCESS_TOKEN: "" } });
      return { code: run.code, stdout: "", stderr: run.output };
    }, { projectRef: FAKE_REF, api: { url: api.url, fetch } });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain(NOT_LOGGED_IN_MESSAGE);
    expect(!result.ok && result.message).toMatch(/the CLI said: .*access token/i);
  }, 60_000);
});

describe("supabase db push", () => {
  const admin = () => postgres(inject("pgAdminUrl"), { max: 1, onnotice: () => {} });
  const name = `dbpush_${Date.now().toString(36)}`;
  let url: string;
  beforeAll(async () => {
    const sql = admin();
    await sql.unsafe(`create database ${name}`);
    await sql.end();
    url = inject("pgAdminUrl").replace(/\/postgres$/, `/${name}`);
    // Vault as Supabase shapes it (the functions the CLI calls, the view the cron job reads), in plain SQL.
    const db = postgres(url, { max: 1, onnotice: () => {} });
    await db.unsafe(`
      create schema vault;
      create table vault.secrets (id uuid primary key default gen_random_uuid(), name text unique, secret text, description text);
      create function vault.create_secret(new_secret text, new_name text default null, new_description text default '', new_key_id uuid default null)
        returns uuid language sql as $$ insert into vault.secrets (name, secret, description) values (new_name, new_secret, new_description) returning id $$;
      create function vault.update_secret(secret_id uuid, new_secret text default null, new_name text default null, new_description text default null, new_key_id uuid default null)
        returns void language sql as $$ update vault.secrets set secret = coalesce(new_secret, secret), name = coalesce(new_name, name) where id = secret_id $$;
      create view vault.decrypted_secrets as select *, secret as decrypted_secret from vault.secrets;`);
    await db.end();
  });
  afterAll(async () => {
    const sql = admin();
    await sql.unsafe(`drop database if exists ${name} with (force)`);
    await sql.end();
  });

  it("applies every migration, stores the crm-dispatch Vault secrets, and agrees with the local migrator", async () => {
    // The plan's db step, aimed at this database instead of the hosted project.
    const [step] = buildPlan({ projectRef: FAKE_REF, envFile: "supabase/.env.production", functions: [], serviceRoleKey: SERVICE_KEY, only: ["db"] });
    const at = step.args.indexOf("--project-ref");
    expect(step.args[at + 1]).toBe(FAKE_REF);
    // The embedded server has no TLS: say so, as for any local database.
    const args = [...step.args.slice(0, at), "--db-url", `${url}?sslmode=disable`, ...step.args.slice(at + 2)];
    const run = await runCliOffline(args, { cwd: project, env: step.env });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("Updating vault secrets");

    const db = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const versions = (await db<{ version: string }[]>`select version from supabase_migrations.schema_migrations order by version`).map((r) => r.version);
      const files = readdirSync(join(ROOT, "supabase/migrations")).filter((f) => f.endsWith(".sql")).sort();
      expect(versions).toEqual(files.map((f) => f.slice(0, 14)));
      expect(await db`select name, decrypted_secret from vault.decrypted_secrets order by name`).toEqual([
        { name: "crm_dispatch_service_role_key", decrypted_secret: SERVICE_KEY },
        { name: "crm_dispatch_url", decrypted_secret: `https://${FAKE_REF}.supabase.co/functions/v1/crm-dispatch` },
      ]);
      const [{ count }] = await db<{ count: number }[]>`select count(*)::int as count from information_schema.tables where table_name in ('leads', 'requests', 'crm_events')`;
      expect(count).toBe(3);
    } finally {
      await db.end();
    }
    // scripts/lib/migrate.ts (the local stack's runner) sees them as applied: same history table.
    expect((await migrate(url)).applied).toEqual([]);
    // And a second push has nothing to do.
    const again = await runCliOffline(args, { cwd: project, env: step.env });
    expect(again.code, again.output).toBe(0);
    expect(again.output).toMatch(/up to date/);
    // The pooler route deploy takes with SUPABASE_DB_PUSH_URL / a pooler DATABASE_URL: `--db-url <url>`, accepted by this CLI.
    // (sslmode=disable: the embedded Postgres speaks no TLS, which this CLI tries first.)
    const plain = `${url}?sslmode=disable`;
    const [viaUrl] = buildPlan({ projectRef: FAKE_REF, envFile: "e", functions: [], dbPushUrl: { value: plain, label: "SUPABASE_DB_PUSH_URL" }, only: ["db"] });
    expect(viaUrl.args).toEqual(["db", "push", "--db-url", plain, "--yes"]);
    const pooled = await runCliOffline(viaUrl.args, { cwd: project, env: viaUrl.env });
    expect(pooled.code, pooled.output).toBe(0);
    expect(pooled.output).toMatch(/up to date/);
  }, 120_000);
});
