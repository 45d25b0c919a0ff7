import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatIpv6, ipv6ToWords, parseIpv6 } from "./address.js";
import { fromHex, hex } from "./bytes.js";
import * as ipv6 from "./ipv6.js";
import { IPV6_HEADER_LEN, Ipv6Field, Ipv6NextHeader, Ipv6UpperLayer, Ipv6View, upperLayer } from "./ipv6.js";
import type { Ipv6Extension, Ipv6Repr } from "./ipv6.js";

const A1 = "20010db8000000000000000000000001";
const A2 = "20010db8000000000000000000000002";
/** n bytes counting up from `start` (mod 256): the UDP payload the capture below was made with. */
const counting = (start: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

// Captured by tcpdump on a veth pair between two network namespaces (Linux 6.x, MTU 1280, checksum offload off).
// TCP SYN [2001:db8::1]:49698 → [2001:db8::2]:8080, flow label 0x7abd2.
const SYN = fromHex(
  `6007abd20028064020010db8000000000000000000000001${A2}` +
    "c2221f90a749d30e00000000a002fc9479150000020404c40402080ac07f5b43000000000103030a",
);
// A 1536-byte UDP datagram sent with IPV6_HOPOPTS (PadN) and IPV6_DSTOPTS (unknown option 0x1e) set, which the
// kernel fragments: Hop-by-Hop → Destination Options → Fragment (offset 0, M) → UDP ... and the second fragment.
const FRAG_FIRST = concat(
  fromHex(
    `600576d404d80040${A1}${A2}` +
      "3c00010400000000" + // Hop-by-Hop: next 60, PadN(4)
      "2c001e04deadbeef" + // Destination Options: next 44, option 0x1e with 4 bytes
      "110000013b0a9b36" + // Fragment: next 17, offset 0, M=1, id 0x3b0a9b36
      "9168000906088579", // UDP 37224 → 9, length 1544
  ),
  counting(0, 1208),
);
const FRAG_SECOND = concat(
  fromHex(`600576d401600040${A1}${A2}3c000104000000002c001e04deadbeef110004c03b0a9b36`),
  counting(0xb8, 328),
);
// Hand-built (tshark decodes it as shown): Routing type 2 (home address 2001:db8::99) → AH (SPI 0x1000, seq 1,
// 12-byte ICV) → UDP 5000 → 9 "hi"; traffic class 0x2e, flow label 0x12345.
const RH_AH = fromHex(
  `62e12345003a2b40${A1}${A2}` +
    "3302020100000000" +
    "20010db8000000000000000000000099" +
    "1104000000001000000000010102030405060708090a0b0c" +
    "13880009000a00006869",
);
const FIXTURES = [SYN, FRAG_FIRST, FRAG_SECOND, RH_AH];

function parsed(b: Uint8Array, at?: number, len?: number): Ipv6Repr {
  const r = ipv6.parse(b, at, len);
  if (!r.ok) throw new Error(`fixture did not parse: ${r.error.field}: ${r.error.message}`);
  return r.value;
}

/** A packet with the given next header and payload, for chain edge cases. */
function packet(nextHeader: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(IPV6_HEADER_LEN + payload.length);
  b.set(fromHex(`6000000000000040${A1}${A2}`));
  b[Ipv6Field.PAYLOAD_LEN] = payload.length >>> 8;
  b[Ipv6Field.PAYLOAD_LEN + 1] = payload.length & 0xff;
  b[Ipv6Field.NEXT_HEADER] = nextHeader;
  b.set(payload, IPV6_HEADER_LEN);
  return b;
}

/** Comparable form of a repr (subarrays as hex). */
function plain(r: Ipv6Repr): unknown {
  return {
    ...r,
    src: hex(r.src),
    dst: hex(r.dst),
    payload: hex(r.payload),
    extensions: r.extensions.map((e) => (e.kind === "fragment" ? e : { kind: e.kind, data: hex(e.data) })),
  };
}

const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
const rawExt = fc.oneof(
  fc
    .tuple(fc.constantFrom("hop-by-hop" as const, "routing" as const, "destination" as const), fc.nat(3))
    .chain(([kind, units]) =>
      fc.uint8Array({ minLength: 6 + 8 * units, maxLength: 6 + 8 * units }).map((data) => ({ kind, data })),
    ),
  fc
    .nat(6)
    .chain((units) =>
      fc
        .uint8Array({ minLength: 6 + 4 * units, maxLength: 6 + 4 * units })
        .map((data) => ({ kind: "auth" as const, data })),
    ),
);
const fragment = (offset: fc.Arbitrary<number>): fc.Arbitrary<Ipv6Extension> =>
  fc.record({
    kind: fc.constant("fragment" as const),
    reserved: fc.nat(255),
    reservedBits: fc.nat(3),
    fragmentOffset: offset,
    moreFragments: fc.boolean(),
    ident: fc.integer({ min: 0, max: 0xffffffff }),
  });
const upperProto = fc.nat(255).filter((n) => !ipv6.isExtensionHeader(n));
/** Valid reprs: a non-first fragment only last (then any next header), else a non-extension next header. */
const reprArb: fc.Arbitrary<Ipv6Repr> = fc
  .tuple(
    fc.array(fc.oneof(rawExt, fragment(fc.constant(0))), { maxLength: 4 }),
    fc.option(fragment(fc.integer({ min: 1, max: 0x1fff })), { nil: null }),
  )
  .chain(([exts, lastFrag]) =>
    fc.record({
      trafficClass: fc.nat(255),
      flowLabel: fc.nat(0xfffff),
      hopLimit: fc.nat(255),
      src: addr,
      dst: addr,
      extensions: fc.constant(lastFrag ? [...exts, lastFrag] : exts),
      nextHeader: lastFrag ? fc.nat(255) : upperProto,
      payload: fc.uint8Array({ maxLength: 64 }),
    }),
  );

const fuzzInput = fc
  .oneof(
    fc.uint8Array({ maxLength: 120 }),
    fc
      .tuple(
        fc.constantFrom(SYN, RH_AH, FRAG_SECOND.subarray(0, 100), FRAG_FIRST.subarray(0, 100)),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }),
        fc.nat(),
      )
      .map(([f, edits, cut]) => {
        const b = f.slice();
        // Keep the version mostly intact so mutations reach the chain; the payload length is fair game.
        for (const [i, v] of edits) b[1 + (i % (b.length - 1))] = v;
        return b.subarray(0, cut % (b.length + 1));
      }),
  )
  .chain((b) => fc.nat(b.length).chain((at) => fc.tuple(fc.constant(b), fc.constant(at), fc.nat(b.length - at))));

