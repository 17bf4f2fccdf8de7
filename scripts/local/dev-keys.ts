/**
 * Local-only credentials. The anon and service-role keys are the public demo
 * JWTs of Supabase's own local stack (`supabase start` prints the same), so a
 * website configured for local Supabase works unchanged. They open nothing
 * outside this machine. The Stripe key only reaches the local double.
 */
export const LOCAL_ANON_KEY =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";
export const LOCAL_SERVICE_ROLE_KEY =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU";
export const LOCAL_STRIPE_SECRET_KEY = "sk_test_local_stripe_double";
/** The key the CRM sandbox accepts when MONELEC_API_KEY is not set. */
export const LOCAL_SANDBOX_CRM_KEY = "local-sandbox-key";
