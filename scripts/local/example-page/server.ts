/**
 * The local example page (`npm start` prints its URL): the multi-step form, the
 * call-back form and a pay button, in plain HTML, calling the functions
 * through the typed client (src/client) and supabase-js, bundled for the
 * browser with esbuild. Served on loopback by a tiny node:http server, which
 * also relays "Simulate card success" to the Stripe double (that control API
 * has no CORS headers, and is not the page's origin).
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(new URL(".", import.meta.url));

export interface ExamplePageOptions {
  port: number;
  host?: string;
  /** `http://127.0.0.1:54321/functions/v1` */
  functionsUrl: string;
  anonKey: string;
  /** The CRM sandbox's page, when the stack runs one. */
  crmSandboxPageUrl?: string;
  /** The Stripe double's base URL, when the stack runs one ("Simulate card success"). */
  stripeDoubleUrl?: string;
  /** false: MONELEC_API_KEY is unset, nothing reaches the CRM (the page says so). */
  crmBridgeOn: boolean;
}

export interface ExamplePage {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** What the page's script reads from `window.RACCORDEMENT_EXAMPLE`. */
export interface ExamplePageConfig {
  supabaseUrl: string;
  anonKey: string;
  crmSandboxPageUrl: string | null;
  crmBridgeOn: boolean;
  /** Where the page POSTs to simulate a card payment; null when Stripe is not the local double. */
  simulatePaymentPath: string | null;
}

const SIMULATE = /^\/_local\/stripe\/payment_intents\/(pi_[A-Za-z0-9_]+)\/succeed$/;

/** The page's script: src/client + supabase-js, one ES module for the browser. */
export async function bundleExampleScript(): Promise<string> {
  const { build } = await import("esbuild"); // a dev dependency, loaded only when the page is served
  const result = await build({
    entryPoints: [fileURLToPath(new URL("./app.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    write: false,
    logLevel: "silent",
    legalComments: "none",
  });
  return result.outputFiles[0].text;
}

export async function startExamplePage(opts: ExamplePageOptions): Promise<ExamplePage> {
  const config: ExamplePageConfig = {
    supabaseUrl: opts.functionsUrl.replace(/\/functions\/v1\/?$/, ""),
    anonKey: opts.anonKey,
    crmSandboxPageUrl: opts.crmSandboxPageUrl ?? null,
    crmBridgeOn: opts.crmBridgeOn,
    simulatePaymentPath: opts.stripeDoubleUrl ? "/_local/stripe/payment_intents/{id}/succeed" : null,
  };
  // Bundled once, in the background: start-up does not wait, the first page load may.
  const script = bundleExampleScript();
  script.catch(() => {}); // reported when the script is asked for
  const template = await readFile(`${HERE}index.html`, "utf8");
  const html = template.replace(
    "<!--CONFIG-->",
    `<script>window.RACCORDEMENT_EXAMPLE = ${JSON.stringify(config).replace(/</g, "\\u003c")};</script>`,
  );

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://page").pathname;
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}) =>
      void res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...extra }).end(body);
    if (req.method === "GET" && (path === "/" || path === "/index.html")) return send(200, "text/html; charset=utf-8", html);
    if (req.method === "GET" && path === "/app.js") {
      try {
        return send(200, "text/javascript; charset=utf-8", await script);
      } catch (err) {
        return send(500, "text/plain; charset=utf-8", `Bundling the example page failed:\n${(err as Error).message}`);
      }
    }
    if (req.method === "GET" && path === "/favicon.ico") return void res.writeHead(204).end();
    const simulate = SIMULATE.exec(path);
    if (req.method === "POST" && simulate && opts.stripeDoubleUrl) {
      req.resume();
      try {
        const upstream = await fetch(`${opts.stripeDoubleUrl}/_double/payment_intents/${simulate[1]}/succeed`, {
          method: "POST",
          signal: AbortSignal.timeout(20_000),
        });
        return send(upstream.status, "application/json", await upstream.text());
      } catch (err) {
        return send(502, "application/json", JSON.stringify({ error: { message: `Stripe double unreachable: ${(err as Error).message}` } }));
      }
    }
    send(404, "text/plain; charset=utf-8", "Not found");
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(err));
    });
  });
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