describe("ipv6 parse", () => {
  it("reads the fixed header of a TCP SYN", () => {
    const r = parsed(SYN);
    expect(plain(r)).toEqual({
      trafficClass: 0,
      flowLabel: 0x7abd2,
      hopLimit: 64,
      src: A1,
      dst: A2,
      extensions: [],
      nextHeader: Ipv6NextHeader.TCP,
      payload: hex(SYN.subarray(40)),
    });
    expect(formatIpv6(r.src)).toBe("2001:db8::1");
    expect(r.src.buffer).toBe(SYN.buffer); // zero-copy
  });

  it("walks Hop-by-Hop → Destination Options → Fragment to UDP in a first fragment", () => {
    const r = parsed(FRAG_FIRST);
    expect(r.extensions).toEqual([
      { kind: "hop-by-hop", data: fromHex("010400000000") },
      { kind: "destination", data: fromHex("1e04deadbeef") },
      { kind: "fragment", reserved: 0, reservedBits: 0, fragmentOffset: 0, moreFragments: true, ident: 0x3b0a9b36 },
    ]);
    expect(r.nextHeader).toBe(Ipv6NextHeader.UDP);
    expect(r.payload.length).toBe(1216);
    expect(hex(r.payload.subarray(0, 8))).toBe("9168000906088579");
  });

  it("stops at a non-first fragment: the rest is fragment data, not a header", () => {
    const r = parsed(FRAG_SECOND);
    expect(r.extensions.map((e) => e.kind)).toEqual(["hop-by-hop", "destination", "fragment"]);
    expect(r.extensions[2]).toMatchObject({ fragmentOffset: 152, moreFragments: false, ident: 0x3b0a9b36 });
    expect(r.nextHeader).toBe(Ipv6NextHeader.UDP);
    expect(hex(r.payload)).toBe(hex(counting(0xb8, 328)));
    // The second fragment starts where the first one's fragmentable part (UDP header and data) ends; Linux sent
    // the Destination Options header in the unfragmentable part, before the Fragment header.
    expect(152 * 8).toBe(parsed(FRAG_FIRST).payload.length);
  });

  it("walks Routing and AH headers, with traffic class and flow label", () => {
    const r = parsed(RH_AH);
    expect([r.trafficClass, r.flowLabel, r.nextHeader]).toEqual([0x2e, 0x12345, Ipv6NextHeader.UDP]);
    expect(r.extensions.map((e) => e.kind)).toEqual(["routing", "auth"]);
    const [rh, ah] = r.extensions;
    if (rh.kind === "fragment" || ah.kind === "fragment") throw new Error("unexpected fragment");
    expect(rh.data.length).toBe(22);
    expect([rh.data[0], rh.data[1]]).toEqual([2, 1]); // routing type 2, segments left 1
    expect(formatIpv6(rh.data.subarray(6))).toBe("2001:db8::99");
    expect(ah.data.length).toBe(22); // (4 + 2) × 4 − 2
    expect(hex(ah.data.subarray(2, 10))).toBe("0000100000000001");
    expect(new TextDecoder().decode(r.payload.subarray(8))).toBe("hi");
  });

  it("ignores link padding after the payload length and reads at an offset", () => {
    const buf = new Uint8Array(RH_AH.length + 20);
    buf.set(RH_AH, 8);
    const r = parsed(buf, 8);
    expect(plain(r)).toEqual(plain(parsed(RH_AH)));
    expect(hex(ipv6.emit(r))).toBe(hex(RH_AH));
  });

  it("keeps what follows No Next Header and ESP as payload", () => {
    const nnh = parsed(packet(Ipv6NextHeader.NO_NEXT_HEADER, fromHex("deadbeef")));
    expect([nnh.nextHeader, hex(nnh.payload), nnh.extensions.length]).toEqual([59, "deadbeef", 0]);
    const esp = parsed(packet(Ipv6NextHeader.ESP, fromHex("0000100000000001aa")));
    expect([esp.nextHeader, esp.payload.length]).toEqual([50, 9]);
  });

  it("returns a typed error for a jumbogram", () => {
    const r = ipv6.parse(packet(Ipv6NextHeader.HOP_BY_HOP, new Uint8Array(0)));
    expect(r.ok ? null : [r.error.field, r.error.offset]).toEqual(["payload-length", Ipv6Field.PAYLOAD_LEN]);
  });

  it.each([
    ["short header", SYN.subarray(0, 39), "header", 0],
    ["version", concat(fromHex("40"), SYN.subarray(1)), "version", 0],
    ["payload length past the buffer", SYN.subarray(0, 79), "payload-length", 4],
    ["truncated Hop-by-Hop", packet(0, fromHex("3b")), "hop-by-hop-header", 40],
    [
      "Hop-by-Hop longer than the payload",
      packet(0, fromHex("3b020000000000000000000000000000")),
      "hop-by-hop-length",
      41,
    ],
    ["truncated Fragment", packet(44, fromHex("11000001")), "fragment-header", 40],
    ["AH longer than the payload", packet(51, fromHex("1104000000001000")), "auth-length", 41],
  ] as const)("rejects a bad %s", (_name, b, field, offset) => {
    const r = ipv6.parse(b);
    expect(r.ok ? null : [r.error.protocol, r.error.field, r.error.offset]).toEqual(["ipv6", field, offset]);
    expect(upperLayer(b, 0, b.length)).toBe(-1);
  });
});

