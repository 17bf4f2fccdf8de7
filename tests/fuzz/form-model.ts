/**
 * What form-start, form-submit and contact-callback must have done for a
 * batch of cases, checked against the database: for every 200 exactly one
 * row (or one upsert) and exactly one `crm_events` row with the contract's
 * endpoint and body (CONTRACT §3); for every other answer, nothing.
 */
import type { z } from "zod";
import { CrmLeadBody, CrmRequestBody } from "../../scripts/local/crm-contract.ts";
import { ContactCallbackInput, FormStartInput, FormSubmitInput } from "../../src/validation/schemas.ts";
import { CONTACT_CALLBACK, FORM_START, FORM_SUBMIT, type BodySpec, type FormCase, encodeJson, type PoolRef, toWire } from "./arbitraries.ts";
import { type Answer, type FuzzReport, fivexxCause, post, short, type Violation } from "./harness.ts";
import { errorShapeProblem, expectedOutcome, type Expected, isUuid, type RawRequest } from "./oracle.ts";
import type { TestStack } from "../helpers/test-stack.ts";

type Row = Record<string, unknown>;
type FormName = "form-start" | "form-submit" | "contact-callback";

interface FormFunction<S extends z.ZodType> {
  name: FormName;
  spec: BodySpec;
  schema: S;
  table: "leads" | "requests" | "callbacks";
  idKey: "lead_id" | "request_id" | "callback_id";
  endpoint: "/leads" | "/requests";
  aggregateType: "lead" | "request" | "callback";
  /** The CRM body the contract (§3) prescribes for this input. */
  crmBody(data: z.output<S>, id: string): Record<string, unknown>;
  /** Differences between the stored row and the normalised input, or null. */
  rowProblem(data: z.output<S>, row: Row, ctx: { customer?: Row; existingLeads: Set<string>; customerId?: string }): string | null;
}

const orNull = (v: unknown) => (v === undefined ? null : v);

const diff = (expected: Record<string, unknown>, actual: Row, numericKeys: string[] = []): string | null => {
  for (const [k, v] of Object.entries(expected)) {
    const a = actual[k];
    if (numericKeys.includes(k) && typeof v === "number" && typeof a === "number") {
      if (Math.abs(a - v) > 0.0051) return `${k}: stored ${a}, sent ${v}`;
    } else if (a !== v) return `${k}: stored ${short(a, 80)}, expected ${short(v, 80)}`;
  }
  return null;
};

export const formStart: FormFunction<typeof FormStartInput> = {
  name: "form-start",
  spec: FORM_START,
  schema: FormStartInput,
  table: "leads",
  idKey: "lead_id",
  endpoint: "/leads",
  aggregateType: "lead",
  crmBody: (d, id) => ({
    email: d.email,
    phone: orNull(d.phone),
    firstName: orNull(d.firstname),
    lastName: orNull(d.lastname),
    serviceType: d.connection_type ?? "non-specifie",
    postalCode: orNull(d.postal_code),
    source: "lovable-website",
    lovable_lead_id: id,
    utm_source: orNull(d.utm_source),
    utm_medium: orNull(d.utm_medium),
    utm_campaign: orNull(d.utm_campaign),
  }),
  rowProblem: (d, row) =>
    diff(
      {
        email: d.email, phone: orNull(d.phone), firstname: orNull(d.firstname), lastname: orNull(d.lastname),
        connection_type: orNull(d.connection_type), postal_code: orNull(d.postal_code), utm_source: orNull(d.utm_source),
        utm_medium: orNull(d.utm_medium), utm_campaign: orNull(d.utm_campaign),
      },
      row,
    ),
};

