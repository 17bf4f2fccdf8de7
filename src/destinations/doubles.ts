/**
 * The local doubles of the destinations (Node only: the local stack and the
 * tests). One line per destination, beside ./registry.ts. monelec's double
 * is the CRM sandbox (scripts/local/crm-sandbox.ts), which predates the kit.
 */
import { createBrevoDouble } from "./brevo/double.ts";
import type { VendorDouble } from "./double-kit.ts";
import { createHubspotDouble } from "./hubspot/double.ts";
import { createOdooDouble } from "./odoo/double.ts";
import { createPipedriveDouble } from "./pipedrive/double.ts";
import { createSalesforceDouble } from "./salesforce/double.ts";
import { createSellsyDouble } from "./sellsy/double.ts";
import { createShopifyDouble } from "./shopify/double.ts";
import { createWebhookDouble } from "./webhook/double.ts";
import { createWoocommerceDouble } from "./woocommerce/double.ts";
import { createZendeskDouble } from "./zendesk/double.ts";

export const DOUBLES: Record<string, () => VendorDouble> = {
  webhook: () => createWebhookDouble(),
  hubspot: () => createHubspotDouble(),
  brevo: () => createBrevoDouble(),
  pipedrive: () => createPipedriveDouble(),
  salesforce: () => createSalesforceDouble(),
  odoo: () => createOdooDouble(),
  zendesk: () => createZendeskDouble(),
  woocommerce: () => createWoocommerceDouble(),
  shopify: () => createShopifyDouble(),
  sellsy: () => createSellsyDouble(),
};