describe("upperLayer", () => {
  it("finds the transport header and reports the fragment", () => {
    const out = new Ipv6UpperLayer();
    expect(upperLayer(FRAG_FIRST, 0, FRAG_FIRST.length, out)).toBe(64);
    expect(out).toMatchObject({
      nextHeader: 17,
      end: FRAG_FIRST.length,
      malformed: false,
      isFragment: true,
      fragmentOffset: 0,
      moreFragments: true,
      fragmentIdent: 0x3b0a9b36,
    });
    expect(upperLayer(FRAG_SECOND, 0, FRAG_SECOND.length, out)).toBe(-1);
    expect(out).toMatchObject({
      nextHeader: 17,
      malformed: false,
      isFragment: true,
      fragmentOffset: 152,
      moreFragments: false,
    });
    expect(upperLayer(RH_AH, 0, RH_AH.length, out)).toBe(88);
    expect(out).toMatchObject({ nextHeader: 17, isFragment: false, malformed: false });
    expect(upperLayer(SYN, 0, SYN.length)).toBe(40);
    expect(ipv6.upperLayerInfo.nextHeader).toBe(6);
  });

  it("works inside an Ethernet frame", () => {
    const frame = concat(fromHex("a600c440328fc6261428e68b86dd"), RH_AH, new Uint8Array(4));
    const out = new Ipv6UpperLayer();
    expect(upperLayer(frame, 14, frame.length - 14, out)).toBe(14 + 88);
    expect(out.end).toBe(14 + RH_AH.length);
  });

  it("ends at ESP (an upper layer) and at No Next Header (none)", () => {
    const out = new Ipv6UpperLayer();
    expect(upperLayer(packet(50, new Uint8Array(8)), 0, 48, out)).toBe(40);
    expect(out.nextHeader).toBe(50);
    expect(upperLayer(packet(59, new Uint8Array(0)), 0, 40, out)).toBe(-1);
    expect([out.nextHeader, out.malformed]).toEqual([59, false]);
    expect(upperLayer(packet(0, new Uint8Array(0)), 0, 40, out)).toBe(-1);
    expect(out.malformed).toBe(true);
  });
});

