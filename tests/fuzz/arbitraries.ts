/**
 * fast-check generators for the public functions' bodies: valid, near-valid
 * (a valid body with a few fields broken) and hostile (wrong types, huge,
 * unicode and control-character strings, prototype-pollution keys, deep
 * nesting, numbers as strings, NaN/Infinity, SQL and HTML), plus wire-level
 * damage (content type, invalid UTF-8, truncation, > 64 KiB).
 *
 * Bodies are plain JSON-ish trees that may hold two placeholders:
 * `RawJson` (text spliced verbatim into the JSON, for what JSON.stringify
 * cannot write: NaN, 1e400, deep nesting) and `PoolRef` (an id taken at send
 * time from the ids the server handed out, e.g. an existing lead).
 *
 * The honeypot field `website` is never generated (see harness.ts).
 */
import fc from "fast-check";
import { CLIENT_TYPES, CONNECTION_TYPES, PHASES } from "../../src/validation/enums.ts";

// --- placeholders ------------------------------------------------------------

export class RawJson {
  constructor(readonly text: string) {}
  [fc.toStringMethod]() {
    return this.text.length > 40 ? `RawJson(${this.text.slice(0, 20)}…${this.text.length} chars)` : `RawJson(${this.text})`;
  }
}

export class PoolRef {
  constructor(
    readonly pool: string,
    readonly index: number,
    readonly style: "plain" | "upper" | "padded" = "plain",
  ) {}
  [fc.toStringMethod]() {
    return `PoolRef(${this.pool}#${this.index}${this.style === "plain" ? "" : `,${this.style}`})`;
  }
}

export type Json = null | boolean | number | string | RawJson | PoolRef | Json[] | { [key: string]: Json };

/** A fresh object with own keys, `__proto__` included (never the prototype setter). */
export function objectOf(entries: Array<[string, Json]>): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

/** Serialises a body, resolving pool references and splicing raw JSON. */
export function encodeJson(value: Json | undefined, resolve: (ref: PoolRef) => string, space?: number): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, function (_key, v) {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `@@RAW${raws.length - 1}@@`;
    }
    if (v instanceof PoolRef) {
      const id = resolve(v);
      return v.style === "upper" ? id.toUpperCase() : v.style === "padded" ? `  ${id}\n` : id;
    }
    return v;
  }, space);
  if (text === undefined) return "";
  return raws.length === 0 ? text : text.replace(/"@@RAW(\d+)@@"/g, (_m, i: string) => raws[Number(i)]);
}

// --- strings -------------------------------------------------------------------

const SPECIAL_CHARS = [
  "\u0000", "\u0001", "\u0007", "\b", "\t", "\n", "\u000b", "\f", "\r", "\u001b", "\u007f", "\u0085",
  "\u00a0", "\u200b", "\u200d", "\u202e", "\u2028", "\u2029", "\ufeff", "\ufffd", "\uffff",
  "\ud800", "\udbff", "\udc00", "\udfff", "\ud83d\ude00", "é", "ß", "İ", "ﬀ", "Ω", "李", "🇫🇷", "'", "\"", "\\", "<", ">", "&", "%", "$", "{", "}", ";", "-", " ",
];

export const ATTACK_STRINGS = [
  "'; drop table leads; --",
  "1' OR '1'='1",
  "\" OR 1=1 --",
  "1; select pg_sleep(5); --",
  "$$; drop table crm_events; $$",
  "') on conflict do nothing; --",
  "\\x00\\x27",
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "javascript:alert(1)",
  "{{7*7}}",
  "${7*7}",
  "${jndi:ldap://127.0.0.1/a}",
  "../../../../etc/passwd",
  "%00",
  "%27%20OR%201%3D1",
  "null",
  "undefined",
  "NaN",
  "Infinity",
  "-0",
  "1e400",
  "true",
  "[]",
  "{}",
  "__proto__",
  "constructor",
  "Robert'); DROP TABLE students;--",
  "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
  "ﷺ",
  "𒐫",
  "A\u0301",
  "\u202egnp.exe",
];

