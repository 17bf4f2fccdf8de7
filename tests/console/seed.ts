/** Rows for the console tests: real leads/call-backs and their events and deliveries, in chosen states. */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { callbackBody, leadBody } from "../../src/crm/monelec-bodies.ts";
import type { Sql } from "../../src/db/sql.ts";

export interface SeededDelivery {
  eventId: string;
  recordId: string;
  destination: string;
}

export async function registerDestination(sql: Sql, name: string): Promise<void> {
  await sql`insert into crm_destinations (name) values (${name}) on conflict do nothing`;
}

export async function seedLead(sql: Sql, p: { email: string; phone?: string; firstname?: string; lastname?: string }): Promise<string> {
  const id = randomUUID();
  await sql`insert into leads (id, email, phone, firstname, lastname, postal_code)
            values (${id}, ${p.email}, ${p.phone ?? null}, ${p.firstname ?? null}, ${p.lastname ?? null}, '75005')`;
  return id;
}

export async function seedCallback(sql: Sql, p: { phone: string; fullName: string }): Promise<string> {
  const id = randomUUID();
  await sql`insert into callbacks (id, full_name, phone, postal_code) values (${id}, ${p.fullName}, ${p.phone}, '69001')`;
  return id;
}

/** One event of the record, with one delivery per destination in the given state (and an attempt log for non-pending ones). */
export async function seedEvent(sql: Sql, recordType: "lead" | "callback", recordId: string, deliveries: Record<string, string>,
  opts: { ageSeconds?: number; status?: number; error?: string } = {}): Promise<SeededDelivery[]> {
  const eventId = randomUUID();
  const [row] = recordType === "lead"
    ? await sql`select * from leads where id = ${recordId}`
    : await sql`select * from callbacks where id = ${recordId}`;
  const data = recordType === "lead" ? leadBody(row as never) : callbackBody(row as never);
  const age = opts.ageSeconds ?? 0;
  const [ev] = await sql<{ seq: string }[]>`
    insert into crm_events (id, type, record_type, record_id, data, fanout, created_at)
    values (${eventId}, ${recordType === "lead" ? "lead.upserted" : "callback.created"}, ${recordType}, ${recordId},
            ${sql.json(data as never)}, ${Object.keys(deliveries).length}, now() - ${age} * interval '1 second')
    returning seq`;
  const out: SeededDelivery[] = [];
  for (const [destination, state] of Object.entries(deliveries)) {
    const done = state !== "pending" && state !== "blocked";
    const status = state === "delivered" ? 200 : (opts.status ?? 422);
    await sql`
      insert into crm_deliveries (event_id, destination, record_id, seq, state, attempts, last_status, last_error, created_at,
                                  updated_at, delivered_at, next_attempt_at)
      values (${eventId}, ${destination}, ${recordId}, ${ev.seq}, ${state}, ${done ? 1 : 0}, ${done ? status : null},
              ${state === "dead" ? (opts.error ?? "HTTP 422: validation_failed") : null}, now() - ${age} * interval '1 second',
              now(), ${state === "delivered" ? sql`now()` : null}, now() + interval '1 hour')`;
    if (done) {
      await sql`insert into crm_attempts (event_id, destination, attempt, http_status, duration_ms, outcome, error, response_excerpt)
                values (${eventId}, ${destination}, 1, ${status}, 42, ${state === "delivered" ? "delivered" : "dead"},
                        ${state === "dead" ? (opts.error ?? "HTTP 422: validation_failed") : null}, ${'{"error":"validation_failed"}'})`;
    }
    out.push({ eventId, recordId, destination });
  }
  return out;
}

/** A loopback chat webhook that records every message it gets. */
export async function startReceiver(): Promise<{ url: string; messages: string[]; status: { code: number }; close(): Promise<void> }> {
  const messages: string[] = [];
  const status = { code: 200 };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (status.code === 200) {
        const parsed = JSON.parse(body) as { text: string };
        if (req.headers["content-type"] !== "application/json" || typeof parsed.text !== "string") res.writeHead(400).end("invalid_payload");
        else {
          messages.push(parsed.text);
          res.writeHead(200).end("ok");
        }
      } else res.writeHead(status.code).end("error");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/test`,
    messages,
    status,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
