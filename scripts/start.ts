/**
 * `npm start` — the local stack in one command. Ctrl-C (SIGINT/SIGTERM) stops
 * everything: functions finish their background deliveries, then Postgres stops.
 */
import { LOCAL_SANDBOX_CRM_KEY } from "./local/dev-keys.ts";
import { startStack } from "./local/stack.ts";

const stack = await startStack({ env: process.env, examplePage: true }).catch((err) => {
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
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping (finishing in-flight deliveries)…`);
    await stack.stop();
    process.exit(0);
  });
}
