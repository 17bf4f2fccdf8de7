/**
 * Local settings from supabase/functions/.env (or LOCAL_ENV_FILE): the
 * environment wins over the file, an empty value means the default, a bad line
 * is named; and `npm run crm -- test` on the local stack checks the local CRM
 * sandbox, found through the file alone.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crmTestTarget } from "../../scripts/lib/crm-test-target.ts";
import { LOCAL_ENV_FILE, loadLocalEnv, localEnvFile } from "../../scripts/lib/load-local-env.ts";
import { DEFAULT_PORTS } from "../../scripts/lib/ports.ts";
import { stackPorts } from "../../scripts/local/stack.ts";
import { type CrmSandbox, startCrmSandbox } from "../../scripts/local/crm-sandbox.ts";
import { crmCli } from "../helpers/crm-cli.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "raccordement-env-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function envFile(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

describe("loadLocalEnv", () => {
  it("reads supabase/functions/.env by default (Supabase's convention), relative to the repository", () => {
    expect(LOCAL_ENV_FILE).toBe("supabase/functions/.env");
    expect(localEnvFile({})).toMatch(/supabase\/functions\/\.env$/);
    expect(localEnvFile({ LOCAL_ENV_FILE: "" })).toBeNull();
  });

  it("puts the file's values beneath the environment's; an empty value means the default", async () => {
    const file = await envFile("a.env", "# local\nDB_PORT=55432\nexport FUNCTIONS_PORT='55431'\nMONELEC_API_KEY=from-file\nSTRIPE_API_URL=\n");
    const env = loadLocalEnv({ LOCAL_ENV_FILE: file, MONELEC_API_KEY: "from-env" });
    expect(env.DB_PORT).toBe("55432");
    expect(env.FUNCTIONS_PORT).toBe("55431");
    expect(env.MONELEC_API_KEY).toBe("from-env");
    expect("STRIPE_API_URL" in env).toBe(false);
  });

  it("refuses a line that is not NAME=value, naming the file and the line, and a named file that is missing", async () => {
    const file = await envFile("bad.env", "DB_PORT=1\nnot a setting\n");
    expect(() => loadLocalEnv({ LOCAL_ENV_FILE: file })).toThrow(new RegExp(`${file}: line 2 is not NAME=value`));
    expect(() => loadLocalEnv({ LOCAL_ENV_FILE: join(dir, "missing.env") })).toThrow(/LOCAL_ENV_FILE names .*missing\.env, which does not exist/);
    expect(loadLocalEnv({ LOCAL_ENV_FILE: "", A: "1" })).toEqual({ LOCAL_ENV_FILE: "", A: "1" });
  });

  it("supabase/functions/.env.example, every setting uncommented, gives the documented default ports", async () => {
    const example = await readFile(join(ROOT, "supabase/functions/.env.example"), "utf8");
    const settings = example.split("\n").filter((l) => /^# [A-Z_]+=/.test(l)).map((l) => l.slice(2)).join("\n");
    const env = loadLocalEnv({ LOCAL_ENV_FILE: await envFile("example.env", settings) });
    expect(Object.keys(env)).toEqual(expect.arrayContaining(["FUNCTIONS_PORT", "DB_PORT", "CRM_SANDBOX_PORT", "STRIPE_DOUBLE_PORT", "EXAMPLE_PAGE_PORT", "LOCAL_DATA_DIR"]));
    const { DATABASE_URL: _db, MONELEC_API_URL: _crm, STRIPE_API_URL: _stripe, ...local } = env;
    expect(stackPorts(local, { examplePage: true }).map((c) => [c.setting, c.port])).toEqual(Object.entries(DEFAULT_PORTS));
  });
});

describe("crm test's target", () => {
  it("is the local CRM sandbox when the database is the local stack's and MONELEC_API_URL is unset", () => {
    expect(crmTestTarget({}).url).toBe("http://127.0.0.1:54323/api/external");
    expect(crmTestTarget({ CRM_SANDBOX_PORT: "4010", DB_PORT: "6000" }).url).toBe("http://127.0.0.1:4010/api/external");
    expect(crmTestTarget({ DATABASE_URL: "postgres://postgres:postgres@127.0.0.1:54322/postgres" }).url).toBe("http://127.0.0.1:54323/api/external");
  });

  it("is MONELEC_API_URL when set, and the real CRM for a remote database", () => {
    expect(crmTestTarget({ MONELEC_API_URL: "https://crm.example/api/" }).url).toBe("https://crm.example/api");
    expect(crmTestTarget({ DATABASE_URL: "postgres://u:p@db.example.supabase.co:5432/postgres" }).url).toBe("https://monelec.net/api/external");
    expect(crmTestTarget({ SUPABASE_DB_URL: "postgres://u:p@db.example.supabase.co:5432/postgres" }).url).toBe("https://monelec.net/api/external");
  });
});

describe("npm run crm -- test, settings in the env file only", () => {
  const KEY = "env-file-crm-key";
  let sandbox: CrmSandbox;
  beforeAll(async () => {
    sandbox = await startCrmSandbox({ apiKey: KEY, quiet: true });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it("checks the local stack's sandbox on the file's CRM_SANDBOX_PORT with the file's key", async () => {
    const file = await envFile("crm.env", `CRM_SANDBOX_PORT=${sandbox.port}\nMONELEC_API_KEY=${KEY}\n`);
    const ok = await crmCli(["test"], { LOCAL_ENV_FILE: file });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`checked http://127.0.0.1:${sandbox.port}/api/external`);
    expect(sandbox.attempts()).toBe(1);

    const wrongKey = await crmCli(["test"], { LOCAL_ENV_FILE: file, MONELEC_API_KEY: "not-the-key" }); // the environment wins
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toContain("refused the key");
  }, 60_000);
});
