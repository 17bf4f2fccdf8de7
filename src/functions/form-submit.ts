/**
 * form-submit — the final step: the customer is upserted by email and the
 * request stored (submitted, payment pending) with its /requests event, all in
 * one statement. The request keeps its own copy of the contact details it was
 * submitted with: the customer row follows the latest submission for that
 * email (anyone can type an email), the request and its CRM snapshots never do.
 */
import { assertAllowed, limitsFor, rateLimitGate } from "../abuse/rate-limit.ts";
import type { AppDeps } from "../app-deps.ts";
import { requestBody } from "../crm/monelec-bodies.ts";
import { insertWhere } from "../db/insert-where.ts";
import { rememberAnswer } from "../http/idempotency.ts";
import { jsonEndpoint } from "../http/json-endpoint.ts";
import { eventCtes } from "../outbox/enqueue.ts";
import { FormSubmitInput } from "../validation/schemas.ts";

/** The customer and request rows of a validated submission (absent optional fields as null). */
export function submissionRows({ customer: c, request: r }: FormSubmitInput) {
  return {
    customer: {
      email: c.email,
      phone: c.phone,
      full_name: c.full_name,
      client_type: c.client_type,
      company_name: c.company_name ?? null,
      siren: c.siren ?? null,
    },
    request: {
      id: crypto.randomUUID(),
      type_raccordement: r.type_raccordement,
      usage: r.usage ?? null,
      address: r.address,
      city: r.city,
      zip_code: r.zip_code,
      phase: r.phase ?? null,
      power_kva: r.power_kva ?? null,
      is_viabilise: r.is_viabilise ?? null,
    },
  };
}

export function formSubmit(deps: AppDeps) {
  const { sql } = deps;
  return jsonEndpoint(deps, {
    name: "form-submit",
    schema: FormSubmitInput,
    idempotent: true,
    decoy: () => ({ request_id: crypto.randomUUID(), customer_id: crypto.randomUUID() }),
    async handle(input, { clientIp, idempotency }) {
      const { lead_id } = input;
      const { customer, request } = submissionRows(input);
      const event = {
        id: crypto.randomUUID(),
        type: "request.upserted" as const,
        recordType: "request" as const,
        recordId: request.id,
        data: requestBody({ ...customer, ...request, status: "submitted", payment_status: "pending", payment: null }),
      };
      const fanout = deps.outbox.fanout(true); // a new request: nothing earlier to wait for
      const { email: _email, ...customerUpdate } = customer;
      const [row] = await sql<{ allowed: boolean; retry_after: number; id: string; customer_id: string }[]>`
        with ${rateLimitGate(sql, limitsFor(deps.config, "form-submit", clientIp))},
        customer as (
          ${insertWhere(sql, "customers", customer, sql`(select allowed from gate)`)}
          on conflict (email) do update set ${sql(customerUpdate)}, updated_at = now()
          returning id
        ), request as (
          insert into requests (id, customer_id, lead_id, type_raccordement, usage, address, city,
                                zip_code, phase, power_kva, is_viabilise, status, payment_status,
                                email, phone, full_name, client_type, company_name, siren)
          select ${request.id}::uuid, customer.id, (select id from leads where id = ${lead_id ?? null}::uuid),
                 ${request.type_raccordement}, ${request.usage}, ${request.address}, ${request.city},
                 ${request.zip_code}, ${request.phase}, ${request.power_kva}, ${request.is_viabilise},
                 'submitted', 'pending',
                 ${customer.email}, ${customer.phone}, ${customer.full_name}, ${customer.client_type},
                 ${customer.company_name}, ${customer.siren}
          from customer
          returning id, customer_id
        ), ${eventCtes(sql, event, fanout, "request")}
        ${rememberAnswer(sql, idempotency, "request", sql`jsonb_build_object('request_id', request.id, 'customer_id', request.customer_id)`)}
        select gate.allowed, gate.retry_after, request.id, request.customer_id
        from gate left join request on true`;
      assertAllowed(row);
      deps.outbox.afterCommit("form-submit", event, fanout);
      return { request_id: row.id, customer_id: row.customer_id };
    },
  });
}
