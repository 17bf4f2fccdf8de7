/**
 * What `npm run deploy` runs, as data: the Supabase CLI argument lists, built
 * by pure functions so that tests check them offline and `--dry-run` prints
 * exactly what would run.
 *
 * Written for the CLI pinned in package.json (supabase 2.117.0, the newest
 * release whose eight platform binaries are all published, so the lock file
 * is complete for every OS): a hosted project is named with
 * `--project-ref <ref>`, and a non-interactive hosted change needs `--yes`
 * (deploy asks once itself).
 */

export const STEPS = ["db", "secrets", "functions"] as const;
export type StepKind = (typeof STEPS)[number];

export interface PlannedStep {
  kind: StepKind;
  title: string;
  /** Arguments after `supabase`. */
  args: string[];
  /** Extra environment for this command only (values may be secret: never printed). */
  env: Record<string, string>;
  /** How to show each env value in a printed command, instead of the value itself. */
  envLabels: Record<string, string>;
  /** Arguments that are secret (a URL with a password), shown as their label. */
  argLabels?: Record<string, string>;
}

export interface PlanInput {
  projectRef: string;
  /** As the user gave it (relative paths stay relative: the CLI runs from the repo root). */
  envFile: string;
  functions: { name: string; verifyJwt: boolean }[];
  /** The service-role key for Vault, if the env file has one. */
  serviceRoleKey?: string;
  /** `db push` through this URL (the session pooler) instead of the CLI's own route to the project. */
  dbPushUrl?: { value: string; label: string };
  only?: readonly StepKind[];
}

export const PROJECT_REF = /^[a-z]{20}$/;

export const functionsBaseUrl = (ref: string) => `https://${ref}.supabase.co/functions/v1`;
export const crmDispatchUrl = (ref: string) => `${functionsBaseUrl(ref)}/crm-dispatch`;

const target = (ref: string) => ["--project-ref", ref];

/**
 * Migrations, and (when migrations are applied) the Vault secrets of config.toml [db.vault].
 * With a URL: `--db-url <url>` (the session pooler when the direct host is out of reach).
 */
export function dbPushArgs(ref: string, dbUrl?: string): string[] {
  return dbUrl ? ["db", "push", "--db-url", dbUrl, "--yes"] : ["db", "push", ...target(ref), "--yes"];
}

export function secretsSetArgs(ref: string, envFile: string): string[] {
  return ["secrets", "set", "--env-file", envFile, ...target(ref), "--yes"];
}

/** `--use-api`: bundled server-side, no Docker. `--no-verify-jwt` exactly where config.toml says verify_jwt = false. */
export function functionDeployArgs(ref: string, fn: { name: string; verifyJwt: boolean }): string[] {
  return ["functions", "deploy", fn.name, "--use-api", ...target(ref), "--yes", ...(fn.verifyJwt ? [] : ["--no-verify-jwt"])];
}

export function buildPlan(input: PlanInput): PlannedStep[] {
  if (!PROJECT_REF.test(input.projectRef)) throw new Error(`Not a project ref: "${input.projectRef}" (20 lowercase letters).`);
  const only = new Set(input.only ?? STEPS);
  const steps: PlannedStep[] = [];
  if (only.has("db")) {
    const env: Record<string, string> = { CRM_DISPATCH_URL: crmDispatchUrl(input.projectRef) };
    const envLabels: Record<string, string> = { CRM_DISPATCH_URL: env.CRM_DISPATCH_URL };
    if (input.serviceRoleKey) {
      env.CRM_DISPATCH_SERVICE_ROLE_KEY = input.serviceRoleKey;
      envLabels.CRM_DISPATCH_SERVICE_ROLE_KEY = `<SUPABASE_SERVICE_ROLE_KEY from ${input.envFile}>`;
    }
    const url = input.dbPushUrl;
    steps.push({
      kind: "db",
      title: `Push migrations (and the crm-dispatch Vault secrets) to the project database${url ? ` through ${url.label}` : ""}`,
      args: dbPushArgs(input.projectRef, url?.value),
      env,
      envLabels,
      ...(url ? { argLabels: { [url.value]: `<${url.label}>` } } : {}),
    });
  }
  if (only.has("secrets")) {
    steps.push({
      kind: "secrets",
      title: `Set the function secrets from ${input.envFile}`,
      args: secretsSetArgs(input.projectRef, input.envFile),
      env: {},
      envLabels: {},
    });
  }
  if (only.has("functions")) {
    for (const fn of input.functions) {
      steps.push({
        kind: "functions",
        title: `Deploy ${fn.name} (verify_jwt = ${fn.verifyJwt})`,
        args: functionDeployArgs(input.projectRef, fn),
        env: {},
        envLabels: {},
      });
    }
  }
  return steps;
}

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The command as a user would type it from the repo root; secret env values replaced by their labels. */
export function formatCommand(step: PlannedStep): string {
  const env = Object.keys(step.env).map((k) => `${k}=${shellQuote(step.envLabels[k] ?? "<secret>")}`);
  return [...env, "npx", "supabase", ...step.args.map((a) => shellQuote(step.argLabels?.[a] ?? a))].join(" ");
}

export function parseOnly(value: string): StepKind[] {
  const kinds = value.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = kinds.filter((k) => !(STEPS as readonly string[]).includes(k));
  if (bad.length > 0 || kinds.length === 0) throw new Error(`--only takes ${STEPS.join(", ")} (comma-separated), not "${value}".`);
  return kinds as StepKind[];
}
