/**
 * The fuzzers' runner: fast-check generates batches of cases, each batch is
 * sent with bounded concurrency (one batch in flight at a time, BATCH_SIZE
 * requests at once) and checked against the oracle and the database, then
 * counts are kept for the closing report.
 *
 * Environment:
 *   FUZZ_RUNS     cases per function (default 160 in `npm test`; `npm run fuzz` sets 10000)
 *   FUZZ_SEED     fast-check seed (printed on every run), FUZZ_PATH to replay a shrunk case
 *   FUZZ_COLLECT  1 = do not stop at the first failing batch: run every case, then
 *                 fail listing each distinct violation with its first example
 *                 (default in `npm run fuzz`, so the counts cover the whole run)
 */
import fc from "fast-check";
import { expect } from "vitest";
import { eventually, type TestStack } from "../helpers/test-stack.ts";
import { type Json, PoolRef, RawJson } from "./arbitraries.ts";

export const FUZZ_RUNS = positiveInt(process.env.FUZZ_RUNS, 160);
export const BATCH_SIZE = positiveInt(process.env.FUZZ_BATCH, 8);
export const FUZZ_COLLECT = process.env.FUZZ_COLLECT === "1";
export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);
const FUZZ_PATH = process.env.FUZZ_PATH || undefined;

/** Test time limit for a property of `runs` cases. */
export const fuzzTimeout = (runs = FUZZ_RUNS, msPerCase = 25) => 120_000 + runs * msPerCase;

function positiveInt(v: string | undefined, fallback: number): number {
  const n = Number(v);
  return v && Number.isInteger(n) && n > 0 ? n : fallback;
}

export interface Violation {
  /** Short and stable, so that equal problems group together. */
  signature: string;
  detail: string;
  /** The case of the batch it belongs to, when it can be told. */
  index?: number;
}

export class FuzzReport {
  cases = 0;
  batches = 0;
  readonly flavours: Record<string, number> = {};
  readonly oracle: Record<string, number> = {};
  readonly statuses: Record<string, number> = {};
  readonly codes: Record<string, number> = {};
  readonly violations = new Map<string, { count: number; example: string }>();
  counting = true;
  started = Date.now();
  finished: number | undefined;

  constructor(readonly name: string) {}

  count(flavour: string, oracle: string, status: number, code?: string) {
    if (!this.counting) return;
    this.cases++;
    this.flavours[flavour] = (this.flavours[flavour] ?? 0) + 1;
    this.oracle[oracle] = (this.oracle[oracle] ?? 0) + 1;
    this.statuses[String(status)] = (this.statuses[String(status)] ?? 0) + 1;
    if (code) this.codes[code] = (this.codes[code] ?? 0) + 1;
  }

  record(v: Violation) {
    const seen = this.violations.get(v.signature);
    if (seen) seen.count++;
    else this.violations.set(v.signature, { count: 1, example: v.detail });
  }

  summary(): string {
    const fmt = (o: Record<string, number>) => Object.entries(o).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(" ");
    const lines = [
      `fuzz ${this.name}: ${this.cases} cases in ${this.batches} batches, ${(((this.finished ?? Date.now()) - this.started) / 1000).toFixed(1)} s`,
      `  flavours: ${fmt(this.flavours)}`,
      `  oracle:   ${fmt(this.oracle)}`,
      `  statuses: ${fmt(this.statuses)}`,
      `  codes:    ${fmt(this.codes)}`,
      `  violations: ${this.violations.size === 0 ? "none" : ""}`,
      ...[...this.violations].map(([sig, { count, example }]) => `    ${count}× ${sig}\n      e.g. ${example}`),
    ];
    return lines.join("\n");
  }
}

/**
 * Runs `runs` cases as batches through `runBatch`. A batch with violations
 * fails the property (fast-check then shrinks it and reports seed and path),
 * unless FUZZ_COLLECT is set: then every case runs and the distinct
 * violations are listed at the end.
 */
