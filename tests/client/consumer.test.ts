/**
 * The client as a website gets it: the package built (`npm run build:client`)
 * and installed into a throwaway project outside the repository (only the
 * files `npm pack` would ship, so no zod and no server code can be reached),
 * next to supabase-js. That project type-checks with plain `tsc` settings —
 * TypeScript's defaults, `nodenext`, and `bundler` — and bundles with
 * esbuild; the built JavaScript then talks to the real local stack.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/test-stack.ts";

const ROOT = join(import.meta.dirname, "../..");
const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc");

let site: string;
let pkg: string;

/** What a website writes: a typed call, its error fields and codes, and a mistake tsc must catch. */
const MAIN_TS = `
import { createClient } from "@supabase/supabase-js";
import { createRaccordementClient, type ClientError, type FieldErrorCode, type FormSubmitInput } from "raccordement-backend/client";

const supabase = createClient("http://127.0.0.1:54321", "anon-key");
const api = createRaccordementClient(supabase, { timeoutMs: 8000, locale: "fr" });

export async function start(email: string): Promise<string | ClientError> {
  const res = await api.formStart({ email, connection_type: "photovoltaique", website: "" });
  if (res.ok) return res.data.lead_id;
  const codes: Record<string, FieldErrorCode | (string & {})> | undefined = res.error.codes;
  const fields: Record<string, string> | undefined = res.error.fields;
  if (codes?.email === "required" && fields) console.log(fields.email);
  return res.error;
}

export async function submit(input: FormSubmitInput, signal: AbortSignal): Promise<number> {
  const res = await api.formSubmit(input, { signal });
  return res.ok ? 0 : res.error.status;
}

// @ts-expect-error email is required: the declarations are real types, not any
void api.formStart({ phone: "0612345678" });
`;

beforeAll(async () => {
  await promisify(execFile)("npm", ["run", "--silent", "build:client"], { cwd: ROOT });
  site = mkdtempSync(join(tmpdir(), "raccordement-site-"));
  pkg = join(site, "node_modules/raccordement-backend");
  // Exactly what `npm pack` (and so an install from git) ships.
  const packed = JSON.parse((await promisify(execFile)("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8" })).stdout) as [
    { files: { path: string }[] },
  ];
  for (const { path } of packed[0].files) {
    mkdirSync(dirname(join(pkg, path)), { recursive: true });
    cpSync(join(ROOT, path), join(pkg, path));
  }
  // The website's own dependencies: supabase-js, and Node's types (supabase-js's declarations need them).
  mkdirSync(join(site, "node_modules/@types"), { recursive: true });
  symlinkSync(join(ROOT, "node_modules/@supabase"), join(site, "node_modules/@supabase"), "dir");
  symlinkSync(join(ROOT, "node_modules/@types/node"), join(site, "node_modules/@types/node"), "dir");
  writeFileSync(
    join(site, "package.json"),
    JSON.stringify({ name: "website", private: true, type: "module", dependencies: { "raccordement-backend": "file:../raccordement-backend" } }),
  );
  mkdirSync(join(site, "src"));
  writeFileSync(join(site, "src/main.ts"), MAIN_TS);
}, 120_000);

afterAll(() => {
  if (site) rmSync(site, { recursive: true, force: true });
});

const TSC_TIMEOUT_MS = 180_000;

/** Runs tsc on the website project with these compiler options (and no others but noEmit), in its own directory. */
async function tsc(name: string, compilerOptions: Record<string, unknown>): Promise<string> {
  const config = join(site, `tsconfig.${name}.json`);
  writeFileSync(config, JSON.stringify({ compilerOptions: { ...compilerOptions, noEmit: true }, include: ["src"] }));
  try {
    await promisify(execFile)(process.execPath, [TSC, "-p", config], { encoding: "utf8", timeout: TSC_TIMEOUT_MS });
    return "";
  } catch (err) {
    return String((err as { stdout?: string }).stdout || err);
  }
}

describe("a website project using the built client", () => {
  it("gets JavaScript and self-contained declarations, nothing else", () => {
    const shipped = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));
    expect(shipped.exports["./client"]).toEqual({
      types: "./dist/client/index.d.ts",
      import: "./dist/client/index.js",
      default: "./dist/client/index.js",
    });
    const declarations = ["index", "errors", "types"].map((f) => readFileSync(join(pkg, `dist/client/${f}.d.ts`), "utf8")).join("\n");
    // Every import of the declarations is one of their own files, named as a JavaScript module.
    const specifiers = [...declarations.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !/^\.\/[a-z-]+\.js$/.test(s))).toEqual([]);
    // The proof is real: from the project, zod cannot be found at all.
    expect(() => createRequire(join(site, "src/main.ts")).resolve("zod")).toThrow();
  });

  // No skipLibCheck: an import the declarations could not resolve would be an error. The
  // website's @ts-expect-error (a missing email) would be one too if the types were \`any\`.
  it("type-checks with TypeScript's defaults (strict only), nodenext and bundler resolution", async () => {
    const outputs = await Promise.all([
      tsc("defaults", { strict: true }),
      tsc("nodenext", { strict: true, module: "nodenext", moduleResolution: "nodenext" }),
      tsc("bundler", { strict: true, module: "preserve", moduleResolution: "bundler" }),
    ]);
    expect(outputs).toEqual(["", "", ""]);
  }, TSC_TIMEOUT_MS);

  it("bundles with esbuild for the browser, with the built client and without zod", async () => {
    const result = await build({
      absWorkingDir: site,
      entryPoints: ["src/main.ts"],
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain("node_modules/raccordement-backend/dist/client/index.js");
    expect(inputs.filter((i) => /zod|\/src\/client\/|\/validation\//.test(i))).toEqual([]);
    expect(result.outputFiles[0].text).toContain("accept-language");
  });
});

describe("the built JavaScript against the local stack", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ RATE_LIMIT_PER_MINUTE: "0" });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("answers data, or errors with field codes in the chosen language", async () => {
    const built = (await import(pathToFileURL(join(pkg, "dist/client/index.js")).href)) as typeof import("../../src/client/index.ts");
    const fr = built.createRaccordementClient(stack.supabase, { locale: "fr" });
    const en = built.createRaccordementClient(stack.supabase, { locale: "en" });
    expect(await fr.contactCallback({ full_name: "Ana", phone: "06 98 76 54 32" })).toEqual({
      ok: true,
      data: { callback_id: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    });
    const bad = { email: "nope", firstName: "Marie" } as never;
    expect(await fr.formStart(bad)).toEqual({
      ok: false,
      error: {
        status: 400,
        code: "invalid_input",
        message: "Certains champs ne sont pas valides.",
        fields: { email: "doit être une adresse e-mail valide", firstName: "n'est pas un champ connu ; vouliez-vous dire firstname ?" },
        codes: { email: "invalid_format", firstName: "unknown_field" },
      },
    });
    expect(await en.formStart(bad)).toEqual({
      ok: false,
      error: {
        status: 400,
        code: "invalid_input",
        message: "The request has invalid fields.",
        fields: { email: "must be a valid email address", firstName: "is not a known field; did you mean firstname?" },
        codes: { email: "invalid_format", firstName: "unknown_field" },
      },
    });
  });
});
