/**
 * A POST from a chosen loopback address (127.0.0.0/8 all reaches the local
 * stack on Linux): a second client as the gateway sees it, by its socket
 * address, not by a header it could forge.
 */
import { request } from "node:http";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

export function postFrom(localAddress: string, url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: "POST",
      localAddress,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload), ...headers },
      timeout: 15_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(payload);
  });
}
