// The router's forwarding resolver and Mallory's authoritative server with real packets on seed-home: the query
// leaves the router through its own NAT and filter, the answer comes back, and rebind protection empties answers
// in dnsmasq's private ranges and logs them.

import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseIpv4, parseIpv6 } from "../../wire/address.js";
import * as dns from "../../wire/dns.js";
import { describePacketBytes } from "../node.js";
import { buildSeedHome } from "../seed-home.fixture.js";
import type { SeedHome } from "../seed-home.fixture.js";
import { addressWords } from "../simulation.js";
import { installAuthoritativeDns } from "./authoritative-dns.js";
import type { AuthoritativeDnsHandle } from "./authoritative-dns.js";
import type { DnsResolverHandle, DnsResolverOptions } from "./dns-resolver.js";
import { installDnsResolver, isRebindV4, isRebindV6 } from "./dns-resolver.js";

const A = (s: string): Uint32Array => addressWords(s)!.words;
const v4 = (s: string): number => parseIpv4(s)!;

interface Rig {
  readonly h: SeedHome;
  readonly resolver: DnsResolverHandle;
  readonly auth: AuthoritativeDnsHandle;
}

function rig(o: Partial<DnsResolverOptions> = {}): Rig {
  const h = buildSeedHome();
  const auth = installAuthoritativeDns(h.mallory, {
    zones: {
      "evil.example": [
        { address: "203.0.113.66", ttl: 1 },
        { address: "192.168.1.20", ttl: 1 },
      ],
      "v6.evil.example": [{ address: "fd00::20", ttl: 60 }],
    },
  });
  const resolver = installDnsResolver(h.router, {
    clock: h.sim.clock,
    listen: ["192.168.1.1"],
    upstream: { address: "203.0.113.66" },
    rebindProtection: false,
    ...o,
  });
  return { h, resolver, auth };
}

/** U asks the router; returns the parsed answer. */
function ask(h: SeedHome, name: string, type: number = dns.DnsType.A, server = "192.168.1.1"): dns.DnsRepr | null {
  let out: dns.DnsRepr | null = null;
  const q = dns.query(0x1234, name, type);
  if (!q.ok) throw new Error("bad query");
  h.u.stack.bindUdp(40000, (d) => {
    const p = dns.parse(d.payload);
    if (p.ok) out = p.value;
    return null;
  });
  h.u.stack.sendUdp(4, A(server), 53, 40000, dns.emit(q.value));
  h.sim.run({ until: h.sim.now + 1000 });
  h.u.stack.unbindUdp(40000);
  return out;
}

const addresses = (r: dns.DnsRepr | null): number[] =>
  (r?.answers ?? []).flatMap((rr) => (rr.data.kind === "a" ? [rr.data.address] : []));

describe("forwarding resolver", () => {
  it("forwards through the router's NAT and relays the authoritative answer with the client's id", () => {
    const { h, resolver, auth } = rig();
    const r = ask(h, "evil.example");
    expect(r).toMatchObject({ id: 0x1234, qr: true, rcode: 0, ra: true });
    expect(addresses(r)).toEqual([v4("203.0.113.66")]);
    expect(r?.answers[0].ttl).toBe(1);
    expect(auth.queries).toEqual([{ name: "evil.example", type: dns.DnsType.A }]);
    expect(resolver.stats).toEqual({ forwarded: 1, answered: 1, ignored: 0 });
    // On the WAN the query leaves from the router's public address to Mallory's port 53.
    const wan = h.sim.segments.get("wan")!.captures.map((c) => describePacketBytes(c.bytes));
    expect(wan[0]).toMatch(/198\.51\.100\.2:\d+ > 203\.0\.113\.66:53/);
  });

  it("follows the script: the second query gets the private address", () => {
    const { h } = rig();
    ask(h, "evil.example");
    expect(addresses(ask(h, "evil.example"))).toEqual([v4("192.168.1.20")]);
  });

  it("relays REFUSED for names outside Mallory's zones and ignores queries to other addresses", () => {
    const { h, resolver } = rig();
    expect(ask(h, "example.org")?.rcode).toBe(dns.DnsRcode.REFUSED);
    expect(ask(h, "evil.example", dns.DnsType.A, "198.51.100.2")).toBeNull();
    expect(resolver.stats.ignored).toBe(1);
  });
});

