/**
 * The chaos soak's short version (the full one is `npm run soak`): about half
 * a minute of concurrent journeys against `npm start` while the CRM sandbox
 * is flaky, down, throttling and slow, with one SIGKILL of the whole stack and
 * one Postgres restart under the running functions, with every destination
 * on and each vendor's double in its own fault phases. Every committed event
 * must reach the CRM exactly once, in order per request and lead; every
 * destination must end with lost 0, duplicates 0, order violations 0
 * (docs/soak.md); nothing stuck, no half-written row, nothing leaked to the logs.
 */
import { describe, expect, it } from "vitest";
import { defaultOptions, formatReport, runSoak } from "../../scripts/soak/run.ts";

describe("chaos soak (short)", () => {
  it("survives a stack kill, a Postgres restart and a misbehaving CRM: lost 0, duplicates 0, stuck 0", async () => {
    const seconds = Number(process.env.SHORT_SOAK_SECONDS ?? 28);
    const report = await runSoak({
      ...defaultOptions(seconds),
      killAt: [seconds * 0.3],
      pgRestartAt: [seconds * 0.65],
      crmPhase: [2, 4],
      drainTimeoutMs: 90_000,
      log: () => {},
    });
    console.log(formatReport(report));
    expect(report.kills).toBeGreaterThanOrEqual(1);
    expect(report.pgRestarts.fast + report.pgRestarts.immediate).toBeGreaterThanOrEqual(1);
    expect(report.journeys.completed).toBeGreaterThan(10);
    expect(report.events).toBeGreaterThan(50);
    expect(report.lost).toBe(0);
    expect(report.duplicatesAccepted).toBe(0);
    expect(report.unknownAccepted).toBe(0);
    expect(report.orderViolations).toBe(0);
    expect(report.stuck).toEqual({ pending: 0, dead: 0 });
    expect(Object.keys(report.destinations).sort()).toEqual(
      ["monelec", "webhook", "hubspot", "brevo", "pipedrive", "salesforce", "odoo", "zendesk", "woocommerce", "shopify", "sellsy"].sort());
    for (const [name, d] of Object.entries(report.destinations)) {
      expect({ name, lost: d.lost, duplicates: d.duplicates, orderViolations: d.orderViolations, stuck: d.stuck })
        .toEqual({ name, lost: 0, duplicates: 0, orderViolations: 0, stuck: { pending: 0, dead: 0 } });
      expect(d.checked, name).toBeGreaterThan(10);
    }
    expect(report.problems).toEqual([]);
  }, 240_000);
});
