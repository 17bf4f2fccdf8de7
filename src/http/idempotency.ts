/**
 * Idempotency-Key for the form functions (CONTRACT §2), as Stripe's API and
 * the IETF draft "The Idempotency-Key HTTP Header Field" describe it: the
 * first answer for a key is kept 24 hours and given again for a retry with the
 * same key, and nothing more is written; the same key with another body is
 * refused (422).
 *
 * The answer is written by the business statement itself (`rememberAnswer`),
 * so a key has its record and answer or neither. Two concurrent requests with
 * one key: the second statement waits on the first's primary-key entry, then
 * fails with a unique violation that rolls back everything it did, and its
 * caller answers with the first's stored answer.
 */
import type { Sql } from "../db/sql.ts";
import { HttpError } from "./http-error.ts";

export const IDEMPOTENCY_HEADER = "idempotency-key";
const KEY_SHAPE = /^[\x21-\x7e]{1,255}$/;
const PURGE_BATCH = 20;

export interface IdempotencyClaim {
  /** The function answering. */
  fn: string;
  key: string;
  /** The request as received (its parsed JSON, re-serialised). */
  requestText: string;
}

/** The request's key, undefined without one; 400 when it is not 1–255 visible ASCII characters. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.headers.get(IDEMPOTENCY_HEADER);
  if (key === null) return undefined;
  if (!KEY_SHAPE.test(key)) {
    throw new HttpError(400, "invalid_idempotency_key", "The Idempotency-Key header must be 1 to 255 visible ASCII characters.", {
      "Idempotency-Key": "must be 1 to 255 visible ASCII characters",
    });
  }
  return key;
}

/**
 * The answer stored for this key in the last 24 h, or undefined. Deletes that
 * key's expired answer and a few other expired ones on the way.
 */
export async function findAnswer(sql: Sql, claim: IdempotencyClaim): Promise<unknown | undefined> {
  const [row] = await sql<{ response: unknown; same_request: boolean }[]>`
    with purge as (
      delete from idempotency_keys
      where (function = ${claim.fn} and key_hash = sha256(convert_to(${claim.key}, 'UTF8'))
             and created_at < now() - interval '24 hours')
         or ctid = any(array(
              select ctid from idempotency_keys where created_at < now() - interval '24 hours'
              limit ${PURGE_BATCH} for update skip locked))
    )
    select response, request_hash = sha256(convert_to(${claim.requestText}, 'UTF8')) as same_request
    from idempotency_keys
    where function = ${claim.fn} and key_hash = sha256(convert_to(${claim.key}, 'UTF8'))
      and created_at >= now() - interval '24 hours'`;
  if (!row) return undefined;
  if (!row.same_request) {
    throw new HttpError(422, "idempotency_key_reused", "This Idempotency-Key was already used with a different request.", {
      "Idempotency-Key": "was already used with a different request",
    });
  }
  return row.response;
}

/**
 * `, idem as (insert into idempotency_keys …)` to append to the business
 * statement's CTE list: one answer row per row of `fromCte` (the record
 * written), `response` being a jsonb expression over it. Empty without a claim.
 */
export function rememberAnswer(sql: Sql, claim: IdempotencyClaim | undefined, fromCte: string, response: ReturnType<Sql>) {
  if (!claim) return sql``;
  return sql`, idem as (
    insert into idempotency_keys (function, key_hash, request_hash, response)
    select ${claim.fn}, sha256(convert_to(${claim.key}, 'UTF8')), sha256(convert_to(${claim.requestText}, 'UTF8')), ${response}
    from ${sql(fromCte)} limit 1
  )`;
}

/** The unique violation a concurrent twin gets: answer with the first one's answer. */
export function isIdempotencyConflict(err: unknown): boolean {
  const e = err as { code?: unknown; constraint_name?: unknown };
  return e?.code === "23505" && e.constraint_name === "idempotency_keys_pkey";
}
