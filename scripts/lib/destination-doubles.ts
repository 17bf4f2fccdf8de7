/**
 * Every destination's double on one loopback server owned by the caller (a
 * test or the soak), so that they outlive a SIGKILL of the stack, and the
 * settings that point the destinations at them (each module's localEnv) to
 * pass to the stack. monelec's double is the CRM sandbox, started apart.
 */
import { type DoublesServer, serveDoubles, type VendorDouble } from "../../src/destinations/double-kit.ts";
import { DOUBLES } from "../../src/destinations/doubles.ts";
import { DESTINATIONS } from "../../src/destinations/registry.ts";

export interface DestinationDoubles {
  server: DoublesServer;
  /** The vendor destinations served (every one but monelec). */
  names: string[];
  /** `<VENDOR>_…` settings pointing every served destination at its double. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** `only`: which destinations (default all); `make` replaces a destination's double (e.g. created with generous limits). */
export async function startDestinationDoubles(only?: string[], make: Record<string, () => VendorDouble> = {}): Promise<DestinationDoubles> {
  const modules = DESTINATIONS.filter((d) => d.name !== "monelec" && (make[d.name] ?? DOUBLES[d.name]) && (!only || only.includes(d.name)));
  const server = await serveDoubles(modules.map((d) => (make[d.name] ?? DOUBLES[d.name])()));
  const env: Record<string, string> = {};
  for (const d of modules) Object.assign(env, d.localEnv(server.urlOf(d.name)));
  return { server, names: modules.map((d) => d.name), env, close: () => server.close() };
}