const hugeString = fc
  .tuple(fc.constantFrom("x", "é", "💥", " ", "\u0000", "'", "9"), fc.oneof(fc.integer({ min: 90, max: 1100 }), fc.integer({ min: 1100, max: 70_000 })))
  .map(([c, n]) => c.repeat(n));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom(...SPECIAL_CHARS), maxLength: 12 }) },
  { weight: 3, arbitrary: fc.constantFrom(...ATTACK_STRINGS) },
  { weight: 1, arbitrary: hugeString },
);

/** Text a person could type: mostly tame, sometimes anything. */
const personText = (max: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("Jean Dupont", "Zoë O'Brien-Łukasz", "李小龙", "Ana  Lopez Garcia", "  Marie  ", "Ğüşçö Ïñ", "Émile", "D'Artagnan", "Jean\tDupont", "x") },
    { weight: 3, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: Math.min(max, 40) }) },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: max - 2, maxLength: max + 2 }) },
    { weight: 1, arbitrary: fc.constantFrom(...ATTACK_STRINGS) },
  );

// --- field values -------------------------------------------------------------------

const digits = (n: number) => fc.string({ unit: fc.constantFrom(..."0123456789".split("")), minLength: n, maxLength: n });

const localPart = fc.stringMatching(/^[a-z0-9](?:[a-z0-9._+-]{0,18}[a-z0-9])?$/);
const domain = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
const tld = fc.constantFrom("fr", "com", "org", "net", "eu", "co", "museum", "x");

const mixCase = (s: string, flips: boolean[]) =>
  s.split("").map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c)).join("");

export const validEmail: fc.Arbitrary<string> = fc
  .tuple(localPart, domain, tld, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.constantFrom("", "", "", " ", "\t", "\n "))
  .map(([l, d, t, flips, pad]) => `${pad}${mixCase(`${l}@${d}.${t}`, flips)}${pad}`);

const trickyEmail = fc.oneof(
  validEmail,
  fc.constantFrom(
    "a@b", "a@b.c", "a..b@example.fr", ".a@example.fr", "a.@example.fr", "a@-example.fr", "a@example..fr",
    "Jean Dupont <jean@example.fr>", "jean@example.fr\u0000", "jean@exa mple.fr", "jéan@example.fr", "jean@exämple.fr",
    "\"quoted\"@example.fr", "a@[127.0.0.1]", "@example.fr", "jean@", "jean", "a@b.fr,c@d.fr", "a+b@example.fr",
    `${"a".repeat(64)}@example.fr`, `${"a".repeat(65)}@example.fr`, `a@${"b".repeat(250)}.fr`, "A@B.FR", "jean@example.fr'; --",
  ),
  hostileString,
);

const frNational = fc.oneof(
  fc.tuple(fc.constantFrom("6", "7"), digits(8)).map(([p, d]) => p + d),
  fc.tuple(fc.constantFrom("1", "2", "3", "4", "5", "9"), digits(8)).map(([p, d]) => p + d),
  fc.constantFrom("612345678", "698765432", "756789012", "142685300", "388123456"),
);
const groupPairs = (s: string, sep: string) => s.replace(/(\d{2})(?=\d)/g, `$1${sep}`);

export const validishPhone: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(frNational, fc.constantFrom("0", "+33", "+33 ", "0033", "+33 (0)"), fc.constantFrom("", " ", ".", "-"))
    .map(([n, prefix, sep]) => (prefix === "0" ? groupPairs(`0${n}`, sep) : `${prefix}${n[0]}${sep}${groupPairs(n.slice(1), sep)}`)),
  fc.constantFrom("+44 20 7946 0958", "+1 202 555 0143", "+1 415 555 2671", "+49 30 901820", "+32 2 555 12 12", "+41 44 668 18 00",
    "+34 912 345 678", "+212 6 12 34 56 78", "+262 692 12 34 56", "+590 690 00 11 22", "0262 12 34 56"),
);

const trickyPhone = fc.oneof(
  validishPhone,
  fc.constantFrom("06 12 34", "0612345678901234567", "+33 6 12 34 56 78 90", "+0 612345678", "+999 123456789", "00000000", "+",
    "06 12 34 56 78 ext. 12", "06-12-34-56-78", "tel:+33612345678", "06 12 34 56 7٨", "０６１２３４５６７８", "+33 6 12 34 56 78\u0000",
    "612345678", "+33 612345678", "0 800 123 456"),
  digits(10),
  fc.integer().map((n) => String(n)),
  hostileString,
);

