import type { z } from "zod";
import { invalidInput, type FieldErrors } from "../http/http-error.ts";

/** Validates `body` against `schema`, or throws a 400 naming each bad field. */
export function parseInput<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const fields: FieldErrors = {};
  for (const issue of result.error.issues) {
    const path = issue.path.map(String).join(".") || "body";
    fields[path] ??= issue.message;
  }
  throw invalidInput(fields);
}
