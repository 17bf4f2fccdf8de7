/**
 * `npm run deploy` as a function of its arguments and surroundings (the CLI
 * runner, environment, files, terminal), so that tests drive every refusal and
 * the dry run offline. scripts/deploy.ts wires it to the real world.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { dbPushTarget, DIRECT_HOST_UNREACHABLE, directHostRoute } from "./database-url.ts";
import { checkEnvFile, type EnvCheck, parseEnvFile } from "./env-file.ts";
import { loadFunctions } from "./functions.ts";
import { buildPlan, crmDispatchUrl, formatCommand, functionsBaseUrl, parseOnly, type PlannedStep, STEPS, type StepKind } from "./plan.ts";
import { checkLoggedIn, type CliResult, linkedProjectRef, MANAGEMENT_API_URL, type ManagementApi, resolveProjectRef } from "./preflight.ts";
import { WHERE_TO_COPY } from "./service-role-key.ts";

export const DEFAULT_ENV_FILE = "supabase/.env.production";

export const USAGE = `usage: npm run deploy -- [--dry-run] [--yes] [--project-ref <ref>] [--env-file <path>] [--only db,secrets,functions]

  --dry-run            check everything offline and print the exact commands; run nothing
  --yes                do not ask for confirmation (CI)
  --project-ref <ref>  the project to deploy to (default: SUPABASE_PROJECT_REF, else the linked project)
  --env-file <path>    the secrets file, relative to the repository root (default: ${DEFAULT_ENV_FILE};
                       start from supabase/.env.example)
  --only <steps>       run only some steps: db (migrations + Vault), secrets, functions`;

export interface DeployDeps {
  root: string;
  env: Record<string, string | undefined>;
  /** Runs `supabase <args>`: captured (preflight) or in the terminal, and captured too (steps). */
  run(args: string[], opts: { env?: Record<string, string>; inherit: boolean }): Promise<CliResult>;
  /** Where the access token is checked (default: Supabase's Management API, global fetch). */
  managementApi?: ManagementApi;
  out(line: string): void;
  err(line: string): void;
  isTTY: boolean;
  confirm(question: string): Promise<boolean>;
}

export interface DeployArgs {
  dryRun: boolean;
  yes: boolean;
  help: boolean;
  projectRef?: string;
  envFile: string;
  only?: StepKind[];
}

