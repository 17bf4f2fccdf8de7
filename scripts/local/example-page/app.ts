/**
 * The example page's script (bundled for the browser by ./server.ts): how a
 * website uses the typed client. Each form sends its fields as they are; the
 * functions validate, and field errors come back in `error.fields`, shown
 * next to the matching input (`data-error-for="customer.email"`).
 */
import { createClient } from "@supabase/supabase-js";
import { type ClientError, createRaccordementClient, type FormStartInput, type FormSubmitInput, type Result } from "../../../src/client/index.ts";
import type { ExamplePageConfig } from "./server.ts";

const config = (window as unknown as { RACCORDEMENT_EXAMPLE: ExamplePageConfig }).RACCORDEMENT_EXAMPLE;
const supabase = createClient(config.supabaseUrl, config.anonKey, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
});
// The page is in English: ask for English messages (a French site would pass "fr", the default).
const api = createRaccordementClient(supabase, { locale: "en" });

const $ = <T extends Element>(selector: string, root: ParentNode = document) => {
  const el = root.querySelector<T>(selector);
  if (!el) throw new Error(`example page: ${selector} is missing`);
  return el;
};

for (const id of ["#crm-link", "#crm-link-2"]) {
  const link = $<HTMLAnchorElement>(id);
  if (config.crmSandboxPageUrl) link.href = config.crmSandboxPageUrl;
  else link.replaceWith(document.createTextNode("CRM (not the local sandbox: MONELEC_API_URL is set)"));
}

if (!config.crmBridgeOn) $<HTMLElement>("#bridge-off").hidden = false;