export const validPostalCode = digits(5);
const trickyPostalCode = fc.oneof(
  validPostalCode,
  fc.constantFrom("2A004", "2B033", "7500", "750021", " 75002 ", "75 002", "75002\n", "٧٥٠٠٢", "-7500", "00000", "99999"),
  hostileString,
);

/** 9 digits with a valid Luhn checksum. */
const luhnSiren = digits(8).map((d) => {
  for (let check = 0; check <= 9; check++) {
    const candidate = d + check;
    let sum = 0;
    for (let i = 0; i < 9; i++) {
      let digit = Number(candidate[8 - i]);
      if (i % 2 === 1) {
        digit *= 2;
        if (digit > 9) digit -= 9;
      }
      sum += digit;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error("unreachable");
});
export const validSiren = fc.oneof(luhnSiren, luhnSiren.map((s) => `${s.slice(0, 3)} ${s.slice(3, 6)} ${s.slice(6)}`));
const trickySiren = fc.oneof(validSiren, digits(9), digits(8), digits(10), fc.constantFrom("732829320", "732829321", "73282932O", "732 829 320", 732829320), hostileString);

const enumValue = <T extends readonly string[]>(values: T) => fc.constantFrom(...values);
const trickyEnum = <T extends readonly string[]>(values: T) =>
  fc.oneof(
    enumValue(values),
    enumValue(values).map((v) => v.toUpperCase()),
    enumValue(values).map((v) => ` ${v} `),
    enumValue(values).map((v) => v.replace(/e/g, "é")),
    fc.constantFrom("solaire", "", "non-specifie", "definitif;", "0", "particulier\u0000"),
    hostileString,
  );

export const validUuid = fc.uuid();
const trickyUuid = fc.oneof(
  validUuid,
  validUuid.map((u) => u.toUpperCase()),
  validUuid.map((u) => ` ${u} `),
  validUuid.map((u) => `{${u}}`),
  validUuid.map((u) => u.replace(/-/g, "")),
  validUuid.map((u) => u.slice(0, 35)),
  fc.constantFrom("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "1; drop table requests", "g0000000-0000-4000-8000-000000000000"),
  hostileString,
);

const powerKva = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 250 }) },
  { weight: 3, arbitrary: fc.double({ min: 0, max: 260, noNaN: true }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(0, -0, -1, 0.001, 0.004, 0.005, 0.0049, 0.01, 1e-7, 3, 6, 9, 12, 36, 249.99, 249.995, 249.999, 250, 250.0001, 251, 1e6),
  },
);
const trickyPowerKva = fc.oneof(
  powerKva,
  powerKva.map((n) => String(n)),
  fc.constantFrom("12", "12,5", "12 kVA", "", "0x10", true),
  fc.constantFrom("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "1E2", "12.0", "9007199254740993", "1.0000000000000002").map((t) => new RawJson(t)),
  fc.double(),
);

const validBoolean = fc.boolean();
const trickyBoolean = fc.oneof(validBoolean, fc.constantFrom("true", "false", 0, 1, "oui", "", "yes"));

// --- hostile values of any type --------------------------------------------------------------

const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "__defineGetter__", "isAdmin"];

const RAW_TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0", "9007199254740993", "123456789012345678901234567890", "0.1e1", "1E+2"];

const deepNesting = fc
  .tuple(fc.integer({ min: 20, max: 20_000 }), fc.constantFrom("array", "object", "mixed"))
  .map(([depth, kind]) => {
    if (kind === "array") return new RawJson("[".repeat(depth) + "]".repeat(depth));
    if (kind === "object") return new RawJson('{"a":'.repeat(depth) + "1" + "}".repeat(depth));
    return new RawJson('[{"__proto__":'.repeat(depth) + "null" + "}]".repeat(depth));
  });

export const hostileKey = (known: string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...PROTO_KEYS) },
    { weight: 2, arbitrary: fc.constantFrom(...(known.length > 0 ? known : PROTO_KEYS)) },
    { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: hostileString },
  ).filter((k) => k !== "website" && !k.includes("@@RAW"));

const hostileScalar: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.double() }, // NaN/Infinity become null in JSON.stringify
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.constantFrom(...RAW_TOKENS).map((t) => new RawJson(t)) },
  { weight: 2, arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true })).map((n) => String(n)) },
  { weight: 1, arbitrary: deepNesting },
);

