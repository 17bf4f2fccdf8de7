/**
 * The shell shared by the browser-facing functions: CORS, method, origin,
 * content type, size limit, JSON parsing, the honeypot and validation, then
 * the handler. The handler sees only validated input and returns the JSON body.
 * Errors are answered in the request's language (`Accept-Language`).
 */
import type { z } from "zod";
import { clientIp } from "../abuse/client-ip.ts";
import { HONEYPOT_FIELD, isHoneypotTripped } from "../abuse/honeypot.ts";
import type { AppDeps } from "../app-deps.ts";
import type { Logger } from "../log.ts";
import { parseInput } from "../validation/parse-input.ts";
import { corsHeaders, isOriginAllowed } from "./cors.ts";
import { HttpError, httpError } from "./http-error.ts";
import { findAnswer, type IdempotencyClaim, idempotencyKeyOf, isIdempotencyConflict } from "./idempotency.ts";
import { readJsonBody } from "./read-json-body.ts";
import { jsonResponse, toErrorResponse } from "./responses.ts";

export type Handler = (req: Request) => Promise<Response>;

export interface RequestContext {
  log: Logger;
  clientIp: string;
  /** Set when the request carries an Idempotency-Key: the handler's statement stores its answer (rememberAnswer). */
  idempotency?: IdempotencyClaim;
}

export interface JsonEndpoint<S extends z.ZodType> {
  name: string;
  schema: S;
  /** What a bot that filled the honeypot is told (a plausible success); omit to not use one. */
  decoy?: () => unknown;
  /** Accepts an Idempotency-Key header (the form functions). */
  idempotent?: boolean;
  handle(input: z.infer<S>, ctx: RequestContext): Promise<unknown>;
}

export function jsonEndpoint<S extends z.ZodType>(deps: AppDeps, endpoint: JsonEndpoint<S>): Handler {
  const log = deps.log.child({ function: endpoint.name });
  return async (req) => {
    const origin = req.headers.get("origin");
    const cors = corsHeaders(origin, deps.config.allowedOrigins);
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: cors });
    let idempotency: IdempotencyClaim | undefined;
    try {
      if (req.method !== "POST") {
        throw httpError(405, "method_not_allowed", { params: { function: endpoint.name }, headers: { allow: "POST, OPTIONS" } });
      }
      if (origin && !isOriginAllowed(origin, deps.config.allowedOrigins)) {
        throw httpError(403, "origin_not_allowed", { params: { origin } });
      }
      const body = await readJsonBody(req);
      if (endpoint.decoy && isHoneypotTripped(body)) {
        log.warn("honeypot filled: answered as accepted, nothing stored");
        return jsonResponse(endpoint.decoy(), 200, cors);
      }
      // The honeypot is a field of every form (left empty by people): known, never stored.
      const input = parseInput(endpoint.schema, endpoint.decoy ? withoutHoneypot(body) : body);
      const key = endpoint.idempotent ? idempotencyKeyOf(req) : undefined;
      if (key !== undefined) {
        idempotency = { fn: endpoint.name, key, requestText: JSON.stringify(body) };
        const first = await findAnswer(deps.sql, idempotency);
        if (first !== undefined) return jsonResponse(first, 200, { ...cors, "idempotent-replayed": "true" });
      }
      const ip = clientIp(req, deps.config.clientIp);
      return jsonResponse(await endpoint.handle(input, { log, clientIp: ip, idempotency }), 200, cors);
    } catch (thrown) {
      let err = thrown;
      if (idempotency && isIdempotencyConflict(err)) {
        // A concurrent request with the same key wrote first: its answer is ours.
        try {
          const first = await findAnswer(deps.sql, idempotency);
          if (first !== undefined) return jsonResponse(first, 200, { ...cors, "idempotent-replayed": "true" });
          err = new HttpError(409, "idempotency_key_in_use", "A request with this Idempotency-Key is being processed; try again.");
        } catch (again) {
          err = again;
        }
      }
      const res = toErrorResponse(err, log, req);
      for (const [k, v] of Object.entries(cors)) res.headers.set(k, v);
      return res;
    }
  };
}

function withoutHoneypot(body: unknown): unknown {
  if (typeof body !== "object" || body === null || !Object.hasOwn(body, HONEYPOT_FIELD)) return body;
  const { [HONEYPOT_FIELD]: _ignored, ...rest } = body as Record<string, unknown>;
  return rest;
}