// --- journal --------------------------------------------------------------------------
function log(text: string, bad = false) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()} — ${text}`;
  if (bad) li.className = "bad";
  $("#log").prepend(li);
}

function describe(error: ClientError): string {
  return `${error.status || "no answer"} ${error.code}: ${error.message}`;
}

// --- forms ----------------------------------------------------------------------------
/** Form fields → a nested object (`customer.email` → {customer: {email}}), strings as typed. */
function formValues(form: HTMLFormElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const el of Array.from(form.elements)) {
    if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement) || !el.name) continue;
    let value: unknown = el.value;
    if (el instanceof HTMLInputElement && el.type === "checkbox") value = el.checked;
    else if (el instanceof HTMLInputElement && el.type === "number") value = el.value === "" ? undefined : Number(el.value);
    const path = el.name.split(".");
    let node = out;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]] = value;
  }
  return out;
}

function clearErrors(form: HTMLFormElement) {
  form.querySelectorAll(".field-error").forEach((el) => (el.textContent = ""));
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

/** Puts each field message next to its input; returns the messages no input could show. */
function showFieldErrors(form: HTMLFormElement, fields: Record<string, string>): string[] {
  const unplaced: string[] = [];
  for (const [path, message] of Object.entries(fields)) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
    const input = form.querySelector(`[name="${CSS.escape(path)}"]`);
    if (slot) slot.textContent = message;
    else unplaced.push(`${path} ${message}`);
    input?.setAttribute("aria-invalid", "true");
  }
  return unplaced;
}

/** Runs one call for a form: busy state, result line, field errors, journal. */
async function submit<T>(
  form: HTMLFormElement,
  name: string,
  call: () => Promise<Result<T>>,
  success: (data: T) => string,
): Promise<T | undefined> {
  const status = $<HTMLElement>(".result", form);
  const button = $<HTMLButtonElement>("button[type=submit]", form);
  clearErrors(form);
  button.disabled = true;
  status.className = "result";
  status.textContent = "Sending…";
  try {
    const res = await call();
    if (res.ok) {
      status.className = "result ok";
      status.textContent = success(res.data);
      log(`${name} → ${JSON.stringify(res.data)}`);
      return res.data;
    }
    const unplaced = res.error.fields ? showFieldErrors(form, res.error.fields) : [];
    status.className = "result bad";
    status.textContent = res.error.fields
      ? `Please correct the highlighted fields.${unplaced.length ? ` (${unplaced.join("; ")})` : ""}`
      : res.error.message;
    log(`${name} → ${describe(res.error)}`, true);
    return undefined;
  } finally {
    button.disabled = false;
  }
}

function enable(section: HTMLElement) {
  section.removeAttribute("aria-disabled");
  section.querySelector("fieldset")?.removeAttribute("disabled");
}

const done = (section: HTMLElement, text: string) => ($("[data-done]", section).textContent = text);

// --- step 1: form-start ------------------------------------------------------------------
const step1 = $<HTMLElement>("#step1");
const step2 = $<HTMLElement>("#step2");
const step3 = $<HTMLElement>("#step3");
let leadId: string | undefined;
let requestId: string | undefined;

$<HTMLFormElement>("form", step1).addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const values = formValues(form) as Record<string, string>;
  // Sending lead_id back updates the same lead instead of creating another.
  const data = await submit(form, "form-start", () => api.formStart({ ...values, lead_id: leadId } as FormStartInput), (d) => `Lead saved (${d.lead_id}).`);
  if (!data) return;
  leadId = data.lead_id;
  done(step1, "✓ lead captured");
  // Carry what step 1 knows into step 2, without overwriting what was typed there.
  const carry: Record<string, string> = {
    "customer.email": values.email,
    "customer.phone": values.phone,
    "customer.full_name": [values.firstname, values.lastname].filter(Boolean).join(" "),
    "request.type_raccordement": values.connection_type,
    "request.zip_code": values.postal_code,
  };
  for (const [name, value] of Object.entries(carry)) {
    const input = step2.querySelector<HTMLInputElement | HTMLSelectElement>(`[name="${name}"]`);
    if (input && !input.value && value) input.value = value;
  }
  enable(step2);
});

// --- step 2: form-submit -----------------------------------------------------------------
$<HTMLFormElement>("form", step2).addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const body = { ...formValues(form), lead_id: leadId } as FormSubmitInput;
  const data = await submit(form, "form-submit", () => api.formSubmit(body), (d) => `Request sent (${d.request_id}).`);
  if (!data) return;
  requestId = data.request_id;
  done(step2, "✓ request submitted");
  step3.removeAttribute("aria-disabled");
  $<HTMLButtonElement>("#pay").disabled = false;
});

// --- step 3: create-payment-intent, then (locally) the Stripe double ------------------------
const payStatus = $<HTMLElement>(".result", step3);
const payHint = $<HTMLElement>("#pay-hint");
const simulate = $<HTMLButtonElement>("#simulate");
let paymentIntentId: string | undefined;

$<HTMLButtonElement>("#pay").addEventListener("click", async (event) => {
  const button = event.currentTarget as HTMLButtonElement;
  if (!requestId) return;
  button.disabled = true;
  payStatus.className = "result";
  payStatus.textContent = "Creating the payment…";
  const res = await api.createPaymentIntent({ request_id: requestId });
  if (!res.ok) {
    payStatus.className = "result bad";
    payStatus.textContent = res.error.message;
    log(`create-payment-intent → ${describe(res.error)}`, true);
    button.disabled = res.error.code === "already_paid";
    return;
  }
  paymentIntentId = res.data.payment_intent_id;
  const amount = new Intl.NumberFormat("fr-FR", { style: "currency", currency: res.data.currency.toUpperCase() }).format(res.data.amount / 100);
  payStatus.className = "result ok";
  payStatus.textContent = `Payment of ${amount} ready (${paymentIntentId}).`;
  log(`create-payment-intent → ${paymentIntentId}, ${res.data.amount} ${res.data.currency}`);
  if (config.simulatePaymentPath) {
    simulate.hidden = false;
    simulate.disabled = false;
    payHint.textContent =
      "A real site now confirms client_secret with Stripe.js (card form). Locally, the Stripe double stands in: " +
      "\"Simulate card success\" makes it send a signed payment_intent.succeeded to stripe-webhook.";
  } else {
    payHint.textContent = "Confirm client_secret with Stripe.js (card form): Stripe then calls stripe-webhook.";
  }
});

simulate.addEventListener("click", async () => {
  if (!paymentIntentId || !config.simulatePaymentPath) return;
  simulate.disabled = true;
  const res = await fetch(config.simulatePaymentPath.replace("{id}", encodeURIComponent(paymentIntentId)), { method: "POST" });
  const body = (await res.json().catch(() => ({}))) as { webhook_status?: number };
  if (res.ok && body.webhook_status === 200) {
    payStatus.className = "result ok";
    payStatus.textContent = "Payment succeeded: stripe-webhook marked the request paid.";
    done(step3, "✓ paid");
    log("Stripe double → payment_intent.succeeded, stripe-webhook answered 200");
  } else {
    payStatus.className = "result bad";
    payStatus.textContent = `The simulated payment did not go through (HTTP ${res.status}, webhook ${body.webhook_status ?? "—"}).`;
    log(`Stripe double → HTTP ${res.status}, webhook ${body.webhook_status ?? "—"}`, true);
    simulate.disabled = false;
  }
});

// --- call-back form: contact-callback --------------------------------------------------------
const callback = $<HTMLElement>("#callback");
$<HTMLFormElement>("form", callback).addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const values = formValues(form) as Record<string, string>;
  const data = await submit(
    form,
    "contact-callback",
    () => api.contactCallback({ full_name: values.full_name, phone: values.phone, postal_code: values.postal_code, source: values.source, website: values.website }),
    (d) => `We will call you back (${d.callback_id}).`,
  );
  if (data) done(callback, "✓ call-back requested");
});

document.body.dataset.ready = "true";
