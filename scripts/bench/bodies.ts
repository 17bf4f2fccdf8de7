/** Valid, unique request bodies for form-start and form-submit (unique e-mails: no row-lock contention). */
let counter = 0;
const unique = () => `${process.pid.toString(36)}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

export function formStartBody(leadId?: string) {
  return {
    ...(leadId ? { lead_id: leadId } : {}),
    email: `lead-${unique()}@example.fr`,
    phone: "06 12 34 56 78",
    firstname: "Marie",
    lastname: "Curie",
    connection_type: "photovoltaique" as const,
    postal_code: "75005",
    utm_source: "google",
    utm_medium: "cpc",
    utm_campaign: "bench",
  };
}

export function formSubmitBody(leadId?: string) {
  return {
    ...(leadId ? { lead_id: leadId } : {}),
    customer: { email: `client-${unique()}@example.fr`, phone: "06 12 34 56 78", full_name: "Jean Dupont", client_type: "particulier" },
    request: {
      type_raccordement: "definitif",
      usage: "maison individuelle",
      address: "1 rue de la Paix",
      city: "Paris",
      zip_code: "75002",
      phase: "monophase",
      power_kva: 12,
      is_viabilise: true,
    },
  };
}
