/**
 * The one shape of a script entry point: parse argv, run, exit with the
 * returned code; a UsageError prints its message and exits 2, anything else 1.
 */
import { ConfigError, loadDestinations } from "../../src/config.ts";
import type { ActiveDestination } from "../../src/outbox/outbox.ts";

export class UsageError extends Error {}

/** The configured destinations; a misconfigured one is the operator's to fix (exit 2, its variable named). */
export function destinationsFrom(env: Record<string, string | undefined>): ActiveDestination[] {
  try {
    return loadDestinations(env, Number(env.CRM_TIMEOUT_MS ?? 10_000));
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | boolean>;
}

/** `--name value`, `--name=value`, and `--flag` for the names in `booleans`. */
export function parseArgs(argv: string[], opts: { booleans?: string[] } = {}): ParsedArgs {
  const booleans = new Set(opts.booleans ?? []);
  const out: ParsedArgs = { positional: [], flags: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      out.positional.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
    if (inline !== undefined) out.flags[name] = inline;
    else if (booleans.has(name)) out.flags[name] = true;
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) out.flags[name] = argv[++i];
    else throw new UsageError(`--${name} needs a value`);
  }
  return out;
}

export function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return "(none)";
  const cols = Object.keys(rows[0]);
  const cell = (v: unknown) => (v === null || v === undefined ? "—" : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join("  ");
  return [line(cols), line(widths.map((w) => "─".repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join("\n");
}

export function runMain(main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err instanceof UsageError ? err.message : `error: ${err instanceof Error ? err.message : err}`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
