/** Valid bodies for the public functions (tests and the benchmark), unique per call where the schema needs it. */
export const validSubmit = (email = `client-${crypto.randomUUID().slice(0, 8)}@example.fr`) => ({
  customer: { email, phone: "06 12 34 56 78", full_name: "Jean Dupont", client_type: "particulier" },
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
});

export const validLead = (email = `lead-${crypto.randomUUID().slice(0, 8)}@example.fr`) => ({
  email,
  phone: "06 12 34 56 78",
  firstname: "Marie",
  lastname: "Curie",
  connection_type: "photovoltaique" as const,
  postal_code: "75005",
  utm_source: "google",
  utm_medium: "cpc",
  utm_campaign: "pv-2026",
});

export const validCallback = () => ({ full_name: "Ana Lopez Garcia", phone: "06 98 76 54 32", postal_code: "69001", source: "footer" });