export async function runFuzz<T>(opts: {
  report: FuzzReport;
  arb: fc.Arbitrary<T>;
  runBatch: (cases: T[]) => Promise<Violation[]>;
  runs?: number;
  batchSize?: number;
}): Promise<void> {
  const { report } = opts;
  const batchSize = opts.batchSize ?? BATCH_SIZE;
  const numRuns = Math.ceil((opts.runs ?? FUZZ_RUNS) / batchSize);
  const batchArb = fc.array(opts.arb, { minLength: batchSize, maxLength: batchSize });
  console.log(`fuzz ${report.name}: ${numRuns} batches of ${batchSize}, FUZZ_SEED=${FUZZ_SEED}${FUZZ_COLLECT ? " (collect)" : ""}`);
  // Once a batch fails, fast-check shrinks it; from then on only the failing
  // case is sent (the others cannot change its outcome), so shrinking costs
  // one request per step instead of a whole batch.
  let focus: number | undefined;
  const property = fc.asyncProperty(batchArb, async (batch) => {
    if (report.counting) report.batches++;
    let violations: Violation[];
    try {
      violations = focus === undefined
        ? await opts.runBatch(batch)
        : (await opts.runBatch([batch[focus]])).map((v) => ({ ...v, index: focus }));
    } catch (err) {
      report.counting = false; // a broken check, not a finding: stop counting and let fast-check report it
      throw err;
    }
    if (violations.length === 0) return;
    if (FUZZ_COLLECT) {
      for (const v of violations) report.record(v);
      return;
    }
    if (report.counting) {
      for (const v of violations) report.record(v);
      report.counting = false; // from here on fast-check is shrinking: keep the counts of the real run
      focus = violations.find((v) => v.index !== undefined)?.index;
    }
    throw new Error(violations.map((v) => `${v.signature}: ${v.detail}`).join("\n"));
  });
  const details = await fc.check(property, { numRuns, seed: FUZZ_SEED, path: FUZZ_PATH, endOnFailure: FUZZ_PATH !== undefined });
  report.counting = false;
  report.finished = Date.now();
  if (details.failed) {
    const batch = (details.counterexample?.[0] ?? []) as unknown[];
    const example = focus === undefined ? describeCases(batch) : `  ${short(batch[focus], 2_000)}`;
    throw new Error(
      `${report.name}: property failed after ${details.numRuns} batches (${details.numShrinks} shrinks).\n` +
        `Replay: FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath}\n` +
        `Shrunk ${focus === undefined ? "batch" : `failing case (#${focus} of its batch)`}:\n${example}\n` +
        `Violation: ${String((details.errorInstance as Error | undefined)?.message ?? details.errorInstance)}`,
    );
  }
  if (report.violations.size > 0) {
    throw new Error(`${report.name}: ${report.violations.size} distinct violations (FUZZ_SEED=${FUZZ_SEED}):\n${report.summary()}`);
  }
}

/** A readable, bounded rendering of generated cases for failure messages. */
export function describeCases(cases: unknown[]): string {
  return cases.map((c, i) => `  [${i}] ${short(c)}`).join("\n");
}

export function short(value: unknown, max = 400): string {
  const text = JSON.stringify(value, (_k, v) => {
    if (v instanceof RawJson || v instanceof PoolRef) return v[fc.toStringMethod]();
    if (typeof v === "string" && v.length > 60) return `${v.slice(0, 40)}…(${v.length} chars)`;
    if (typeof v === "number" && !Number.isFinite(v)) return String(v);
    if (Object.is(v, -0)) return "-0";
    return v;
  });
  if (text === undefined) return String(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * The server's own account of a 5xx, when the batch lets us tell which:
 * one 5xx and one error line, or every error line the same.
 */
export function fivexxCause(serverErrors: string[], fivexx: number): string {
  const distinct = [...new Set(serverErrors)];
  return distinct.length === 1 && (fivexx === 1 || serverErrors.length === fivexx) ? ` (${distinct[0]})` : "";
}

/** The raw answer of a function. */
export interface Answer {
  status: number;
  text: string;
  json: unknown;
  error?: string;
}

export async function post(url: string, body: Uint8Array, headers: Record<string, string>): Promise<Answer> {
  try {
    const res = await fetch(url, { method: "POST", headers, body: body as BodyInit, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  } catch (err) {
    // No answer at all counts as a 5xx: the visitor got nothing usable.
    return { status: 599, text: "", json: undefined, error: (err as Error).message };
  }
}

export type { Json };

/**
 * After a fuzz run: every committed event reached the CRM exactly once — or
 * was superseded by a newer snapshot of its record that did — none dead or
 * pending, and every record's newest event was delivered.
 */
export async function expectEveryEventAcceptedOnce(stack: TestStack): Promise<void> {
  const sql = stack.db.sql;
  await eventually(async () => (await sql`select 1 from crm_deliveries where state in ('pending', 'blocked') limit 1`).length === 0, 60_000, 200);
  const states = await sql<{ state: string; n: number }[]>`select state, count(*)::int as n from crm_deliveries group by state`;
  expect(states.filter((s) => s.state !== "delivered" && s.state !== "superseded")).toEqual([]);
  const [{ missing }] = await sql<{ missing: number }[]>`select count(*)::int as missing from crm_events e where fanout <> 1`;
  expect(missing).toBe(0); // one delivery per event (monelec only)
  const ids = (await sql<{ id: string }[]>`select event_id as id from crm_deliveries where state = 'delivered'`).map((r) => r.id);
  const keys = stack.crmSandbox!.accepted().map((a) => a.idempotencyKey);
  expect(new Set(keys).size).toBe(keys.length);
  expect([...keys].sort()).toEqual([...ids].sort());
  const [{ stale }] = await sql<{ stale: number }[]>`
    select count(*)::int as stale from crm_events e
    where e.seq = (select max(seq) from crm_events n where n.record_id = e.record_id)
      and not exists (select 1 from crm_deliveries d where d.event_id = e.id and d.state = 'delivered')`;
  expect(stale).toBe(0);
}
