/**
 * A recording pass-through in front of the CRM sandbox: the backend talks to
 * it as if it were the CRM; it forwards every attempt and writes down what
 * came back (status, and whether the sandbox answered an already-accepted
 * Idempotency-Key as a replay). When the sandbox drops the connection (its
 * "down" fault), the backend's connection is dropped too.
 */
import { createServer, type IncomingMessage } from "node:http";

export interface Attempt {
  at: number;
  endpoint: string;
  key: string | null;
  /** HTTP status, or null when the connection was dropped. */
  status: number | null;
  replayed: boolean;
  /** The backend gave up waiting (its own timeout) before the answer came. */
  abandoned: boolean;
}

export interface CrmRecorder {
  url: string;
  attempts: Attempt[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** `upstream` is the sandbox's base URL (…/api/external); the recorder serves the same paths. */
export async function startCrmRecorder(upstream: string): Promise<CrmRecorder> {
  const base = new URL(upstream);
  const attempts: Attempt[] = [];
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://recorder").pathname;
    const key = typeof req.headers["idempotency-key"] === "string" ? req.headers["idempotency-key"] : null;
    const attempt: Attempt = { at: Date.now(), endpoint: path.replace(base.pathname, ""), key, status: null, replayed: false, abandoned: false };
    attempts.push(attempt);
    res.once("close", () => {
      if (!res.writableFinished) attempt.abandoned = true;
    });
    try {
      const body = await readBody(req);
      const headers: Record<string, string> = {};
      for (const h of ["content-type", "x-api-key", "idempotency-key"]) {
        const v = req.headers[h];
        if (typeof v === "string") headers[h] = v;
      }
      // No time limit here: the sandbox's "slow" fault may answer after the backend gave up,
      // and then it has still accepted the event (a real CRM does that too).
      const answer = await fetch(`${base.origin}${path}`, { method: req.method, headers, body: req.method === "POST" ? new Uint8Array(body) : undefined });
      const text = await answer.text();
      attempt.status = answer.status;
      attempt.replayed = answer.headers.get("idempotent-replayed") === "true";
      if (res.destroyed) return;
      const out: Record<string, string> = {};
      for (const h of ["content-type", "retry-after", "idempotent-replayed"]) {
        const v = answer.headers.get(h);
        if (v !== null) out[h] = v;
      }
      res.writeHead(answer.status, out).end(text);
    } catch {
      req.socket.destroy(); // the sandbox dropped us: drop the backend
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}${base.pathname}`,
    attempts,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
