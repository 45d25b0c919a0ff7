import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { HostRouteTable } from "./host-routes.js";
import { Fib, RouteType, prefixContains } from "./fib.js";
import type { Route } from "./fib.js";
import type { Family } from "../packet-meta.js";
import { NONE } from "../packet-meta.js";

const route = (family: Family, oif: number): Route => ({
  family,
  prefix: new Uint32Array(4),
  prefixLength: family === 4 ? 32 : 128,
  type: RouteType.LOCAL,
  oif,
  gateway: null,
  metric: 0,
  table: "local",
  origin: "local",
});

const v4 = fc.integer({ min: 0, max: 0xffffffff }).map((a) => new Uint32Array([a, 0, 0, 0]));
/** IPv6 addresses that share most words, so the hash must tell them apart by one word. */
const v6 = fc
  .tuple(fc.constantFrom(0x20010db8, 0xfe800000), fc.integer({ min: 0, max: 3 }), fc.nat(7), fc.nat(0xffffffff))
  .map(([a, b, c, d]) => new Uint32Array([a, b, c, d]));
const key = (a: Uint32Array): string => Array.from(a).join(".");

describe("HostRouteTable", () => {
  it("finds exactly what was set, with the last route set for an address, for both families", () => {
    for (const [family, addrs] of [
      [4, v4],
      [6, v6],
    ] as const) {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(addrs, fc.nat(9)), { maxLength: 80 }),
          fc.array(addrs, { maxLength: 40 }),
          (sets, probes) => {
            const t = new HostRouteTable(family);
            const ref = new Map<string, Route>();
            for (const [a, oif] of sets) {
              const r = route(family, oif);
              t.set(a, r);
              ref.set(key(family === 4 ? a.subarray(0, 1) : a), r);
            }
            expect(t.size).toBe(ref.size);
            for (const a of [...sets.map((s) => s[0]), ...probes])
              expect(t.get(a)).toBe(ref.get(key(family === 4 ? a.subarray(0, 1) : a)) ?? null);
          },
        ),
      );
    }
  });

  it("reads only word 0 of an IPv4 address", () => {
    const t = new HostRouteTable(4);
    const r = route(4, 1);
    t.set(new Uint32Array([0xc0a80101, 0, 0, 0]), r);
    expect(t.get(new Uint32Array([0xc0a80101, 7, 7, 7]))).toBe(r);
    expect(t.get([0xc0a80102])).toBeNull();
  });
});

/** Longest-prefix match over a listing (local table first, then main), independent of both lookup structures. */
function reference(fib: Fib, family: Family, addr: Uint32Array, table: "local" | "main"): Route | null {
  let best: Route | null = null;
  // fib.routes lists each prefix's routes best metric first, so the first of the longest prefix wins.
  for (const r of fib.routes(family)) {
    if (r.table !== table || !prefixContains(family, r.prefix, r.prefixLength, addr)) continue;
    if (best === null || r.prefixLength > best.prefixLength) best = r;
  }
  return best;
}

const ipv4In = (nets: number[]) =>
  fc.oneof(
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.tuple(fc.constantFrom(...nets), fc.nat(255)).map(([n, h]) => (n | h) >>> 0),
  );

describe("Fib local table as an exact-match table", () => {
  it("agrees with a longest-prefix match over the route listing, also after addresses are added at runtime", () => {
    const nets = [0xc0a80100, 0xc6336400, 0x0a000000, 0xcb007100];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            oif: fc.nat(3),
            address: ipv4In(nets),
            prefixLength: fc.integer({ min: 8, max: 32 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.array(fc.record({ at: ipv4In(nets), len: fc.integer({ min: 0, max: 32 }), oif: fc.nat(3) }), {
          maxLength: 8,
        }),
        fc.array(ipv4In(nets), { minLength: 1, maxLength: 30 }),
        (addresses, statics, probes) => {
          const fib = new Fib();
          const check = () => {
            for (const p of [...probes, ...addresses.map((a) => a.address)]) {
              const addr = new Uint32Array([p, 0, 0, 0]);
              const local = reference(fib, 4, addr, "local");
              const want = local ?? reference(fib, 4, addr, "main");
              expect(fib.lookup(4, addr)).toBe(want);
              expect(fib.isLocalAddress(4, addr)).toBe(local !== null && local.type === RouteType.LOCAL);
              const t = fib.addressType(4, addr, NONE);
              if (p >>> 24 !== 0 && p !== 0xffffffff && p >>> 28 !== 0xe)
                expect(t).toBe(local !== null ? local.type : RouteType.UNICAST);
            }
          };
          for (const s of statics) fib.addRoute({ family: 4, prefix: [s.at], prefixLength: s.len, oif: s.oif });
          // Lookups between inserts: whatever is derived from the tables must follow every change.
          for (const a of addresses) {
            fib.addAddress(a.oif, 4, [a.address], a.prefixLength);
            check();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("answers IPv6 local addresses like the trie did", () => {
    const fib = new Fib();
    const lan = new Uint32Array([0x20010db8, 1, 0, 1]);
    fib.addAddress(1, 6, lan, 64);
    fib.addRoute({ family: 6, prefix: [0, 0, 0, 0], prefixLength: 0, oif: 0, gateway: [0x20010db8, 0xff, 0, 1] });
    expect(fib.lookup(6, lan)).toMatchObject({ type: RouteType.LOCAL, table: "local", oif: 1 });
    expect(fib.isLocalAddress(6, lan)).toBe(true);
    expect(fib.lookup(6, [0x20010db8, 1, 0, 2])).toMatchObject({ type: RouteType.UNICAST, prefixLength: 64 });
    expect(fib.isLocalAddress(6, [0x20010db8, 1, 0, 2])).toBe(false);
    fib.addAddress(0, 6, [0x20010db8, 0xff, 0, 2], 64);
    expect(fib.isLocalAddress(6, [0x20010db8, 0xff, 0, 2])).toBe(true);
    expect(fib.addressType(6, [0x20010db8, 0xff, 0, 2], 1)).toBe(RouteType.UNICAST);
  });
});