export const hostileValue = (known: string[]): fc.Arbitrary<Json> =>
  fc.letrec<{ value: Json }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      { weight: 5, arbitrary: hostileScalar },
      { weight: 1, arbitrary: fc.array(tie("value"), { maxLength: 4 }) },
      {
        weight: 1,
        arbitrary: fc.array(fc.tuple(hostileKey(known), tie("value")), { maxLength: 4 }).map(objectOf),
      },
    ),
  })).value;

// --- bodies -------------------------------------------------------------------------------------

export interface FieldSpec {
  valid: fc.Arbitrary<Json>;
  tricky: fc.Arbitrary<Json>;
  required: boolean;
}

export type BodySpec = Record<string, FieldSpec | { nested: BodySpec; required: boolean }>;

const field = (valid: fc.Arbitrary<Json>, tricky: fc.Arbitrary<Json>, required = false): FieldSpec => ({ valid, tricky, required });

/** Optional fields are given, left out, or blank (null, "", spaces: the contract's "absent"). */
const BLANKS = fc.constantFrom<Json>(null, "", "   ", "\t\n");

/** An id from a pool, or a random uuid (an unknown lead: form-start creates it, form-submit ignores it). */
function poolRefOrUuid(pool: string): fc.Arbitrary<Json> {
  return fc.oneof(fc.nat({ max: 1_000_000 }).map((i) => new PoolRef(pool, i)), validUuid);
}

export const FORM_START: BodySpec = {
  lead_id: field(poolRefOrUuid("lead"), trickyUuid),
  email: field(validEmail, trickyEmail, true),
  phone: field(validishPhone, trickyPhone),
  firstname: field(personText(100), hostileString),
  lastname: field(personText(100), hostileString),
  connection_type: field(enumValue(CONNECTION_TYPES), trickyEnum(CONNECTION_TYPES)),
  postal_code: field(validPostalCode, trickyPostalCode),
  utm_source: field(personText(200), hostileString),
  utm_medium: field(fc.constantFrom("cpc", "email", "social", "organic"), hostileString),
  utm_campaign: field(personText(200), hostileString),
};

export const CUSTOMER: BodySpec = {
  email: field(validEmail, trickyEmail, true),
  phone: field(validishPhone, trickyPhone, true),
  full_name: field(personText(200), hostileString, true),
  client_type: field(enumValue(CLIENT_TYPES), trickyEnum(CLIENT_TYPES), true),
  company_name: field(personText(200), hostileString),
  siren: field(validSiren, trickySiren),
};

export const REQUEST: BodySpec = {
  type_raccordement: field(enumValue(CONNECTION_TYPES), trickyEnum(CONNECTION_TYPES), true),
  usage: field(personText(200), hostileString),
  address: field(personText(300), hostileString, true),
  city: field(personText(100), hostileString, true),
  zip_code: field(validPostalCode, trickyPostalCode, true),
  phase: field(enumValue(PHASES), trickyEnum(PHASES)),
  power_kva: field(powerKva, trickyPowerKva),
  is_viabilise: field(validBoolean, trickyBoolean),
};

export const FORM_SUBMIT: BodySpec = {
  lead_id: field(poolRefOrUuid("lead"), trickyUuid),
  customer: { nested: CUSTOMER, required: true },
  request: { nested: REQUEST, required: true },
};

export const CONTACT_CALLBACK: BodySpec = {
  full_name: field(personText(200), hostileString, true),
  phone: field(validishPhone, trickyPhone, true),
  postal_code: field(validPostalCode, trickyPostalCode),
  source: field(fc.constantFrom("footer", "header", "landing-pv", "popup"), hostileString),
};

const isNested = (s: FieldSpec | { nested: BodySpec; required: boolean }): s is { nested: BodySpec; required: boolean } => "nested" in s;

export function allKeys(spec: BodySpec): string[] {
  return Object.entries(spec).flatMap(([k, s]) => (isNested(s) ? [k, ...allKeys(s.nested)] : [k]));
}

