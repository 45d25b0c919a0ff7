import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIpv4 } from "./address.js";
import { fromHex, hex } from "./bytes.js";
import { internetChecksum } from "./checksum.js";
import * as ipv4 from "./ipv4.js";
import {
  IPV4_HEADER_LEN,
  IpProtocol,
  Ipv4Field,
  Ipv4OptionType,
  Ipv4View,
  listOptions,
  protocolName,
  verifyChecksum,
} from "./ipv4.js";
import type { Ipv4Repr } from "./ipv4.js";

// All captured by tcpdump on a veth pair between two network namespaces (Linux 6.x, checksum offload off).
// TCP SYN 192.0.2.1:51938 → 192.0.2.2:8080 with MSS, SACK-permitted, timestamps, NOP, window scale.
const SYN = fromHex(
  "4500003c022e40004006b48ac0000201c0000202" +
    "cae21f900ce675dd00000000a002fbe02b320000020404d80402080a8c25a466000000000103030a",
);
// The RST, ACK answer from the closed port.
const RST = fromHex("45000028000040004006b6ccc0000202c00002011f90cae2000000000ce675de50140000be950000");
// UDP "record-route" sent with setsockopt(IP_OPTIONS) = Record Route (RFC 791 §3.1): IHL 15, the kernel has
// recorded its own address in the first of nine slots (pointer 8), then one End-of-List byte.
const RECORD_ROUTE = fromHex(
  "4f00005047e34000401153cdc0000201c0000202" +
    "072708c0000201000000000000000000000000000000000000000000000000000000000000000000" +
    "8f9600090014929c7265636f72642d726f757465",
);
// The ICMP port unreachable answer: it carries a Record Route with three hops recorded (pointer 16) and quotes
// the offending header as received, its option holding two (pointer 12).
const ICMP_ERROR = fromHex(
  "4fc0009444950000400188a3c0000202c0000201072710c0000201c0000202c000020200000000000000000000000000000000000000000000000000" +
    "03037a64000000004f00005047e34000401153cdc0000201c000020207270cc0000201c0000202" +
    "00000000000000000000000000000000000000000000000000000000008f9600090014929c7265636f72642d726f757465",
);
const FIXTURES = [SYN, RST, RECORD_ROUTE, ICMP_ERROR];

const ip = (s: string): number => parseIpv4(s) ?? -1;

function parsed(b: Uint8Array, at?: number, len?: number): Ipv4Repr {
  const r = ipv4.parse(b, at, len);
  if (!r.ok) throw new Error(`fixture did not parse: ${r.error.field}: ${r.error.message}`);
  return r.value;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const reprArb: fc.Arbitrary<Ipv4Repr> = fc.record({
  dscp: fc.nat(63),
  ecn: fc.nat(3),
  ident: fc.nat(0xffff),
  reservedFlag: fc.boolean(),
  dontFragment: fc.boolean(),
  moreFragments: fc.boolean(),
  fragmentOffset: fc.nat(0x1fff),
  ttl: fc.nat(255),
  protocol: fc.nat(255),
  checksum: fc.nat(0xffff),
  src: u32,
  dst: u32,
  options: fc.nat(10).chain((words) => fc.uint8Array({ minLength: 4 * words, maxLength: 4 * words })),
  payload: fc.uint8Array({ maxLength: 80 }),
});

const fuzzInput = fc
  .oneof(
    fc.uint8Array({ maxLength: 80 }),
    fc
      .tuple(fc.constantFrom(...FIXTURES), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), fc.nat())
      .map(([f, edits, cut]) => {
        const b = f.slice();
        for (const [i, v] of edits) b[i % Math.min(b.length, 24)] = v; // mostly hit the header
        return b.subarray(0, cut % (b.length + 1));
      }),
  )
  .chain((b) => fc.nat(b.length).chain((at) => fc.tuple(fc.constant(b), fc.constant(at), fc.nat(b.length - at))));

