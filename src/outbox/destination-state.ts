/**
 * The destinations' shared state (operator pause, circuit, vendor quota) as
 * one isolate sees it, read at most every `ttlMs`. The immediate path uses it
 * to leave a paused destination's first-leased deliveries to the sweeper; the
 * claim itself always checks the row, so a stale cache only delays.
 */
import type { Sql } from "../db/sql.ts";

export interface DestinationGate {
  paused: boolean;
  circuitOpen: boolean;
  throttledUntil: number | null;
}

export function createDestinationStates(sql: Sql, ttlMs = 2_000) {
  let loadedAt = 0;
  let states = new Map<string, DestinationGate>();
  let loading: Promise<void> | undefined;

  async function load() {
    const rows = await sql<{ name: string; paused: boolean; open: boolean; throttled_until: Date | null }[]>`
      select name, paused_at is not null as paused, coalesce(circuit_open_until > now(), false) as open,
             throttled_until
      from crm_destinations`;
    states = new Map(rows.map((r) => [r.name, {
      paused: r.paused,
      circuitOpen: r.open,
      throttledUntil: r.throttled_until && r.throttled_until.getTime() > Date.now() ? r.throttled_until.getTime() : null,
    }]));
    loadedAt = Date.now();
  }

  return {
    async get(name: string): Promise<DestinationGate> {
      if (Date.now() - loadedAt > ttlMs) {
        loading ??= load().finally(() => (loading = undefined));
        await loading;
      }
      return states.get(name) ?? { paused: false, circuitOpen: false, throttledUntil: null };
    },
    /** Open: deliveries may be attempted now. */
    async isOpen(name: string): Promise<boolean> {
      const s = await this.get(name);
      return !s.paused && !s.circuitOpen && s.throttledUntil === null;
    },
    invalidate() {
      loadedAt = 0;
    },
  };
}

export type DestinationStates = ReturnType<typeof createDestinationStates>;

/** Creates the rows of the configured destinations (once per isolate; harmless to repeat). */
export async function registerDestinations(sql: Sql, names: string[]): Promise<void> {
  if (names.length === 0) return;
  await sql`insert into crm_destinations (name) select jsonb_array_elements_text(${sql.json(names)}) on conflict (name) do nothing`;
}
