import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { fromHex, hex, readU16 } from "./bytes.js";
import * as icmpv6 from "./icmpv6.js";
import {
  Icmpv6Field,
  Icmpv6Type,
  Icmpv6View,
  NaFlags,
  RaFlags,
  isIcmpv6Error,
  type Icmpv6Repr,
  type NdpOption,
} from "./icmpv6.js";
import type { PseudoHeader } from "./pseudo-header.js";
import type { Result } from "./result.js";

// Captured with tcpdump on a veth between two network namespaces (Linux 6.x); tcpdump: "icmp6 sum ok" for all.
// Full IPv6 packets. The RA was written through a raw ICMPv6 socket (the kernel filled in its checksum).
const RS =
  "6000000000103afffe80000000000000a820affffe472d2fff020000000000000000000000000002850071ff000000000101aa20af472d2f";
const NS =
  "6000000000203aff20010db8000000000000000000000001ff0200000000000000000001ff000002870097900000000020010db80000000000000000000000020101aa20af472d2f";
const NA =
  "6000000000203aff20010db800000000000000000000000220010db8000000000000000000000001880021406000000020010db8000000000000000000000002020132485cf1dbf9";
const RA =
  "6002f21300403aff20010db800000000000000000000000220010db80000000000000000000000018600873840c00708000000000000000001010a000000000205010000000005dc030440c000278d0000093a800000000020010db8000100000000000000000000";
const PORT_UNREACH =
  "60079ca800553a4020010db800000000000000000000000220010db8000000000000000000000001010408ec00000000600f28cd0025114020010db800000000000000000000000120010db8000000000000000000000002ab23003500250f3e1a2b01000001000000000000076578616d706c6503636f6d0000010001";
const ECHO_REQUEST =
  "6002102300183a4020010db800000000000000000000000120010db8000000000000000000000002800060c3be9d00016d616c6c6f72792d70696e672d763621";
const ECHO_REPLY =
  "600fc4c600183a4020010db800000000000000000000000220010db800000000000000000000000181005fc3be9d00016d616c6c6f72792d70696e672d763621";
// MLDv2 report behind a hop-by-hop header (router alert): ICMPv6 starts at byte 48.
const MLD =
  "6000000000380001fe8000000000000030485cfffef1dbf9ff0200000000000000000000000000163a000502000001008f0029cf0000000204000000ff0200000000000000000001fff1dbf904000000ff0200000000000000000001ff000002";

function capture(h: string, at = 40): { b: Uint8Array; at: number; len: number; pseudo: PseudoHeader } {
  const b = fromHex(h);
  return { b, at, len: b.length - at, pseudo: { family: 6, src: b.slice(8, 24), dst: b.slice(24, 40) } };
}
function value<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.field} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
}
/** Parses a captured packet, checks its checksum and that emit reproduces it exactly. */
function roundTrip(h: string, at = 40): Icmpv6Repr {
  const { b, len, pseudo } = capture(h, at);
  expect(icmpv6.verifyChecksum(b, at, len, pseudo)).toBe(true);
  const r = value(icmpv6.parse(b, at, len));
  expect(hex(icmpv6.emit(r, pseudo))).toBe(hex(b.subarray(at)));
  return r;
}

describe("captured NDP", () => {
  it("router solicitation with a source link-layer address", () => {
    expect(roundTrip(RS)).toEqual({
      kind: "router-solicitation",
      code: 0,
      checksum: 0x71ff,
      reserved: 0,
      options: [{ kind: "source-link-addr", addr: fromHex("aa20af472d2f") }],
    });
  });

  it("router advertisement: hop limit, M/O flags, lifetime, and SLLA, MTU and prefix options", () => {
    const r = roundTrip(RA);
    expect(r).toMatchObject({ kind: "router-advertisement", curHopLimit: 64, routerLifetime: 1800 });
    if (r.kind !== "router-advertisement") return;
    expect(r.flags).toBe(RaFlags.MANAGED | RaFlags.OTHER);
    expect([r.reachableTime, r.retransTimer]).toEqual([0, 0]);
    expect(r.options).toEqual([
      { kind: "source-link-addr", addr: fromHex("0a0000000002") },
      { kind: "mtu", reserved: 0, mtu: 1500 },
      {
        kind: "prefix-info",
        prefixLength: 64,
        flags: 0xc0,
        validLifetime: 2592000,
        preferredLifetime: 604800,
        reserved: 0,
        prefix: fromHex("20010db8000100000000000000000000"),
      },
    ]);
  });

  it("neighbour solicitation and advertisement with their targets and R/S/O flags", () => {
    const ns = roundTrip(NS);
    expect(ns).toMatchObject({ kind: "neighbor-solicitation", reserved: 0 });
    if (ns.kind !== "neighbor-solicitation") return;
    expect(hex(ns.target)).toBe("20010db8000000000000000000000002");
    expect(ns.options).toEqual([{ kind: "source-link-addr", addr: fromHex("aa20af472d2f") }]);
    const na = roundTrip(NA);
    if (na.kind !== "neighbor-advertisement") throw new Error(na.kind);
    expect(na.flags).toBe(NaFlags.SOLICITED | NaFlags.OVERRIDE);
    expect(hex(na.target)).toBe("20010db8000000000000000000000002");
    expect(na.options).toEqual([{ kind: "target-link-addr", addr: fromHex("32485cf1dbf9") }]);
  });
});

