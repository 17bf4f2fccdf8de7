/**
 * `crm test`: checks the CRM's URL and key without creating anything, by
 * sending a deliberately empty lead. A CRM that checks the key before the
 * body answers 401/403 for a bad key and 400/422 for a good one.
 */
export interface CrmCheck {
  ok: boolean;
  reachable: boolean;
  keyAccepted: boolean | null;
  httpStatus: number | null;
  message: string;
}

export async function checkCrm(apiUrl: string, apiKey: string | undefined, timeoutMs = 10_000): Promise<CrmCheck> {
  if (!apiKey) {
    return { ok: false, reachable: false, keyAccepted: null, httpStatus: null, message: "MONELEC_API_KEY is not set: the bridge is off." };
  }
  let res: Response;
  try {
    res = await fetch(`${apiUrl}/leads`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": apiKey },
      body: "{}",
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
  } catch (err) {
    return { ok: false, reachable: false, keyAccepted: null, httpStatus: null, message: `Cannot reach ${apiUrl}: ${(err as Error).message}` };
  }
  const s = res.status;
  if (s === 401 || s === 403) {
    return { ok: false, reachable: true, keyAccepted: false, httpStatus: s, message: `The CRM refused the key (HTTP ${s}).` };
  }
  if (s === 400 || s === 422) {
    return { ok: true, reachable: true, keyAccepted: true, httpStatus: s, message: `Reachable, key accepted (an empty lead was refused with HTTP ${s}, as expected; nothing was created).` };
  }
  if (s >= 200 && s < 300) {
    return { ok: true, reachable: true, keyAccepted: true, httpStatus: s, message: `Reachable, key accepted — but the CRM accepted an empty lead (HTTP ${s}); check it for an empty record.` };
  }
  return { ok: false, reachable: true, keyAccepted: null, httpStatus: s, message: `Reachable, but HTTP ${s}: could not tell whether the key is valid.` };
}
