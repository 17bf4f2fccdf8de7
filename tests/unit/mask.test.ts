import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.ts";
import { maskText, redact } from "../../src/mask.ts";

describe("masking", () => {
  it("masks emails and phone numbers inside any text", () => {
    const out = maskText("lead jean.dupont@example.fr called from +33612345678 and 06 12 34 56 78");
    expect(out).not.toContain("jean.dupont");
    expect(out).not.toContain("example.fr");
    expect(out).not.toContain("612345678");
    expect(out).not.toContain("06 12 34");
    expect(out).toContain("j***@***.fr");
    expect(out).toContain("+***78");
  });

  it("leaves ids, timestamps and durations readable", () => {
    const text = "event 3f2b8c1e-9d4a-4f5e-8a7b-123456789012 at 2026-11-23T10:00:00.000Z pi_3PqR4567890123";
    expect(maskText(text)).toBe(text);
  });

  it("redacts secrets by key name, deeply", () => {
    expect(redact({ a: { apiKey: "crm-secret", authorization: "Bearer x" }, n: 5 })).toEqual({
      a: { apiKey: "[redacted]", authorization: "[redacted]" },
      n: 5,
    });
  });

  it("the logger writes one JSON line with masked fields", () => {
    const lines: string[] = [];
    createLogger({ function: "form-start" }, (l) => lines.push(l)).info("lead", { email: "marie@example.com" });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]);
    expect(entry).toMatchObject({ level: "info", msg: "lead", function: "form-start", email: "m***@***.com" });
  });
});

describe("maskErrorExcerpt (CRM error bodies)", () => {
  it("masks the personal values the request sent, whole or word by word, and personal-looking fields", async () => {
    const { maskErrorExcerpt } = await import("../../src/mask.ts");
    const body = `{"error":"Duplicate contact Jean-Pierre Dupont (Dupont Électricité SARL), 12 rue des Lilas, Lyon",` +
      `"fields":{"lastName":"Martin","city":"Paris","siren":"732829320","status":"pending"},"contact":"jp@dupont.fr, 06 12 34 56 78"} name=Zoé Blanc&ok=1`;
    const out = maskErrorExcerpt(body, ["Jean-Pierre Dupont", "Dupont Électricité SARL", "12 rue des Lilas", "Lyon", null]);
    for (const leaked of ["Jean", "Pierre", "Dupont", "Électricité", "Lilas", "Lyon", "Martin", "Paris", "732829320", "jp@dupont", "56 78", "Zoé"]) {
      expect(out, leaked).not.toContain(leaked);
    }
    expect(out).toContain('"status":"pending"');
    expect(out).toContain("Duplicate contact");
    expect(out).toContain("ok=1");
  });
});
