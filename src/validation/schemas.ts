/**
 * The request bodies of the five public functions (CONTRACT §2). The same
 * schemas give the website's client its types (checked against the client's
 * own declarations in tests/client/types.test.ts). Every object is strict: an
 * unknown key is refused (`unknown_field`). The honeypot field of the three
 * forms is taken off the body before validation (src/http/json-endpoint.ts).
 */
import { z } from "zod";
import { CLIENT_TYPES, CONNECTION_TYPES, PHASES } from "./enums.ts";
import { email, enumOf, issue, optional, phone, postalCode, required, siren, text, uuid } from "./fields.ts";

export const FormStartInput = z.strictObject({
  lead_id: optional(uuid),
  email: required(email),
  phone: optional(phone),
  firstname: optional(text(100)),
  lastname: optional(text(100)),
  connection_type: optional(enumOf(CONNECTION_TYPES)),
  postal_code: optional(postalCode),
  utm_source: optional(text(200)),
  utm_medium: optional(text(200)),
  utm_campaign: optional(text(200)),
});

export const CustomerInput = z
  .strictObject({
    email: required(email),
    phone: required(phone),
    full_name: required(text(200)),
    client_type: required(enumOf(CLIENT_TYPES)),
    company_name: optional(text(200)),
    siren: optional(siren),
  })
  .superRefine((c, ctx) => {
    if (c.client_type === "professionnel" && !c.siren) {
      ctx.addIssue({
        code: "custom",
        path: ["siren"],
        message: "is required when client_type is professionnel",
        ...issue("required", "if", { field: "client_type", value: "professionnel" }),
      });
    }
  });

export const RequestInput = z.strictObject({
  type_raccordement: required(enumOf(CONNECTION_TYPES)),
  usage: optional(text(200)),
  address: required(text(300)),
  city: required(text(100)),
  zip_code: required(postalCode),
  phase: optional(enumOf(PHASES)),
  power_kva: optional(
    z
      .number()
      .refine(Number.isFinite, issue("invalid_type", "number"))
      .refine((n) => n > 0, issue("too_small", undefined, { minimum: 0, inclusive: false }))
      .refine((n) => n <= 250, issue("too_large", undefined, { maximum: 250, inclusive: true })),
  ),
  is_viabilise: optional(z.boolean()),
});

export const FormSubmitInput = z.strictObject({
  lead_id: optional(uuid),
  customer: required(CustomerInput),
  request: required(RequestInput),
});

export const ContactCallbackInput = z.strictObject({
  full_name: required(text(200)),
  phone: required(phone),
  postal_code: optional(postalCode),
  source: optional(text(100)),
});

export const CreatePaymentIntentInput = z.strictObject({
  request_id: required(uuid),
});

export type FormStartInput = z.infer<typeof FormStartInput>;
export type FormSubmitInput = z.infer<typeof FormSubmitInput>;
export type ContactCallbackInput = z.infer<typeof ContactCallbackInput>;
export type CreatePaymentIntentInput = z.infer<typeof CreatePaymentIntentInput>;

export const FormStartOutput = z.object({ lead_id: z.uuid() });
export const FormSubmitOutput = z.object({ request_id: z.uuid(), customer_id: z.uuid() });
export const ContactCallbackOutput = z.object({ callback_id: z.uuid() });
export const CreatePaymentIntentOutput = z.object({
  client_secret: z.string(),
  payment_intent_id: z.string(),
  amount: z.number().int(),
  currency: z.string(),
});