describe("ipv6 emit", () => {
  it.each(FIXTURES.map((f, i) => [i, f] as const))("reproduces fixture %i byte for byte", (_i, f) => {
    expect(hex(ipv6.emit(parsed(f)))).toBe(hex(f));
  });

  it("derives payload length and every next-header byte from the repr", () => {
    const r = parsed(FRAG_FIRST);
    const withoutDest = ipv6.emit({
      ...r,
      extensions: [r.extensions[0], r.extensions[2]],
      payload: r.payload.subarray(0, 8),
    });
    expect(hex(withoutDest)).toBe(
      `6005 76d4 0018 0040 ${A1}${A2} 2c00010400000000 110000013b0a9b36 9168000906088579`.replace(/ /g, ""),
    );
  });

  it("refuses extension data that no length byte can express", () => {
    const base = parsed(SYN);
    expect(() => ipv6.emit({ ...base, extensions: [{ kind: "hop-by-hop", data: new Uint8Array(7) }] })).toThrow(
      RangeError,
    );
    expect(() => ipv6.emit({ ...base, extensions: [{ kind: "auth", data: new Uint8Array(8) }] })).toThrow(RangeError);
    expect(() => ipv6.emit({ ...base, extensions: [{ kind: "routing", data: new Uint8Array(6 + 8 * 256) }] })).toThrow(
      RangeError,
    );
    expect(() => ipv6.emit({ ...base, payload: new Uint8Array(65536) })).toThrow(RangeError);
  });

  it("writes at an offset", () => {
    const buf = new Uint8Array(RH_AH.length + 6).fill(0xee);
    expect(ipv6.emitInto(parsed(RH_AH), buf, 3)).toBe(RH_AH.length);
    expect(hex(buf.subarray(3, 3 + RH_AH.length))).toBe(hex(RH_AH));
    expect([buf[2], buf[3 + RH_AH.length]]).toEqual([0xee, 0xee]);
  });
});

