/** contact-callback — "call me back": the callback row and its /leads event in one statement. */
import { assertAllowed, limitsFor, rateLimitGate } from "../abuse/rate-limit.ts";
import type { AppDeps } from "../app-deps.ts";
import { callbackBody } from "../crm/monelec-bodies.ts";
import { insertWhere } from "../db/insert-where.ts";
import { rememberAnswer } from "../http/idempotency.ts";
import { jsonEndpoint } from "../http/json-endpoint.ts";
import { eventCtes } from "../outbox/enqueue.ts";
import { ContactCallbackInput } from "../validation/schemas.ts";

export function contactCallback(deps: AppDeps) {
  const { sql } = deps;
  return jsonEndpoint(deps, {
    name: "contact-callback",
    schema: ContactCallbackInput,
    idempotent: true,
    decoy: () => ({ callback_id: crypto.randomUUID() }),
    async handle(input, { clientIp, idempotency }) {
      const callback = {
        id: crypto.randomUUID(),
        full_name: input.full_name,
        phone: input.phone,
        postal_code: input.postal_code ?? null,
        source: input.source ?? null,
      };
      const event = {
        id: crypto.randomUUID(),
        type: "callback.created" as const,
        recordType: "callback" as const,
        recordId: callback.id,
        data: callbackBody(callback),
      };
      const fanout = deps.outbox.fanout(true); // a new callback: nothing earlier to wait for
      const [gate] = await sql<{ allowed: boolean; retry_after: number }[]>`
        with ${rateLimitGate(sql, limitsFor(deps.config, "contact-callback", clientIp))},
        callback as (${insertWhere(sql, "callbacks", callback, sql`(select allowed from gate)`)} returning id),
        ${eventCtes(sql, event, fanout, "callback")}
        ${rememberAnswer(sql, idempotency, "callback", sql`jsonb_build_object('callback_id', callback.id)`)}
        select allowed, retry_after from gate`;
      assertAllowed(gate);
      deps.outbox.afterCommit("contact-callback", event, fanout);
      return { callback_id: callback.id };
    },
  });
}
