/**
 * Property-based fuzzing of form-start, form-submit and contact-callback over
 * HTTP, against the real Deno-served functions and Postgres (one stack for
 * the file). For every generated request — valid, near-valid or hostile:
 *   - never a 5xx;
 *   - the status is what the contract and the product's own schemas say
 *     (valid → 200 with an id; invalid → 400/413/415 with the error shape);
 *   - a 200 wrote exactly one row (form-start: one upsert) and exactly one
 *     `crm_events` row with the contract's endpoint and CRM body;
 *     anything else wrote nothing.
 * At the end every event the fuzzers committed has reached the CRM sandbox
 * exactly once. FUZZ_RUNS sets the cases per function (see harness.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/test-stack.ts";
import { formCase } from "./arbitraries.ts";
import { contactCallback, formStart, formSubmit, IdPool, runFormBatch } from "./form-model.ts";
import { expectEveryEventAcceptedOnce, FUZZ_RUNS, FuzzReport, fuzzTimeout, runFuzz } from "./harness.ts";

let stack: TestStack;
const leads = new IdPool();
const reports: FuzzReport[] = [];

beforeAll(async () => {
  stack = await startTestStack({ RATE_LIMIT_PER_MINUTE: "0" });
});
afterAll(async () => {
  for (const r of reports) console.log(r.summary());
  await stack?.close();
});

describe.each([formStart, formSubmit, contactCallback])("fuzz $name", (fn) => {
  it(`${FUZZ_RUNS} generated requests: never 5xx, status as the oracle says, writes exactly what a 200 promises`, async () => {
    const report = new FuzzReport(fn.name);
    reports.push(report);
    await runFuzz({
      report,
      arb: formCase(fn.spec),
      runBatch: (cases) => runFormBatch(stack, fn as never, cases, leads, report),
    });
    expect(report.cases).toBeGreaterThanOrEqual(FUZZ_RUNS);
    // A run that exercised only one side would prove little.
    expect(report.oracle.valid ?? 0).toBeGreaterThan(report.cases * 0.15);
    expect(report.cases - (report.oracle.valid ?? 0)).toBeGreaterThan(report.cases * 0.15);
  }, fuzzTimeout());
});

describe("after the fuzzing", () => {
  it("every committed event reached the CRM exactly once, none dead", () => expectEveryEventAcceptedOnce(stack), 90_000);
});