describe("Ipv6View", () => {
  it("reads and writes the fixed header in place", () => {
    const b = RH_AH.slice();
    const v = new Ipv6View(b);
    expect(v.check()).toBeNull();
    expect([v.version, v.trafficClass, v.flowLabel, v.payloadLength, v.nextHeader, v.hopLimit]).toEqual([
      6, 0x2e, 0x12345, 58, 43, 64,
    ]);
    expect([v.headerLength, v.totalLength, v.payloadOffset, v.payload.length]).toEqual([40, 98, 40, 58]);
    const words = new Uint32Array(4);
    ipv6ToWords(b, v.dstOffset, words);
    expect(Array.from(words)).toEqual([0x20010db8, 0, 0, 2]);
    v.trafficClass = 0xb8;
    v.flowLabel = 0xfffff;
    v.hopLimit = 1;
    v.src = parseIpv6("fd00::1") ?? new Uint8Array(16);
    v.dst = parseIpv6("fe80::2") ?? new Uint8Array(16);
    const r = parsed(b);
    expect([r.trafficClass, r.flowLabel, r.hopLimit, formatIpv6(r.src), formatIpv6(r.dst)]).toEqual([
      0xb8,
      0xfffff,
      1,
      "fd00::1",
      "fe80::2",
    ]);
    expect(v.version).toBe(6);
    expect(hex(b.subarray(40))).toBe(hex(RH_AH.subarray(40)));
    v.nextHeader = 59;
    v.payloadLength = 2;
    expect(parsed(b)).toMatchObject({ nextHeader: 59, extensions: [] });
    expect(parsed(b).payload.length).toBe(2);
  });

  it("check rejects what parse rejects in the fixed header", () => {
    const v = new Ipv6View();
    expect(v.check()?.field).toBe("header");
    expect(v.wrap(SYN, 0, 60).check()?.field).toBe("payload-length");
    expect(v.wrap(SYN, 0, 80).check()).toBeNull();
  });
});

describe("ipv6 properties", () => {
  it("parse(emit(repr)) gives back the repr and agrees with upperLayer; emit(parse(b)) = b", () => {
    const out = new Ipv6UpperLayer();
    fc.assert(
      fc.property(reprArb, (repr) => {
        const b = ipv6.emit(repr);
        const back = parsed(b);
        expect(plain(back)).toEqual(plain(repr));
        expect(hex(ipv6.emit(back))).toBe(hex(b));
        const l4 = upperLayer(b, 0, b.length, out);
        expect(out.nextHeader).toBe(repr.nextHeader);
        const last = repr.extensions.at(-1);
        const nonFirst = last?.kind === "fragment" && last.fragmentOffset > 0;
        expect(l4).toBe(nonFirst || repr.nextHeader === 59 ? -1 : b.length - repr.payload.length);
        expect(out.isFragment).toBe(repr.extensions.some((e) => e.kind === "fragment"));
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on arbitrary input; errors point inside the window; upperLayer agrees", () => {
    const out = new Ipv6UpperLayer();
    fc.assert(
      fc.property(fuzzInput, ([b, at, len]) => {
        const r = ipv6.parse(b, at, len);
        const l4 = upperLayer(b, at, len, out);
        if (r.ok) {
          expect(out.malformed).toBe(false);
          expect(out.nextHeader).toBe(r.value.nextHeader);
          const end = at + ipv6.bufferLen(r.value);
          expect(out.end).toBe(end);
          if (l4 >= 0) expect(l4).toBe(end - r.value.payload.length);
          expect(hex(ipv6.emit(r.value))).toBe(hex(b.subarray(at, end)));
        } else {
          expect(out.malformed).toBe(true);
          expect(l4).toBe(-1);
          expect(r.error.protocol).toBe("ipv6");
          expect(r.error.offset).toBeGreaterThanOrEqual(at);
          expect(r.error.offset).toBeLessThanOrEqual(at + len);
        }
      }),
      { numRuns: 20000 },
    );
  });
});
