import { describe, expect, it } from "vitest";
import ipaddr from "ipaddr.js";
import { Fib, RouteType } from "./fib.js";
import { RpFilterMode, effectiveRpFilter, validateSource } from "./rp-filter.js";

function a(text: string): Uint32Array {
  const out = new Uint32Array(4);
  const bytes = ipaddr.parse(text).toByteArray();
  for (let i = 0; i < bytes.length; i++) out[i >>> 2] = ((out[i >>> 2] << 8) | bytes[i]) >>> 0;
  return out;
}

const LAN = 1;
const WAN = 2;
const GUEST = 3;

function router(): Fib {
  const fib = new Fib();
  fib.addAddress(LAN, 4, a("192.168.1.1"), 24);
  fib.addAddress(GUEST, 4, a("192.168.2.1"), 24);
  fib.addAddress(WAN, 4, a("198.51.100.2"), 24);
  fib.addRoute({ family: 4, prefix: a("0.0.0.0"), prefixLength: 0, oif: WAN, gateway: a("198.51.100.1") });
  fib.addRoute({ family: 4, prefix: a("10.66.0.0"), prefixLength: 16, type: RouteType.BLACKHOLE });
  return fib;
}

const modes = [RpFilterMode.OFF, RpFilterMode.STRICT, RpFilterMode.LOOSE] as const;

describe("rp_filter (fib_validate_source)", () => {
  it("the effective mode is max(all, iface)", () => {
    expect(effectiveRpFilter(0, 0)).toBe(RpFilterMode.OFF);
    expect(effectiveRpFilter(1, 0)).toBe(RpFilterMode.STRICT);
    expect(effectiveRpFilter(0, 2)).toBe(RpFilterMode.LOOSE);
    expect(effectiveRpFilter(2, 1)).toBe(RpFilterMode.LOOSE);
  });

  it("a spoofed source inside the same LAN subnet passes every mode (SEMANTICS §2.9)", () => {
    const fib = router();
    for (const m of modes) expect(validateSource(fib, 4, a("192.168.1.20"), LAN, m).kind).toBe("accept");
  });

  it("a source from another subnet on the LAN: only strict drops it", () => {
    const fib = router();
    expect(validateSource(fib, 4, a("192.168.2.50"), LAN, RpFilterMode.OFF)).toEqual({ kind: "accept", reason: "off" });
    expect(validateSource(fib, 4, a("192.168.2.50"), LAN, RpFilterMode.STRICT)).toEqual({
      kind: "drop",
      reason: "reverse-route-other-iif",
    });
    expect(validateSource(fib, 4, a("192.168.2.50"), LAN, RpFilterMode.LOOSE)).toEqual({
      kind: "accept",
      reason: "reverse-route-exists",
    });
    // An internet source forged from the LAN: the default route makes loose mode a no-op.
    expect(validateSource(fib, 4, a("203.0.113.66"), LAN, RpFilterMode.LOOSE).kind).toBe("accept");
    expect(validateSource(fib, 4, a("203.0.113.66"), LAN, RpFilterMode.STRICT).kind).toBe("drop");
    expect(validateSource(fib, 4, a("203.0.113.66"), WAN, RpFilterMode.STRICT)).toEqual({
      kind: "accept",
      reason: "reverse-route-via-iif",
    });
  });

  it("no route back fails strict and loose; a blackhole route back is not unicast", () => {
    const fib = new Fib();
    fib.addAddress(LAN, 4, a("192.168.1.1"), 24);
    expect(validateSource(fib, 4, a("203.0.113.66"), LAN, RpFilterMode.LOOSE)).toEqual({
      kind: "drop",
      reason: "no-reverse-route",
    });
    expect(validateSource(fib, 4, a("203.0.113.66"), LAN, RpFilterMode.OFF).kind).toBe("accept");
    expect(validateSource(router(), 4, a("10.66.1.1"), WAN, RpFilterMode.LOOSE)).toEqual({
      kind: "drop",
      reason: "reverse-route-not-unicast",
    });
  });

  it("the router's own address as source is a martian in every mode; IPv6 is never filtered", () => {
    const fib = router();
    for (const m of modes)
      expect(validateSource(fib, 4, a("198.51.100.2"), WAN, m)).toEqual({ kind: "drop", reason: "local-source" });
    expect(validateSource(fib, 6, a("2001:db8::1"), WAN, RpFilterMode.STRICT)).toEqual({
      kind: "accept",
      reason: "ipv6",
    });
  });
});
