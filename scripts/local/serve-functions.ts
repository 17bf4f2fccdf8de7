/**
 * Local stand-in for Supabase's functions gateway and edge runtime, run under
 * Deno: serves every `supabase/functions/<name>/index.ts` (the real entry
 * files, unchanged) at /functions/v1/<name>, emulates the gateway's JWT check
 * from config.toml, and provides `EdgeRuntime.waitUntil`, whose pending tasks
 * are awaited before the process exits on SIGTERM/SIGINT.
 *
 *   deno run -A scripts/local/serve-functions.ts
 * Env: FUNCTIONS_PORT, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY, and what the functions read.
 */
const root = new URL("../../supabase/", import.meta.url);
const port = Number(Deno.env.get("FUNCTIONS_PORT") ?? "54321");
const acceptedKeys = [Deno.env.get("SUPABASE_ANON_KEY"), Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")]
  .filter((k): k is string => Boolean(k));

// --- EdgeRuntime.waitUntil stand-in -----------------------------------------
const pending = new Set<Promise<unknown>>();
(globalThis as Record<string, unknown>).EdgeRuntime = {
  waitUntil(promise: Promise<unknown>) {
    const tracked = Promise.resolve(promise).catch(() => {});
    pending.add(tracked);
    tracked.finally(() => pending.delete(tracked));
  },
};

// --- functions and their verify_jwt -------------------------------------------
function verifyJwtSettings(toml: string): Map<string, boolean> {
  const settings = new Map<string, boolean>();
  let current: string | null = null;
  for (const line of toml.split("\n")) {
    const section = /^\s*\[functions\.([\w-]+)\]/.exec(line);
    if (section) current = section[1];
    else if (/^\s*\[/.test(line)) current = null;
    const setting = /^\s*verify_jwt\s*=\s*(true|false)/.exec(line);
    if (current && setting) settings.set(current, setting[1] === "true");
  }
  return settings;
}

type FetchHandler = (req: Request) => Response | Promise<Response>;
const verifyJwt = verifyJwtSettings(await Deno.readTextFile(new URL("config.toml", root)));
const functions = new Map<string, FetchHandler>();
for await (const entry of Deno.readDir(new URL("functions/", root))) {
  if (!entry.isDirectory || entry.name.startsWith("_")) continue;
  const mod = await import(new URL(`functions/${entry.name}/index.ts`, root).href);
  functions.set(entry.name, mod.default.fetch);
}

/** Headers that name the client's address: set by the gateway, whatever the client sent. */
const CLIENT_ADDRESS_HEADERS = ["cf-connecting-ip", "x-real-ip"];

function json(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function hasAcceptedKey(req: Request): boolean {
  const bearer = req.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
  const apikey = req.headers.get("apikey");
  return acceptedKeys.some((key) => key === bearer || key === apikey);
}

async function route(req: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname === "/health") return json({ ok: true, functions: [...functions.keys()] }, 200);
  const match = /^\/functions\/v1\/([\w-]+)\/?/.exec(url.pathname);
  const handler = match && functions.get(match[1]);
  if (!handler) return json({ error: { code: "not_found", message: `No function at ${url.pathname}.` } }, 404);
  // Like the gateway: preflights pass, other calls need a key when verify_jwt is on (the default).
  if (req.method !== "OPTIONS" && verifyJwt.get(match[1]) !== false && !hasAcceptedKey(req)) {
    return json({ error: { code: "unauthorized", message: "Missing or invalid authorization (send the anon key)." } }, 401);
  }
  // Like the gateway (Cloudflare in front of Supabase): the function learns the
  // caller's address from headers the gateway sets. A client's own
  // CF-Connecting-IP and X-Real-IP are replaced; X-Forwarded-For gets the
  // address appended, as every proxy does (its left part is the client's to forge).
  if (info.remoteAddr.transport === "tcp") {
    const headers = new Headers(req.headers);
    const address = info.remoteAddr.hostname;
    for (const name of CLIENT_ADDRESS_HEADERS) headers.set(name, address);
    const forwarded = req.headers.get("x-forwarded-for");
    headers.set("x-forwarded-for", forwarded ? `${forwarded}, ${address}` : address);
    // Built from parts: `new Request(req, …)` would tie itself to req.signal.
    req = new Request(req.url, { method: req.method, headers, body: req.body });
  }
  try {
    return await handler(req);
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "function crashed", function: match[1], error: String(err) }));
    return json({ error: { code: "internal_error", message: "Something went wrong on our side." } }, 500);
  }
}

const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, route);
console.log(JSON.stringify({
  ts: new Date().toISOString(),
  level: "info",
  msg: "functions listening",
  url: `http://127.0.0.1:${port}/functions/v1/`,
  functions: [...functions.keys()],
}));

// --- shutdown: stop accepting, finish in-flight requests and background tasks --
let stopping = false;
async function shutdown(reason: string) {
  if (stopping) return;
  stopping = true;
  console.log(JSON.stringify({ ts: new Date().toISOString(), level: "info", msg: "functions stopping", reason, pending: pending.size }));
  const grace = new Promise((resolve) => setTimeout(resolve, 15_000));
  await Promise.race([server.shutdown().then(async () => {
    while (pending.size > 0) await Promise.allSettled([...pending]);
  }), grace]);
  Deno.exit(0);
}
Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));

// A parent killed with SIGKILL cannot stop us: notice it and exit, leaving no orphan.
const parent = Deno.ppid;
setInterval(() => {
  if (Deno.ppid !== parent) shutdown("parent exited");
}, 500);
