/**
 * JSON-lines logger. Every field goes through `redact`, so a caller cannot
 * leak an email, a phone number or a secret by accident.
 */
import { redact } from "./mask.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export function createLogger(base: LogFields = {}, sink: LogSink = (line) => console.log(line)): Logger {
  const write = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    const entry = redact({ ts: new Date().toISOString(), level, msg, ...base, ...fields });
    sink(JSON.stringify(entry));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger({ ...base, ...fields }, sink),
  };
}