/** A body the schema should accept (most of the time: random phones or texts may still be refused). */
export function validBody(spec: BodySpec): fc.Arbitrary<{ [key: string]: Json }> {
  const entries = Object.entries(spec).map(([key, s]) => {
    const value: fc.Arbitrary<Json | undefined> = isNested(s)
      ? validBody(s.nested)
      : s.required
        ? s.valid
        : fc.oneof({ weight: 3, arbitrary: s.valid }, { weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: BLANKS });
    return fc.tuple(fc.constant(key), value);
  });
  // No unknown keys here: the contract refuses them (400 unknown_field); near-valid bodies add some.
  return fc.tuple(fc.tuple(...entries), luhnSiren)
    .map(([pairs, siren]) => {
      const body = objectOf(pairs.filter(([, v]) => v !== undefined) as Array<[string, Json]>);
      // A professionnel needs a SIREN: give one, so that most "valid" bodies are valid.
      if (body.client_type === "professionnel" && (typeof body.siren !== "string" || body.siren.trim() === "")) body.siren = siren;
      return body;
    });
}

type Mutation =
  | { op: "delete"; path: string }
  | { op: "set"; path: string; value: Json }
  | { op: "unknown"; at: string; key: string; value: Json };

function pathsOf(spec: BodySpec, prefix = ""): Array<{ path: string; spec: FieldSpec | null }> {
  return Object.entries(spec).flatMap(([k, s]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    return isNested(s) ? [{ path, spec: null }, ...pathsOf(s.nested, path)] : [{ path, spec: s }];
  });
}

function mutationArb(spec: BodySpec): fc.Arbitrary<Mutation> {
  const paths = pathsOf(spec);
  const known = allKeys(spec);
  const containers = ["", ...paths.filter((p) => p.spec === null).map((p) => p.path)];
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...paths).map((p): Mutation => ({ op: "delete", path: p.path })) },
    {
      weight: 5,
      arbitrary: fc.constantFrom(...paths).chain((p) =>
        (p.spec ? fc.oneof({ weight: 3, arbitrary: p.spec.tricky }, { weight: 1, arbitrary: hostileValue(known) }, { weight: 1, arbitrary: BLANKS }) : hostileValue(known))
          .map((value): Mutation => ({ op: "set", path: p.path, value })),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...containers), hostileKey(known), hostileValue(known))
        .map(([at, key, value]): Mutation => ({ op: "unknown", at, key, value })),
    },
  );
}

function applyMutation(body: { [key: string]: Json }, m: Mutation): { [key: string]: Json } {
  const copy = structuredCloneJson(body) as { [key: string]: Json };
  const path = m.op === "unknown" ? (m.at ? m.at.split(".") : []) : m.path.split(".");
  const last = m.op === "unknown" ? m.key : path.pop()!;
  let node: Json = copy;
  for (const seg of path) {
    if (typeof node !== "object" || node === null || node instanceof RawJson || node instanceof PoolRef || Array.isArray(node)) return copy;
    const next: Json | undefined = (node as { [key: string]: Json })[seg];
    if (next === undefined) return copy;
    node = next;
  }
  if (typeof node !== "object" || node === null || node instanceof RawJson || node instanceof PoolRef || Array.isArray(node)) return copy;
  if (m.op === "delete") delete (node as { [key: string]: Json })[last];
  else Object.defineProperty(node, last, { value: m.value, enumerable: true, writable: true, configurable: true });
  return copy;
}

function structuredCloneJson(v: Json): Json {
  if (v instanceof RawJson || v instanceof PoolRef || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(structuredCloneJson);
  return objectOf(Object.entries(v).map(([k, x]) => [k, structuredCloneJson(x)]));
}

export function nearValidBody(spec: BodySpec): fc.Arbitrary<{ [key: string]: Json }> {
  return fc.tuple(validBody(spec), fc.array(mutationArb(spec), { minLength: 1, maxLength: 3 }))
    .map(([body, mutations]) => mutations.reduce(applyMutation, body));
}

export function hostileBody(spec: BodySpec): fc.Arbitrary<Json> {
  const known = allKeys(spec);
  return fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.tuple(hostileKey(known), hostileValue(known)), { maxLength: 6 }).map(objectOf) },
    { weight: 1, arbitrary: hostileValue(known) }, // not even an object
    {
      weight: 2,
      // the right keys, each with a hostile value
      arbitrary: fc.tuple(...known.map((k) => fc.tuple(fc.constant(k), hostileValue(known)))).map((pairs) => objectOf(pairs)),
    },
  );
}

