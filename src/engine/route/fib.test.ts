import { describe, expect, it } from "vitest";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { Fib, FibExpression, FibFlag, RouteType, routeRejection, prefixContains } from "./fib.js";
import type { Route } from "./fib.js";
import { NONE, PacketMeta } from "../packet-meta.js";
import type { FibOracle } from "../filter/context.js";

/** An address as the engine holds it: IPv4 in word 0, IPv6 as four big-endian words. */
function a(text: string): Uint32Array {
  const out = new Uint32Array(4);
  const bytes = ipaddr.parse(text).toByteArray();
  for (let i = 0; i < bytes.length; i++) out[i >>> 2] = ((out[i >>> 2] << 8) | bytes[i]) >>> 0;
  if (bytes.length === 4) out[0] = out[0] >>> 0;
  return out;
}

const LAN = 1;
const WAN = 2;
const DMZ = 3;

function homeRouter(): Fib {
  const fib = new Fib();
  fib.addAddress(LAN, 4, a("192.168.1.1"), 24);
  fib.addAddress(WAN, 4, a("198.51.100.2"), 24);
  fib.addRoute({ family: 4, prefix: a("0.0.0.0"), prefixLength: 0, oif: WAN, gateway: a("198.51.100.1") });
  fib.addAddress(LAN, 6, a("2001:db8:1::1"), 64);
  fib.addRoute({ family: 6, prefix: a("::"), prefixLength: 0, oif: WAN, gateway: a("2001:db8:ffff::1") });
  return fib;
}

describe("Fib lookup", () => {
  it("picks connected, local, broadcast and default routes as Linux does", () => {
    const fib = homeRouter();
    expect(fib.lookup(4, a("192.168.1.20"))).toMatchObject({ type: RouteType.UNICAST, oif: LAN, origin: "connected" });
    expect(fib.lookup(4, a("192.168.1.1"))).toMatchObject({ type: RouteType.LOCAL, table: "local" });
    expect(fib.lookup(4, a("192.168.1.255"))).toMatchObject({ type: RouteType.BROADCAST, oif: LAN });
    const def = fib.lookup(4, a("203.0.113.66"));
    expect(def).toMatchObject({ type: RouteType.UNICAST, oif: WAN, prefixLength: 0 });
    expect(def?.gateway?.[0]).toBe(a("198.51.100.1")[0]);
    expect(fib.lookup(6, a("2001:db8:1::20"))).toMatchObject({ oif: LAN, prefixLength: 64, metric: 256 });
    expect(fib.lookup(6, a("2001:db8:1::1"))).toMatchObject({ type: RouteType.LOCAL });
    expect(fib.lookup(6, a("2001:db8:99::1"))).toMatchObject({ oif: WAN, prefixLength: 0 });
  });

  it("prefers the lower metric for the same prefix and rejects a duplicate metric", () => {
    const fib = new Fib();
    fib.addAddress(LAN, 4, a("10.0.0.1"), 8);
    fib.addAddress(WAN, 4, a("172.16.0.1"), 12);
    expect(fib.addRoute({ family: 4, prefix: a("10.9.0.0"), prefixLength: 16, oif: WAN, metric: 20 }).ok).toBe(true);
    expect(fib.addRoute({ family: 4, prefix: a("10.9.0.0"), prefixLength: 16, oif: LAN, metric: 10 }).ok).toBe(true);
    expect(fib.addRoute({ family: 4, prefix: a("10.9.1.2"), prefixLength: 16, oif: LAN, metric: 10 })).toEqual({
      ok: false,
      reason: "exists",
    });
    expect(fib.lookup(4, a("10.9.3.4"))?.oif).toBe(LAN);
    expect(fib.lookup(4, a("10.8.3.4"))?.prefixLength).toBe(8);
    expect(fib.lookup(4, a("8.8.8.8"))).toBeNull();
    expect(fib.addRoute({ family: 4, prefix: a("1.0.0.0"), prefixLength: 33, oif: LAN }).ok).toBe(false);
    expect(fib.addRoute({ family: 4, prefix: a("1.0.0.0"), prefixLength: 8 })).toEqual({
      ok: false,
      reason: "needs-interface",
    });
  });

  it("answers blackhole/unreachable/prohibit and no-route with the kernel's ICMP", () => {
    const fib = homeRouter();
    fib.addRoute({ family: 4, prefix: a("203.0.113.0"), prefixLength: 24, type: RouteType.BLACKHOLE });
    fib.addRoute({ family: 4, prefix: a("192.0.2.0"), prefixLength: 25, type: RouteType.UNREACHABLE });
    fib.addRoute({ family: 4, prefix: a("192.0.2.128"), prefixLength: 25, type: RouteType.PROHIBIT });
    fib.addRoute({ family: 6, prefix: a("2001:db8:dead::"), prefixLength: 48, type: RouteType.PROHIBIT });
    expect(routeRejection(4, fib.lookup(4, a("203.0.113.9")))).toEqual({ kind: "silent-drop", cause: "blackhole" });
    expect(routeRejection(4, fib.lookup(4, a("192.0.2.1")))).toMatchObject({ type: 3, code: 1 });
    expect(routeRejection(4, fib.lookup(4, a("192.0.2.200")))).toMatchObject({ type: 3, code: 13 });
    expect(routeRejection(6, fib.lookup(6, a("2001:db8:dead::5")))).toMatchObject({ type: 1, code: 1 });
    expect(routeRejection(4, null)).toMatchObject({ cause: "no-route", type: 3, code: 0 });
    expect(routeRejection(6, null)).toMatchObject({ cause: "no-route", type: 1, code: 0 });
    expect(routeRejection(4, fib.lookup(4, a("192.168.1.7")))).toBeNull();
    expect(fib.lookup(4, a("192.0.2.1"))?.oif).toBe(NONE);
  });

  it("local table wins over a more specific main route (fib_rules: local before main)", () => {
    const fib = new Fib();
    fib.addAddress(LAN, 4, a("127.0.0.1"), 8);
    fib.addRoute({ family: 4, prefix: a("127.0.0.1"), prefixLength: 32, oif: WAN });
    expect(fib.lookup(4, a("127.0.0.1"))?.type).toBe(RouteType.LOCAL);
  });
});

