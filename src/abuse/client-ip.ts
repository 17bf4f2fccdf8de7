/**
 * The visitor's address, from ONE header that the platform's gateway sets
 * (CLIENT_IP_HEADER), never from whichever header a client chose to send.
 * For a list header (X-Forwarded-For), each proxy appends the address it was
 * reached from, so only the right-hand entries are the gateway's:
 * TRUSTED_PROXY_HOPS = 1 takes the last, 2 the one before it, and so on.
 *
 * The result is a rate-limit identity, not an address to display: IPv6
 * addresses are grouped by /64 (one subscriber usually holds a whole /64), and
 * a missing or unreadable header is one shared identity ("unknown"), so a
 * misconfiguration fails closed (one bucket for all) instead of open.
 */
export interface ClientIpSource {
  header: string;
  trustedProxyHops: number;
}

export function clientIp(req: Request, source: ClientIpSource): string {
  const value = req.headers.get(source.header);
  if (!value) return "unknown";
  const entries = value.split(",").map((e) => e.trim());
  const entry = entries[entries.length - source.trustedProxyHops];
  if (!entry) return "unknown";
  return rateLimitIdentity(entry);
}

/** `a.b.c.d` as is; IPv6 as its /64 prefix; anything else a bounded opaque string. */
export function rateLimitIdentity(address: string): string {
  const bare = address.replace(/^\[|\](:\d+)?$/g, "").replace(/%.*$/, "");
  const v4 = ipv4(bare) ?? ipv4(bare.replace(/:\d+$/, ""));
  if (v4) return v4;
  const groups = ipv6Groups(bare);
  if (groups) {
    // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 client.
    if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
      return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join(".");
    }
    return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
  }
  return `other:${address.slice(0, 64)}`;
}

function ipv4(s: string): string | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts.join(".") : null;
}

/** The eight 16-bit groups of an IPv6 address, or null. */
function ipv6Groups(s: string): number[] | null {
  if (!s.includes(":") || s.length > 45) return null;
  let text = s;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(text);
  if (dotted) {
    const v4 = ipv4(dotted[2]);
    if (!v4) return null;
    const [a, b, c, d] = v4.split(".").map(Number);
    tail.push((a << 8) | b, (c << 8) | d);
    text = dotted[1].endsWith("::") ? dotted[1] : dotted[1].slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === "" ? [] : part.split(":"));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if ([...head, ...rest].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return null;
  const zeros = new Array(8 - known).fill(0);
  return [...head.map((g) => parseInt(g, 16)), ...zeros, ...rest.map((g) => parseInt(g, 16)), ...tail];
}
