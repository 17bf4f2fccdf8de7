/**
 * `npm run deploy`, offline: the argument lists, the refusals (not linked, not
 * logged in, env file missing or wrong, no terminal), the dry run, and the
 * order of the steps — with the Supabase CLI replaced by a recorder, and the
 * access-token check made against the stand-in Management API on loopback.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkEnvFile, parseEnvFile } from "../../scripts/deploy/env-file.ts";
import { LOCAL_ANON_KEY, LOCAL_SERVICE_ROLE_KEY } from "../../scripts/local/dev-keys.ts";
import { loadFunctions } from "../../scripts/deploy/functions.ts";
import { deploy, type DeployDeps, parseArgs } from "../../scripts/deploy/main.ts";
import { buildPlan, dbPushArgs, formatCommand, functionDeployArgs, parseOnly, secretsSetArgs } from "../../scripts/deploy/plan.ts";
import { checkLoggedIn, linkedProjectRef, type ManagementApi, NOT_LINKED_MESSAGE, NOT_LOGGED_IN_MESSAGE, resolveProjectRef } from "../../scripts/deploy/preflight.ts";
import { FAKE_TOKEN, type FakeApi, startFakeManagementApi } from "./fake-management-api.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const REF = "abcdefghijklmnopqrst";
const SERVICE_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2VjcmV0LXNpZ25hdHVyZQ";
const SECRETS = {
  MONELEC_API_KEY: "crm-key-0123456789",
  STRIPE_SECRET_KEY: "sk_live_fake_key",
  STRIPE_WEBHOOK_SECRET: "whsec_0123456789abcdef",
};

/** The example with real-looking values: what a user's supabase/.env.production looks like. */
function filledEnv(overrides: Record<string, string | null> = {}): string {
  let text = readFileSync(join(ROOT, "supabase/.env.example"), "utf8");
  const values: Record<string, string | null> = { ...SECRETS, SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY, ...overrides };
  for (const [name, value] of Object.entries(values)) {
    const line = new RegExp(`^${name}=.*$`, "m");
    text = value === null ? text.replace(line, "") : line.test(text) ? text.replace(line, `${name}=${value}`) : `${text}\n${name}=${value}\n`;
  }
  return text;
}

/** A checkout of its own (config.toml, the real function folders), optionally linked. */
const made: string[] = [];
let fakeApi: FakeApi;
let managementApi: ManagementApi;
beforeAll(async () => {
  fakeApi = await startFakeManagementApi();
  managementApi = { url: fakeApi.url, fetch };
});
afterAll(async () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  await fakeApi?.close();
});

function tempProject(opts: { linked?: string; env?: string } = {}): string {
  const root = mkdtempSync(join(tmpdir(), "deploy-test-"));
  made.push(root);
  mkdirSync(join(root, "supabase"));
  writeFileSync(join(root, "supabase/config.toml"), readFileSync(join(ROOT, "supabase/config.toml")));
  symlinkSync(join(ROOT, "supabase/functions"), join(root, "supabase/functions"));
  if (opts.linked) {
    mkdirSync(join(root, "supabase/.temp"));
    writeFileSync(join(root, "supabase/.temp/project-ref"), `${opts.linked}\n`);
  }
  if (opts.env !== undefined) writeFileSync(join(root, "supabase/.env.production"), opts.env);
  return root;
}

interface Harness {
  deps: DeployDeps;
  calls: { args: string[]; env?: Record<string, string>; inherit: boolean }[];
  out: string[];
  err: string[];
  text(): string;
}

