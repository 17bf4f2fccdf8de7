/**
 * A Zendesk Support double: the part of the Support (Ticketing) API the zendesk
 * destination uses, as Zendesk documents it. Sources:
 * - Security and authentication (developer.zendesk.com/api-reference/introduction/
 *   security-and-auth; support.zendesk.com article 4408831452954 "How can I
 *   authenticate API requests"): API token as Basic `{email_address}/token:{api_token}`;
 *   a refused pair answers 401 `{"error":"Couldn't authenticate you"}`; GET
 *   /api/v2/users/me is allowed for anonymous users and answers the anonymous user
 *   (id null) to credentials it does not accept.
 * - Users (api-reference/ticketing/users/users): JSON format (name mandatory,
 *   external_id unique and case-insensitive, email), Create Or Update User
 *   (POST /api/v2/users/create_or_update: "creates a user if the user does not already
 *   exist, or updates an existing user identified by e-mail address or external ID";
 *   201 Created / 200 OK), Show Self.
 * - Tickets (api-reference/ticketing/tickets/tickets): Create Ticket (comment
 *   mandatory; requester_id; type problem|incident|question|task; priority
 *   urgent|high|normal|low; external_id; tags), List Tickets with `external_id`,
 *   Show Ticket.
 * - Idempotency (api-reference/ticketing/introduction/#idempotency): `Idempotency-Key`
 *   on ticket creation; the answer carries `x-idempotency-lookup: miss`; a repeat with
 *   the same key and the same body within 2 hours returns the original answer with
 *   `x-idempotency-lookup: hit`; the same key with another body answers 400
 *   `{"error":"IdempotentRequestError","description":"Request parameters don't match the
 *   given idempotency key"}` (as Zendesk's Java client, cloudbees-oss/zendesk-java-client,
 *   IdempotencyUtil, handles it).
 * - Response format (api-reference/introduction/requests): errors as `{error, description,
 *   details:{field:[{description, error}]}}`; 422 RecordInvalid "Record validation errors";
 *   404 RecordNotFound.
 * - Rate limits (api-reference/introduction/rate-limits): per account per minute
 *   (Team 200, Growth/Professional 400, Enterprise 700, Enterprise Plus 2500); every
 *   answer carries X-Rate-Limit and X-Rate-Limit-Remaining; over the limit: 429 with
 *   Retry-After (seconds), body "Number of allowed API requests per minute exceeded".
 *
 * What it enforces: the credentials (401, or the anonymous user on /users/me); the
 * per-minute limit (429 + Retry-After); a user's name (422), email format (422), the
 * uniqueness of email and external_id (create_or_update updates the match instead of
 * creating; a user without either is always created, as at Zendesk); a ticket's comment,
 * requester (must exist), type and priority (422); idempotency keys as documented.
 * `state()` holds {users, tickets}; the API user (an admin) is users[0].
 */
import { counter, json, readJson, type VendorDouble } from "../double-kit.ts";
import { LOCAL_ZENDESK_EMAIL, LOCAL_ZENDESK_TOKEN } from "./index.ts";

export interface ZendeskDoubleOptions {
  email?: string;
  token?: string;
  /** Requests per minute for the account (Team plan: 200). */
  requestsPerMinute?: number;
  windowMs?: number;
  /** How long an Idempotency-Key is remembered (2 hours). */
  idempotencyTtlMs?: number;
}

interface User {
  id: number; url: string; name: string; email: string | null; secondary_emails: string[]; external_id: string | null;
  phone: string | null; details: string | null; notes: string | null; role: "end-user" | "agent" | "admin";
  active: boolean; verified: boolean; created_at: string; updated_at: string;
}
interface Ticket {
  id: number; url: string; external_id: string | null; subject: string | null; raw_subject: string | null; description: string;
  type: string | null; priority: string | null; status: string; requester_id: number; submitter_id: number; assignee_id: null;
  tags: string[]; comments: { id: number; body: string; public: boolean; author_id: number }[]; created_at: string; updated_at: string;
}

class ApiError extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(`HTTP ${status}`);
  }
}