// --- wire ---------------------------------------------------------------------------------------

export type Wire =
  | { kind: "plain" }
  | { kind: "content-type"; value: string }
  | { kind: "invalid-utf8"; at: number; bytes: number[] }
  | { kind: "bom" }
  | { kind: "truncate"; at: number }
  | { kind: "trailing"; text: string }
  | { kind: "pad"; text: string }
  | { kind: "oversize"; bytes: number };

export const wireArb: fc.Arbitrary<Wire> = fc.oneof(
  { weight: 60, arbitrary: fc.constant<Wire>({ kind: "plain" }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8", "APPLICATION/JSON", "application/json ;charset=UTF-8", "application/json;", "text/plain",
      "application/x-www-form-urlencoded", "", "application/jsonp", "application/json-patch+json", "multipart/form-data; boundary=x",
      " application/json", "text/json",
    ).map((value): Wire => ({ kind: "content-type", value })),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.nat(), fc.constantFrom<number[]>([0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0xe2, 0x82]))
      .map(([at, bytes]): Wire => ({ kind: "invalid-utf8", at, bytes })),
  },
  { weight: 1, arbitrary: fc.constant<Wire>({ kind: "bom" }) },
  { weight: 1, arbitrary: fc.nat().map((at): Wire => ({ kind: "truncate", at })) },
  { weight: 1, arbitrary: fc.constantFrom("x", ",", "}", "{}", "\u0000", "//", "]").map((text): Wire => ({ kind: "trailing", text })) },
  { weight: 1, arbitrary: fc.constantFrom(" ", "\n\n", "\t", "\r\n").map((text): Wire => ({ kind: "pad", text })) },
  { weight: 1, arbitrary: fc.integer({ min: 64 * 1024 - 64, max: 80 * 1024 }).map((bytes): Wire => ({ kind: "oversize", bytes })) },
);

/** Puts a JSON text on the wire: bytes and content type. */
export function toWire(json: string, wire: Wire): { bytes: Uint8Array; contentType: string } {
  const enc = new TextEncoder();
  let contentType = "application/json";
  let bytes = enc.encode(json);
  switch (wire.kind) {
    case "content-type":
      contentType = wire.value;
      break;
    case "invalid-utf8": {
      const at = bytes.length === 0 ? 0 : wire.at % bytes.length;
      bytes = new Uint8Array([...bytes.slice(0, at), ...wire.bytes, ...bytes.slice(at)]);
      break;
    }
    case "bom":
      bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes]);
      break;
    case "truncate":
      bytes = bytes.slice(0, bytes.length === 0 ? 0 : wire.at % bytes.length);
      break;
    case "trailing":
      bytes = enc.encode(json + wire.text);
      break;
    case "pad":
      bytes = enc.encode(wire.text + json + wire.text);
      break;
    case "oversize": {
      // An unknown key that brings the body to the wanted size (around the 64 KiB limit).
      const trimmed = json.trim();
      if (trimmed.startsWith("{") && trimmed.length > 2) {
        const fill = Math.max(0, wire.bytes - bytes.length - 12);
        bytes = enc.encode(`{"_pad":"${"x".repeat(fill)}",${trimmed.slice(1)}`);
      } else {
        bytes = enc.encode(" ".repeat(Math.max(0, wire.bytes - bytes.length)) + json);
      }
      break;
    }
  }
  return { bytes, contentType };
}

/** One request of a form function: a body (valid, near-valid or hostile) and how it goes on the wire. */
export interface FormCase {
  flavour: "valid" | "near-valid" | "hostile";
  body: Json;
  wire: Wire;
}

export function formCase(spec: BodySpec): fc.Arbitrary<FormCase> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(validBody(spec), wireArb).map(([body, wire]): FormCase => ({ flavour: "valid", body, wire })) },
    { weight: 4, arbitrary: fc.tuple(nearValidBody(spec), wireArb).map(([body, wire]): FormCase => ({ flavour: "near-valid", body, wire })) },
    { weight: 2, arbitrary: fc.tuple(hostileBody(spec), wireArb).map(([body, wire]): FormCase => ({ flavour: "hostile", body, wire })) },
  );
}