describe("ipv4 parse", () => {
  it("reads every field of a TCP SYN", () => {
    const r = parsed(SYN);
    expect(r).toMatchObject({
      dscp: 0,
      ecn: 0,
      ident: 0x022e,
      reservedFlag: false,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: IpProtocol.TCP,
      checksum: 0xb48a,
      src: ip("192.0.2.1"),
      dst: ip("192.0.2.2"),
    });
    expect(r.options.length).toBe(0);
    expect(r.payload.length).toBe(40);
    expect(hex(r.payload.subarray(0, 4))).toBe("cae21f90"); // ports 51938 → 8080
    expect(verifyChecksum(SYN)).toBe(true);
  });

  it("keeps the Record Route option raw and lists it", () => {
    const r = parsed(RECORD_ROUTE);
    expect(r.options.length).toBe(40);
    expect(r.protocol).toBe(IpProtocol.UDP);
    expect(new TextDecoder().decode(r.payload.subarray(8))).toBe("record-route");
    const opts = listOptions(r.options, Ipv4Field.OPTIONS);
    expect(opts.ok).toBe(true);
    if (!opts.ok) return;
    expect(opts.value.length).toBe(1);
    const [rr] = opts.value;
    expect(rr.type).toBe(Ipv4OptionType.RECORD_ROUTE);
    expect(rr.data.length).toBe(37); // pointer + 9 slots of 4 bytes
    expect(rr.data[0]).toBe(8);
    expect(hex(rr.data.subarray(1, 5))).toBe("c0000201");
    expect(verifyChecksum(RECORD_ROUTE)).toBe(true);
  });

  it("reads an ICMP error with DSCP CS6 and options, quoting the offending packet", () => {
    const r = parsed(ICMP_ERROR);
    expect([r.dscp, r.ecn, r.protocol, r.dontFragment, r.ttl]).toEqual([48, 0, IpProtocol.ICMP, false, 64]);
    expect(r.options[2]).toBe(16);
    const inner = parsed(r.payload, 8);
    expect([inner.src, inner.dst, inner.protocol, inner.options.length]).toEqual([
      ip("192.0.2.1"),
      ip("192.0.2.2"),
      17,
      40,
    ]);
  });

  it("ignores Ethernet padding after the total length", () => {
    const padded = new Uint8Array(RST.length + 6);
    padded.set(RST);
    const r = parsed(padded);
    expect(r.payload.length).toBe(20);
    expect(hex(ipv4.emit(r))).toBe(hex(RST));
    expect(new Ipv4View(padded).payload.length).toBe(20);
  });

  it("reports a bad checksum without rejecting the packet", () => {
    const b = SYN.slice();
    b[Ipv4Field.TTL] = 1;
    const r = parsed(b);
    expect(r.checksum).toBe(0xb48a);
    expect(verifyChecksum(b)).toBe(false);
    expect(verifyChecksum(ipv4.emit(r))).toBe(true);
  });

  it.each([
    ["version", 0, 0x65, "version", 0],
    ["IHL below 5", 0, 0x44, "ihl", 0],
    ["total length below the header", 3, 19, "total-length", 2],
    ["total length past the buffer", 3, 61, "total-length", 2],
  ] as const)("rejects a bad %s", (_name, index, value, field, offset) => {
    const b = new Uint8Array(SYN.length + 4);
    b.set(SYN, 4);
    b[4 + index] = value;
    const r = ipv4.parse(b, 4, SYN.length);
    expect(r.ok ? null : [r.error.protocol, r.error.field, r.error.offset]).toEqual(["ipv4", field, 4 + offset]);
  });

  it("rejects a short header", () => {
    const r = ipv4.parse(SYN.subarray(0, 19));
    expect(r.ok ? null : r.error.field).toBe("header");
    expect(verifyChecksum(SYN.subarray(0, 19))).toBe(false);
    expect(verifyChecksum(SYN, 60)).toBe(false);
    const longIhl = RST.slice();
    longIhl[0] = 0x4f; // 60-byte header in a 40-byte packet
    const r2 = ipv4.parse(longIhl);
    expect(r2.ok ? null : [r2.error.field, r2.error.offset]).toEqual(["ihl", 0]);
    expect(verifyChecksum(longIhl)).toBe(false);
  });

  it("flags malformed option lists", () => {
    expect(listOptions(fromHex("0101")).ok).toBe(true);
    expect(listOptions(fromHex("01010000ffff")).ok).toBe(true); // nothing after End of List is read
    const noLen = listOptions(fromHex("0107"), 20);
    expect(noLen.ok ? null : [noLen.error.field, noLen.error.offset]).toEqual(["option-length", 21]);
    const tooLong = listOptions(fromHex("070901000000"), 20);
    expect(tooLong.ok ? null : [tooLong.error.field, tooLong.error.offset]).toEqual(["option-length", 21]);
    expect(listOptions(fromHex("0701")).ok).toBe(false);
  });
});

