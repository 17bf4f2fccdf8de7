/**
 * The doubles' common kit (Node only — used by the local stack and tests,
 * never by the functions). A vendor double is a Web-style handler
 * (`Request → Response`) with its own store; the kit records every call,
 * plays injected faults, and serves all doubles from one loopback server:
 *
 *   /<name>/…                      the vendor's API, as its documentation describes it
 *   GET  /_doubles/<name>/calls    every call received: method, path, query, headers, body, status
 *   GET  /_doubles/<name>/state    what the double holds (contacts, deals…)
 *   POST /_doubles/<name>/faults   {"mode":"ok|down|error|slow|throttle|reject", "times"?, "status"?,
 *                                   "delayMs"?, "retryAfter"?, "failRate"?, "path"?}
 *   POST /_doubles/<name>/reset    forget everything
 *   GET  /                         an HTML page of what each double received
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

export interface RecordedCall {
  method: string;
  /** Path under the double's base, e.g. /crm/v3/objects/contacts/batch/upsert */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  status: number;
  at: string;
}

export interface VendorDouble {
  readonly name: string;
  /** The vendor's API; `req.url`'s path is relative to the double's base. */
  handle(req: Request): Promise<Response>;
  /** What the double holds now, by kind (for tests: "no duplicate contact"). */
  state(): Record<string, unknown[]>;
  reset(): void;
}

export interface Faults {
  mode: "ok" | "down" | "error" | "slow" | "throttle" | "reject";
  times?: number;
  status?: number;
  delayMs?: number;
  retryAfter?: number;
  failRate?: number;
  /** Only calls whose path contains this. */
  path?: string;
}

export interface MountedDouble {
  readonly double: VendorDouble;
  calls(): RecordedCall[];
  setFaults(f: Faults): void;
  reset(): void;
}

export interface DoublesServer {
  url: string;
  port: number;
  /** Base URL of one double, e.g. http://127.0.0.1:54327/hubspot */
  urlOf(name: string): string;
  get(name: string): MountedDouble;
  close(): Promise<void>;
}

const FAULT_MODES = new Set(["ok", "down", "error", "slow", "throttle", "reject"]);

export function parseFaults(value: unknown): Faults {
  const f = value as Partial<Faults> | null;
  if (!f || typeof f !== "object" || !FAULT_MODES.has(f.mode as string)) {
    throw new Error(`faults.mode must be one of ${[...FAULT_MODES].join(", ")}`);
  }
  for (const k of ["times", "status", "delayMs", "retryAfter", "failRate"] as const) {
    if (f[k] !== undefined && (typeof f[k] !== "number" || !Number.isFinite(f[k]) || f[k]! < 0)) throw new Error(`faults.${k} must be a non-negative number`);
  }
  return f as Faults;
}

/** A JSON answer. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

/** Reads a JSON body, or undefined when it is not JSON. */
export async function readJson(req: Request): Promise<unknown> {
  try {
    return JSON.parse(await req.text());
  } catch {
    return undefined;
  }
}

/** Counts calls in a sliding window: `take()` is false past `limit` calls in `windowMs`. */
export function slidingWindow(limit: number, windowMs: number) {
  let times: number[] = [];
  return {
    take(now = Date.now()): boolean {
      times = times.filter((t) => t > now - windowMs);
      if (times.length >= limit) return false;
      times.push(now);
      return true;
    },
    reset() {
      times = [];
    },
  };
}