const invalid = (field: string, description: string, error = "InvalidValue") =>
  new ApiError(422, { error: "RecordInvalid", description: "Record validation errors", details: { [field]: [{ description, error }] } });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ROLES = new Set(["end-user", "agent", "admin"]);
const TYPES = new Set(["problem", "incident", "question", "task"]);
const PRIORITIES = new Set(["urgent", "high", "normal", "low"]);
const stamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

function optionalString(body: Record<string, unknown>, field: string, label: string, max = 65_535): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalid(field, `${label}: must be a string`);
  if (v.length > max) throw invalid(field, `${label}: is too long (maximum is ${max} characters)`, "ValueTooLong");
  return v;
}

function decodeBasic(header: string | null): string | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? "");
  if (!m) return null;
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
}

export function createZendeskDouble(options: ZendeskDoubleOptions = {}): VendorDouble {
  const email = options.email ?? LOCAL_ZENDESK_EMAIL;
  const token = options.token ?? LOCAL_ZENDESK_TOKEN;
  const limit = options.requestsPerMinute ?? 200;
  const windowMs = options.windowMs ?? 60_000;
  const ttl = options.idempotencyTtlMs ?? 2 * 60 * 60 * 1000;
  const base = "https://sandbox.zendesk.com";
  let times: number[] = [];
  let users: User[] = [];
  let tickets: Ticket[] = [];
  let keys = new Map<string, { body: string; status: number; answer: unknown; at: number }>();
  let userId = counter(1);
  let ticketId = counter(1);
  let commentId = counter(1);

  function reset() {
    times = [];
    tickets = [];
    keys = new Map();
    userId = counter(9_000_000_001);
    ticketId = counter(101);
    commentId = counter(7_000_000_001);
    const now = stamp();
    const id = userId();
    users = [{
      id, url: `${base}/api/v2/users/${id}.json`, name: "Bridge API", email, secondary_emails: [], external_id: null, phone: null,
      details: null, notes: null, role: "admin", active: true, verified: true, created_at: now, updated_at: now,
    }];
  }
  reset();

  const apiUser = () => users[0];
  const userView = (u: User) => {
    const { secondary_emails: _s, ...rest } = u;
    return rest;
  };
  const ticketView = (t: Ticket) => {
    const { comments: _c, ...rest } = t;
    return rest;
  };
  const byEmail = (e: string) => users.find((u) => u.active && (u.email?.toLowerCase() === e.toLowerCase() || u.secondary_emails.includes(e.toLowerCase())));
  const byExternal = (x: string) => users.find((u) => u.active && u.external_id?.toLowerCase() === x.toLowerCase());

  function createOrUpdate(body: unknown): Response {
    if (!isObject(body) || !isObject(body.user)) throw new ApiError(400, { error: "InvalidValue", description: "param is missing or the value is empty: user" });
    const u = body.user;
    const name = optionalString(u, "name", "Name", 255);
    const mail = optionalString(u, "email", "Email", 255);
    if (mail !== undefined && !EMAIL.test(mail)) throw invalid("email", `Email: ${mail} is not properly formatted`, "InvalidFormat");
    const externalId = u.external_id === undefined || u.external_id === null ? undefined : typeof u.external_id === "number" ? String(u.external_id) : optionalString(u, "external_id", "External", 255);
    const phone = optionalString(u, "phone", "Phone", 255);
    const details = optionalString(u, "details", "Details");
    const notes = optionalString(u, "notes", "Notes");
    const role = optionalString(u, "role", "Role");
    if (role !== undefined && !ROLES.has(role)) throw invalid("role", `Role: ${role} is not a valid role`);

    const match = (externalId !== undefined ? byExternal(externalId) : undefined) ?? (mail !== undefined ? byEmail(mail) : undefined);
    const now = stamp();
    if (match) {
      if (name !== undefined && !name.trim()) throw invalid("name", "Name:  is too short (minimum one character)", "ValueTooShort");
      if (mail !== undefined && match.email?.toLowerCase() !== mail.toLowerCase() && !match.secondary_emails.includes(mail.toLowerCase())) {
        const other = byEmail(mail);
        if (other && other.id !== match.id) throw invalid("email", `Email: ${mail} is already being used by another user`, "DuplicateValue");
        if (match.email === null) match.email = mail;
        else match.secondary_emails.push(mail.toLowerCase()); // "On update, a secondary email is added."
      }
      if (externalId !== undefined && match.external_id === null) match.external_id = externalId;
      if (name !== undefined) match.name = name;
      if (phone !== undefined) match.phone = phone;
      if (details !== undefined) match.details = details;
      if (notes !== undefined) match.notes = notes;
      if (role !== undefined) match.role = role as User["role"];
      match.updated_at = now;
      return json({ user: userView(match) }, 200);
    }
    if (name === undefined || !name.trim()) throw invalid("name", "Name:  is too short (minimum one character)", "ValueTooShort");
    const id = userId();
    const user: User = {
      id, url: `${base}/api/v2/users/${id}.json`, name, email: mail ?? null, secondary_emails: [], external_id: externalId ?? null,
      phone: phone ?? null, details: details ?? null, notes: notes ?? null, role: (role as User["role"] | undefined) ?? "end-user",
      active: true, verified: false, created_at: now, updated_at: now,
    };
    users.push(user);
    return json({ user: userView(user) }, 201);
  }

  function createTicket(body: unknown): Response {
    if (!isObject(body) || !isObject(body.ticket)) throw new ApiError(400, { error: "InvalidValue", description: "param is missing or the value is empty: ticket" });
    const t = body.ticket;
    const comment = t.comment;
    const commentBody = isObject(comment) ? (typeof comment.body === "string" ? comment.body : typeof comment.html_body === "string" ? comment.html_body : "") : "";
    if (!commentBody.trim()) throw invalid("base", "Description: cannot be blank", "BlankValue");
    if (isObject(comment) && comment.public !== undefined && typeof comment.public !== "boolean") throw invalid("comment", "Comment: public must be a boolean");
    const subject = optionalString(t, "subject", "Subject", 150);
    const externalId = optionalString(t, "external_id", "External", 255);
    const type = optionalString(t, "type", "Type");
    if (type !== undefined && !TYPES.has(type)) throw invalid("type", `Type: ${type} is not valid`);
    const priority = optionalString(t, "priority", "Priority");
    if (priority !== undefined && !PRIORITIES.has(priority)) throw invalid("priority", `Priority: ${priority} is not valid`);
    if (t.tags !== undefined && (!Array.isArray(t.tags) || t.tags.some((x) => typeof x !== "string"))) throw invalid("tags", "Tags: must be a list of strings");
    let requester: User | undefined;
    if (t.requester_id !== undefined) {
      requester = isId(t.requester_id) ? users.find((u) => u.id === t.requester_id && u.active) : undefined;
      if (!requester) throw invalid("requester", "Requester: is invalid", "InvalidValue");
    } else if (t.requester !== undefined) {
      const r = t.requester;
      if (!isObject(r) || typeof r.email !== "string" || !EMAIL.test(r.email)) throw invalid("requester", "Requester: Email is not properly formatted", "InvalidFormat");
      requester = byEmail(r.email);
      if (!requester) {
        const created = createOrUpdate({ user: { name: typeof r.name === "string" && r.name.trim() ? r.name : r.email, email: r.email } });
        void created;
        requester = byEmail(r.email)!;
      }
    } else {
      requester = apiUser(); // "If the requester is not given, the authenticated user is the requester."
    }
    const now = stamp();
    const id = ticketId();
    const ticket: Ticket = {
      id, url: `${base}/api/v2/tickets/${id}.json`, external_id: externalId ?? null, subject: subject ?? null, raw_subject: subject ?? null,
      description: commentBody, type: type ?? null, priority: priority ?? null, status: "new", requester_id: requester.id,
      submitter_id: apiUser().id, assignee_id: null, tags: [...new Set((t.tags as string[] | undefined) ?? [])],
      comments: [{ id: commentId(), body: commentBody, public: isObject(comment) && comment.public === false ? false : true, author_id: apiUser().id }],
      created_at: now, updated_at: now,
    };
    tickets.push(ticket);
    return json({ ticket: ticketView(ticket) }, 201);
  }

  function idempotent(req: Request, body: unknown, run: () => Response): Response {
    const key = req.headers.get("idempotency-key");
    if (key === null) return run();
    if (!key || key.length > 255) throw new ApiError(400, { error: "InvalidValue", description: "Idempotency-Key must be 1 to 255 characters" });
    const canonical = JSON.stringify(body);
    const now = Date.now();
    const seen = keys.get(key);
    if (seen && now - seen.at < ttl) {
      if (seen.body !== canonical) {
        throw new ApiError(400, { error: "IdempotentRequestError", description: "Request parameters don't match the given idempotency key" });
      }
      return json(seen.answer, seen.status, { "x-idempotency-lookup": "hit" });
    }
    const res = run();
    res.headers.set("x-idempotency-lookup", "miss");
    return res;
  }

  async function route(req: Request, url: URL): Promise<Response> {
    const path = url.pathname.replace(/\.json$/, "");
    const m = req.method;
    if (m === "GET" && path === "/api/v2/users/me") return json({ user: userView(apiUser()) });
    if (m === "GET" && /^\/api\/v2\/users\/\d+$/.test(path)) {
      const u = users.find((x) => x.id === Number(path.split("/").pop()) && x.active);
      if (!u) throw new ApiError(404, { error: "RecordNotFound", description: "Not found" });
      return json({ user: userView(u) });
    }
    if (m === "POST" && path === "/api/v2/users/create_or_update") {
      const body = await readJson(req);
      return createOrUpdate(body);
    }
    if (m === "POST" && path === "/api/v2/tickets") {
      const body = await readJson(req);
      if (body === undefined) throw new ApiError(400, { error: "InvalidValue", description: "The request body is not valid JSON" });
      const res = idempotent(req, body, () => createTicket(body));
      const key = req.headers.get("idempotency-key");
      if (key && res.headers.get("x-idempotency-lookup") === "miss" && res.status >= 200 && res.status < 300) {
        keys.set(key, { body: JSON.stringify(body), status: res.status, answer: await res.clone().json(), at: Date.now() });
      }
      return res;
    }
    if (m === "GET" && path === "/api/v2/tickets") {
      const ext = url.searchParams.get("external_id");
      const list = tickets.filter((t) => ext === null || t.external_id === ext).map(ticketView);
      return json({ tickets: list, next_page: null, previous_page: null, count: list.length });
    }
    if (m === "GET" && /^\/api\/v2\/tickets\/\d+$/.test(path)) {
      const t = tickets.find((x) => x.id === Number(path.split("/").pop()));
      if (!t) throw new ApiError(404, { error: "RecordNotFound", description: "Not found" });
      return json({ ticket: ticketView(t) });
    }
    throw new ApiError(404, { error: "InvalidEndpoint", description: "Not found" });
  }

  return {
    name: "zendesk",
    async handle(req) {
      const url = new URL(req.url);
      const now = Date.now();
      times = times.filter((t) => t > now - windowMs);
      const rateHeaders = () => ({ "x-rate-limit": String(limit), "x-rate-limit-remaining": String(Math.max(0, limit - times.length)) });
      if (times.length >= limit) {
        const wait = Math.max(1, Math.ceil((times[0] + windowMs - now) / 1000));
        return new Response("Number of allowed API requests per minute exceeded", {
          status: 429, headers: { "content-type": "text/plain", "retry-after": String(wait), ...rateHeaders(), "x-rate-limit-remaining": "0" },
        });
      }
      times.push(now);

      const authenticated = decodeBasic(req.headers.get("authorization")) === `${email}/token:${token}`;
      if (!authenticated) {
        if (req.method === "GET" && url.pathname.replace(/\.json$/, "") === "/api/v2/users/me") {
          return json({ user: { id: null, url: null, name: "Anonymous user", email: "invalid@example.com", role: "end-user", active: true, verified: false } }, 200, rateHeaders());
        }
        return json({ error: "Couldn't authenticate you" }, 401, rateHeaders());
      }
      try {
        const res = await route(req, url);
        for (const [k, v] of Object.entries(rateHeaders())) res.headers.set(k, v);
        return res;
      } catch (err) {
        if (err instanceof ApiError) return json(err.body, err.status, rateHeaders());
        throw err;
      }
    },
    state: () => structuredClone({ users: users.map(userView), tickets }),
    reset,
  };
}
