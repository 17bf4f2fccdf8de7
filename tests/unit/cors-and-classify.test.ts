import { describe, expect, it } from "vitest";
import { classifyNetworkError, classifyResponse } from "../../src/crm/classify-response.ts";
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
    classifyResponse(new Response(status === 204 ? null : "detail", { status, headers }));

  it("2xx is delivered", async () => {
    expect((await answer(201)).kind).toBe("delivered");
    expect((await answer(204)).kind).toBe("delivered");
  });
  it("408, 425, 429 and 5xx are retried, with Retry-After", async () => {
    for (const s of [408, 425, 429, 500, 502, 503]) expect((await answer(s)).kind).toBe("retry");
    expect(await answer(429, { "retry-after": "7" })).toMatchObject({ kind: "retry", retryAfterMs: 7_000 });
  });
  it("other 4xx are permanent", async () => {
    for (const s of [400, 401, 403, 404, 409, 422]) expect((await answer(s)).kind).toBe("dead");
  });
  it("network errors and timeouts are retried", () => {
    expect(classifyNetworkError(new TypeError("fetch failed"), 100).kind).toBe("retry");
    const timeout = new DOMException("t", "TimeoutError");
    expect(classifyNetworkError(timeout, 100)).toMatchObject({ kind: "retry", error: "timeout after 100 ms" });
  });
});