function harness(
  root: string,
  opts: { env?: Record<string, string>; tty?: boolean; answer?: boolean; code?: (args: string[]) => number; output?: (args: string[]) => string } = {},
): Harness {
  const h: Harness = {
    calls: [],
    out: [],
    err: [],
    text: () => [...h.out, ...h.err].join("\n"),
    deps: {
      root,
      env: opts.env ?? { SUPABASE_ACCESS_TOKEN: FAKE_TOKEN },
      async run(args, runOpts) {
        h.calls.push({ args, ...runOpts });
        return { code: opts.code?.(args) ?? 0, stdout: opts.output?.(args) ?? "", stderr: opts.code?.(args) ? "Access token not provided." : "" };
      },
      managementApi,
      out: (l) => h.out.push(l),
      err: (l) => h.err.push(l),
      isTTY: opts.tty ?? false,
      confirm: async () => opts.answer ?? false,
    },
  };
  return h;
}

const FUNCTIONS = loadFunctions(ROOT).functions;

describe("argument lists (what the CLI runs)", () => {
  it("db push targets the project, non-interactively", () => {
    expect(dbPushArgs(REF)).toEqual(["db", "push", "--project-ref", REF, "--yes"]);
  });

  it("secrets set reads the env file", () => {
    expect(secretsSetArgs(REF, "supabase/.env.production")).toEqual(["secrets", "set", "--env-file", "supabase/.env.production", "--project-ref", REF, "--yes"]);
  });

  it("functions deploy bundles server-side (--use-api), --no-verify-jwt only where config.toml says verify_jwt = false", () => {
    expect(functionDeployArgs(REF, { name: "form-start", verifyJwt: true })).toEqual(["functions", "deploy", "form-start", "--use-api", "--project-ref", REF, "--yes"]);
    expect(functionDeployArgs(REF, { name: "stripe-webhook", verifyJwt: false })).toEqual(
      ["functions", "deploy", "stripe-webhook", "--use-api", "--project-ref", REF, "--yes", "--no-verify-jwt"],
    );
  });

  it("the plan: db, secrets, then every function once, from config.toml", () => {
    const plan = buildPlan({ projectRef: REF, envFile: "supabase/.env.production", functions: FUNCTIONS, serviceRoleKey: SERVICE_KEY });
    expect(plan.map((s) => s.args.slice(0, 2).join(" "))).toEqual([
      "db push",
      "secrets set",
      ...FUNCTIONS.map(() => "functions deploy"),
    ]);
    const deployed = plan.filter((s) => s.kind === "functions").map((s) => s.args[2]);
    expect(deployed.sort()).toEqual(["contact-callback", "create-payment-intent", "crm-dispatch", "form-start", "form-submit", "stripe-webhook"]);
    const noJwt = plan.filter((s) => s.args.includes("--no-verify-jwt")).map((s) => s.args[2]);
    expect(noJwt).toEqual(["stripe-webhook"]);
    for (const step of plan.filter((s) => s.kind === "functions")) expect(step.args).toContain("--use-api");
    expect(plan[0].env).toEqual({
      CRM_DISPATCH_URL: `https://${REF}.supabase.co/functions/v1/crm-dispatch`,
      CRM_DISPATCH_SERVICE_ROLE_KEY: SERVICE_KEY,
    });
  });

  it("printed commands show where a secret comes from, never the secret", () => {
    const plan = buildPlan({ projectRef: REF, envFile: "supabase/.env.production", functions: FUNCTIONS, serviceRoleKey: SERVICE_KEY });
    const printed = plan.map(formatCommand);
    expect(printed[0]).toBe(
      `CRM_DISPATCH_URL=https://${REF}.supabase.co/functions/v1/crm-dispatch ` +
        `CRM_DISPATCH_SERVICE_ROLE_KEY='<SUPABASE_SERVICE_ROLE_KEY from supabase/.env.production>' npx supabase db push --project-ref ${REF} --yes`,
    );
    expect(printed.join("\n")).not.toContain(SERVICE_KEY);
    expect(printed).toContain(`npx supabase functions deploy stripe-webhook --use-api --project-ref ${REF} --yes --no-verify-jwt`);
  });

  it("--only picks steps; a wrong ref or step name is refused", () => {
    expect(buildPlan({ projectRef: REF, envFile: "e", functions: FUNCTIONS, only: ["functions"] }).every((s) => s.kind === "functions")).toBe(true);
    expect(() => parseOnly("db,nope")).toThrow(/--only takes db, secrets, functions/);
    expect(() => buildPlan({ projectRef: "Not-A-Ref", envFile: "e", functions: [] })).toThrow(/Not a project ref/);
    expect(parseArgs(["--project-ref=abc", "--env-file", "x.env", "--dry-run"])).toMatchObject({ projectRef: "abc", envFile: "x.env", dryRun: true });
    expect(() => parseArgs(["--force"])).toThrow(/Unknown argument: --force/);
  });
});