describe("rebind protection (dnsmasq stop-dns-rebind)", () => {
  it("empties an upstream answer pointing into 192.168/16 and logs it", () => {
    const { h, resolver } = rig({ rebindProtection: true, documentationAddressesArePublic: true });
    expect(addresses(ask(h, "evil.example"))).toEqual([v4("203.0.113.66")]);
    const second = ask(h, "evil.example");
    expect(second).toMatchObject({ rcode: dns.DnsRcode.NOERROR, answers: [], authorities: [], additionals: [] });
    expect(resolver.rebindEvents).toHaveLength(1);
    expect(resolver.rebindEvents[0]).toMatchObject({
      name: "evil.example",
      address: "192.168.1.20",
      message: "possible DNS-rebind attack detected: evil.example → 192.168.1.20",
    });
  });

  it("with dnsmasq's own list a documentation address is private too: the first answer is emptied", () => {
    const { h, resolver } = rig({ rebindProtection: true });
    expect(addresses(ask(h, "evil.example"))).toEqual([]);
    expect(resolver.rebindEvents[0].address).toBe("203.0.113.66");
  });

  it("checks AAAA answers (ULA) and honours rebind-domain-ok", () => {
    const on = rig({ rebindProtection: true });
    expect(ask(on.h, "v6.evil.example", dns.DnsType.AAAA)?.answers).toEqual([]);
    const allowed = rig({ rebindProtection: true, rebindDomainAllow: ["evil.example"] });
    expect(ask(allowed.h, "v6.evil.example", dns.DnsType.AAAA)?.answers).toHaveLength(1);
    expect(allowed.resolver.rebindEvents).toEqual([]);
  });

  it("off: the private answer is relayed untouched", () => {
    const { h, resolver } = rig({ rebindProtection: false });
    ask(h, "evil.example");
    expect(addresses(ask(h, "evil.example"))).toEqual([v4("192.168.1.20")]);
    expect(resolver.rebindEvents).toEqual([]);
  });
});

describe("dnsmasq private_net ranges", () => {
  it.each([
    ["10.1.2.3", true],
    ["172.16.0.1", true],
    ["172.32.0.1", false],
    ["192.168.1.20", true],
    // dnsmasq 2.90 lets RFC 6598 shared space through (measured in src/lab/verify-dns.test.ts).
    ["100.64.0.1", false],
    ["100.128.0.1", false],
    ["169.254.1.1", true],
    ["255.255.255.255", true],
    ["8.8.8.8", false],
    ["192.0.2.1", true],
    ["198.51.100.2", true],
    ["203.0.113.66", true],
  ])("%s → %s", (a, expected) => {
    expect(isRebindV4(v4(a), false, false)).toBe(expected);
  });

  it("loopback and 0/8 depend on rebind-localhost-ok; TEST-NETs on the documentation switch", () => {
    expect(isRebindV4(v4("127.0.0.1"), false, false)).toBe(true);
    expect(isRebindV4(v4("127.0.0.1"), true, false)).toBe(false);
    expect(isRebindV4(v4("0.1.2.3"), true, false)).toBe(false);
    expect(isRebindV4(v4("203.0.113.66"), false, true)).toBe(false);
  });

  it.each([
    ["::1", true],
    ["fe80::1", true],
    ["fec0::1", true],
    ["fd12::1", true],
    ["fc00::1", false],
    ["2001:db8::1", true],
    ["::ffff:192.168.1.1", true],
    ["::ffff:8.8.8.8", false],
    ["2a00:1450::1", false],
  ])("%s → %s", (a, expected) => {
    expect(isRebindV6(parseIpv6(a)!, false, false)).toBe(expected);
  });

  fcTest.prop([fc.integer({ min: 0, max: 0xffffffff })])("v4-mapped IPv6 agrees with IPv4", (a) => {
    const b = new Uint8Array(16);
    b[10] = 0xff;
    b[11] = 0xff;
    b[12] = a >>> 24;
    b[13] = (a >>> 16) & 0xff;
    b[14] = (a >>> 8) & 0xff;
    b[15] = a & 0xff;
    expect(isRebindV6(b, false, false)).toBe(isRebindV4(a, false, false));
  });
});
