/**
 * form-start — step 1 of the form: the lead is captured (or updated when the
 * website sends back the lead_id it got earlier). One statement counts the
 * rate-limit hit, writes the lead and its CRM event.
 */
import { assertAllowed, rateLimitGate } from "../abuse/rate-limit.ts";
import type { AppDeps } from "../app-deps.ts";
import { leadBody } from "../crm/monelec-bodies.ts";
import { insertWhere } from "../db/insert-where.ts";
import { jsonEndpoint } from "../http/json-endpoint.ts";
import { eventCtes } from "../outbox/enqueue.ts";
import { FormStartInput } from "../validation/schemas.ts";

/** The lead's columns: every field of the form but the id the website may send back. */
const LEAD_COLUMNS = Object.keys(FormStartInput.shape).filter((c) => c !== "lead_id");

export function formStart(deps: AppDeps) {
  const { sql } = deps;
  return jsonEndpoint(deps, {
    name: "form-start",
    schema: FormStartInput,
    decoy: () => ({ lead_id: crypto.randomUUID() }),
    async handle(input, { clientIp }) {
      const { lead_id, ...fields } = input;
      const lead = { id: lead_id ?? crypto.randomUUID(), ...fields };
      const event = {
        id: crypto.randomUUID(),
        type: "lead.upserted" as const,
        recordType: "lead" as const,
        recordId: lead.id,
        data: leadBody(lead),
      };
      // A new lead has no earlier event: its writer owns the first attempt. An
      // update (lead_id sent back) may have one in flight: claim after commit.
      const fanout = deps.outbox.fanout(!lead_id);
      const row = Object.fromEntries(LEAD_COLUMNS.map((c) => [c, fields[c as keyof typeof fields] ?? null]));
      const [gate] = await sql<{ allowed: boolean; retry_after: number }[]>`
        with ${rateLimitGate(sql, { key: `form-start:${clientIp}`, perMinute: deps.config.rateLimitPerMinute })},
        lead as (
          ${insertWhere(sql, "leads", { id: lead.id, ...row }, sql`(select allowed from gate)`)}
          on conflict (id) do update set ${sql(row)}, updated_at = now()
          returning id
        ), ${eventCtes(sql, event, fanout, "lead")}
        select allowed, retry_after from gate`;
      assertAllowed(gate);
      deps.outbox.afterCommit("form-start", event, fanout);
      return { lead_id: lead.id };
    },
  });
}
