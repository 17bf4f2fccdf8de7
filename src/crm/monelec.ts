/** monelec.net as a destination: POST {base}{endpoint} with X-API-Key and Idempotency-Key. */
import type { ClaimedEvent } from "../outbox/types.ts";
import type { Destination } from "./destination.ts";

export function monelecDestination(opts: { apiUrl: string; apiKey: string | undefined }): Destination {
  return {
    name: "monelec",
    enabled: Boolean(opts.apiKey),
    buildRequest(event: ClaimedEvent): Request {
      return new Request(`${opts.apiUrl}${event.endpoint}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-api-key": opts.apiKey ?? "",
          "idempotency-key": event.id,
        },
        body: JSON.stringify(event.body),
        redirect: "manual",
      });
    },
  };
}
