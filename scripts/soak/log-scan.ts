/**
 * Every line `npm start` prints during the soak, checked at the end: the
 * functions' log lines must be JSON and carry no secret and no email or phone
 * number the journeys used. The start-up banner (not a log: it shows the
 * local URLs and development keys on purpose) is only checked for the CRM key
 * and personal data.
 */
export interface LogResult {
  lines: number;
  json: number;
  other: number;
  leaks: string[];
  /** The functions' error lines, by message (what a 5xx during the chaos was). */
  errors: Record<string, number>;
}

export class LogScanner {
  private readonly lines: string[] = [];

  /** `secrets[0]` must never appear anywhere; the others never in a log line. */
  constructor(private readonly secrets: string[]) {}

  add(line: string) {
    if (line.trim() !== "") this.lines.push(line);
  }

  result(personal: { emails: Iterable<string>; phones: Iterable<string> }): LogResult {
    const emails = [...personal.emails].map((e) => e.toLowerCase());
    const phones = new Set(personal.phones);
    const phoneLength = phones.size ? [...phones][0].length : 0;
    const leaks: string[] = [];
    let json = 0;
    const errors: Record<string, number> = {};
    for (const line of this.lines) {
      let isJson = false;
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string; function?: string; error?: string };
        isJson = true;
        json++;
        if (entry.level === "error") {
          const key = `${entry.function ?? "?"}: ${entry.msg}${entry.error ? ` — ${entry.error.slice(0, 160)}` : ""}`;
          errors[key] = (errors[key] ?? 0) + 1;
        }
      } catch {
        // banner or a plain message
      }
      const [always, ...inLogs] = this.secrets;
      if (line.includes(always) || (isJson && inLogs.some((s) => line.includes(s)))) leaks.push(`secret: ${line.slice(0, 200)}`);
      const lower = line.toLowerCase();
      if (emails.some((e) => lower.includes(e))) leaks.push(`email: ${line.slice(0, 200)}`);
      if (phoneLength) {
        // Digits with phone separators removed, every window of a national number's length.
        for (const run of line.replace(/(\d)[\s.()-]+(?=\d)/g, "$1").match(/\d+/g) ?? []) {
          for (let i = 0; i + phoneLength <= run.length; i++) {
            if (phones.has(run.slice(i, i + phoneLength))) {
              leaks.push(`phone: ${line.slice(0, 200)}`);
              break;
            }
          }
        }
      }
    }
    return { lines: this.lines.length, json, other: this.lines.length - json, leaks, errors };
  }
}
