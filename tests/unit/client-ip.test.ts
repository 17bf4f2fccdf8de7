import { describe, expect, it } from "vitest";
import { clientIp, rateLimitIdentity } from "../../src/abuse/client-ip.ts";

const req = (headers: Record<string, string>) => new Request("http://x/", { headers });

describe("client address", () => {
  it("comes from the configured header only, whatever else the client sends", () => {
    const source = { header: "cf-connecting-ip", trustedProxyHops: 1 };
    expect(clientIp(req({ "cf-connecting-ip": "198.51.100.7", "x-forwarded-for": "1.1.1.1", "x-real-ip": "2.2.2.2" }), source)).toBe("198.51.100.7");
    expect(clientIp(req({ "x-forwarded-for": "1.1.1.1", "x-real-ip": "2.2.2.2" }), source)).toBe("unknown");
  });

  it("takes the entry TRUSTED_PROXY_HOPS from the right of a list, never the client's leftmost", () => {
    const h = { "x-forwarded-for": "6.6.6.6, 203.0.113.9, 10.0.0.1" };
    expect(clientIp(req(h), { header: "x-forwarded-for", trustedProxyHops: 1 })).toBe("10.0.0.1");
    expect(clientIp(req(h), { header: "x-forwarded-for", trustedProxyHops: 2 })).toBe("203.0.113.9");
    expect(clientIp(req(h), { header: "x-forwarded-for", trustedProxyHops: 4 })).toBe("unknown");
  });

  it("groups IPv6 by /64 and reads every spelling of an address alike", () => {
    expect(rateLimitIdentity("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(rateLimitIdentity("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(rateLimitIdentity("[2001:db8:1:2::9]:443")).toBe("2001:db8:1:2::/64");
    expect(rateLimitIdentity("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(rateLimitIdentity("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(rateLimitIdentity("192.0.2.1:5678")).toBe("192.0.2.1");
    expect(rateLimitIdentity("2001:db8::1.2.3.4")).toBe("2001:db8:0:0::/64");
  });

  it("anything else is a bounded opaque identity", () => {
    expect(rateLimitIdentity("x".repeat(10_000))).toHaveLength("other:".length + 64);
    expect(rateLimitIdentity("2001:db8:1:2:3:4:5:6:7")).toMatch(/^other:/);
    expect(rateLimitIdentity("256.1.1.1")).toMatch(/^other:/);
  });
});
