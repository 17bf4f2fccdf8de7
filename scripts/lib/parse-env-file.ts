/**
 * Env files as the Supabase CLI reads them (`supabase secrets set --env-file`,
 * `supabase functions serve` with supabase/functions/.env): deploy's
 * production file and the local stack's settings share this parser.
 */

export interface EnvFile {
  /** Values in file order; a later line for the same name wins, as in the CLI. */
  values: Map<string, string>;
  /** Lines that are not `NAME=value`, comments or blank. */
  syntaxErrors: string[];
}

/** The dotenv subset the Supabase CLI reads: `NAME=value`, optional `export `, quotes, `#` comments. */
export function parseEnvFile(text: string): EnvFile {
  const values = new Map<string, string>();
  const syntaxErrors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) {
      syntaxErrors.push(`line ${i + 1} is not NAME=value`);
      return;
    }
    const [, name, rest] = m;
    let value: string;
    if (rest.startsWith('"')) {
      const end = rest.indexOf('"', 1);
      value = (end === -1 ? rest.slice(1) : rest.slice(1, end)).replace(/\\n/g, "\n");
      if (end === -1) syntaxErrors.push(`line ${i + 1}: ${name} has an unclosed quote`);
    } else if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      value = end === -1 ? rest.slice(1) : rest.slice(1, end);
      if (end === -1) syntaxErrors.push(`line ${i + 1}: ${name} has an unclosed quote`);
    } else {
      value = rest.replace(/\s+#.*$/, "").trim();
    }
    values.set(name, value);
  });
  return { values, syntaxErrors };
}
