/**
 * `npm run deploy` — puts this backend on a Supabase project with the Supabase
 * CLI from node_modules (no Docker):
 *   1. supabase db push                 migrations, and the crm-dispatch Vault secrets
 *   2. supabase secrets set --env-file  the function secrets
 *   3. supabase functions deploy <name> --use-api, for each function (--no-verify-jwt for stripe-webhook)
 * Refuses, with what to do, when not linked / not logged in / the env file is
 * wrong. `--dry-run` checks offline and prints the exact commands.
 * See README "Deploy to Supabase".
 */
import { createInterface } from "node:readline/promises";
import { fileURLToPath } from "node:url";
import { runSupabase } from "./deploy/cli.ts";
import { deploy } from "./deploy/main.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

const code = await deploy(process.argv.slice(2), {
  root,
  env: process.env,
  run: (args, opts) => runSupabase(args, { cwd: root, ...opts }),
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  isTTY: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  async confirm(question) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  },
}).catch((e: unknown) => {
  console.error(`\nDeploy failed: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
});
process.exit(code);