describe("captured echo and errors", () => {
  it("echo request and reply", () => {
    expect(roundTrip(ECHO_REQUEST)).toMatchObject({ kind: "echo-request", id: 48797, seq: 1 });
    const r = roundTrip(ECHO_REPLY);
    expect(r).toMatchObject({ kind: "echo-reply", id: 48797, seq: 1 });
    if (r.kind === "echo-reply") expect(new TextDecoder().decode(r.data.slice())).toBe("mallory-ping-v6!");
  });

  it("port unreachable embedding the UDP datagram; parseEmbedded reads its tuple", () => {
    const r = roundTrip(PORT_UNREACH);
    if (r.kind !== "dest-unreachable") throw new Error(r.kind);
    expect(r.code).toBe(icmpv6.Icmpv6UnreachableCode.PORT);
    const inner = value(icmpv6.parseEmbedded(r.embedded));
    expect(inner).toMatchObject({ protocol: 17, srcPort: 43811, dstPort: 53, payloadLength: 37, hopLimit: 64 });
    expect(hex(r.embedded.subarray(inner.srcOffset, inner.srcOffset + 16))).toBe("20010db8000000000000000000000001");
    expect(inner.flowLabel).toBe(0xf28cd);
    // Cut to the inner header + 8 bytes: still enough.
    expect(value(icmpv6.parseEmbedded(r.embedded, 0, 48)).transportCarried).toBe(8);
    expect(icmpv6.parseEmbedded(r.embedded, 0, 47)).toMatchObject({
      ok: false,
      error: { field: "embedded transport" },
    });
  });

  it("the view rewrites the echo id in place and refills the checksum", () => {
    const { b, at, len, pseudo } = capture(ECHO_REQUEST);
    const v = new Icmpv6View(b, at, len);
    expect(v.check()).toBeNull();
    expect([v.type, v.id, v.seq]).toEqual([Icmpv6Type.ECHO_REQUEST, 48797, 1]);
    v.id = 7;
    expect(v.verifyChecksum(pseudo)).toBe(false);
    v.fillChecksum(pseudo);
    expect(v.verifyChecksum(pseudo)).toBe(true);
  });

  it("keeps unknown types raw (MLDv2 report behind a hop-by-hop header)", () => {
    const r = roundTrip(MLD, 48);
    expect(r).toMatchObject({ kind: "other", type: Icmpv6Type.MLDV2_REPORT, rest: 2 });
  });
});

describe("embedded packets with extension headers", () => {
  it("walks a hop-by-hop header to the upper-layer header", () => {
    const inner = value(icmpv6.parseEmbedded(fromHex(MLD)));
    expect(inner).toMatchObject({ protocol: 58, transportOffset: 48, icmpType: 143, icmpCode: 0 });
  });

  it("walks a first fragment, refuses a non-first fragment and a header that is not carried", () => {
    const udp = fromHex(PORT_UNREACH).subarray(48);
    const withFrag = (offsetWord: number): Uint8Array => {
      const b = new Uint8Array(40 + 8 + udp.length);
      b.set(udp.subarray(0, 40));
      b[6] = 44;
      b.set([17, 0, offsetWord >> 8, offsetWord & 0xff, 0, 0, 0, 1], 40);
      b.set(udp.subarray(40), 48);
      return b;
    };
    expect(value(icmpv6.parseEmbedded(withFrag(0x0001)))).toMatchObject({
      protocol: 17,
      transportOffset: 48,
      dstPort: 53,
    });
    expect(icmpv6.parseEmbedded(withFrag(0x0008))).toMatchObject({
      ok: false,
      error: { field: "embedded fragment header", offset: 42 },
    });
    expect(icmpv6.parseEmbedded(withFrag(0), 0, 44)).toMatchObject({ ok: false, error: { offset: 44 } });
    const hbh = fromHex(MLD);
    expect(icmpv6.parseEmbedded(hbh, 0, 41)).toMatchObject({
      ok: false,
      error: { field: "embedded extension header" },
    });
    const v4 = fromHex(MLD);
    v4[0] = 0x45;
    expect(icmpv6.parseEmbedded(v4)).toMatchObject({ ok: false, error: { field: "embedded version", offset: 0 } });
  });
});

