/**
 * `npm run deploy`, offline: the argument lists, the refusals (not linked, not
 * logged in, env file missing or wrong, no terminal), the dry run, and the
 * order of the steps — with the Supabase CLI replaced by a recorder.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { checkEnvFile, parseEnvFile } from "../../scripts/deploy/env-file.ts";
import { loadFunctions } from "../../scripts/deploy/functions.ts";
import { deploy, type DeployDeps, parseArgs } from "../../scripts/deploy/main.ts";
import { buildPlan, dbPushArgs, formatCommand, functionDeployArgs, parseOnly, secretsSetArgs } from "../../scripts/deploy/plan.ts";
import { checkLoggedIn, linkedProjectRef, NOT_LINKED_MESSAGE, NOT_LOGGED_IN_MESSAGE, resolveProjectRef } from "../../scripts/deploy/preflight.ts";

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
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
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

function harness(root: string, opts: { env?: Record<string, string>; tty?: boolean; answer?: boolean; code?: (args: string[]) => number } = {}): Harness {
  const h: Harness = {
    calls: [],
    out: [],
    err: [],
    text: () => [...h.out, ...h.err].join("\n"),
    deps: {
      root,
      env: opts.env ?? { SUPABASE_ACCESS_TOKEN: "sbp_test" },
      async run(args, runOpts) {
        h.calls.push({ args, ...runOpts });
        return { code: opts.code?.(args) ?? 0, stdout: "", stderr: opts.code?.(args) ? "Access token not provided." : "" };
      },
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

  it("logged in: SUPABASE_ACCESS_TOKEN, else `supabase projects list` must succeed", async () => {
    const never = async () => {
      throw new Error("must not run the CLI");
    };
    expect(await checkLoggedIn({ SUPABASE_ACCESS_TOKEN: "sbp_x" }, never)).toMatchObject({ ok: true, value: "token" });
    const calls: string[][] = [];
    const ok = await checkLoggedIn({}, async (args) => (calls.push(args), { code: 0, stdout: "", stderr: "" }));
    expect(ok).toMatchObject({ ok: true, value: "login" });
    expect(calls).toEqual([["projects", "list"]]);
    const no = await checkLoggedIn({}, async () => ({ code: 1, stdout: "", stderr: "Access token not provided. Supply an access token…\n" }));
    expect(no).toEqual({ ok: false, message: `${NOT_LOGGED_IN_MESSAGE}\n(the CLI said: Access token not provided. Supply an access token…)` });
    expect(await checkLoggedIn({}, never)).toMatchObject({ ok: false, message: expect.stringMatching(/npm install/) });
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
    expect(text).toMatch(/SUPABASE_SERVICE_ROLE_KEY must be the project's legacy service_role key/);
    expect(text).not.toContain("pk_live_wrongkind");
    expect(text).not.toContain("sb_secret_abc");
  });

  it("a missing line is refused; an empty CRM key and a missing service-role key are only warned about", () => {
    expect(check(filledEnv({ SITE_URL: null })).errors.join("\n")).toMatch(/has no line for SITE_URL/);
    const warned = check(filledEnv({ MONELEC_API_KEY: "", SUPABASE_SERVICE_ROLE_KEY: null, EXTRA_THING: "1" }));
    expect(warned.errors).toEqual([]);
    expect(warned.warnings.join("\n")).toMatch(/MONELEC_API_KEY is empty: the CRM bridge will be off/);
    expect(warned.warnings.join("\n")).toMatch(/SUPABASE_SERVICE_ROLE_KEY is not in .*crm-dispatch sweep stays idle/);
    expect(warned.warnings.join("\n")).toMatch(/EXTRA_THING is not a variable the functions read/);
    expect(warned.serviceRoleKey).toBeUndefined();
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
