/** contact-callback — "call me back": the callback row and its /leads event in one statement. */
import type { AppDeps } from "../app-deps.ts";
import { callbackBody } from "../crm/monelec-bodies.ts";
import { jsonEndpoint } from "../http/json-endpoint.ts";
import { insertEvent } from "../outbox/enqueue.ts";
import { ContactCallbackInput } from "../validation/schemas.ts";

export function contactCallback(deps: AppDeps) {
  const { sql } = deps;
  return jsonEndpoint(deps, {
    name: "contact-callback",
    schema: ContactCallbackInput,
    async handle(input) {
      const callback = {
        id: crypto.randomUUID(),
        full_name: input.full_name,
        phone: input.phone,
        postal_code: input.postal_code ?? null,
        source: input.source ?? null,
      };
      const event = {
        id: crypto.randomUUID(),
        endpoint: "/leads" as const,
        aggregateType: "callback" as const,
        aggregateId: callback.id,
        body: callbackBody(callback),
      };
      await sql`
        with callback as (insert into callbacks ${sql(callback)} returning id),
        event as (${insertEvent(sql, event, deps.outbox.newEventState, "callback")})
        select id from callback`;
      deps.outbox.afterCommit("contact-callback", event.id);
      return { callback_id: callback.id };
    },
  });
}