describe("fib expression queries", () => {
  it("fib daddr type: local, broadcast, multicast, unicast (inet_dev_addr_type)", () => {
    const fib = homeRouter();
    expect(fib.addressType(4, a("198.51.100.2"))).toBe(RouteType.LOCAL);
    expect(fib.addressType(4, a("198.51.100.2"), WAN)).toBe(RouteType.LOCAL);
    expect(fib.addressType(4, a("198.51.100.2"), LAN)).toBe(RouteType.UNICAST);
    expect(fib.addressType(4, a("192.168.1.255"))).toBe(RouteType.BROADCAST);
    expect(fib.addressType(4, a("255.255.255.255"))).toBe(RouteType.BROADCAST);
    expect(fib.addressType(4, a("0.1.2.3"))).toBe(RouteType.BROADCAST);
    expect(fib.addressType(4, a("239.255.255.250"))).toBe(RouteType.MULTICAST);
    expect(fib.addressType(4, a("203.0.113.66"))).toBe(RouteType.UNICAST);
    expect(fib.addressType(6, a("ff02::1"))).toBe(RouteType.MULTICAST);
    expect(fib.addressType(6, a("2001:db8:1::1"))).toBe(RouteType.LOCAL);
    expect(fib.addressType(6, a("2001:db8:1::9"))).toBe(RouteType.UNICAST);
  });

  it("fib saddr . iif oif: the reverse route's interface, or missing", () => {
    const fib = homeRouter();
    fib.addAddress(DMZ, 4, a("10.0.0.1"), 24);
    expect(fib.reverseOif(4, a("192.168.1.20"), a("203.0.113.66"), LAN, LAN)).toBe(LAN);
    expect(fib.reverseOif(4, a("10.0.0.5"), a("203.0.113.66"), LAN, LAN)).toBe(NONE);
    expect(fib.reverseOif(4, a("10.0.0.5"), a("203.0.113.66"), LAN, NONE)).toBe(DMZ);
    // The router's own address routes locally: the kernel reports it missing.
    expect(fib.reverseOif(4, a("192.168.1.1"), a("203.0.113.66"), LAN, LAN)).toBe(NONE);
    // Multicast/limited broadcast destination: the kernel answers iif without a lookup.
    expect(fib.reverseOif(4, a("0.0.0.0"), a("255.255.255.255"), LAN, LAN)).toBe(LAN);
    expect(fib.forwardOif(4, a("203.0.113.66"))).toBe(WAN);
    // A zero source to a non-local multicast address is looked up like any other.
    expect(fib.reverseOif(4, a("0.0.0.0"), a("239.1.2.3"), LAN, LAN)).toBe(NONE);
    expect(fib.reverseOif(4, a("0.0.0.0"), a("224.0.0.22"), LAN, LAN)).toBe(LAN);
  });

  it("FibExpression answers the evaluator's fib queries with NFTA_FIB_F_* flags", () => {
    const fib = homeRouter();
    const x: FibOracle = new FibExpression(fib);
    const pkt = (s: string, d: string, iif: number, oif = NONE): PacketMeta => {
      const m = new PacketMeta();
      m.saddr.set(a(s));
      m.daddr.set(a(d));
      m.iif = iif;
      m.oif = oif;
      return m;
    };
    // fib saddr . iif oif missing drop: the off-subnet spoof from the LAN is caught, the same-subnet one is not.
    expect(x.oif(pkt("10.9.9.9", "203.0.113.66", LAN), FibFlag.SADDR | FibFlag.IIF)).toBe(NONE);
    expect(x.oif(pkt("192.168.1.20", "203.0.113.66", LAN), FibFlag.SADDR | FibFlag.IIF)).toBe(LAN);
    expect(x.oif(pkt("203.0.113.66", "198.51.100.2", WAN), FibFlag.SADDR | FibFlag.IIF)).toBe(WAN);
    expect(x.oif(pkt("192.168.1.20", "203.0.113.66", LAN), FibFlag.DADDR)).toBe(WAN);
    expect(x.oif(pkt("192.168.1.20", "192.168.1.1", LAN), FibFlag.DADDR)).toBe(NONE);
    expect(x.addrType(pkt("203.0.113.66", "198.51.100.2", WAN), FibFlag.DADDR)).toBe(RouteType.LOCAL);
    expect(x.addrType(pkt("192.168.1.20", "198.51.100.2", LAN), FibFlag.DADDR | FibFlag.IIF)).toBe(RouteType.UNICAST);
    expect(x.addrType(pkt("192.168.1.20", "192.168.1.255", LAN), FibFlag.DADDR)).toBe(RouteType.BROADCAST);
  });

  it("sourceAddressFor picks the address whose subnet holds the next hop (inet_select_addr)", () => {
    const fib = homeRouter();
    fib.addAddress(WAN, 4, a("192.0.2.10"), 24);
    expect(fib.sourceAddressFor(WAN, 4, a("192.0.2.1"))?.[0]).toBe(a("192.0.2.10")[0]);
    expect(fib.sourceAddressFor(WAN, 4, a("198.51.100.1"))?.[0]).toBe(a("198.51.100.2")[0]);
    expect(fib.sourceAddressFor(WAN, 4, null)?.[0]).toBe(a("198.51.100.2")[0]);
    expect(fib.sourceAddressFor(DMZ, 4, null)).toBeNull();
  });
});

