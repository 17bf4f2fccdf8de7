/**
 * Validation of a request body: the validated value, or a 400 naming each bad
 * field with a stable code (CONTRACT §2: `fields` + `codes`). zod's issues
 * become field codes here; the messages are rendered later, in the visitor's
 * language, by src/http/responses.ts.
 */
import type { z } from "zod";
import { type FieldIssue, type FieldIssues, invalidFields } from "../http/http-error.ts";
import type { MessageParams } from "../i18n/params.ts";
import { suggestField } from "./suggest-field.ts";

/** At most this many unknown keys are named per object (a 64 KiB body may hold thousands). */
const MAX_UNKNOWN_PER_OBJECT = 20;

/** Validates `body` against `schema`, or throws a 400 naming each bad field. */
export function parseInput<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw invalidFields(fieldIssues(schema, result.error.issues));
}

/** zod issues → field path → code (the first problem of each path). */
export function fieldIssues(schema: z.ZodType, issues: readonly z.core.$ZodIssue[]): FieldIssues {
  const out: FieldIssues = Object.create(null);
  const add = (path: readonly PropertyKey[], issue: FieldIssue) => {
    const key = path.map(String).join(".") || "body";
    out[key] ??= issue;
  };
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const known = Object.keys(shapeAt(schema, issue.path) ?? {});
      for (const key of issue.keys.slice(0, MAX_UNKNOWN_PER_OBJECT)) {
        const suggestion = suggestField(key, known);
        add([...issue.path, key], { code: "unknown_field", params: suggestion ? { suggestion } : {} });
      }
    } else {
      add(issue.path, fieldIssue(issue));
    }
  }
  return out;
}

/** One zod issue → its field code and message parameters. */
export function fieldIssue(issue: z.core.$ZodIssue): FieldIssue {
  switch (issue.code) {
    case "custom": {
      const { code, ...params } = (issue.params ?? {}) as MessageParams;
      return { code: typeof code === "string" ? code : "invalid_format", params };
    }
    case "invalid_type":
      return { code: "invalid_type", params: { variant: issue.expected } };
    case "too_big":
      return issue.origin === "string"
        ? { code: "too_long", params: { maximum: Number(issue.maximum) } }
        : { code: "too_large", params: { maximum: Number(issue.maximum), inclusive: issue.inclusive !== false } };
    case "too_small":
      return issue.origin === "string"
        ? { code: "too_short", params: { minimum: Number(issue.minimum) } }
        : { code: "too_small", params: { minimum: Number(issue.minimum), inclusive: issue.inclusive !== false } };
    case "invalid_format":
      return { code: "invalid_format", params: { variant: issue.format } };
    case "invalid_value":
      return { code: "not_allowed_value", params: { values: issue.values.map(String) } };
    default:
      return { code: "invalid_format" };
  }
}

type Shape = Record<string, z.core.$ZodType>;

/** The keys the object schema at `path` knows (through optional, preprocess and pipe wrappers). */
function shapeAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): Shape | undefined {
  let shape = shapeOf(schema);
  for (const key of path) {
    const child = shape && Object.hasOwn(shape, key) ? shape[key as string] : undefined;
    shape = child && shapeOf(child);
  }
  return shape;
}

function shapeOf(schema: z.core.$ZodType, depth = 0): Shape | undefined {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  if (depth > 10) return undefined;
  if (def.type === "object") return def.shape as Shape;
  if (def.type === "pipe") {
    return shapeOf(def.out as z.core.$ZodType, depth + 1) ?? shapeOf(def.in as z.core.$ZodType, depth + 1);
  }
  const inner = def.innerType as z.core.$ZodType | undefined;
  return inner ? shapeOf(inner, depth + 1) : undefined;
}
