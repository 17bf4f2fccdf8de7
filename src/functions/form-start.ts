/**
 * form-start — step 1 of the form: the lead is captured (or updated when the
 * website sends back the lead_id it got earlier). One statement counts the
 * rate-limit hit, writes the lead and its CRM event (and the answer, under an
 * Idempotency-Key). An update changes only the fields sent; its event carries
 * the merged lead, read under a row lock so two updates cannot interleave.
 * An unknown lead_id is 404: a client never picks a new lead's id.
 */
import { assertAllowed, limitsFor, rateLimitGate } from "../abuse/rate-limit.ts";
import type { AppDeps } from "../app-deps.ts";
import { leadBody, type LeadFacts } from "../crm/monelec-bodies.ts";
import { insertWhere } from "../db/insert-where.ts";
import type { Sql } from "../db/sql.ts";
import { HttpError } from "../http/http-error.ts";
import { rememberAnswer } from "../http/idempotency.ts";
import { jsonEndpoint } from "../http/json-endpoint.ts";
import { eventCtes } from "../outbox/enqueue.ts";
import { FormStartInput } from "../validation/schemas.ts";

/** The lead's columns: every field of the form but the id the website may send back. */
const LEAD_COLUMNS = Object.keys(FormStartInput.shape).filter((c) => c !== "lead_id");

export function formStart(deps: AppDeps) {
  return jsonEndpoint(deps, {
    name: "form-start",
    schema: FormStartInput,
    idempotent: true,
    decoy: () => ({ lead_id: crypto.randomUUID() }),
    async handle(input, { clientIp, idempotency }) {
      const { lead_id, ...fields } = input;
      // Only what was sent: an update leaves the other columns as they are.
      const sent = Object.fromEntries(
        LEAD_COLUMNS.filter((c) => fields[c as keyof typeof fields] !== undefined).map((c) => [c, fields[c as keyof typeof fields]]),
      );

      /** The gate, the lead and its event in one statement, on the pool or in the update's transaction. */
      const write = async (sql: Sql, lead: LeadFacts) => {
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
        const row = Object.fromEntries(LEAD_COLUMNS.map((c) => [c, sent[c] ?? null]));
        const [gate] = await sql<{ allowed: boolean; retry_after: number; written: number }[]>`
          with ${rateLimitGate(sql, limitsFor(deps.config, "form-start", clientIp))},
          lead as (
            ${lead_id
              ? sql`update leads set ${sql(sent)}, updated_at = now()
                    where id = ${lead.id} and (select allowed from gate) returning id`
              : sql`${insertWhere(sql, "leads", { id: lead.id, ...row }, sql`(select allowed from gate)`)} returning id`}
          ), ${eventCtes(sql, event, fanout, "lead")}
          ${rememberAnswer(sql, idempotency, "lead", sql`jsonb_build_object('lead_id', lead.id)`)}
          select allowed, retry_after, (select count(*) from lead)::int as written from gate`;
        return { gate, event, fanout };
      };

      const { gate, event, fanout } = lead_id
        ? await deps.sql.begin(async (tx) => {
          const [current] = await tx<LeadFacts[]>`
            select id, email, phone, firstname, lastname, connection_type, postal_code, utm_source, utm_medium, utm_campaign
            from leads where id = ${lead_id} for update`;
          return await write(tx, { ...(current ?? { id: lead_id, email: fields.email }), ...sent, id: lead_id });
        })
        : await write(deps.sql, { id: crypto.randomUUID(), ...fields });
      assertAllowed(gate);
      if (gate.written === 0) throw new HttpError(404, "lead_not_found", `No lead has id ${lead_id}.`);
      deps.outbox.afterCommit("form-start", event, fanout);
      return { lead_id: event.recordId };
    },
  });
}
