/**
 * A webhook RECEIVER, as an n8n Webhook node (or a Make/Zapier hook) that
 * verifies Standard Webhooks signatures. It follows:
 * - the Standard Webhooks specification 1.0
 *   (github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md):
 *   headers `webhook-id`, `webhook-timestamp` (integer Unix seconds),
 *   `webhook-signature` (space-delimited `v1,<base64>` list, one match is enough);
 *   signed content `<id>.<timestamp>.<raw body>`; HMAC-SHA256 keyed by the base64
 *   part of `whsec_…`; constant-time comparison; timestamp tolerance; `webhook-id`
 *   as an idempotency key; `410 Gone` = "no longer interested";
 * - the receivers' verification guides built on it (Make "Verify signatures",
 *   developers.make.com/event-subscription/implementation/verify-signatures:
 *   all three headers required, reject a timestamp more than 5 minutes away in
 *   either direction, verify the raw body before parsing it);
 * - n8n's webhook server for everything else: one registered path, OPTIONS
 *   answered 204 as a CORS preflight without running the workflow, another
 *   method on the path `404 {"code":404,"message":"This webhook is not registered
 *   for GET requests. Did you mean to make a POST request?"}`, an unknown path
 *   `404 "The requested webhook … is not registered."`, an accepted call
 *   `200 {"message":"Workflow was started"}`.
 *
 * The verification is written here on its own with node:crypto — it does not
 * reuse the module's signing code — so it is an oracle for the module.
 * A verification failure answers 401 and records nothing but the rejection.
 * A repeated `webhook-id` answers 200 and is recorded as a duplicate, not a new
 * message. `setGone(true)` makes the hook answer 410 (a deleted/turned-off hook).
 *
 * state(): { messages, duplicates, rejected }.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { json, type VendorDouble } from "../double-kit.ts";
import { LOCAL_WEBHOOK_PATH, LOCAL_WEBHOOK_SECRET } from "./index.ts";

export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

export interface ReceivedMessage {
  /** webhook-id */
  id: string;
  /** webhook-timestamp of the attempt that delivered it */
  attemptTimestamp: number;
  type: string;
  /** the payload's own timestamp (the event's) */
  timestamp: string;
  data: Record<string, unknown>;
  receivedAt: string;
}

export interface DuplicateDelivery {
  id: string;
  attemptTimestamp: number;
  /** The repeated delivery carried the same payload as the first one. */
  samePayload: boolean;
  receivedAt: string;
}

export interface Rejection {
  id: string | null;
  status: number;
  reason: string;
  receivedAt: string;
}

export interface WebhookDouble extends VendorDouble {
  /** true: the hook answers 410 Gone (as a deleted or disabled hook). */
  setGone(gone: boolean): void;
}

export interface WebhookDoubleOptions {
  /** The receiver's `whsec_…` secret (default: the local one of localEnv). */
  secret?: string;
  /** The registered path under the double's base (default: the local one of localEnv). */
  path?: string;
}

function hmacKey(secret: string): Buffer {
  if (!secret.startsWith("whsec_")) throw new Error("webhook double: the secret must start with whsec_");
  return Buffer.from(secret.slice("whsec_".length), "base64");
}

export function createWebhookDouble(opts: WebhookDoubleOptions = {}): WebhookDouble {
  const key = hmacKey(opts.secret ?? LOCAL_WEBHOOK_SECRET);
  const hookPath = opts.path ?? LOCAL_WEBHOOK_PATH;
  let messages: ReceivedMessage[] = [];
  let duplicates: DuplicateDelivery[] = [];
  let rejected: Rejection[] = [];
  let gone = false;

  const reject = (status: number, reason: string, id: string | null) => {
    rejected.push({ id, status, reason, receivedAt: new Date().toISOString() });
    return json({ code: status, message: reason }, status);
  };

  /** One `v1,<sig>` of the space-delimited list matches (constant-time). */
  const verified = (id: string, timestamp: string, body: string, header: string): boolean => {
    const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
    return header.split(" ").some((entry) => {
      const comma = entry.indexOf(",");
      if (comma === -1 || entry.slice(0, comma) !== "v1") return false;
      const given = Buffer.from(entry.slice(comma + 1), "base64");
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  };

  return {
    name: "webhook",
    setGone(on) {
      gone = on;
    },
    async handle(req) {
      const path = new URL(req.url).pathname;
      if (path !== hookPath) {
        return json({ code: 404, message: `The requested webhook "${req.method} ${path.replace(/^\//, "")}" is not registered.` }, 404);
      }
      if (gone) return json({ code: 410, message: "This webhook is gone: stop sending to it." }, 410);
      if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: { allow: "OPTIONS, POST" } });
      if (req.method !== "POST") {
        return json({ code: 404, message: `This webhook is not registered for ${req.method} requests. Did you mean to make a POST request?` }, 404);
      }

      const raw = await req.text();
      const id = req.headers.get("webhook-id");
      const ts = req.headers.get("webhook-timestamp");
      const sig = req.headers.get("webhook-signature");
      if (!id || !ts || !sig) return reject(401, "Missing required headers: webhook-id, webhook-timestamp and webhook-signature", id);
      if (!/^\d+$/.test(ts)) return reject(401, "Invalid webhook-timestamp: integer Unix seconds expected", id);
      const now = Math.floor(Date.now() / 1000);
      if (Number(ts) < now - WEBHOOK_TOLERANCE_SECONDS) return reject(401, "Message timestamp too old", id);
      if (Number(ts) > now + WEBHOOK_TOLERANCE_SECONDS) return reject(401, "Message timestamp too new", id);
      if (!verified(id, ts, raw, sig)) return reject(401, "No matching signature found", id);

      if (!(req.headers.get("content-type") ?? "").toLowerCase().startsWith("application/json")) {
        return reject(415, "Content-Type must be application/json", id);
      }
      let payload: unknown;
      try {
        payload = JSON.parse(raw);
      } catch {
        return reject(400, "The body is not JSON", id);
      }
      const p = payload as Partial<ReceivedMessage> | null;
      const problems: string[] = [];
      if (!p || typeof p !== "object" || Array.isArray(p)) problems.push("the payload must be an object");
      else {
        if (typeof p.type !== "string" || !/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/.test(p.type)) problems.push("type must be a full-stop delimited event type");
        if (typeof p.timestamp !== "string" || Number.isNaN(Date.parse(p.timestamp))) problems.push("timestamp must be an ISO 8601 date");
        if (!p.data || typeof p.data !== "object" || Array.isArray(p.data)) problems.push("data must be an object");
      }
      if (problems.length) return reject(400, `Invalid payload: ${problems.join("; ")}`, id);

      const receivedAt = new Date().toISOString();
      const first = messages.find((m) => m.id === id);
      if (first) {
        const samePayload = JSON.stringify({ type: first.type, timestamp: first.timestamp, data: first.data }) === JSON.stringify({ type: p!.type, timestamp: p!.timestamp, data: p!.data });
        duplicates.push({ id, attemptTimestamp: Number(ts), samePayload, receivedAt });
        return json({ message: "Workflow was started" });
      }
      messages.push({ id, attemptTimestamp: Number(ts), type: p!.type!, timestamp: p!.timestamp!, data: p!.data!, receivedAt });
      return json({ message: "Workflow was started" });
    },
    state: () => structuredClone({ messages, duplicates, rejected }),
    reset() {
      messages = [];
      duplicates = [];
      rejected = [];
      gone = false;
    },
  };
}
