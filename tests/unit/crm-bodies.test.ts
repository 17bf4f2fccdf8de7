import { describe, expect, it } from "vitest";
import { callbackBody, leadBody, requestBody } from "../../src/crm/monelec-bodies.ts";

const id = "3f2b8c1e-9d4a-4f5e-8a7b-123456789012";

describe("CRM bodies (CONTRACT §3)", () => {
  it("maps a lead, with null for absent values and non-specifie for no connection type", () => {
    expect(leadBody({ id, email: "a@b.fr" })).toEqual({
      email: "a@b.fr",
      phone: null,
      firstName: null,
      lastName: null,
      serviceType: "non-specifie",
      postalCode: null,
      source: "lovable-website",
      lovable_lead_id: id,
      utm_source: null,
      utm_medium: null,
      utm_campaign: null,
    });
    expect(leadBody({ id, email: "a@b.fr", connection_type: "photovoltaique", firstname: "Ana", utm_source: "g" }))
      .toMatchObject({ serviceType: "photovoltaique", firstName: "Ana", utm_source: "g" });
  });

  it("splits a callback's full name on its first space and keeps its own source", () => {
    expect(callbackBody({ id, full_name: "Jean Pierre Dupont", phone: "+33612345678", source: "landing-pv" }))
      .toMatchObject({ firstName: "Jean", lastName: "Pierre Dupont", source: "landing-pv", lovable_lead_id: id, email: null });
    expect(callbackBody({ id, full_name: "Cher", phone: "+33612345678" }))
      .toMatchObject({ firstName: "Cher", lastName: null, source: "lovable-website" });
  });

  const snapshot = {
    id,
    email: "a@b.fr",
    phone: "+33612345678",
    full_name: "Ana B",
    client_type: "particulier" as const,
    company_name: null,
    siren: null,
    type_raccordement: "definitif" as const,
    usage: "maison",
    address: "1 rue A",
    city: "Lyon",
    zip_code: "69001",
    phase: "monophase" as const,
    power_kva: 9,
    is_viabilise: true,
    status: "submitted",
    payment_status: "pending" as const,
  };

  it("sends the full request snapshot, payment fields only once a payment exists", () => {
    const before = requestBody({ ...snapshot, payment: null });
    expect(before).not.toHaveProperty("payment_intent_id");
    expect(Object.keys(before)).toEqual([
      "lovable_request_id", "email", "phone", "full_name", "client_type", "company_name", "siren",
      "type_raccordement", "usage", "address", "city", "zip_code", "phase", "power_kva", "is_viabilise",
      "status", "payment_status",
    ]);
    const after = requestBody({ ...snapshot, payment_status: "paid", payment: { payment_intent_id: "pi_1", amount: 14900, currency: "eur" } });
    expect(after).toMatchObject({ payment_status: "paid", payment_intent_id: "pi_1", amount: 14900, currency: "eur" });
  });
});
