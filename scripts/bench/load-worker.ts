/**
 * The load generator, in its own process so that its event loop shares
 * nothing with the CRM sandbox (which lives in the orchestrator). Each
 * autocannon connection plays a visitor: form-start, then form-submit carrying
 * the lead_id it got back; every response time is kept, per endpoint.
 * Driven over IPC by load.ts.
 *
 * With `pacedRate`, it is an open-loop generator instead: one request every
 * 1/rate s on a fixed schedule (alternating form-start / form-submit), through
 * fetch. autocannon's own overallRate is not used for this: it sends each
 * connection's share of a second back to back at the start of the second,
 * i.e. bursts, which is not a steady rate.
 */
import { Agent, request } from "node:http";
import autocannon from "autocannon";
import { formStartBody, formSubmitBody } from "./bodies.ts";

export interface LoadJob {
  /** Origin, e.g. http://127.0.0.1:4000 */
  origin: string;
  startPath: string;
  submitPath: string;
  /** Instead of the visitor's two steps: one fixed POST, repeated (its times are filed under "form-start"). */
  fixed?: { path: string; body: string };
  headers: Record<string, string>;
  connections: number;
  durationS: number;
  /** Open-loop: requests per second on a fixed schedule. Unset: closed loop, as fast as answered. */
  pacedRate?: number;
}

export type Endpoint = "form-start" | "form-submit";

export interface LoadOutcome {
  durationS: number;
  /** Response times in ms, per endpoint, in completion order. */
  latencies: Record<Endpoint, number[]>;
  status: Record<Endpoint, Record<string, number>>;
  /** Socket errors and timeouts (no HTTP answer at all). */
  errors: number;
  timeouts: number;
  /** Paced runs: how late the generator sent its latest request (ms); large = the generator could not keep up. */
  maxLateMs?: number;
}

/** One POST over a keep-alive agent (node:http: far cheaper per request than fetch). */
function post(agent: Agent, url: URL, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent, headers: { ...headers, "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body);
  });
}

async function paced(job: LoadJob, rate: number): Promise<LoadOutcome> {
  const latencies: Record<Endpoint, number[]> = { "form-start": [], "form-submit": [] };
  const status: Record<Endpoint, Record<string, number>> = { "form-start": {}, "form-submit": {} };
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const urls = { "form-start": new URL(job.startPath, job.origin), "form-submit": new URL(job.submitPath, job.origin) };
  let errors = 0;
  let leadId: string | undefined;
  let maxLateMs = 0;
  const inFlight = new Set<Promise<void>>();
  const send = async (endpoint: Endpoint) => {
    const started = performance.now();
    try {
      const body = JSON.stringify(endpoint === "form-start" ? formStartBody() : formSubmitBody(leadId));
      const res = await post(agent, urls[endpoint], job.headers, body);
      latencies[endpoint].push(Math.round((performance.now() - started) * 1000) / 1000);
      status[endpoint][res.status] = (status[endpoint][res.status] ?? 0) + 1;
      if (endpoint === "form-start" && res.status === 200) leadId = JSON.parse(res.text).lead_id;
    } catch {
      errors++;
    }
  };
  const intervalMs = 1000 / rate;
  const total = Math.round(job.durationS * rate);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    maxLateMs = Math.max(maxLateMs, performance.now() - due);
    const p = send(i % 2 === 0 ? "form-start" : "form-submit");
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  agent.destroy();
  return { durationS: Math.round(job.durationS * 100) / 100, latencies, status, errors, timeouts: 0, maxLateMs: Math.round(maxLateMs) };
}

async function run(job: LoadJob): Promise<LoadOutcome> {
  if (job.pacedRate) return paced(job, job.pacedRate);
  const latencies: Record<Endpoint, number[]> = { "form-start": [], "form-submit": [] };
  const status: Record<Endpoint, Record<string, number>> = { "form-start": {}, "form-submit": {} };
  // onResponse of a request runs synchronously just before the instance's
  // "response" event for that same request: this says which endpoint it was.
  let last: Endpoint = "form-start";
  const visitor: autocannon.Request[] = [
    {
      method: "POST",
      path: job.startPath,
      setupRequest: (req) => ({ ...req, body: JSON.stringify(formStartBody()) }),
      onResponse: (code, body, context) => {
        last = "form-start";
        if (code === 200) (context as { leadId?: string }).leadId = JSON.parse(body).lead_id;
      },
    },
    {
      method: "POST",
      path: job.submitPath,
      setupRequest: (req, context) => ({
        ...req,
        body: JSON.stringify(formSubmitBody((context as { leadId?: string }).leadId)),
      }),
      onResponse: () => void (last = "form-submit"),
    },
  ];
  const fixed: autocannon.Request[] = job.fixed
    ? [{ method: "POST", path: job.fixed.path, body: job.fixed.body, onResponse: () => void (last = "form-start") }]
    : [];
  let finished!: (r: autocannon.Result) => void;
  let failed!: (e: unknown) => void;
  const done = new Promise<autocannon.Result>((resolve, reject) => ((finished = resolve), (failed = reject)));
  const instance = autocannon({
    url: job.origin,
    connections: job.connections,
    duration: job.durationS,
    timeout: 30,
    headers: job.headers,
    requests: job.fixed ? fixed : visitor,
  }, (err, result) => (err ? failed(err) : finished(result)));
  instance.on("response", (_client, code, _bytes, ms) => {
    latencies[last].push(Math.round(ms * 1000) / 1000);
    status[last][code] = (status[last][code] ?? 0) + 1;
  });
  const result = await done;
  return { durationS: result.duration, latencies, status, errors: result.errors, timeouts: result.timeouts };
}

process.on("message", (msg: { id: number; job: LoadJob }) => {
  run(msg.job).then(
    (outcome) => process.send!({ id: msg.id, outcome }),
    (err) => process.send!({ id: msg.id, error: String(err instanceof Error ? err.stack : err) }),
  );
});
process.on("disconnect", () => process.exit(0));