/** Sequential ids, as many vendors' numeric ids look. */
export function counter(start = 1) {
  let n = start;
  return () => n++;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mount(double: VendorDouble): MountedDouble & { serve(req: Request, raw: IncomingMessage): Promise<Response | "drop"> } {
  let calls: RecordedCall[] = [];
  let faults: Faults = { mode: "ok" };
  const take = (path: string): Faults | null => {
    if (faults.mode === "ok" || (faults.path && !path.includes(faults.path))) return null;
    const f = faults;
    if (f.times !== undefined) faults = f.times > 1 ? { ...f, times: f.times - 1 } : { mode: "ok" };
    return f;
  };
  return {
    double,
    calls: () => structuredClone(calls),
    setFaults: (f) => { faults = parseFaults(f); },
    reset() {
      calls = [];
      faults = { mode: "ok" };
      double.reset();
    },
    async serve(req, raw) {
      const url = new URL(req.url);
      const text = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
      let body: unknown = text;
      try { body = text ? JSON.parse(text) : null; } catch { /* keep the text */ }
      const record = (status: number) => calls.push({
        method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams),
        headers: Object.fromEntries(req.headers), body, status, at: new Date().toISOString(),
      });
      const fault = take(url.pathname);
      if (fault?.mode === "down") { record(0); return "drop"; }
      if (fault?.mode === "error") { record(fault.status ?? 503); return json({ error: "injected_error" }, fault.status ?? 503); }
      if (fault?.mode === "throttle") { record(429); return json({ error: "rate_limited" }, 429, { "retry-after": String(fault.retryAfter ?? 1) }); }
      if (fault?.mode === "reject") { record(fault.status ?? 422); return json({ error: "rejected by fault injection" }, fault.status ?? 422); }
      if (fault?.mode === "slow") {
        await sleep(fault.delayMs ?? 0);
        if (raw.destroyed) { record(0); return "drop"; }
      }
      const res = await double.handle(new Request(url, { method: req.method, headers: req.headers, body: text || undefined }));
      record(res.status);
      return res;
    },
  };
}

export async function serveDoubles(doubles: VendorDouble[], opts: { port?: number; host?: string } = {}): Promise<DoublesServer> {
  const host = opts.host ?? "127.0.0.1";
  const mounted = new Map(doubles.map((d) => [d.name, mount(d)]));
  const server = createServer((req, res) => void route(req, res).catch(() => {
    if (!res.headersSent) res.writeHead(500).end(); else res.destroy();
  }));

  async function route(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", `http://${host}`);
    const [, first, ...rest] = url.pathname.split("/");
    const send = async (r: Response) => {
      res.writeHead(r.status, Object.fromEntries(r.headers));
      res.end(Buffer.from(await r.arrayBuffer()));
    };
    if (first === "_doubles") {
      const m = mounted.get(rest[0]);
      if (!m) return send(json({ error: "no such double" }, 404));
      const action = `${req.method} ${rest[1]}`;
      if (action === "GET calls") return send(json(m.calls()));
      if (action === "GET state") return send(json(m.double.state()));
      if (action === "POST reset") { m.reset(); return send(new Response(null, { status: 204 })); }
      if (action === "POST faults") {
        try {
          m.setFaults(JSON.parse(await readText(req)));
          return send(new Response(null, { status: 204 }));
        } catch (err) {
          return send(json({ error: (err as Error).message }, 400));
        }
      }
      return send(json({ error: "unknown control" }, 404));
    }
    if (url.pathname === "/" && req.method === "GET") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page([...mounted.values()]));
      return;
    }
    const m = first ? mounted.get(first) : undefined;
    if (!m) return send(json({ error: `no double at /${first}` }, 404));
    const inner = new URL(`/${rest.join("/")}${url.search}`, `http://${host}`);
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : await readText(req);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
    const out = await m.serve(new Request(inner, { method: req.method, headers, body }), req);
    if (out === "drop") return void req.socket.destroy();
    await send(out);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const base = `http://${host}:${port}`;
  return {
    url: base,
    port,
    urlOf: (name) => `${base}/${name}`,
    get(name) {
      const m = mounted.get(name);
      if (!m) throw new Error(`no double named ${name}`);
      return m;
    },
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    }),
  };
}

function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const escapeHtml = (v: unknown) =>
  String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function page(all: MountedDouble[]): string {
  const sections = all.map((m) => {
    const state = m.double.state();
    const kinds = Object.entries(state).map(([k, v]) => `${escapeHtml(k)}: ${v.length}`).join(" · ");
    const rows = m.calls().slice(-50).reverse().map((c) =>
      `<tr><td>${escapeHtml(c.at)}</td><td>${escapeHtml(c.method)} ${escapeHtml(c.path)}</td><td>${c.status}</td><td><code>${escapeHtml(JSON.stringify(c.body)).slice(0, 400)}</code></td></tr>`);
    return `<h2>${escapeHtml(m.double.name)}</h2><p>${kinds || "empty"}</p><table>${rows.join("")}</table>`;
  });
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>Destination doubles</title>
<style>body{font-family:sans-serif}td{border-bottom:1px solid #ddd;padding:3px 6px;font-size:12px;vertical-align:top}</style></head>
<body><h1>Destination doubles</h1>${sections.join("")}</body></html>`;
}