describe("errors and NDP edge cases", () => {
  const pseudo = capture(RA).pseudo;

  it("packet too big carries the MTU; parameter problem the pointer; time exceeded the RFC 4884 length", () => {
    const embedded = fromHex(PORT_UNREACH).subarray(48, 48 + 48);
    const cases: Icmpv6Repr[] = [
      { kind: "packet-too-big", code: 0, checksum: 0, mtu: 1280, embedded },
      { kind: "parameter-problem", code: 1, checksum: 0, pointer: 40, embedded },
      { kind: "time-exceeded", code: 0, checksum: 0, length: 6, unused: 0, embedded },
    ];
    const rest = ["00000500", "00000028", "06000000"];
    cases.forEach((repr, i) => {
      const b = icmpv6.emit(repr, pseudo);
      expect(hex(b.subarray(4, 8))).toBe(rest[i]);
      expect(isIcmpv6Error(b[0])).toBe(true);
      expect(value(icmpv6.parse(b))).toEqual({ ...repr, checksum: readU16(b, Icmpv6Field.CHECKSUM) });
      expect(value(icmpv6.parseEmbedded(b, 8)).dstPort).toBe(53);
    });
    expect([0, 1, 4, 127, 128, 135, 255].map(isIcmpv6Error)).toEqual([true, true, true, true, false, false, false]);
  });

  it("rejects zero-length, overlong and wrongly sized NDP options, and short NDP messages", () => {
    const { b, at, len } = capture(RA);
    const zero = b.slice();
    zero[at + 17] = 0;
    expect(icmpv6.parse(zero, at, len)).toMatchObject({ ok: false, error: { field: "ndp option 1", offset: at + 17 } });
    const over = b.slice();
    over[at + 17] = 9;
    expect(icmpv6.parse(over, at, len)).toMatchObject({ ok: false, error: { offset: at + 17 } });
    const mtu = b.slice();
    mtu[at + 25] = 2;
    expect(icmpv6.parse(mtu, at, len)).toMatchObject({ ok: false, error: { field: "ndp option mtu" } });
    expect(icmpv6.parse(b, at, 15)).toMatchObject({
      ok: false,
      error: { field: "router advertisement", offset: at + 15 },
    });
    expect(icmpv6.parse(b, at, 17)).toMatchObject({ ok: false, error: { offset: at + 16 } });
    const ns = capture(NS);
    expect(icmpv6.parse(ns.b, ns.at, 23)).toMatchObject({ ok: false, error: { field: "neighbor solicitation" } });
    expect(icmpv6.parse(ns.b, ns.at, 7)).toMatchObject({ ok: false, error: { field: "header", offset: ns.at + 7 } });
  });

  it("pads a link-layer address that does not fill 8-byte units", () => {
    const repr: Icmpv6Repr = {
      kind: "router-solicitation",
      code: 0,
      checksum: 0,
      reserved: 0,
      options: [{ kind: "source-link-addr", addr: fromHex("0102030405") }],
    };
    const b = icmpv6.emit(repr, pseudo);
    expect(hex(b.subarray(8))).toBe("0101010203040500");
  });
});

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u24 = fc.integer({ min: 0, max: 0xffffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = fc.uint8Array({ maxLength: 64 });
const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
const ndpKnown = new Set([1, 2, 3, 5]);
/** Data lengths that fill whole 8-byte units (6, 14, ...), as parse returns them. */
const unitData = fc
  .integer({ min: 0, max: 3 })
  .chain((n) => fc.uint8Array({ minLength: 6 + 8 * n, maxLength: 6 + 8 * n }));
const ndpOption: fc.Arbitrary<NdpOption> = fc.oneof(
  fc.record({ kind: fc.constantFrom("source-link-addr" as const, "target-link-addr" as const), addr: unitData }),
  fc.record({
    kind: fc.constant("prefix-info" as const),
    prefixLength: u8,
    flags: u8,
    validLifetime: u32,
    preferredLifetime: u32,
    reserved: u32,
    prefix: addr,
  }),
  fc.record({ kind: fc.constant("mtu" as const), reserved: u16, mtu: u32 }),
  fc.record({ kind: fc.constant("unknown" as const), type: u8.filter((t) => !ndpKnown.has(t)), data: unitData }),
);
const options = fc.array(ndpOption, { maxLength: 4 });
const knownTypes = new Set([1, 2, 3, 4, 128, 129, 133, 134, 135, 136]);
const base = { code: u8, checksum: fc.constant(0) };
const reprArb: fc.Arbitrary<Icmpv6Repr> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("echo-request" as const, "echo-reply" as const),
    ...base,
    id: u16,
    seq: u16,
    data: bytes,
  }),
  fc.record({
    kind: fc.constantFrom("dest-unreachable" as const, "time-exceeded" as const),
    ...base,
    length: u8,
    unused: u24,
    embedded: bytes,
  }),
  fc.record({ kind: fc.constant("packet-too-big" as const), ...base, mtu: u32, embedded: bytes }),
  fc.record({ kind: fc.constant("parameter-problem" as const), ...base, pointer: u32, embedded: bytes }),
  fc.record({ kind: fc.constant("router-solicitation" as const), ...base, reserved: u32, options }),
  fc.record({
    kind: fc.constant("router-advertisement" as const),
    ...base,
    curHopLimit: u8,
    flags: u8,
    routerLifetime: u16,
    reachableTime: u32,
    retransTimer: u32,
    options,
  }),
  fc.record({ kind: fc.constant("neighbor-solicitation" as const), ...base, reserved: u32, target: addr, options }),
  fc.record({
    kind: fc.constant("neighbor-advertisement" as const),
    ...base,
    flags: u8,
    reserved: u24,
    target: addr,
    options,
  }),
  fc.record({
    kind: fc.constant("other" as const),
    type: u8.filter((t) => !knownTypes.has(t)),
    ...base,
    rest: u32,
    data: bytes,
  }),
);
const pseudoArb = fc.record({ family: fc.constant(6 as const), src: addr, dst: addr });

