import { describe, expect, it } from "vitest";
import { classifyStatus, networkFailure } from "../../src/destinations/http.ts";
import { corsHeaders, isOriginAllowed } from "../../src/http/cors.ts";

describe("CORS", () => {
  const allowed = ["https://www.demande-raccordement.fr", "http://localhost:*"];
  it("allows listed origins and any port of a :* entry", () => {
    expect(isOriginAllowed("https://www.demande-raccordement.fr", allowed)).toBe(true);
    expect(isOriginAllowed("http://localhost:5173", allowed)).toBe(true);
    expect(isOriginAllowed("http://localhost", allowed)).toBe(true);
    expect(isOriginAllowed("http://localhost.evil.com", allowed)).toBe(false);
    expect(isOriginAllowed("http://localhost:80.evil.com", allowed)).toBe(false);
    expect(isOriginAllowed("https://evil.example", allowed)).toBe(false);
  });
  it("sends allow headers only to allowed origins", () => {
    expect(corsHeaders("https://evil.example", allowed)).not.toHaveProperty("access-control-allow-origin");
    expect(corsHeaders("http://localhost:3000", allowed)["access-control-allow-origin"]).toBe("http://localhost:3000");
  });
});

describe("CRM answer classification (CONTRACT §3)", () => {
  const answer = (status: number, headers: Record<string, string> = {}) =>
    Promise.resolve(classifyStatus(new Response(null, { status: status === 204 ? 200 : status, headers }), "detail"));

  it("408, 425, 429 and 5xx are retried, with Retry-After", async () => {
    for (const s of [408, 425, 429, 500, 502, 503]) expect((await answer(s)).kind).toBe("retry");
    expect(await answer(429, { "retry-after": "7" })).toMatchObject({ kind: "retry", retryAfterMs: 7_000 });
  });
  it("other 4xx are permanent", async () => {
    for (const s of [400, 401, 403, 404, 409, 422]) expect((await answer(s)).kind).toBe("dead");
  });
  it("network errors and timeouts are retried", () => {
    expect(networkFailure(new TypeError("fetch failed")).kind).toBe("retry");
    const timeout = new DOMException("The signal has been aborted", "TimeoutError");
    expect(networkFailure(timeout)).toMatchObject({ kind: "retry", error: expect.stringMatching(/^timeout/) });
  });
});
