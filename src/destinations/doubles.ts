/**
 * The local doubles of the destinations (Node only: the local stack and the
 * tests). One line per destination, beside ./registry.ts.
 */
import type { VendorDouble } from "./double-kit.ts";
import { createHubspotDouble } from "./hubspot/double.ts";

export const DOUBLES: Record<string, () => VendorDouble> = {
  hubspot: () => createHubspotDouble(),
};
