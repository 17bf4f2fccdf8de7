/**
 * The visitor's address as the platform reports it. On Supabase, requests come
 * through Cloudflare, which sets cf-connecting-ip itself (a client cannot forge
 * it); the local gateway sets x-forwarded-for the same way.
 */
export function clientIp(req: Request): string {
  const cf = req.headers.get("cf-connecting-ip")?.trim();
  if (cf) return cf;
  const real = req.headers.get("x-real-ip")?.trim();
  if (real) return real;
  const forwarded = req.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  return forwarded || "unknown";
}