/** The reference: longest prefix first, then lowest metric, then first added. */
function linearLookup(routes: Route[], family: 4 | 6, addr: Uint32Array): Route | null {
  let best: Route | null = null;
  for (const r of routes) {
    if (!prefixContains(family, r.prefix, r.prefixLength, addr)) continue;
    if (
      best === null ||
      r.prefixLength > best.prefixLength ||
      (r.prefixLength === best.prefixLength && r.metric < best.metric)
    )
      best = r;
  }
  return best;
}

describe("LPM property: trie = linear scan", () => {
  const v4Route = fc.record({
    addr: fc.integer({ min: 0, max: 0xffffffff }),
    len: fc.integer({ min: 0, max: 32 }),
    metric: fc.integer({ min: 0, max: 3 }),
    oif: fc.integer({ min: 0, max: 7 }),
  });

  it("IPv4", () => {
    fc.assert(
      fc.property(
        fc.array(v4Route, { maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 40 }),
        (specs, probes) => {
          const fib = new Fib();
          const added: Route[] = [];
          for (const s of specs) {
            const r = fib.addRoute({
              family: 4,
              prefix: [s.addr >>> 0],
              prefixLength: s.len,
              oif: s.oif,
              metric: s.metric,
            });
            if (r.ok) added.push(r.route);
          }
          // Probe random addresses and addresses inside each route (the interesting ones).
          const all = [
            ...probes,
            ...specs.map((s) => (s.addr ^ (s.metric * 0x1010101)) >>> 0),
            ...specs.map((s) => s.addr >>> 0),
          ];
          for (const p of all) {
            const addr = new Uint32Array([p >>> 0, 0, 0, 0]);
            expect(fib.lookup(4, addr)).toBe(linearLookup(added, 4, addr));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("IPv6", () => {
    const word = fc.integer({ min: 0, max: 0xffffffff });
    const addr6 = fc
      .tuple(word, word, word, word)
      .map(([w0, w1, w2, w3]) => new Uint32Array([0x20010db8, w1 & 0xff, w2, w3 ^ w0]));
    const v6Route = fc.record({
      addr: addr6,
      len: fc.integer({ min: 0, max: 128 }),
      metric: fc.integer({ min: 0, max: 2 }),
    });
    fc.assert(
      fc.property(fc.array(v6Route, { maxLength: 40 }), fc.array(addr6, { maxLength: 30 }), (specs, probes) => {
        const fib = new Fib();
        const added: Route[] = [];
        for (const s of specs) {
          const r = fib.addRoute({ family: 6, prefix: s.addr, prefixLength: s.len, oif: 1, metric: s.metric });
          if (r.ok) added.push(r.route);
        }
        for (const p of [...probes, ...specs.map((s) => s.addr)]) {
          expect(fib.lookup(6, p)).toBe(linearLookup(added, 6, p));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("large tables (deep multibit paths), including inserts after lookups", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (seed, v6) => {
        let x = seed >>> 0;
        const next = (): number => {
          x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
          return (x ^ (x >>> 12)) >>> 0;
        };
        const family = v6 ? 6 : 4;
        const width = v6 ? 128 : 32;
        const addr = (): Uint32Array =>
          new Uint32Array([next() & 0xffff00ff, next(), next(), next()].map((w, i) => (v6 || i === 0 ? w : 0)));
        const fib = new Fib();
        const added: Route[] = [];
        const probe = (): void => {
          for (let k = 0; k < 300; k++) {
            const p = addr();
            expect(fib.lookup(family, p)).toBe(linearLookup(added, family, p));
          }
          for (const r of added.slice(-50))
            expect(fib.lookup(family, r.prefix)).toBe(linearLookup(added, family, r.prefix));
        };
        const addSome = (n: number): void => {
          for (let i = 0; i < n; i++) {
            const r = fib.addRoute({
              family,
              prefix: addr(),
              prefixLength: next() % (width + 1),
              oif: 1 + (i % 3),
              metric: next() % 2,
            });
            if (r.ok) added.push(r.route);
          }
        };
        addSome(300);
        probe();
        addSome(40);
        probe();
      }),
      { numRuns: 12 },
    );
  });
});
