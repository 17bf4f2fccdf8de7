/**
 * The two bodies monelec.net accepts, as the CRM itself would check them.
 *
 * Written from the contract on purpose, not derived from the backend's own
 * types (src/crm/monelec-bodies.ts): if the backend drifts, the sandbox must
 * refuse it the way the real CRM would. Every key must be present (absent
 * values are sent as null), and unknown keys are refused.
 */
import { z } from "zod";

const CONNECTION_TYPES = ["definitif", "provisoire", "modification", "augmentation_puissance", "photovoltaique"] as const;

/** E.164: "+", country code not starting with 0, at most 15 digits in all. */
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 phone number, e.g. +33612345678");
const fiveDigits = z.string().regex(/^\d{5}$/, "must be 5 digits");
const text = z.string().nullable();

export const CrmLeadBody = z
  .strictObject({
    email: z.email().nullable(),
    phone: e164.nullable(),
    firstName: text,
    lastName: text,
    serviceType: z.enum([...CONNECTION_TYPES, "non-specifie"]),
    postalCode: fiveDigits.nullable(),
    source: z.string().min(1),
    lovable_lead_id: z.uuid(),
    utm_source: text,
    utm_medium: text,
    utm_campaign: text,
  })
  .refine((b) => b.email !== null || b.phone !== null, {
    message: "email or phone is required",
    path: ["email"],
  });
export type CrmLeadBody = z.infer<typeof CrmLeadBody>;

const PAYMENT_KEYS = ["payment_intent_id", "amount", "currency"] as const;

export const CrmRequestBody = z
  .strictObject({
    lovable_request_id: z.uuid(),
    email: z.email(),
    phone: e164.nullable(),
    full_name: text,
    client_type: z.enum(["particulier", "professionnel", "collectivite"]).nullable(),
    company_name: text,
    siren: z.string().regex(/^\d{9}$/, "must be 9 digits").nullable(),
    type_raccordement: z.enum(CONNECTION_TYPES),
    usage: text,
    address: text,
    city: text,
    zip_code: fiveDigits.nullable(),
    phase: z.enum(["monophase", "triphase"]).nullable(),
    power_kva: z.number().nullable(),
    is_viabilise: z.boolean().nullable(),
    status: z.string(),
    payment_status: z.enum(["pending", "paid", "failed", "canceled", "refunded"]),
    // Absent until a payment exists; then all three come together.
    payment_intent_id: z.string().min(1).optional(),
    amount: z.number().int().positive().optional(), // minor units (cents)
    currency: z.string().regex(/^[a-z]{3}$/, "must be 3 lowercase letters, e.g. eur").optional(),
  })
  .superRefine((b, ctx) => {
    const present = PAYMENT_KEYS.filter((k) => b[k] !== undefined);
    if (present.length === 0 || present.length === PAYMENT_KEYS.length) return;
    for (const k of PAYMENT_KEYS.filter((k) => b[k] === undefined)) {
      ctx.addIssue({ code: "custom", path: [k], message: `required together with ${present.join(", ")}` });
    }
  });
export type CrmRequestBody = z.infer<typeof CrmRequestBody>;
