/**
 * A stand-in for Supabase's Management API on loopback, so the real pinned
 * CLI can run `functions deploy --use-api` and `secrets set` offline: it
 * records each request (multipart uploads parsed into files + metadata) and
 * answers just enough for the CLI to finish. The CLI reaches it through a
 * `--profile` file whose api_url is this server.
 *
 * Authentication as the Management API documents it (supabase.com/docs/reference/api,
 * "Authentication"): every request carries `Authorization: Bearer <personal access token>`;
 * one without a token this account issued gets 401 (`{"message":"Unauthorized"}`).
 * A project ref the account does not have answers 404 (assumed: what the API
 * answers for a ref it does not know).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { supabaseCliScript } from "../../scripts/deploy/cli.ts";

export const FAKE_REF = "abcdefghijklmnopqrst";
/** The one personal access token the stand-in account has (the sbp_ + 40 hex shape the CLI checks). */
export const FAKE_TOKEN = `sbp_${"0".repeat(40)}`;

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  json?: unknown;
  /** multipart/form-data: uploaded files by name, and the metadata field parsed. */
  files?: Map<string, string>;
  metadata?: Record<string, unknown>;
}

export interface FakeApi {
  url: string;
  requests: RecordedRequest[];
  /** A CLI profile file pointing the CLI at this server. */
  profilePath: string;
  close(): Promise<void>;
}

const project = {
  id: FAKE_REF,
  ref: FAKE_REF,
  name: "demo",
  organization_id: "org",
  organization_slug: "org",
  region: "eu-west-3",
  created_at: "2026-01-01T00:00:00Z",
  status: "ACTIVE_HEALTHY",
  database: { host: `db.${FAKE_REF}.supabase.co`, version: "15", postgres_engine: "15", release_channel: "ga" },
};

export async function startFakeManagementApi(): Promise<FakeApi> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", "http://fake");
    const rec: RecordedRequest = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams };
    const type = req.headers["content-type"] ?? "";
    if (type.startsWith("multipart/form-data")) {
      const form = await new Request("http://fake/", { method: "POST", headers: { "content-type": type }, body }).formData();
      rec.files = new Map();
      for (const [name, value] of form.entries()) {
        if (name === "metadata") rec.metadata = JSON.parse(String(value));
        else if (typeof value !== "string") rec.files.set(value.name, await value.text());
      }
    } else if (type.includes("json") && body.length > 0) {
      rec.json = JSON.parse(body.toString("utf8"));
    }
    requests.push(rec);

    const json = (status: number, value: unknown) => void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (req.headers.authorization !== `Bearer ${FAKE_TOKEN}`) return json(401, { message: "Unauthorized" });
    if (url.pathname.startsWith("/v1/projects/") && url.pathname.split("/")[3] !== FAKE_REF) return json(404, { message: "Project not found" });
    if (url.pathname.endsWith("/functions/deploy")) {
      const slug = url.searchParams.get("slug");
      return json(201, {
        id: "00000000-0000-4000-8000-000000000001",
        slug,
        name: slug,
        status: "ACTIVE",
        version: 1,
        created_at: 0,
        updated_at: 0,
        verify_jwt: rec.metadata?.verify_jwt ?? true,
        entrypoint_path: rec.metadata?.entrypoint_path,
        import_map: true,
      });
    }
    if (url.pathname === "/v1/projects") return json(200, [project]);
    if (url.pathname === `/v1/projects/${FAKE_REF}`) return json(200, project);
    if (url.pathname.endsWith("/secrets")) return json(req.method === "POST" ? 201 : 200, req.method === "GET" ? [] : {});
    if (url.pathname.endsWith("/functions") && req.method === "PUT") return json(200, []);
    return json(200, []);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const profilePath = join(mkdtempSync(join(tmpdir(), "fake-supabase-profile-")), "profile.json");
  writeFileSync(profilePath, JSON.stringify({ name: "offline-test", api_url: url, dashboard_url: url, project_host: "offline.test" }));
  return {
    url,
    requests,
    profilePath,
    close: () =>
      new Promise<void>((resolve) => {
        rmSync(dirname(profilePath), { recursive: true, force: true });
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface CliRun {
  code: number;
  output: string;
}

/**
 * The pinned CLI, kept off the network: its own HOME, telemetry and update
 * checks off, a fake token, and every non-loopback request sent to a dead proxy.
 */
/** `env` values of "" unset a variable. */
export function runCliOffline(args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<CliRun> {
  const home = mkdtempSync(join(tmpdir(), "supabase-cli-home-"));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    SUPABASE_ACCESS_TOKEN: FAKE_TOKEN,
    SUPABASE_TELEMETRY_DISABLED: "1",
    DO_NOT_TRACK: "1",
    SUPABASE_NO_UPDATE_NOTIFIER: "1",
    SUPABASE_NO_KEYRING: "1",
    HTTP_PROXY: "http://127.0.0.1:9",
    HTTPS_PROXY: "http://127.0.0.1:9",
    NO_PROXY: "127.0.0.1,localhost",
    NO_COLOR: "1",
    ...opts.env,
  };
  for (const [k, v] of Object.entries(env)) if (v === "") delete env[k]; // "" = leave unset
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [supabaseCliScript(), ...args], {
      cwd: opts.cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      rmSync(home, { recursive: true, force: true });
      resolve({ code: code ?? 1, output });
    });
  });
}