describe("ipv4 emit", () => {
  it.each(FIXTURES.map((f, i) => [i, f] as const))("reproduces fixture %i byte for byte", (_i, f) => {
    expect(hex(ipv4.emit(parsed(f)))).toBe(hex(f));
  });

  it("pads options to a 4-byte boundary with End of List", () => {
    const r = { ...parsed(SYN), options: fromHex("940400") }; // Router Alert (RFC 2113), 3 of its 4 bytes
    const b = ipv4.emit(r);
    expect(b[0]).toBe(0x46);
    expect(hex(b.subarray(20, 24))).toBe("94040000");
    expect(verifyChecksum(b)).toBe(true);
    expect(ipv4.bufferLen(r)).toBe(24 + 40);
  });

  it("refuses a repr it cannot express", () => {
    expect(() => ipv4.emit({ ...parsed(SYN), options: new Uint8Array(44) })).toThrow(RangeError);
    expect(() => ipv4.emit({ ...parsed(SYN), payload: new Uint8Array(65516) })).toThrow(RangeError);
  });

  it("writes at an offset", () => {
    const buf = new Uint8Array(SYN.length + 8).fill(0xee);
    expect(ipv4.emitInto(parsed(SYN), buf, 5)).toBe(SYN.length);
    expect(hex(buf.subarray(5, 5 + SYN.length))).toBe(hex(SYN));
    expect([buf[4], buf[5 + SYN.length]]).toEqual([0xee, 0xee]);
  });
});