export const contactCallback: FormFunction<typeof ContactCallbackInput> = {
  name: "contact-callback",
  spec: CONTACT_CALLBACK,
  schema: ContactCallbackInput,
  table: "callbacks",
  idKey: "callback_id",
  endpoint: "/leads",
  aggregateType: "callback",
  crmBody: (d, id) => {
    // "A callback's full_name is split on its first space into firstName/lastName."
    const space = d.full_name.indexOf(" ");
    return {
      email: null,
      phone: d.phone,
      firstName: space === -1 ? d.full_name : d.full_name.slice(0, space),
      lastName: space === -1 ? null : d.full_name.slice(space + 1).trim() || null,
      serviceType: "non-specifie",
      postalCode: orNull(d.postal_code),
      source: d.source ?? "lovable-website",
      lovable_lead_id: id,
      utm_source: null,
      utm_medium: null,
      utm_campaign: null,
    };
  },
  rowProblem: (d, row) => diff({ full_name: d.full_name, phone: d.phone, postal_code: orNull(d.postal_code), source: orNull(d.source) }, row),
};

export const formSubmit: FormFunction<typeof FormSubmitInput> = {
  name: "form-submit",
  spec: FORM_SUBMIT,
  schema: FormSubmitInput,
  table: "requests",
  idKey: "request_id",
  endpoint: "/requests",
  aggregateType: "request",
  crmBody: ({ customer: c, request: r }, id) => ({
    lovable_request_id: id,
    email: c.email,
    phone: c.phone,
    full_name: c.full_name,
    client_type: c.client_type,
    company_name: orNull(c.company_name),
    siren: orNull(c.siren),
    type_raccordement: r.type_raccordement,
    usage: orNull(r.usage),
    address: r.address,
    city: r.city,
    zip_code: r.zip_code,
    phase: orNull(r.phase),
    power_kva: orNull(r.power_kva),
    is_viabilise: orNull(r.is_viabilise),
    status: "submitted",
    payment_status: "pending",
  }),
  rowProblem: ({ lead_id, request: r }, row, ctx) =>
    diff(
      {
        type_raccordement: r.type_raccordement, usage: orNull(r.usage), address: r.address, city: r.city, zip_code: r.zip_code,
        phase: orNull(r.phase), power_kva: orNull(r.power_kva), is_viabilise: orNull(r.is_viabilise), status: "submitted",
        payment_status: "pending", customer_id: ctx.customerId,
        lead_id: lead_id && ctx.existingLeads.has(lead_id.toLowerCase()) ? lead_id.toLowerCase() : null,
      },
      row,
      ["power_kva"],
    ),
};

/** The lead columns and the /leads body field each maps to (CONTRACT §3). */
const LEAD_FIELDS: Record<string, string> = {
  email: "email", phone: "phone", firstname: "firstName", lastname: "lastName", connection_type: "serviceType",
  postal_code: "postalCode", utm_source: "utm_source", utm_medium: "utm_medium", utm_campaign: "utm_campaign",
};
const leadBodyValue = (column: string, v: unknown) => (column === "connection_type" ? v ?? "non-specifie" : v ?? null);

/**
 * An update through lead_id changes only the fields it sends (CONTRACT §2):
 * each column keeps its earlier value or takes one a case of this batch sent
 * for it; the case's own fields are exactly what it sent. Checks a stored row
 * (`own` undefined) or one case's event body.
 */
function leadMergeProblem(prior: Row, cases: Array<Record<string, unknown>>, actual: Row, own?: Record<string, unknown>): string | null {
  for (const column of Object.keys(LEAD_FIELDS)) {
    const allowed = own && own[column] !== undefined
      ? [own[column]]
      : [prior[column], ...cases.map((c) => c[column]).filter((v) => v !== undefined)];
    const got = own ? actual[LEAD_FIELDS[column]] : actual[column];
    const want = own ? allowed.map((v) => leadBodyValue(column, v)) : allowed.map((v) => v ?? null);
    if (!want.some((w) => w === got)) return `${column}: got ${short(got, 80)}, expected one of ${short(want, 120)}`;
  }
  return null;
}

/** Ids handed out by the server, for bodies that refer to earlier ones (lead_id). */
export class IdPool {
  readonly ids: string[] = [];
  resolve = (ref: PoolRef): string => (this.ids.length === 0 ? crypto.randomUUID() : this.ids[ref.index % this.ids.length]);
}