describe("preflight: linked, logged in", () => {
  it("the project ref: --project-ref, then SUPABASE_PROJECT_REF, then `supabase link`", () => {
    expect(resolveProjectRef({ flag: REF, env: { SUPABASE_PROJECT_REF: "zzzzzzzzzzzzzzzzzzzz" }, linked: "yyyyyyyyyyyyyyyyyyyy" })).toMatchObject({ ok: true, value: REF });
    expect(resolveProjectRef({ env: { SUPABASE_PROJECT_REF: REF }, linked: "yyyyyyyyyyyyyyyyyyyy" })).toMatchObject({ ok: true, value: REF });
    expect(resolveProjectRef({ env: {}, linked: REF })).toMatchObject({ ok: true, value: REF });
    expect(resolveProjectRef({ env: {} })).toEqual({ ok: false, message: NOT_LINKED_MESSAGE });
    expect(resolveProjectRef({ flag: "https://x.supabase.co", env: {} })).toMatchObject({ ok: false, message: expect.stringMatching(/not a project ref/) });
  });

  it("reads the ref `supabase link` stored", () => {
    expect(linkedProjectRef(tempProject({ linked: REF }))).toBe(REF);
    expect(linkedProjectRef(tempProject())).toBeUndefined();
  });

  it("logged in: SUPABASE_ACCESS_TOKEN accepted by the Management API, else `supabase projects list` must succeed", async () => {
    const never = async () => {
      throw new Error("must not run the CLI");
    };
    const target = { projectRef: REF, api: managementApi };
    const before = fakeApi.requests.length;
    expect(await checkLoggedIn({ SUPABASE_ACCESS_TOKEN: FAKE_TOKEN }, never, target)).toMatchObject({ ok: true, value: "token" });
    expect(fakeApi.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/projects/${REF}`]);
    const calls: string[][] = [];
    const ok = await checkLoggedIn({}, async (args) => (calls.push(args), { code: 0, stdout: "", stderr: "" }), target);
    expect(ok).toMatchObject({ ok: true, value: "login" });
    expect(calls).toEqual([["projects", "list"]]);
    const no = await checkLoggedIn({}, async () => ({ code: 1, stdout: "", stderr: "Access token not provided. Supply an access token…\n" }), target);
    expect(no).toEqual({ ok: false, message: `${NOT_LOGGED_IN_MESSAGE}\n(the CLI said: Access token not provided. Supply an access token…)` });
    expect(await checkLoggedIn({}, never, target)).toMatchObject({ ok: false, message: expect.stringMatching(/npm install/) });
  });

  it("a bogus access token is refused (the API's 401) with the login instructions", async () => {
    const result = await checkLoggedIn({ SUPABASE_ACCESS_TOKEN: `sbp_${"f".repeat(40)}` }, async () => ({ code: 0, stdout: "", stderr: "" }), {
      projectRef: REF,
      api: managementApi,
    });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/refused by Supabase \(401/);
    expect(!result.ok && result.message).toContain(NOT_LOGGED_IN_MESSAGE);
    expect(!result.ok && result.message).not.toContain("f".repeat(40));
  });

  it("a token that cannot see the project, and an unreachable API, are refused with what to check", async () => {
    const other = await checkLoggedIn({ SUPABASE_ACCESS_TOKEN: FAKE_TOKEN }, async () => ({ code: 0, stdout: "", stderr: "" }), {
      projectRef: "zzzzzzzzzzzzzzzzzzzz",
      api: managementApi,
    });
    expect(other).toMatchObject({ ok: false, message: expect.stringMatching(/cannot reach project zzzzzzzzzzzzzzzzzzzz \(404\)/) });
    // A port nothing listens on (the fake's, once closed).
    const gone = await startFakeManagementApi();
    await gone.close();
    const down = await checkLoggedIn({ SUPABASE_ACCESS_TOKEN: FAKE_TOKEN }, async () => ({ code: 0, stdout: "", stderr: "" }), {
      projectRef: REF,
      api: { url: gone.url, fetch },
    });
    expect(down).toMatchObject({ ok: false, message: expect.stringMatching(/Could not reach the Supabase Management API .*ECONNREFUSED[\s\S]*network/) });
  });
});

describe("the env file", () => {
  const check = (text: string) => checkEnvFile(parseEnvFile(text), "supabase/.env.production");

  it("parses the dotenv forms the CLI reads", () => {
    const { values, syntaxErrors } = parseEnvFile('# c\nexport A=1\nB="two words"\nC=\'x#y\'\nD=plain # comment\nE=\nnot a line\n');
    expect(Object.fromEntries(values)).toEqual({ A: "1", B: "two words", C: "x#y", D: "plain", E: "" });
    expect(syntaxErrors).toEqual(["line 7 is not NAME=value"]);
  });

  it("accepts a filled-in file", () => {
    expect(check(filledEnv())).toMatchObject({ errors: [], warnings: [], serviceRoleKey: SERVICE_KEY });
  });

  it("refuses what must not reach production, naming the variable and never its value", () => {
    const result = check(
      filledEnv({
        STRIPE_SECRET_KEY: "pk_live_wrongkind",
        STRIPE_WEBHOOK_SECRET: "",
        STRIPE_API_URL: "http://127.0.0.1:54324",
        SUPABASE_URL: "https://x.supabase.co",
        SITE_URL: "http://www.example.fr",
        CRM_RETRY_SCHEDULE: "5 parsecs",
        CRM_TIMEOUT_MS: "-1",
        ALLOWED_ORIGINS: "https://www.example.fr/path",
        CRM_SWEEP_INTERVAL_MS: null,
        SUPABASE_SERVICE_ROLE_KEY: "sb_secret_abc",
      }),
    );
    const text = result.errors.join("\n");
    expect(text).toMatch(/STRIPE_SECRET_KEY does not look like a Stripe secret key/);
    expect(text).toMatch(/STRIPE_WEBHOOK_SECRET is empty/);
    expect(text).toMatch(/STRIPE_API_URL must not be set in production/);
    expect(text).toMatch(/SUPABASE_URL: Supabase sets the SUPABASE_\* variables itself/);
    expect(text).toMatch(/SITE_URL must be the site's https:\/\/ address/);
    expect(text).toMatch(/CRM_RETRY_SCHEDULE/);
    expect(text).toMatch(/CRM_TIMEOUT_MS must be a positive integer/);
    expect(text).toMatch(/ALLOWED_ORIGINS: "https:\/\/www.example.fr\/path" is not an origin/);
    expect(text).toMatch(/SUPABASE_SERVICE_ROLE_KEY is neither a JWT \(eyJ…\) nor a secret key \(sb_secret_…\)/);
    expect(text).not.toContain("pk_live_wrongkind");
    expect(text).not.toContain("sb_secret_abc");
  });

  it("a missing line is refused; an empty CRM key is only warned about; a missing service-role key is refused with where to get it", () => {
    expect(check(filledEnv({ SITE_URL: null })).errors.join("\n")).toMatch(/has no line for SITE_URL/);
    const warned = check(filledEnv({ MONELEC_API_KEY: "", EXTRA_THING: "1" }));
    expect(warned.errors).toEqual([]);
    expect(warned.warnings.join("\n")).toMatch(/MONELEC_API_KEY is empty: the CRM bridge will be off/);
    expect(warned.warnings.join("\n")).toMatch(/EXTRA_THING is not a variable the functions read/);
    for (const missing of [null, ""]) {
      const refused = check(filledEnv({ SUPABASE_SERVICE_ROLE_KEY: missing }));
      const text = refused.errors.join("\n");
      expect(text).toMatch(/SUPABASE_SERVICE_ROLE_KEY is not in .*never calls crm-dispatch/);
      expect(text).toMatch(/Project Settings → API Keys → "Legacy API keys" → service_role/);
      expect(refused.serviceRoleKey).toBeUndefined();
    }
  });

  it("refuses to deploy anything without the service-role key, running no step", async () => {
    const h = harness(tempProject({ linked: REF, env: filledEnv({ SUPABASE_SERVICE_ROLE_KEY: null }) }));
    expect(await deploy([], h.deps)).toBe(1);
    expect(h.text()).toContain("Deploy refused:");
    expect(h.text()).toMatch(/SUPABASE_SERVICE_ROLE_KEY is not in .*never calls crm-dispatch/);
    expect(h.calls).toEqual([]);
  });
});

describe("npm run deploy (CLI replaced by a recorder)", () => {
  it("refuses when the checkout is not linked and no ref is given, running nothing", async () => {
    const h = harness(tempProject({ env: filledEnv() }));
    expect(await deploy([], h.deps)).toBe(1);
    expect(h.text()).toContain("Deploy refused:");
    expect(h.text()).toContain(NOT_LINKED_MESSAGE);
    expect(h.calls).toEqual([]);
  });

  it("refuses when the env file is missing, saying how to make it", async () => {
    const h = harness(tempProject({ linked: REF }));
    expect(await deploy([], h.deps)).toBe(1);
    expect(h.text()).toContain("supabase/.env.production does not exist");
    expect(h.text()).toContain("cp supabase/.env.example supabase/.env.production");
    expect(h.calls).toEqual([]);
  });

  it("refuses the example's placeholders", async () => {
    const h = harness(tempProject({ linked: REF, env: readFileSync(join(ROOT, "supabase/.env.example"), "utf8") }));
    expect(await deploy([], h.deps)).toBe(1);
    expect(h.text()).toMatch(/MONELEC_API_KEY still holds the example's placeholder/);
    expect(h.calls).toEqual([]);
  });

  it("refuses when not logged in (no token, `supabase projects list` fails), after the offline checks", async () => {
    const h = harness(tempProject({ linked: REF, env: filledEnv() }), { env: {}, code: (args) => (args[0] === "projects" ? 1 : 0) });
    expect(await deploy(["--yes"], h.deps)).toBe(1);
    expect(h.text()).toContain(NOT_LOGGED_IN_MESSAGE);
    expect(h.text()).toContain("(the CLI said: Access token not provided.)");
    expect(h.calls.map((c) => c.args)).toEqual([["projects", "list"]]);
  });

  it("--dry-run prints the exact commands, checks nothing online and runs nothing", async () => {
    const h = harness(tempProject({ linked: REF, env: filledEnv() }), { env: {} });
    expect(await deploy(["--dry-run"], h.deps)).toBe(0);
    expect(h.calls).toEqual([]);
    const text = h.text();
    expect(text).toContain(`Deploying to project ${REF} (from supabase/.temp/project-ref (supabase link)).`);
    for (const step of buildPlan({ projectRef: REF, envFile: "supabase/.env.production", functions: FUNCTIONS, serviceRoleKey: SERVICE_KEY })) {
      expect(text).toContain(formatCommand(step));
    }
    for (const secret of [SERVICE_KEY, ...Object.values(SECRETS)]) expect(text).not.toContain(secret);
  });

  it("without --yes and without a terminal it refuses; with a terminal it asks once", async () => {
    const root = tempProject({ linked: REF, env: filledEnv() });
    const noTty = harness(root);
    expect(await deploy([], noTty.deps)).toBe(1);
    expect(noTty.text()).toContain("pass --yes");
    const declined = harness(root, { tty: true, answer: false });
    expect(await deploy([], declined.deps)).toBe(1);
    expect(declined.calls).toEqual([]);
    const accepted = harness(root, { tty: true, answer: true });
    expect(await deploy([], accepted.deps)).toBe(0);
    expect(accepted.calls.length).toBe(2 + FUNCTIONS.length);
  });

  it("--yes runs db push (with the Vault values), secrets set, then each function, in the terminal", async () => {
    const h = harness(tempProject({ env: filledEnv() }));
    expect(await deploy(["--yes", "--project-ref", REF], h.deps)).toBe(0);
    expect(h.calls.every((c) => c.inherit)).toBe(true);
    expect(h.calls.map((c) => c.args)).toEqual([
      dbPushArgs(REF),
      secretsSetArgs(REF, "supabase/.env.production"),
      ...FUNCTIONS.map((fn) => functionDeployArgs(REF, fn)),
    ]);
    expect(h.calls[0].env).toEqual({ CRM_DISPATCH_URL: `https://${REF}.supabase.co/functions/v1/crm-dispatch`, CRM_DISPATCH_SERVICE_ROLE_KEY: SERVICE_KEY });
    expect(h.text()).toContain(`https://${REF}.supabase.co/functions/v1/stripe-webhook`);
  });

  it("stops at the first failing step and says what to do", async () => {
    const h = harness(tempProject({ linked: REF, env: filledEnv() }), { code: (args) => (args[0] === "secrets" ? 1 : 0) });
    expect(await deploy(["--yes"], h.deps)).toBe(1);
    expect(h.calls.map((c) => c.args[0])).toEqual(["db", "secrets"]);
    expect(h.text()).toMatch(/Step 2 failed \(exit code 1\)[\s\S]*run the same npm run deploy again/);
  });

  it("--only functions needs no env file", async () => {
    const h = harness(tempProject({ linked: REF }));
    expect(await deploy(["--yes", "--only", "functions"], h.deps)).toBe(0);
    expect(h.calls.map((c) => c.args[2])).toEqual(FUNCTIONS.map((f) => f.name));
  });

  it("refuses when a function folder has no config.toml section", async () => {
    const root = tempProject({ linked: REF, env: filledEnv() });
    writeFileSync(join(root, "supabase/config.toml"), readFileSync(join(root, "supabase/config.toml"), "utf8").replace("[functions.form-start]", "[functions.form-begin]"));
    const h = harness(root);
    expect(await deploy(["--dry-run"], h.deps)).toBe(1);
    expect(h.text()).toContain("supabase/functions/form-start/ has no [functions.form-start] section");
    expect(h.text()).toContain("[functions.form-begin] in supabase/config.toml has no folder");
  });
});

/** A JWT with this payload, written out by hand (the signature is never checked offline). */
const jwt = (payload: string) =>
  `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.${Buffer.from(payload).toString("base64url")}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;

describe("the service-role key (its JWT role claim, read offline)", () => {
  const check = (key: string) => checkEnvFile(parseEnvFile(filledEnv({ SUPABASE_SERVICE_ROLE_KEY: key })), "supabase/.env.production");
  const refusal = (key: string) => check(key).errors.join("\n");

  it("accepts a service_role JWT and a secret key (sb_secret_…)", () => {
    const legacy = jwt(`{"iss":"supabase","ref":"${REF}","role":"service_role","iat":1700000000,"exp":2000000000}`);
    expect(check(legacy)).toMatchObject({ errors: [], serviceRoleKey: legacy, serviceRoleKeyKind: "legacy-jwt", serviceRoleKeyRef: REF });
    const secret = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz";
    expect(check(secret)).toMatchObject({ errors: [], serviceRoleKey: secret, serviceRoleKeyKind: "secret-key" });
  });

  it("refuses the anon key, saying which key to copy", () => {
    const anon = jwt(`{"iss":"supabase","ref":"${REF}","role":"anon","iat":1700000000,"exp":2000000000}`);
    expect(refusal(anon)).toMatch(/SUPABASE_SERVICE_ROLE_KEY is the anon key \(role "anon"/);
    expect(refusal(anon)).toMatch(/Legacy API keys.*service_role/);
    expect(check(anon).serviceRoleKey).toBeUndefined();
  });

  it("refuses the public demo keys of the local stack, both of them", () => {
    for (const demo of [LOCAL_SERVICE_ROLE_KEY, LOCAL_ANON_KEY]) {
      expect(refusal(demo)).toMatch(/public demo key of Supabase's local stack/);
      expect(refusal(demo)).toMatch(/copy the service_role key from the dashboard/);
    }
    // Any key the demo issuer signed, not only the two known strings.
    expect(refusal(jwt('{"iss":"supabase-demo","role":"service_role","exp":1983812996}'))).toMatch(/public demo key/);
  });

  it("refuses another role, a JWT without one, a publishable key and what is no key at all — never quoting the value", () => {
    const authenticated = jwt(`{"iss":"supabase","ref":"${REF}","role":"authenticated"}`);
    expect(refusal(authenticated)).toMatch(/a JWT with role "authenticated", not role "service_role"/);
    expect(refusal(jwt('{"iss":"supabase"}'))).toMatch(/a JWT with no role claim/);
    expect(refusal("sb_publishable_abcdefghijklmnopqrstuv")).toMatch(/publishable key/);
    expect(refusal("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln")).toMatch(/neither a JWT/);
    expect(refusal(authenticated)).not.toContain(authenticated);
  });

  it("deploy refuses another project's key, and a secret key while crm-dispatch keeps verify_jwt = true", async () => {
    const otherProject = jwt('{"iss":"supabase","ref":"zzzzzzzzzzzzzzzzzzzz","role":"service_role"}');
    const h = harness(tempProject({ linked: REF, env: filledEnv({ SUPABASE_SERVICE_ROLE_KEY: otherProject }) }));
    expect(await deploy(["--dry-run"], h.deps)).toBe(1);
    expect(h.text()).toMatch(/belongs to project zzzzzzzzzzzzzzzzzzzz, not abcdefghijklmnopqrst/);
    const secret = harness(tempProject({ linked: REF, env: filledEnv({ SUPABASE_SERVICE_ROLE_KEY: "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz" }) }));
    expect(await deploy(["--dry-run"], secret.deps)).toBe(1);
    expect(secret.text()).toMatch(/not a JWT: with verify_jwt = true on crm-dispatch/);
    expect(secret.calls).toEqual([]);
  });
});

describe("deploy's access-token check (stand-in Management API)", () => {
  it("a bogus SUPABASE_ACCESS_TOKEN: refused before anything runs, with the login instructions", async () => {
    const h = harness(tempProject({ linked: REF, env: filledEnv() }), { env: { SUPABASE_ACCESS_TOKEN: `sbp_${"1".repeat(40)}` } });
    expect(await deploy(["--yes"], h.deps)).toBe(1);
    expect(h.text()).toMatch(/SUPABASE_ACCESS_TOKEN was refused by Supabase \(401/);
    expect(h.text()).toContain("npx supabase login");
    expect(h.calls).toEqual([]);
  });
});

describe("DATABASE_URL and the db push route", () => {
  const pooler = (port: number, ref = REF) => `postgresql://postgres.${ref}:s3cret-pw@aws-0-eu-west-3.pooler.supabase.com:${port}/postgres`;
  const check = (values: Record<string, string>) => checkEnvFile(parseEnvFile(filledEnv(values)), "supabase/.env.production");

  it("DATABASE_URL is a function secret now: the pooler passes, localhost and non-URLs are refused, the direct host is warned about", () => {
    expect(check({ DATABASE_URL: pooler(6543), DB_STATEMENT_TIMEOUT_MS: "20000", DB_LOCK_TIMEOUT_MS: "3000" })).toMatchObject({ errors: [], warnings: [] });
    expect(check({ DATABASE_URL: "" })).toMatchObject({ errors: [], warnings: [] });
    expect(check({ DATABASE_URL: "postgres://postgres:postgres@127.0.0.1:54322/postgres" }).errors.join()).toMatch(/DATABASE_URL points at this machine/);
    expect(check({ DATABASE_URL: "host=db.x password=y" }).errors.join()).toMatch(/DATABASE_URL must be a postgres:\/\/ .*URL/);
    expect(check({ DB_LOCK_TIMEOUT_MS: "soon" }).errors.join()).toMatch(/DB_LOCK_TIMEOUT_MS must be a positive integer/);
    const direct = check({ DATABASE_URL: `postgresql://postgres:pw@db.${REF}.supabase.co:5432/postgres` });
    expect(direct.errors).toEqual([]);
    expect(direct.warnings.join()).toMatch(/direct connection .*transaction pooler/);
    expect(JSON.stringify(check({ DATABASE_URL: "nope://s3cret-pw@x" }))).not.toContain("s3cret-pw");
  });

  it("a transaction-pooler DATABASE_URL: db push goes through the same host's session port, the password never printed", async () => {
    const h = harness(tempProject({ linked: REF, env: filledEnv({ DATABASE_URL: pooler(6543) }) }));
    expect(await deploy(["--yes"], h.deps)).toBe(0);
    expect(h.calls[0].args).toEqual(["db", "push", "--db-url", pooler(5432), "--yes"]);
    expect(h.text()).toContain("npx supabase db push --db-url '<the session pooler of DATABASE_URL (env file)>' --yes");
    expect(h.text()).not.toContain("s3cret-pw");
  });

  it("SUPABASE_DB_PUSH_URL (environment first) wins; one naming another project is refused", async () => {
    const mine = `postgresql://postgres.${REF}:other-pw@aws-0-eu-west-3.pooler.supabase.com:5432/postgres`;
    const h = harness(tempProject({ linked: REF, env: filledEnv({ DATABASE_URL: pooler(6543) }) }), {
      env: { SUPABASE_ACCESS_TOKEN: FAKE_TOKEN, SUPABASE_DB_PUSH_URL: mine },
    });
    expect(await deploy(["--yes", "--only", "db"], h.deps)).toBe(0);
    expect(h.calls[0].args).toEqual(["db", "push", "--db-url", mine, "--yes"]);
    const wrong = harness(tempProject({ linked: REF, env: filledEnv({ SUPABASE_DB_PUSH_URL: pooler(5432, "zzzzzzzzzzzzzzzzzzzz") }) }));
    expect(await deploy(["--yes"], wrong.deps)).toBe(1);
    expect(wrong.text()).toMatch(/SUPABASE_DB_PUSH_URL names project zzzzzzzzzzzzzzzzzzzz/);
    expect(wrong.calls).toEqual([]);
  });

  it("without a pooler URL, db push keeps the CLI's route; when that answers IPv6, deploy gives the pooler route", async () => {
    const ipv6 = "IPv6 is not supported on your current network: dial tcp [2a05:d018:135e:1600::1]:5432: connect: network is unreachable";
    const h = harness(tempProject({ linked: REF, env: filledEnv() }), {
      code: (args) => (args[0] === "db" ? 1 : 0),
      output: (args) => (args[0] === "db" ? ipv6 : ""),
    });
    expect(await deploy(["--yes"], h.deps)).toBe(1);
    expect(h.calls.map((c) => c.args)).toEqual([dbPushArgs(REF)]);
    expect(h.text()).toMatch(/could not reach the project's direct database host/);
    expect(h.text()).toMatch(/"Session pooler"[\s\S]*SUPABASE_DB_PUSH_URL=<that URI>[\s\S]*DATABASE_URL/);
    // Another failure gets no such advice.
    const other = harness(tempProject({ linked: REF, env: filledEnv() }), { code: (args) => (args[0] === "db" ? 1 : 0), output: () => "syntax error at or near" });
    expect(await deploy(["--yes"], other.deps)).toBe(1);
    expect(other.text()).not.toMatch(/Session pooler/);
  });
});