describe("Ipv4View", () => {
  it("reads the header in place", () => {
    const v = new Ipv4View(RECORD_ROUTE);
    expect(v.check()).toBeNull();
    expect([v.version, v.headerLength, v.totalLength, v.payloadOffset, v.payloadLength]).toEqual([4, 60, 80, 60, 20]);
    expect([v.ident, v.dontFragment, v.moreFragments, v.fragmentOffset, v.isFragment]).toEqual([
      0x47e3,
      true,
      false,
      0,
      false,
    ]);
    expect(v.options.length).toBe(40);
    expect(v.verifyChecksum()).toBe(true);
  });

  it("changes src and fixes the checksum, matching a full recomputation", () => {
    const b = SYN.slice();
    const v = new Ipv4View(b);
    v.src = ip("203.0.113.7");
    expect(v.verifyChecksum()).toBe(false);
    v.fillChecksum();
    expect(v.verifyChecksum()).toBe(true);
    expect(hex(b)).toBe(hex(ipv4.emit({ ...parsed(SYN), src: ip("203.0.113.7") })));
  });

  it("rewrites addresses with RFC 1624 incremental updates equal to full recomputation", () => {
    fc.assert(
      fc.property(fc.constantFrom(...FIXTURES), u32, u32, (f, src, dst) => {
        const incremental = f.slice();
        const v = new Ipv4View(incremental);
        v.rewriteSrc(src);
        v.rewriteDst(dst);
        const full = f.slice();
        const w = new Ipv4View(full);
        w.src = src;
        w.dst = dst;
        w.fillChecksum();
        expect(v.checksum).toBe(w.checksum);
        expect(hex(incremental)).toBe(hex(full));
        expect(verifyChecksum(incremental)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("decrements the TTL keeping the checksum valid", () => {
    const b = ICMP_ERROR.slice();
    const v = new Ipv4View(b);
    for (let i = 0; i < 64; i++) {
      v.decrementTtl();
      expect(v.verifyChecksum()).toBe(true);
    }
    expect(v.ttl).toBe(0);
  });

  it("sets every field through its setter", () => {
    const b = SYN.slice();
    const v = new Ipv4View(b);
    v.dscp = 46; // EF
    v.ecn = 3;
    v.ident = 0xbeef;
    v.dontFragment = false;
    v.moreFragments = true;
    v.fragmentOffset = 185;
    v.ttl = 7;
    v.protocol = IpProtocol.UDP;
    v.dst = ip("198.51.100.9");
    v.totalLength = 40;
    v.fillChecksum();
    expect(parsed(b)).toMatchObject({
      dscp: 46,
      ecn: 3,
      ident: 0xbeef,
      dontFragment: false,
      moreFragments: true,
      fragmentOffset: 185,
      ttl: 7,
      protocol: IpProtocol.UDP,
      dst: ip("198.51.100.9"),
    });
    expect(parsed(b).payload.length).toBe(20);
    expect(v.isFragment).toBe(true);
    expect(internetChecksum(b, 0, IPV4_HEADER_LEN)).toBe(0);
  });

  it("wraps another packet without allocating a new view", () => {
    const v = new Ipv4View();
    expect(v.check()?.field).toBe("header");
    expect(v.wrap(RST).check()).toBeNull();
    expect(v.src).toBe(ip("192.0.2.2"));
    expect(v.wrap(SYN, 0, 30).check()?.field).toBe("total-length");
  });
});

describe("protocol names", () => {
  it("names known protocols and prints the rest as proto-N", () => {
    expect(protocolName(6)).toBe("tcp");
    expect(protocolName(17)).toBe("udp");
    expect(protocolName(IpProtocol.ICMPV6)).toBe("icmpv6");
    expect(protocolName(IpProtocol.SCTP)).toBe("sctp");
    expect(protocolName(253)).toBe("proto-253");
  });
});

describe("ipv4 properties", () => {
  it("parse(emit(repr)) gives back the repr with a valid checksum; emit(parse(b)) = b", () => {
    fc.assert(
      fc.property(reprArb, (repr) => {
        const b = ipv4.emit(repr);
        expect(verifyChecksum(b)).toBe(true);
        const back = parsed(b);
        expect({ ...back, checksum: 0, options: hex(back.options), payload: hex(back.payload) }).toEqual({
          ...repr,
          checksum: 0,
          options: hex(repr.options),
          payload: hex(repr.payload),
        });
        expect(hex(ipv4.emit(back))).toBe(hex(b));
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on arbitrary input; errors point inside the window; valid packets round-trip", () => {
    fc.assert(
      fc.property(fuzzInput, ([b, at, len]) => {
        const r = ipv4.parse(b, at, len);
        if (r.ok) {
          const total = new Ipv4View(b, at, len).totalLength;
          const out = ipv4.emit(r.value);
          expect(out.length).toBe(total);
          if (verifyChecksum(b, at)) expect(hex(out)).toBe(hex(b.subarray(at, at + total)));
        } else {
          expect(r.error.protocol).toBe("ipv4");
          expect(r.error.offset).toBeGreaterThanOrEqual(at);
          expect(r.error.offset).toBeLessThanOrEqual(at + len);
        }
      }),
      { numRuns: 20000 },
    );
  });
});
