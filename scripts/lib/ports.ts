/**
 * The local stack's ports: their settings and defaults (Supabase CLI's own
 * numbering, 54321…), read and checked before the stack touches anything, so
 * that a port already taken is reported by the setting that moves it.
 */
import { connect, createServer } from "node:net";

/** Each port the local stack may listen on, by the setting that chooses it. */
export const DEFAULT_PORTS = {
  FUNCTIONS_PORT: 54321,
  DB_PORT: 54322,
  CRM_SANDBOX_PORT: 54323,
  STRIPE_DOUBLE_PORT: 54324,
  EXAMPLE_PAGE_PORT: 54325,
  DESTINATION_DOUBLES_PORT: 54327,
} as const;

export type PortSetting = keyof typeof DEFAULT_PORTS | (string & {});

/** One port the stack is about to listen on. Port 0 = any free port (nothing to check). */
export interface PortClaim {
  setting: PortSetting;
  port: number;
  /** What listens there, for the message ("the functions", "PostgreSQL"…). */
  what: string;
}

/** A port setting's value: the environment's, else its default. `allowAny`: 0 (any free port) is accepted. */
export function portFromEnv(env: Record<string, string | undefined>, setting: keyof typeof DEFAULT_PORTS, allowAny = false): number {
  const raw = env[setting];
  if (raw === undefined || raw.trim() === "") return DEFAULT_PORTS[setting];
  const port = Number(raw);
  const min = allowAny ? 0 : 1;
  if (!/^\d+$/.test(raw.trim()) || port < min || port > 65535) {
    throw new Error(`${setting} must be a port number from ${min} to 65535${allowAny ? " (0 = any free port)" : ""}, not "${raw}".`);
  }
  return port;
}

export function portInUseMessage(claim: PortClaim): string {
  return (
    `Port ${claim.port} (${claim.setting}, ${claim.what}) is in use: stop what uses it, ` +
    `or set ${claim.setting}=<a free port> (in the environment or in supabase/functions/.env).`
  );
}

/** Thrown when ports are taken; `claims` names each one. */
export class PortsInUseError extends Error {
  constructor(readonly claims: PortClaim[]) {
    super(claims.map(portInUseMessage).join("\n"));
    this.name = "PortsInUseError";
  }
}

/**
 * Something listens on the port on loopback: binding it fails, or connecting
 * to it succeeds (the second catches a wildcard listener on systems where a
 * specific-address bind would still succeed beside it).
 */
export async function isPortInUse(port: number, host = "127.0.0.1"): Promise<boolean> {
  const bindFails = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(true));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(false)));
  });
  if (bindFails) return true;
  return await new Promise<boolean>((resolve) => {
    const socket = connect({ port, host });
    const done = (inUse: boolean) => {
      socket.destroy();
      resolve(inUse);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Throws (naming every taken port's setting) unless all the claimed ports are free; also refuses one port claimed twice. */
export async function assertPortsFree(claims: PortClaim[]): Promise<void> {
  const fixed = claims.filter((c) => c.port !== 0);
  const seen = new Map<number, PortClaim>();
  for (const claim of fixed) {
    const other = seen.get(claim.port);
    if (other) throw new Error(`${other.setting} and ${claim.setting} are both ${claim.port}: give each its own port.`);
    seen.set(claim.port, claim);
  }
  // A stack killed a moment ago may still be letting go of its ports (Postgres stops
  // itself once it sees its parent gone): a taken port is asked again for a few seconds.
  let taken: PortClaim[] = [];
  for (let attempt = 0; attempt < 12; attempt++) {
    taken = [];
    for (const claim of fixed) if (await isPortInUse(claim.port)) taken.push(claim);
    if (taken.length === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new PortsInUseError(taken);
}

/**
 * Runs a start step that listens on `claim`'s port; if it fails because the
 * port was taken meanwhile (after the check), the error names the setting.
 */
export async function listeningOn<T>(claim: PortClaim, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (claim.port !== 0 && (hasCode(err, "EADDRINUSE") || (await isPortInUse(claim.port)))) throw new PortsInUseError([claim]);
    throw err;
  }
}

const hasCode = (err: unknown, code: string) => typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
