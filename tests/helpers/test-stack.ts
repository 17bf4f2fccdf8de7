/**
 * The real local stack (Deno-served functions, CRM sandbox, Stripe double) on
 * free ports, against this test file's own database. Every line the functions
 * print is kept in `logs` so tests can assert on them.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import WebSocket from "ws";
import { startStack, type Stack } from "../../scripts/local/stack.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import { freePort } from "../../scripts/lib/free-port.ts";

export const TEST_CRM_KEY = "test-crm-key-0123";

export interface TestStack extends Stack {
  db: TestDatabase;
  logs: string[];
  supabase: SupabaseClient;
  /** POST a JSON body to a function with the anon key. */
  call(name: string, body: unknown, init?: RequestInit): Promise<Response>;
  /** Everything stopped and the database dropped. */
  close(): Promise<void>;
}

export async function startTestStack(env: Record<string, string | undefined> = {}): Promise<TestStack> {
  const db = await createTestDatabase();
  const logs: string[] = [];
  const stack = await startStack({
    env: {
      DATABASE_URL: db.url,
      FUNCTIONS_PORT: String(await freePort()),
      CRM_SANDBOX_PORT: "0",
      STRIPE_DOUBLE_PORT: "0",
      MONELEC_API_KEY: TEST_CRM_KEY,
      RATE_LIMIT_PER_MINUTE: "0",
      // Tests that ask for a payment twice in a row; payment-concurrency.test.ts turns it on.
      STRIPE_REQUEST_INTERVAL_MS: "0",
      CRM_TIMEOUT_MS: "2000",
      CRM_RETRY_SCHEDULE: "200ms,200ms,200ms",
      CRM_SWEEP_INTERVAL_MS: "200",
      ...env,
    },
    dataDir: await mkdtemp(join(tmpdir(), "raccordement-stack-")),
    onOutput: (line) => logs.push(line),
  });
  const supabase = createClient(stack.functionsUrl.replace(/\/functions\/v1$/, ""), stack.anonKey, {
    realtime: { transport: WebSocket as never },
    auth: { persistSession: false, autoRefreshToken: false },
  });
  return {
    ...stack,
    db,
    logs,
    supabase,
    call(name, body, init = {}) {
      return fetch(`${stack.functionsUrl}/${name}`, {
        method: "POST",
        ...init,
        headers: {
          authorization: `Bearer ${stack.anonKey}`,
          "content-type": "application/json",
          ...(init.headers as Record<string, string> | undefined),
        },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    },
    async close() {
      await stack.stop();
      await db.drop();
    },
  };
}

/** Polls `check` until it returns a truthy value, at most `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${last}` : ""}`);
}