interface Sent<S extends z.ZodType> {
  c: FormCase;
  req: RawRequest;
  expected: Expected<z.output<S>>;
  answer: Answer;
  index: number;
  id?: string;
}

/**
 * Sends one batch at once and checks every property. Returns the violations;
 * counts go into `report`.
 */
export async function runFormBatch<S extends z.ZodType>(
  stack: TestStack,
  fn: FormFunction<S>,
  cases: FormCase[],
  leads: IdPool,
  report: FuzzReport,
): Promise<Violation[]> {
  const sql = stack.db.sql;
  const violations: Violation[] = [];
  const fail = (signature: string, detail: string, index?: number) => violations.push({ signature: `${fn.name}: ${signature}`, detail, index });

  const reqs = cases.map((c) => ({ c, req: toWire(encodeJson(c.body, leads.resolve), c.wire) as RawRequest }));
  const outcomes = reqs.map(({ req }) => expectedOutcome(fn.schema, req));
  const leadIdsSent = outcomes.flatMap((o) => (o.kind === "valid" && (o.data as { lead_id?: string }).lead_id ? [(o.data as { lead_id: string }).lead_id.toLowerCase()] : []));

  const [before] = await sql<{ rows: number; seq: number; customers: number }[]>`
    select (select count(*)::int from ${sql(fn.table)}) as rows, (select coalesce(max(seq), 0)::int from crm_events) as seq,
           (select count(*)::int from customers) as customers`;
  const priorLeads = new Map(
    (await sql<Row[]>`select * from leads where id = any(${leadIdsSent}::uuid[])`).map((r) => [String(r.id), r]),
  );
  const existingLeads = new Set(priorLeads.keys());
  /** form-start with a lead_id that does not exist: 404 lead_not_found (a client never picks a lead's id). */
  const unknownLead = (e: Expected<z.output<S>>) => {
    const leadId = e.kind === "valid" && fn.name === "form-start" ? (e.data as { lead_id?: string }).lead_id : undefined;
    return leadId !== undefined && !existingLeads.has(leadId.toLowerCase());
  };

  const logsBefore = stack.logs.length;
  const answers = await Promise.all(
    reqs.map(({ req }) =>
      post(`${stack.functionsUrl}/${fn.name}`, req.bytes, { authorization: `Bearer ${stack.anonKey}`, "content-type": req.contentType }),
    ),
  );
  const sent: Sent<S>[] = reqs.map(({ c, req }, i) => ({ c, req, expected: outcomes[i], answer: answers[i], index: i }));

  // The server's own account of its 5xx answers (one line per unhandled error).
  const serverErrors = serverErrorsSince(stack, logsBefore);
  const fivexx = sent.filter((s) => s.answer.status >= 500).length;

  // 1. Statuses and shapes against the oracle.
  for (const s of sent) {
    const { answer, expected } = s;
    const code = (answer.json as { error?: { code?: string } } | undefined)?.error?.code;
    report.count(s.c.flavour, expected.kind === "valid" ? "valid" : `invalid-${expected.status}`, answer.status, code);
    const input = short(s.c.body);
    if (answer.status >= 500) {
      const cause = fivexxCause(serverErrors, fivexx);
      fail(
        `${answer.status} ${code ?? answer.error ?? ""}${cause}`,
        `input ${input} → ${answer.status} ${answer.text.slice(0, 200)}${cause ? "" : `; server errors in this batch: ${serverErrors.join(" | ")}`}`, s.index);
    }
    if (answer.status !== 200 && errorShapeProblem(answer.json)) {
      fail(`${answer.status} without the error shape`, `${errorShapeProblem(answer.json)}; input ${input} → ${answer.text.slice(0, 200)}`, s.index);
    }
    if (answer.status === 200) {
      const id = (answer.json as Record<string, unknown> | undefined)?.[fn.idKey];
      if (!isUuid(id)) fail("200 without an id", `input ${input} → ${answer.text.slice(0, 200)}`, s.index);
      else s.id = id;
    }
    if (expected.kind === "valid" && unknownLead(expected)) {
      if (answer.status !== 404 || code !== "lead_not_found") fail(`unknown lead_id answered ${answer.status} ${code ?? ""}`, `input ${input} → ${answer.text.slice(0, 300)}`, s.index);
    } else if (expected.kind === "valid") {
      if (answer.status !== 200 && answer.status < 500) {
        fail(`valid input answered ${answer.status} ${code ?? ""}`.trim(), `input ${input} → ${answer.text.slice(0, 300)}`, s.index);
      }
    } else {
      if (answer.status === 200) fail(`invalid input (${expected.code}) answered 200`, `input ${input}`, s.index);
      else if (answer.status < 500) {
        if (answer.status !== expected.status || code !== expected.code) {
          fail(`expected ${expected.status} ${expected.code}, got ${answer.status} ${code}`, `input ${input} → ${answer.text.slice(0, 300)}`, s.index);
        } else if (expected.code === "invalid_input") {
          const fields = Object.keys((answer.json as { error: { fields?: object } }).error.fields ?? {});
          const unexplained = fields.filter((f) => !expected.paths!.includes(f));
          if (fields.length === 0 || unexplained.length > 0) {
            fail("400 fields do not name the invalid paths", `fields ${short(fields)} vs ${short(expected.paths)}; input ${input}`, s.index);
          }
        }
      }
    }
  }

  // 2. Writes: exactly one event per 200, none for anything else.
  const ok = sent.filter((s) => s.answer.status === 200 && s.id);
  const events = await sql<{ id: string; endpoint: string; aggregate_type: string; aggregate_id: string; body: Record<string, unknown> }[]>`
    select id, case type when 'request.upserted' then '/requests' else '/leads' end as endpoint, record_type as aggregate_type, record_id::text as aggregate_id, data as body from crm_events where seq > ${before.seq} order by seq`;
  type EventRow = (typeof events)[number];
  const eventsByAggregate = new Map<string, EventRow[]>();
  for (const e of events) eventsByAggregate.set(e.aggregate_id, [...(eventsByAggregate.get(e.aggregate_id) ?? []), e]);
  if (events.length !== ok.length) {
    fail(
      `${events.length} new crm_events for ${ok.length} answers 200 (${sent.length - ok.length} others)`,
      `non-200 inputs: ${sent.filter((s) => s.answer.status !== 200).map((s) => `${s.answer.status} ${short(s.c.body, 150)}`).join(" | ")}`,
    );
  }
  const key = (s: Sent<S>) => s.id!.toLowerCase();
  const okIds = new Set(ok.map(key));
  for (const e of events) {
    if (!okIds.has(e.aggregate_id)) fail("an event for no 200 answer (partial write)", `event ${short(e)}`);
    if (e.endpoint !== fn.endpoint || e.aggregate_type !== fn.aggregateType) fail("event on the wrong endpoint", short(e));
    const schema = fn.endpoint === "/leads" ? CrmLeadBody : CrmRequestBody;
    const parsed = schema.safeParse(e.body);
    if (!parsed.success) fail("event body the CRM would refuse", `${short(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`))} in ${short(e.body)}`);
  }
  for (const id of okIds) {
    const mine = ok.filter((s) => key(s) === id);
    const got = eventsByAggregate.get(id) ?? [];
    if (got.length !== mine.length) fail(`${got.length} events for ${mine.length} answers 200 with the same id`, `id ${id}`, mine[0]?.index);
    // Each event body is the contract's mapping of one of the inputs that got this id.
    const prior = priorLeads.get(id);
    if (fn.name === "form-start" && prior) {
      const updates = mine.filter((s) => s.expected.kind === "valid").map((s) => (s.expected as { data: Record<string, unknown> }).data);
      for (const e of got) {
        const problems = updates.map((u) => leadMergeProblem(prior, updates, e.body, u));
        if (problems.length > 0 && problems.every((p) => p !== null)) fail("update event is not the merged lead", `${problems[0]}; got ${short(e.body)}`, mine[0].index);
      }
      continue;
    }
    for (const e of got) {
      const candidates = mine.filter((s) => s.expected.kind === "valid").map((s) => fn.crmBody((s.expected as { data: z.output<S> }).data, s.id!));
      if (candidates.length > 0 && !candidates.some((c) => sameJson(c, e.body))) {
        fail("event body differs from the contract's mapping", `expected ${short(candidates[0])}, got ${short(e.body)}`, mine[0].index);
      }
    }
  }

  // 3. Rows: one per 200 (form-start: an upsert by lead_id), stored normalised.
  const [after] = await sql<{ rows: number; customers: number }[]>`
    select (select count(*)::int from ${sql(fn.table)}) as rows, (select count(*)::int from customers) as customers`;
  let expectedNewRows = ok.length;
  if (fn.name === "form-start") {
    expectedNewRows = new Set(ok.map(key).filter((id) => !existingLeads.has(id))).size;
  }
  if (after.rows - before.rows !== expectedNewRows) {
    fail(`${after.rows - before.rows} new ${fn.table} rows, expected ${expectedNewRows}`, `answers ${sent.map((s) => s.answer.status).join(",")}`);
  }
  if (okIds.size > 0) {
    const rows = await sql<Row[]>`select * from ${sql(fn.table)} where id = any(${[...okIds]}::uuid[])`;
    const byId = new Map(rows.map((r) => [String(r.id).toLowerCase(), r]));
    for (const id of okIds) {
      const row = byId.get(id);
      if (!row) {
        fail(`answered 200 but no ${fn.table} row`, `id ${id}`, ok.find((s) => key(s) === id)?.index);
        continue;
      }
      const mine = ok.filter((s) => key(s) === id && s.expected.kind === "valid");
      if (mine.length === 0) continue;
      const prior = priorLeads.get(id);
      if (fn.name === "form-start" && prior) {
        const problem = leadMergeProblem(prior, mine.map((s) => (s.expected as { data: Record<string, unknown> }).data), row);
        if (problem) fail("updated lead is not the merge of what was sent", `${problem}; input ${short(mine[0].c.body)}`, mine[0].index);
        continue;
      }
      const problems = mine.map((s) =>
        fn.rowProblem((s.expected as { data: z.output<S> }).data, row, {
          existingLeads,
          customerId: (s.answer.json as { customer_id?: string }).customer_id,
        })
      );
      if (problems.every((p) => p !== null)) fail("stored row differs from the normalised input", `${problems[0]}; input ${short(mine[0].c.body)}`, mine[0].index);
    }
  }
  if (fn.name === "form-submit") {
    const emails = ok.filter((s) => s.expected.kind === "valid").map((s) => (s.expected as { data: z.output<typeof FormSubmitInput> }).data.customer.email);
    const customers = await sql<{ id: string; email: string }[]>`select id::text, email from customers where email = any(${emails})`;
    const byEmail = new Map(customers.map((c) => [c.email, c.id]));
    for (const s of ok) {
      if (s.expected.kind !== "valid") continue;
      const email = (s.expected.data as z.output<typeof FormSubmitInput>).customer.email;
      const customerId = (s.answer.json as { customer_id?: string }).customer_id;
      if (byEmail.get(email) !== customerId) fail("customer_id is not the customer of that email", `email ${email}: ${byEmail.get(email)} vs ${customerId}`, s.index);
    }
  } else if (after.customers !== before.customers) {
    fail("customers changed", `${before.customers} → ${after.customers}`);
  }

  if (fn.name === "form-start") for (const s of ok) leads.ids.push(s.id!);
  return violations;
}

/** The `error` of every "unhandled error" / "database unavailable" log line since `from`. */
export function serverErrorsSince(stack: TestStack, from: number): string[] {
  const out: string[] = [];
  for (const line of stack.logs.slice(from)) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string; error?: string };
      if (entry.level === "error" && entry.msg !== "crm immediate delivery failed; the sweeper will retry") out.push(`${entry.msg}: ${entry.error ?? ""}`);
    } catch {
      out.push(`non-JSON line: ${line.slice(0, 120)}`);
    }
  }
  return out;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

