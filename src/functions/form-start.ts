/**
 * form-start — step 1 of the form: the lead is captured (or updated when the
 * website sends back the lead_id it got earlier). One statement writes the
 * lead and its CRM event.
 */
import type { AppDeps } from "../app-deps.ts";
import { leadBody } from "../crm/monelec-bodies.ts";
import { jsonEndpoint } from "../http/json-endpoint.ts";
import { insertEvent } from "../outbox/enqueue.ts";
import { FormStartInput } from "../validation/schemas.ts";

export function formStart(deps: AppDeps) {
  const { sql } = deps;
  return jsonEndpoint(deps, {
    name: "form-start",
    schema: FormStartInput,
    async handle(input) {
      const { lead_id, ...fields } = input;
      const lead = { id: lead_id ?? crypto.randomUUID(), ...fields };
      const event = {
        id: crypto.randomUUID(),
        endpoint: "/leads" as const,
        aggregateType: "lead" as const,
        aggregateId: lead.id,
        body: leadBody(lead),
      };
      const columns = Object.keys(FormStartInput.shape).filter((c) => c !== "lead_id");
      const row = Object.fromEntries(columns.map((c) => [c, fields[c as keyof typeof fields] ?? null]));
      await sql`
        with lead as (
          insert into leads ${sql({ id: lead.id, ...row })}
          on conflict (id) do update set ${sql(row)}, updated_at = now()
          returning id
        ), event as (${insertEvent(sql, event, deps.outbox.newEventState, "lead")})
        select id from lead`;
      deps.outbox.afterCommit("form-start", event.id);
      return { lead_id: lead.id };
    },
  });
}
