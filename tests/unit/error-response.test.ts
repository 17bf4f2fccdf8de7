import { describe, expect, it } from "vitest";
import { HttpError } from "../../src/http/http-error.ts";
import { toErrorResponse } from "../../src/http/responses.ts";
import { createLogger } from "../../src/log.ts";

const log = createLogger({}, () => {});
const withCode = (code: string, message = "boom") => Object.assign(new Error(message), { code });

describe("toErrorResponse", () => {
  it("renders an HttpError with its status, code, fields and headers", async () => {
    const res = toErrorResponse(new HttpError(429, "rate_limited", "slow down", { a: "b" }, { "retry-after": "7" }), log);
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(await res.json()).toEqual({ error: { code: "rate_limited", message: "slow down", fields: { a: "b" } } });
  });

  it("a database that is restarting or dropped the connection is a 503 with Retry-After", async () => {
    for (const code of ["ECONNREFUSED", "EPIPE", "ECONNRESET", "CONNECTION_CLOSED", "CONNECTION_DESTROYED", "57P01", "57P03", "08006"]) {
      const res = toErrorResponse(withCode(code), log);
      expect(res.status, code).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect((await res.json()).error.code).toBe("service_unavailable");
    }
  });

  it("anything else is a 500 that reveals nothing", async () => {
    const res = toErrorResponse(withCode("23505", 'duplicate key value violates unique constraint "secret_idx"'), log);
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body).toEqual({ error: { code: "internal_error", message: "Something went wrong on our side." } });
  });
});
