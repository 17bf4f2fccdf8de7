/**
 * Every destination the bridge knows, in the order the operator tools list
 * them. Adding one: its folder under src/destinations/<name>/, one line here
 * and one in ./doubles.ts.
 */
import { brevo } from "./brevo/index.ts";
import { hubspot } from "./hubspot/index.ts";
import { monelec } from "./monelec/index.ts";
import { odoo } from "./odoo/index.ts";
import { pipedrive } from "./pipedrive/index.ts";
import { salesforce } from "./salesforce/index.ts";
import { sellsy } from "./sellsy/index.ts";
import { shopify } from "./shopify/index.ts";
import type { DestinationModule } from "./types.ts";
import { webhook } from "./webhook/index.ts";
import { woocommerce } from "./woocommerce/index.ts";
import { zendesk } from "./zendesk/index.ts";

export const DESTINATIONS: readonly DestinationModule<any>[] = [
  monelec,
  webhook,
  hubspot,
  brevo,
  pipedrive,
  salesforce,
  odoo,
  zendesk,
  woocommerce,
  shopify,
  sellsy,
];
