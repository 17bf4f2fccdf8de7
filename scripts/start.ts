/**
 * `npm start` — the local stack in one command, with the settings of
 * supabase/functions/.env (the environment wins). It stops completely — the
 * functions finish their background deliveries, then Postgres stops — on
 * SIGINT/SIGTERM, when its parent goes away (`kill <pid of npm start>`: npm
 * exits without passing the signal on), and when a part of the stack ends by
 * itself (the functions process or Postgres stopped by someone else).
 */
import { loadLocalEnv } from "./lib/load-local-env.ts";
import { LOCAL_SANDBOX_CRM_KEY } from "./local/dev-keys.ts";
import { startStack } from "./local/stack.ts";

// A closed terminal or pipe must not crash the shutdown half-way.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});

const stack = await (async () => startStack({ env: loadLocalEnv(), examplePage: true }))().catch((err) => {
  console.error(`\nCould not start the local stack: ${err instanceof Error ? err.message : err}\n`);
  process.exit(1);
});

const line = "─".repeat(78);
const bridgeOn = stack.enabledDestinations.length > 0;
const crmState = bridgeOn
  ? `on → ${stack.enabledDestinations.join(", ")}${stack.doubledDestinations.length ? ` (local doubles: ${stack.doubledDestinations.join(", ")})` : ""}`
  : `OFF (no destination configured: events are stored as "skipped").\n` +
    `                   Restart with MONELEC_API_KEY=${LOCAL_SANDBOX_CRM_KEY} (the CRM sandbox) and/or\n` +
    `                   LOCAL_DESTINATIONS=all (every destination's local double), then\n` +
    `                   \`npm run crm -- backfill\` to send what was skipped.`;
console.log(`
${line}
 Local stack is up
${line}
 Example page      ${stack.examplePageUrl ?? stack.examplePageProblem}  (click through a whole journey)
 Functions         ${stack.functionsUrl}/<name>
 Database          ${stack.databaseUrl}
 CRM bridge        ${crmState}
 CRM sandbox       ${stack.crmSandbox ? `http://127.0.0.1:${stack.crmSandbox.port}/  (what monelec received)` : "not used"}
 Doubles           ${stack.doubles ? `${stack.doubles.url}/  (what each destination received)` : "not started (LOCAL_DESTINATIONS=all starts them)"}
 Stripe API        ${stack.stripeApiUrl}${stack.stripeDouble ? "  (local double)" : ""}
 Webhook secret    ${stack.webhookSecret}
 Anon key          ${stack.anonKey}
 Service-role key  ${stack.serviceRoleKey}
 Sweeper           ${bridgeOn ? `every ${stack.sweepIntervalMs} ms` : "off (bridge off)"}

 Try it:
   curl -s ${stack.functionsUrl}/form-start \\
     -H "Authorization: Bearer ${stack.anonKey}" \\
     -H "Content-Type: application/json" \\
     -d '{"email":"jean.dupont@example.fr","phone":"06 12 34 56 78","connection_type":"definitif"}'
${stack.stripeDouble ? `
 Pay (test): POST ${stack.stripeApiUrl}/_double/payment_intents/<pi_id>/succeed  (sends a signed event)` : ""}
${line}
`);

if (!bridgeOn) {
  console.log(JSON.stringify({ ts: new Date().toISOString(), level: "warn", msg: "no destination is configured: the CRM bridge is off, events are kept as skipped" }));
}

let stopping = false;
async function shutdown(reason: string, code: number) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${reason}: stopping (finishing in-flight deliveries)…`);
  await stack.stop();
  process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void shutdown(signal, 0));
void stack.ended.then((reason) => shutdown(reason, 1));
// The parent (npm, its shell, tsx) is gone when this process is handed to another one.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void shutdown("parent process exited", 0);
}, 500).unref();
