/** The contract's enumerations (French grid-connection requests). */
export const CONNECTION_TYPES = ["definitif", "provisoire", "modification", "augmentation_puissance", "photovoltaique"] as const;
export const CLIENT_TYPES = ["particulier", "professionnel", "collectivite"] as const;
export const PHASES = ["monophase", "triphase"] as const;
export const PAYMENT_STATUSES = ["pending", "paid", "failed", "canceled", "refunded"] as const;

export type ConnectionType = (typeof CONNECTION_TYPES)[number];
export type ClientType = (typeof CLIENT_TYPES)[number];
export type Phase = (typeof PHASES)[number];
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];