export function parseArgs(argv: string[]): DeployArgs {
  const args: DeployArgs = { dryRun: false, yes: false, help: false, envFile: DEFAULT_ENV_FILE };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith("--") && argv[i].includes("=") ? [argv[i].slice(0, argv[i].indexOf("=")), argv[i].slice(argv[i].indexOf("=") + 1)] : [argv[i], undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new Error(`${flag} needs a value.\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case "--dry-run": args.dryRun = true; break;
      case "--yes": case "-y": args.yes = true; break;
      case "--help": case "-h": args.help = true; break;
      case "--project-ref": args.projectRef = value(); break;
      case "--env-file": args.envFile = value(); break;
      case "--only": args.only = parseOnly(value()); break;
      default: throw new Error(`Unknown argument: ${argv[i]}\n${USAGE}`);
    }
  }
  return args;
}

/** Exit code: 0 done (or dry run printed), 1 refused or failed. */
export async function deploy(argv: string[], deps: DeployDeps): Promise<number> {
  const { out, err } = deps;
  let args: DeployArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    err((e as Error).message);
    return 1;
  }
  if (args.help) {
    out(USAGE);
    return 0;
  }
  const refuse = (message: string) => {
    err(`\nDeploy refused:\n${message}\n`);
    return 1;
  };
  const steps = new Set(args.only ?? STEPS);

  // 1. Which project.
  const ref = resolveProjectRef({ flag: args.projectRef, env: deps.env, linked: linkedProjectRef(deps.root) });
  if (!ref.ok) return refuse(ref.message);
  const projectRef = ref.value;

  // 2. The functions: folders and config.toml agree.
  const fns = loadFunctions(deps.root);
  if (fns.problems.length > 0) return refuse(fns.problems.join("\n"));

  // 3. The env file (only needed by the db and secrets steps).
  // Relative to the repository root, where the CLI runs (npm run starts there too).
  const envPath = isAbsolute(args.envFile) ? args.envFile : join(deps.root, args.envFile);
  const envLabel = args.envFile;
  let serviceRoleKey: string | undefined;
  let envValues: ReadonlyMap<string, string> = new Map();
  const warnings: string[] = [];
  if (steps.has("db") || steps.has("secrets")) {
    if (!existsSync(envPath)) {
      return refuse(
        `${envLabel} does not exist. Create it from the example and fill in the values:\n` +
          `  cp supabase/.env.example ${envLabel}\n` +
          "(keep it out of git: it holds production secrets; supabase/.env.production is git-ignored)",
      );
    }
    const file = parseEnvFile(readFileSync(envPath, "utf8"));
    const check = checkEnvFile(file, envLabel);
    const errors = [...check.errors, ...projectProblems(check, projectRef, fns.functions)];
    if (errors.length > 0) return refuse(errors.map((e) => `  - ${e}`).join("\n"));
    warnings.push(...check.warnings);
    serviceRoleKey = check.serviceRoleKey;
    envValues = file.values;
  }

  // 4. How db push reaches the database: a pooler URL when one is given, else the CLI's route.
  const push = steps.has("db") ? dbPushTarget(projectRef, { env: deps.env, file: envValues }) : { ok: true as const };
  if (!push.ok) return refuse(push.message);
  if (push.note) warnings.push(push.note);

  const plan = buildPlan({ projectRef, envFile: envLabel, functions: fns.functions, serviceRoleKey, dbPushUrl: push.url, only: args.only });
  out(`Deploying to ${ref.note}.`);
  for (const w of warnings) out(`  note: ${w}`);
  out("");
  plan.forEach((step, i) => {
    out(`${i + 1}. ${step.title}`);
    out(`   ${formatCommand(step)}`);
  });
  out("");

  if (args.dryRun) {
    out("Dry run: nothing was run. The login check (`supabase projects list`) is skipped too.");
    return 0;
  }

  // 5. Logged in (the only check that talks to Supabase): the token is tried on the Management API.
  const api = deps.managementApi ?? { url: MANAGEMENT_API_URL, fetch: globalThis.fetch };
  const login = await checkLoggedIn(deps.env, (a) => deps.run(a, { inherit: false }), { projectRef, api });
  if (!login.ok) return refuse(login.message);
  out(`Supabase CLI ${login.note}.`);

  // 6. One confirmation for the whole plan.
  if (!args.yes) {
    if (!deps.isTTY) return refuse("Not an interactive terminal: pass --yes to deploy without a question (npm run deploy -- --yes).");
    if (!(await deps.confirm(`Run these ${plan.length} steps on project ${projectRef}? [y/N] `))) {
      err("Nothing was run.");
      return 1;
    }
  }

  // 7. The steps, in order; stop at the first failure.
  for (const [i, step] of plan.entries()) {
    out(`\n── ${i + 1}/${plan.length} ${step.title}`);
    const result = await deps.run(step.args, { env: step.env, inherit: true });
    if (result.code !== 0) {
      if (step.kind === "db" && !push.url && DIRECT_HOST_UNREACHABLE.test(`${result.stdout}\n${result.stderr}`)) {
        err(`\n${directHostRoute(projectRef)}`);
      }
      err(
        `\nStep ${i + 1} failed (exit code ${result.code}): ${formatCommand(step)}\n` +
          "The steps after it did not run. Fix the cause shown above, then run the same npm run deploy again " +
          "(every step is safe to repeat).",
      );
      return 1;
    }
  }
  out(afterwards(projectRef, plan, serviceRoleKey !== undefined));
  return 0;
}

/** What only the target project can tell wrong: a key or URL of another project, a key the gateway would refuse. */
function projectProblems(check: EnvCheck, projectRef: string, functions: { name: string; verifyJwt: boolean }[]): string[] {
  const problems: string[] = [];
  if (check.serviceRoleKeyRef && check.serviceRoleKeyRef !== projectRef) {
    problems.push(`SUPABASE_SERVICE_ROLE_KEY belongs to project ${check.serviceRoleKeyRef}, not ${projectRef}: ${WHERE_TO_COPY} of project ${projectRef}.`);
  }
  const dispatch = functions.find((f) => f.name === "crm-dispatch");
  if (check.serviceRoleKeyKind === "secret-key" && dispatch?.verifyJwt) {
    problems.push(
      "SUPABASE_SERVICE_ROLE_KEY is a secret key (sb_secret_…), which is not a JWT: with verify_jwt = true on crm-dispatch " +
        "(supabase/config.toml) the gateway refuses it, and the sweep would never run. Use the legacy service_role JWT (eyJ…) " +
        "from Project Settings → API Keys → \"Legacy API keys\".",
    );
  }
  for (const url of [check.databaseUrl, check.dbPushUrl]) {
    if (url?.info.ref && url.info.ref !== projectRef) {
      const name = url === check.databaseUrl ? "DATABASE_URL" : "SUPABASE_DB_PUSH_URL";
      problems.push(`${name} names project ${url.info.ref}, but this deploy targets ${projectRef}.`);
    }
  }
  return problems;
}

function afterwards(ref: string, plan: PlannedStep[], vaultKey: boolean): string {
  const lines = ["", `Done. Functions: ${functionsBaseUrl(ref)}/<name>`, "", "Next:"];
  lines.push(`  - Stripe dashboard → Developers → Webhooks: endpoint ${functionsBaseUrl(ref)}/stripe-webhook`);
  lines.push("    (events payment_intent.succeeded, payment_intent.payment_failed, payment_intent.canceled, charge.refunded);");
  lines.push("    its signing secret is STRIPE_WEBHOOK_SECRET in the env file (then: npm run deploy -- --only secrets).");
  if (plan.some((s) => s.kind === "db")) {
    lines.push(
      vaultKey
        ? `  - Vault: db push stores crm_dispatch_url (${crmDispatchUrl(ref)}) and the service-role key only when it applies migrations; to change them later, see README "Deploy to Supabase".`
        : "  - Vault: no SUPABASE_SERVICE_ROLE_KEY was given, so the crm-dispatch sweep has no key yet: see README \"Deploy to Supabase\".",
    );
  }
  lines.push("  - Check the CRM key: README \"Deploy to Supabase\" (npm run crm -- test).");
  return lines.join("\n");
}
