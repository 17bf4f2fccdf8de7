/**
 * The operators' activity log (console and `npm run crm` alike): who did what,
 * when, to which deliveries (the filter) and how many. Never holds personal
 * data: a search by email or phone is recorded as the record ids it found.
 */
import type { Sql } from "../db/sql.ts";
import type { DeliveryFilter } from "./filter.ts";

export interface OperatorAction {
  actor: string;
  source: "console" | "cli";
  action: string;
  filter?: DeliveryFilter | Record<string, unknown>;
  count?: number | null;
  detail?: string;
}

export interface ActivityEntry extends Required<Omit<OperatorAction, "filter">> {
  id: string;
  at: string;
  filter: Record<string, unknown>;
}

export async function recordAction(sql: Sql, a: OperatorAction): Promise<void> {
  const filter = Object.fromEntries(Object.entries(a.filter ?? {}).filter(([, v]) => v !== undefined)
    .map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
  await sql`
    insert into operator_actions (actor, source, action, filter, count, detail)
    values (${a.actor.slice(0, 200)}, ${a.source}, ${a.action}, ${sql.json(filter as never)}, ${a.count ?? null},
            ${a.detail ? a.detail.slice(0, 1000) : null})`;
}

export async function listActivity(sql: Sql, limit = 100): Promise<ActivityEntry[]> {
  const rows = await sql<(Omit<ActivityEntry, "at" | "id"> & { id: string; at: Date })[]>`
    select id, at, actor, source, action, filter, count, detail from operator_actions order by id desc limit ${limit}`;
  return rows.map((r) => ({ ...r, id: String(r.id), at: r.at.toISOString() }));
}

/** Who acts: CONSOLE_ACTOR, else the OS user. */
export function actorFrom(env: Record<string, string | undefined>, osUser: string): string {
  return (env.CONSOLE_ACTOR ?? "").trim() || osUser || "operator";
}