describe("properties", () => {
  fcTest.prop([reprArb, pseudoArb], { numRuns: 3000 })(
    "repr → emit → parse gives it back with a valid checksum; emit(parse(b)) = b",
    (repr, pseudo) => {
      const b = icmpv6.emit(repr, pseudo);
      expect(b.length).toBe(icmpv6.bufferLen(repr));
      expect(icmpv6.verifyChecksum(b, 0, b.length, pseudo)).toBe(true);
      const back = value(icmpv6.parse(b));
      expect(back).toEqual({ ...repr, checksum: readU16(b, Icmpv6Field.CHECKSUM) });
      expect(hex(icmpv6.emit(back, pseudo))).toBe(hex(b));
    },
  );

  const fixtures = [RS, NS, NA, RA, PORT_UNREACH, ECHO_REQUEST].map((h) => fromHex(h).subarray(40));
  const mutated = fc
    .tuple(fc.constantFrom(...fixtures), fc.array(fc.tuple(fc.nat(), u8), { maxLength: 4 }), fc.nat())
    .map(([f, muts, cut]) => {
      const b = f.slice(0, f.length - (cut % (f.length + 1)));
      for (const [i, v] of muts) if (b.length > 0) b[i % b.length] = v;
      return b;
    });
  const input = fc.oneof(fc.uint8Array({ maxLength: 100 }), mutated);

  fcTest.prop([input, fc.nat({ max: 8 }), fc.nat({ max: 8 })], { numRuns: 20000 })(
    "parse never throws; errors point inside [at, at+len]; valid input re-emits unchanged",
    (b, pre, post) => {
      const buf = new Uint8Array(pre + b.length + post);
      buf.set(b, pre);
      const r = icmpv6.parse(buf, pre, b.length);
      if (!r.ok) {
        expect(r.error.offset).toBeGreaterThanOrEqual(pre);
        expect(r.error.offset).toBeLessThanOrEqual(pre + b.length);
      } else {
        const again = icmpv6.emit(r.value, { family: 6, src: new Uint8Array(16), dst: new Uint8Array(16) });
        expect(hex(again.subarray(0, 2)) + hex(again.subarray(4))).toBe(hex(b.subarray(0, 2)) + hex(b.subarray(4)));
      }
    },
  );

  const embeddedInput = fc.oneof(
    fc.uint8Array({ maxLength: 100 }),
    mutated,
    fc.tuple(fc.constantFrom(fromHex(MLD), fromHex(PORT_UNREACH).subarray(48)), fc.nat(), u8).map(([f, i, v]) => {
      const b = f.slice();
      b[i % b.length] = v;
      return b.subarray(0, 40 + (i % (b.length - 39)));
    }),
  );
  fcTest.prop([embeddedInput, fc.nat({ max: 8 }), fc.nat({ max: 8 })], { numRuns: 20000 })(
    "parseEmbedded never throws and errors point inside [at, at+len]",
    (b, pre, post) => {
      const buf = new Uint8Array(pre + b.length + post);
      buf.set(b, pre);
      const r = icmpv6.parseEmbedded(buf, pre, b.length);
      if (!r.ok) {
        expect(r.error.offset).toBeGreaterThanOrEqual(pre);
        expect(r.error.offset).toBeLessThanOrEqual(pre + b.length);
      } else {
        expect(r.value.transportOffset + 8).toBeLessThanOrEqual(pre + b.length);
      }
    },
  );
});
