/**
 * Serves the operator console (src/console/api.ts) with Node's http server:
 * loopback only unless the caller allows remote access explicitly, a fresh
 * random access token per start, the page's script bundled by esbuild at
 * start-up (no build step, no framework).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { isIP } from "node:net";
import { readFile } from "node:fs/promises";
import { build } from "esbuild";
import { createConsoleHandler } from "../../src/console/api.ts";
import { newAccessToken } from "../../src/console/auth.ts";
import { createSql, type Pool } from "../../src/db/sql.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import type { ActiveDestination } from "../../src/outbox/outbox.ts";

const UI = new URL("./ui/", import.meta.url);

export interface ConsoleServerOptions {
  databaseUrl: string;
  destinations: ActiveDestination[];
  actor: string;
  /** 0 = any free port. */
  port: number;
  host?: string;
  /** Required to listen on anything but a loopback address. */
  allowRemote?: boolean;
  token?: string;
  log?: Logger;
}

export interface ConsoleServer {
  /** The URL to open, with the access token. */
  url: string;
  baseUrl: string;
  token: string;
  port: number;
  sql: Pool;
  close(): Promise<void>;
}

export function isLoopbackAddress(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}

/** Refuses a non-loopback address unless remote access is allowed explicitly. */
export function checkBindAddress(host: string, allowRemote: boolean): void {
  if (!isLoopbackAddress(host) && !allowRemote) {
    throw new Error(
      `refusing to listen on ${host}: the console shows every delivery and acts on them; it listens on loopback only. ` +
        "To expose it anyway (behind your own TLS and access control), set CONSOLE_HOST and pass --allow-remote.",
    );
  }
}

let bundled: Promise<{ html: string; js: string; css: string }> | undefined;

export function consoleAssets() {
  bundled ??= (async () => {
    const out = await build({
      entryPoints: [new URL("app.ts", UI).pathname],
      bundle: true,
      write: false,
      format: "esm",
      target: "es2020",
      minify: true,
      legalComments: "none",
    });
    return {
      html: await readFile(new URL("index.html", UI), "utf8"),
      js: out.outputFiles[0].text,
      css: await readFile(new URL("app.css", UI), "utf8"),
    };
  })();
  return bundled;
}

export async function startConsoleServer(o: ConsoleServerOptions): Promise<ConsoleServer> {
  const host = o.host ?? "127.0.0.1";
  checkBindAddress(host, o.allowRemote === true);
  const token = o.token ?? newAccessToken();
  const sql = createSql(o.databaseUrl, 6);
  const log = o.log ?? createLogger({ tool: "console" });
  const assets = await consoleAssets();
  let port = o.port;
  let handler: ((req: Request) => Promise<Response>) | undefined;
  const server = createServer((req, res) => {
    void serve(req, res).catch((err) => {
      log.error("console request failed", { error: (err as Error).message });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  async function serve(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > 256 * 1024) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(c as Buffer);
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
    const method = req.method ?? "GET";
    const request = new Request(`http://127.0.0.1:${port}${req.url ?? "/"}`, {
      method,
      headers,
      body: method === "GET" || method === "HEAD" ? undefined : Buffer.concat(chunks),
    });
    const answer = await handler!(request);
    const out: Record<string, string | string[]> = {};
    answer.headers.forEach((v, k) => (out[k] = v));
    const setCookie = answer.headers.getSetCookie();
    if (setCookie.length) out["set-cookie"] = setCookie;
    res.writeHead(answer.status, out);
    res.end(method === "HEAD" ? undefined : Buffer.from(await answer.arrayBuffer()));
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, host, () => resolve());
  });
  const address = server.address();
  port = typeof address === "object" && address ? address.port : o.port;
  handler = createConsoleHandler({
    sql, destinations: o.destinations, token, actor: o.actor, assets, log, port, remote: !isLoopbackAddress(host),
  });
  const shown = host.includes(":") ? `[${host}]` : host;
  const baseUrl = `http://${shown}:${port}`;
  return {
    url: `${baseUrl}/?token=${token}`,
    baseUrl,
    token,
    port,
    sql,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await sql.end({ timeout: 5 });
    },
  };
}
