/** `crm test [--destination d]`: each destination's own credentials check, which creates nothing. */
import type { ActiveDestination } from "../outbox/outbox.ts";
import type { DestinationCheck } from "../destinations/types.ts";
import { createLogger } from "../log.ts";

export async function checkDestination(dest: ActiveDestination, timeoutMs = 10_000): Promise<DestinationCheck> {
  try {
    return await dest.module.test(dest.settings, {
      fetch: (input, init) => fetch(input, { redirect: "manual", ...init, signal: AbortSignal.timeout(timeoutMs) }),
      remote: { get: () => undefined, set: async () => {} },
      exclusive: (_key, fn) => fn(),
      log: createLogger({ destination: dest.name }),
    });
  } catch (err) {
    return { ok: false, reachable: false, credentialsAccepted: null, httpStatus: null, message: `The check failed: ${(err as Error).message}` };
  }
}
