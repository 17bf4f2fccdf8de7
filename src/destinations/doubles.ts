/**
 * The local doubles of the destinations (Node only: the local stack and the
 * tests). One line per destination, beside ./registry.ts.
 */
import { createBrevoDouble } from "./brevo/double.ts";
import type { VendorDouble } from "./double-kit.ts";
import { createHubspotDouble } from "./hubspot/double.ts";
import { createPipedriveDouble } from "./pipedrive/double.ts";
import { createWebhookDouble } from "./webhook/double.ts";
import { createWoocommerceDouble } from "./woocommerce/double.ts";
import { createZendeskDouble } from "./zendesk/double.ts";

export const DOUBLES: Record<string, () => VendorDouble> = {
  webhook: () => createWebhookDouble(),
  hubspot: () => createHubspotDouble(),
  brevo: () => createBrevoDouble(),
  pipedrive: () => createPipedriveDouble(),
  zendesk: () => createZendeskDouble(),
  woocommerce: () => createWoocommerceDouble(),
};
