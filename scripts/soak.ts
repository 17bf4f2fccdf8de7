/**
 * `npm run soak` — the chaos soak (scripts/soak/run.ts, docs/soak.md): journeys
 * against `npm start` with every destination on, while the CRM and each
 * destination's double misbehave, the stack is SIGKILLed and Postgres
 * restarted; then prints the report and exits 1 unless nothing was lost,
 * duplicated, reordered or stuck, for every destination.
 *
 *   SOAK_SECONDS=300 (traffic window)  SOAK_CONCURRENCY=4  SOAK_THINK_MS=400
 *   SOAK_KILL_EVERY=25-55  SOAK_PG_RESTART_EVERY=25-55  (seconds, random in the range)
 *   SOAK_RETRY_SCHEDULE=<CRM_RETRY_SCHEDULE for the stack>  SOAK_REPORT_JSON=<file to write the report to>
 */
import { writeFile } from "node:fs/promises";
import { defaultOptions, formatReport, runSoak } from "./soak/run.ts";

const env = process.env;
const range = (v: string | undefined, fallback: [number, number]): [number, number] => {
  const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(v ?? "");
  return m ? [Number(m[1]), Number(m[2] ?? m[1])] : fallback;
};
const positive = (v: string | undefined, fallback: number) => (v && Number(v) > 0 ? Number(v) : fallback);

const opts = defaultOptions(positive(env.SOAK_SECONDS, 300));
opts.concurrency = positive(env.SOAK_CONCURRENCY, opts.concurrency);
opts.thinkMs = positive(env.SOAK_THINK_MS, opts.thinkMs);
opts.killEvery = range(env.SOAK_KILL_EVERY, opts.killEvery);
opts.pgRestartEvery = range(env.SOAK_PG_RESTART_EVERY, opts.pgRestartEvery);
opts.retrySchedule = env.SOAK_RETRY_SCHEDULE || opts.retrySchedule;

const started = Date.now();
console.log(`soak: ${opts.seconds} s of traffic, ${opts.concurrency} concurrent journeys, kills every ${opts.killEvery.join("–")} s, Postgres restarts every ${opts.pgRestartEvery.join("–")} s`);
const report = await runSoak(opts);
console.log(formatReport(report));
console.log(`soak: finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (env.SOAK_REPORT_JSON) await writeFile(env.SOAK_REPORT_JSON, JSON.stringify(report, null, 2));
process.exit(report.ok ? 0 : 1);
