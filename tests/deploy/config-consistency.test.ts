/**
 * supabase/config.toml, the function folders, the import map, deno.json,
 * package.json, the migrations and the env example all agree — checked
 * offline, so a deploy cannot miss a function, a package or a secret.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkEnvFile, FUNCTION_SECRETS, parseEnvFile, SERVICE_ROLE_KEY } from "../../scripts/deploy/env-file.ts";
import { functionFolders, loadFunctions, parseFunctionSections } from "../../scripts/deploy/functions.ts";
import { importGraph } from "./import-graph.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const toml = read("supabase/config.toml");
const sections = parseFunctionSections(toml);
const folders = functionFolders(join(ROOT, "supabase/functions"));
const IMPORT_MAP = "supabase/functions/import_map.json";
const importMap: { imports: Record<string, string> } = JSON.parse(read(IMPORT_MAP));
const pkg = JSON.parse(read("package.json"));

describe("functions: folders ↔ config.toml", () => {
  it("every function folder has a [functions.<name>] section, and every section a folder", () => {
    expect(folders.length).toBeGreaterThanOrEqual(6);
    expect([...sections.keys()].sort()).toEqual(folders);
    expect(loadFunctions(ROOT).problems).toEqual([]);
  });

  it("every function has an index.ts entry and an explicit verify_jwt", () => {
    for (const name of folders) {
      expect(existsSync(join(ROOT, "supabase/functions", name, "index.ts")), name).toBe(true);
      expect(typeof sections.get(name)!.verifyJwt, name).toBe("boolean");
    }
  });

  it("only stripe-webhook skips the gateway's JWT check, and each choice is explained in a comment", () => {
    const off = folders.filter((name) => sections.get(name)!.verifyJwt === false);
    expect(off).toEqual(["stripe-webhook"]);
    // The comment block right above a section (or the shared one above the first of a group) says why.
    const commentAbove = (name: string) => {
      const lines = toml.split("\n");
      let i = lines.findIndex((l) => l.trim() === `[functions.${name}]`) - 1;
      const block: string[] = [];
      while (i >= 0 && lines[i].trim().startsWith("#")) block.unshift(lines[i--]);
      return block.join("\n");
    };
    expect(commentAbove("stripe-webhook")).toMatch(/verify_jwt = false[\s\S]*Stripe-Signature/);
    expect(commentAbove("crm-dispatch")).toMatch(/verify_jwt = true[\s\S]*service-role key/);
    expect(commentAbove([...sections.keys()].filter((n) => !["stripe-webhook", "crm-dispatch"].includes(n))[0])).toMatch(/verify_jwt = true[\s\S]*anon key/);
  });
});

describe("imports: what deploy uploads and resolves", () => {
  it("every function uses the shared import map, which deno.json also uses locally", () => {
    for (const [name, cfg] of sections) expect(cfg.importMap, name).toBe("./functions/import_map.json");
    expect(JSON.parse(read("deno.json")).importMap).toBe(`./${IMPORT_MAP}`);
  });

  it("the import map pins npm: specifiers to exactly the versions in package.json", () => {
    const deps = { ...pkg.dependencies, ...pkg.devDependencies };
    expect(Object.keys(importMap.imports).length).toBeGreaterThan(0);
    for (const [specifier, target] of Object.entries(importMap.imports)) {
      const m = /^npm:((?:@[^/@]+\/)?[^/@]+)@([^/]+)(\/.*)?$/.exec(target);
      expect(m, `${specifier} → ${target}`).not.toBeNull();
      const [, name, version, subpath] = m!;
      expect(deps[name], `${name} in package.json`).toBe(version);
      expect(specifier).toBe(`${name}${subpath ?? ""}`);
    }
  });

  for (const name of folders) {
    it(`${name}: every file it imports is inside supabase/functions or src, every package is in the import map`, () => {
      const graph = importGraph(ROOT, `supabase/functions/${name}/index.ts`);
      for (const file of graph.files) expect(file, `${name} imports ${file}`).toMatch(/^(supabase\/functions|src)\//);
      for (const specifier of graph.bare) expect(importMap.imports, `${name} imports "${specifier}"`).toHaveProperty([specifier]);
      expect(graph.files.has(`supabase/functions/${name}/index.ts`)).toBe(true);
    });
  }
});

describe("database: migrations and the crm-dispatch schedule", () => {
  const migrations = readdirSync(join(ROOT, "supabase/migrations")).filter((f) => f.endsWith(".sql")).sort();

  it("migration files are named <14-digit version>_<name>.sql, one per version (what `supabase db push` expects)", () => {
    expect(migrations.length).toBeGreaterThan(0);
    for (const f of migrations) expect(f).toMatch(/^\d{14}_[a-z0-9_]+\.sql$/);
    const versions = migrations.map((f) => f.slice(0, 14));
    expect(new Set(versions).size).toBe(versions.length);
  });

  it("config.toml [db.vault] declares exactly the Vault secrets the schedule reads, from the environment only", () => {
    const schedule = migrations.map((f) => read(`supabase/migrations/${f}`)).join("\n");
    const read_ = new Set([...schedule.matchAll(/vault\.decrypted_secrets\s+where name = '([a-z_]+)'/g)].map((m) => m[1]));
    expect(read_).toEqual(new Set(["crm_dispatch_url", "crm_dispatch_service_role_key"]));
    const vault = /\[db\.vault\]\n((?:[^[\n].*\n)*)/.exec(toml)?.[1] ?? "";
    const declared = Object.fromEntries([...vault.matchAll(/^([a-z_]+)\s*=\s*"([^"]*)"/gm)].map((m) => [m[1], m[2]]));
    expect(declared).toEqual({
      crm_dispatch_url: "env(CRM_DISPATCH_URL)",
      crm_dispatch_service_role_key: "env(CRM_DISPATCH_SERVICE_ROLE_KEY)",
    });
  });
});

describe("secrets: the env example", () => {
  const example = parseEnvFile(read("supabase/.env.example"));

  it("lists every function secret and the service-role key for Vault", () => {
    expect(example.syntaxErrors).toEqual([]);
    for (const name of [...FUNCTION_SECRETS, SERVICE_ROLE_KEY]) expect(example.values.has(name), name).toBe(true);
  });

  it("is refused as it is (placeholders), and accepted once filled in", () => {
    const asIs = checkEnvFile(example, "supabase/.env.example");
    expect(asIs.errors.join("\n")).toMatch(/MONELEC_API_KEY still holds the example's placeholder/);
    expect(asIs.errors.join("\n")).toMatch(/STRIPE_SECRET_KEY still holds/);
    const filled = new Map(example.values);
    filled.set("MONELEC_API_KEY", "crm-key-123");
    filled.set("STRIPE_SECRET_KEY", "sk_live_abc123");
    filled.set("STRIPE_WEBHOOK_SECRET", "whsec_abc123");
    filled.set(SERVICE_ROLE_KEY, "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl");
    const ok = checkEnvFile({ values: filled, syntaxErrors: [] }, "supabase/.env.production");
    expect(ok.errors).toEqual([]);
    expect(ok.warnings).toEqual([]);
  });

  it("the filled-in copy is git-ignored, the example is not", () => {
    const ignored = (path: string) => {
      try {
        execFileSync("git", ["check-ignore", "-q", path], { cwd: ROOT });
        return true;
      } catch {
        return false;
      }
    };
    expect(ignored("supabase/.env.production")).toBe(true);
    expect(ignored("supabase/.env.example")).toBe(false);
  });
});
