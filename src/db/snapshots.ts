/**
 * A record's current snapshot, as the event body (CONTRACT §3) its writer
 * would produce now: for backfills and for retrying a dead delivery with the
 * data as it stands (a fix to the data takes effect).
 */
import { callbackBody, type CallbackFacts, leadBody, type LeadFacts, requestBody } from "../crm/monelec-bodies.ts";
import type { EventType, NewEvent, RecordType } from "../outbox/types.ts";
import { loadRequestSnapshot } from "./request-snapshot.ts";
import type { Sql } from "./sql.ts";

export const EVENT_TYPE: Record<RecordType, EventType> = {
  lead: "lead.upserted",
  callback: "callback.created",
  request: "request.upserted",
};

/** Reads the record (locking it against concurrent writers when `lock`) and builds its event; null when it is gone. */
export async function currentSnapshot(sql: Sql, recordType: RecordType, recordId: string, opts: { lock?: boolean } = {}): Promise<NewEvent | null> {
  const lock = opts.lock ? sql`for share` : sql``;
  let data: Record<string, unknown> | null = null;
  if (recordType === "lead") {
    const [row] = await sql<LeadFacts[]>`select * from leads where id = ${recordId} ${lock}`;
    data = row ? leadBody(row) : null;
  } else if (recordType === "callback") {
    const [row] = await sql<CallbackFacts[]>`select * from callbacks where id = ${recordId} ${lock}`;
    data = row ? callbackBody(row) : null;
  } else {
    const snapshot = await loadRequestSnapshot(sql, recordId, { lock: opts.lock });
    data = snapshot ? requestBody(snapshot) : null;
  }
  return data ? { id: crypto.randomUUID(), type: EVENT_TYPE[recordType], recordType, recordId, data } : null;
}
