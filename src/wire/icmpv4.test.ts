import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { fromHex, hex, readU16 } from "./bytes.js";
import * as icmpv4 from "./icmpv4.js";
import {
  Icmpv4Field,
  Icmpv4Type,
  Icmpv4UnreachableCode,
  Icmpv4View,
  isIcmpv4Error,
  type Icmpv4Repr,
} from "./icmpv4.js";
import type { Result } from "./result.js";

// Captured with tcpdump between two network namespaces (Linux 6.x): a DNS query to a closed UDP port on 192.0.2.2
// answered by "udp port 53 unreachable", and a ping. Full IPv4 packets; the ICMP message starts at byte 20.
const PORT_UNREACH =
  "45c00055e0360000400115aec0000202c00002010303813700000000450000398aba400040112bf6c0000201c0000202b30300350025dece1a2b01000001000000000000076578616d706c6503636f6d0000010001";
const ECHO_REQUEST = "4500002ccbfc40004001ead0c0000201c00002020800368cbe9c00016d616c6c6f72792d70696e672d763421";
const ECHO_REPLY = "4500002ce038000040011695c0000202c000020100003e8cbe9c00016d616c6c6f72792d70696e672d763421";
const ICMP_AT = 20;

function value<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.field} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
}
const msg = (h: string): Uint8Array => fromHex(h).subarray(ICMP_AT);

describe("captured messages", () => {
  it("parses a port unreachable embedding the UDP datagram, and re-emits it byte for byte", () => {
    const b = msg(PORT_UNREACH);
    expect(icmpv4.verifyChecksum(b, 0, b.length)).toBe(true);
    const r = value(icmpv4.parse(b));
    expect(r.kind).toBe("dest-unreachable");
    if (r.kind !== "dest-unreachable") return;
    expect(r).toMatchObject({
      code: Icmpv4UnreachableCode.PORT,
      checksum: 0x8137,
      unused: 0,
      length: 0,
      nextHopMtu: 0,
    });
    expect(r.embedded.length).toBe(57);
    expect(hex(icmpv4.emit(r))).toBe(hex(b));

    const inner = value(icmpv4.parseEmbedded(r.embedded));
    expect(inner).toMatchObject({
      src: 0xc0000201,
      dst: 0xc0000202,
      protocol: 17,
      totalLength: 57,
      headerLength: 20,
      headerChecksumValid: true,
      srcPort: 45827,
      dstPort: 53,
      transportOffset: 20,
      transportCarried: 37,
    });
  });

  it("reads the embedded header in place from the view's payload range (absolute offsets)", () => {
    const packet = fromHex(PORT_UNREACH);
    const v = new Icmpv4View(packet, ICMP_AT);
    expect(v.check()).toBeNull();
    expect([v.type, v.code, v.payloadOffset]).toEqual([3, 3, 28]);
    const inner = value(icmpv4.parseEmbedded(packet, v.payloadOffset, v.len - 8));
    expect(inner.ipOffset).toBe(28);
    expect(inner.transportOffset).toBe(48);
    expect(inner.dstPort).toBe(53);
  });

  it("parses the inner header of an error carrying only the IP header + 8 bytes (RFC 792)", () => {
    const r = value(icmpv4.parse(msg(PORT_UNREACH)));
    if (r.kind !== "dest-unreachable") throw new Error(r.kind);
    const short: Icmpv4Repr = { ...r, embedded: r.embedded.subarray(0, 28) };
    const b = icmpv4.emit(short);
    expect(b.length).toBe(36);
    expect(icmpv4.verifyChecksum(b, 0, b.length)).toBe(true);
    const inner = value(icmpv4.parseEmbedded(b, 8));
    expect(inner.totalLength).toBe(57); // larger than carried: normal
    expect(inner.transportCarried).toBe(8);
    expect([inner.srcPort, inner.dstPort]).toEqual([45827, 53]);
    expect(icmpv4.parseEmbedded(b, 8, 27)).toMatchObject({ ok: false, error: { field: "embedded transport" } });
  });

  it("parses echo request and reply", () => {
    for (const [h, kind] of [
      [ECHO_REQUEST, "echo-request"],
      [ECHO_REPLY, "echo-reply"],
    ] as const) {
      const b = msg(h);
      const r = value(icmpv4.parse(b));
      expect(r).toMatchObject({ kind, code: 0, id: 48796, seq: 1 });
      if (r.kind !== kind) return;
      expect(new TextDecoder().decode(r.data.slice())).toBe("mallory-ping-v4!");
      expect(icmpv4.verifyChecksum(b, 0, b.length)).toBe(true);
      expect(hex(icmpv4.emit(r))).toBe(hex(b));
    }
  });

  it("the view rewrites the echo id in place (NAPT, RFC 5508) and refills the checksum", () => {
    const b = msg(ECHO_REQUEST).slice();
    const v = new Icmpv4View(b);
    v.id = 1024;
    expect(v.verifyChecksum()).toBe(false);
    v.fillChecksum();
    expect(v.verifyChecksum()).toBe(true);
    expect(value(icmpv4.parse(b))).toMatchObject({ kind: "echo-request", id: 1024, seq: 1 });
  });
});

describe("every error kind keeps its rest-of-header fields", () => {
  const embedded = msg(PORT_UNREACH).subarray(8, 8 + 28);
  const cases: Icmpv4Repr[] = [
    { kind: "dest-unreachable", code: 4, checksum: 0, unused: 0, length: 0, nextHopMtu: 1400, embedded },
    { kind: "source-quench", code: 0, checksum: 0, unused: 0, embedded },
    { kind: "redirect", code: 1, checksum: 0, gateway: 0xc0000201, embedded },
    { kind: "time-exceeded", code: 0, checksum: 0, length: 7, unused: 0, embedded },
    { kind: "parameter-problem", code: 0, checksum: 0, pointer: 9, length: 0, unused: 0, embedded },
  ];
  it.each(cases)("$kind", (repr) => {
    const b = icmpv4.emit(repr);
    expect(b[Icmpv4Field.TYPE]).toBe(icmpv4.typeOf(repr));
    expect(isIcmpv4Error(b[Icmpv4Field.TYPE])).toBe(true);
    const back = value(icmpv4.parse(b));
    expect(back).toEqual({ ...repr, checksum: readU16(b, Icmpv4Field.CHECKSUM) });
    expect(value(icmpv4.parseEmbedded(b, 8)).dstPort).toBe(53);
  });

  it("places the RFC 1191 next-hop MTU and the parameter-problem pointer where they belong", () => {
    expect(hex(icmpv4.emit(cases[0]).subarray(4, 8))).toBe("00000578");
    expect(hex(icmpv4.emit(cases[4]).subarray(4, 8))).toBe("09000000");
    expect(hex(icmpv4.emit(cases[3]).subarray(4, 8))).toBe("00070000");
  });

  it("isIcmpv4Error is true exactly for 3, 4, 5, 11, 12", () => {
    const errors = Array.from({ length: 256 }, (_, t) => t).filter(isIcmpv4Error);
    expect(errors).toEqual([3, 4, 5, 11, 12]);
  });
});

describe("timestamps and unknown types", () => {
  it("round-trips timestamp request/reply and rejects a short one", () => {
    const ts: Icmpv4Repr = {
      kind: "timestamp-reply",
      code: 0,
      checksum: 0,
      id: 7,
      seq: 8,
      originate: 1,
      receive: 2,
      transmit: 3,
      trailing: new Uint8Array(0),
    };
    const b = icmpv4.emit(ts);
    expect(b.length).toBe(20);
    expect(b[0]).toBe(Icmpv4Type.TIMESTAMP_REPLY);
    expect(value(icmpv4.parse(b))).toEqual({ ...ts, checksum: readU16(b, 2) });
    expect(icmpv4.parse(b, 0, 16)).toMatchObject({ ok: false, error: { field: "timestamp", offset: 16 } });
  });

  it("keeps an unknown type (router advertisement, 9) raw", () => {
    const b = fromHex("0900000001001800c000020100000000");
    icmpv4.fillChecksum(b, 0, b.length);
    const r = value(icmpv4.parse(b));
    expect(r).toMatchObject({ kind: "other", type: 9, rest: 0x01001800 });
    expect(hex(icmpv4.emit(r))).toBe(hex(b));
  });
});

describe("malformed input", () => {
  it("short messages and bad embedded headers are WireErrors", () => {
    expect(icmpv4.parse(fromHex("0800f7ff0000"))).toMatchObject({ ok: false, error: { field: "header", offset: 6 } });
    const inner = msg(PORT_UNREACH).slice(8);
    expect(icmpv4.parseEmbedded(inner, 0, 19)).toMatchObject({ ok: false, error: { field: "embedded header" } });
    const v6 = inner.slice();
    v6[0] = 0x65;
    expect(icmpv4.parseEmbedded(v6)).toMatchObject({ ok: false, error: { field: "embedded version", offset: 0 } });
    const ihl = inner.slice();
    ihl[0] = 0x44;
    expect(icmpv4.parseEmbedded(ihl)).toMatchObject({ ok: false, error: { field: "embedded ihl" } });
    const badSum = inner.slice();
    badSum[8] = 1; // TTL changed, header checksum now wrong
    expect(value(icmpv4.parseEmbedded(badSum)).headerChecksumValid).toBe(false);
  });

  it("reads the query id of an embedded ICMP echo", () => {
    const echoIp = fromHex(ECHO_REQUEST);
    const inner = value(icmpv4.parseEmbedded(echoIp, 0, 28));
    expect(inner).toMatchObject({ protocol: 1, icmpType: 8, icmpCode: 0, icmpId: 48796 });
  });
});

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = fc.uint8Array({ maxLength: 64 });
const knownTypes = new Set<number>([0, 3, 4, 5, 8, 11, 12, 13, 14]);
const reprArb: fc.Arbitrary<Icmpv4Repr> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("echo-request" as const, "echo-reply" as const),
    code: u8,
    checksum: fc.constant(0),
    id: u16,
    seq: u16,
    data: bytes,
  }),
  fc.record({
    kind: fc.constant("dest-unreachable" as const),
    code: u8,
    checksum: fc.constant(0),
    unused: u8,
    length: u8,
    nextHopMtu: u16,
    embedded: bytes,
  }),
  fc.record({
    kind: fc.constant("source-quench" as const),
    code: u8,
    checksum: fc.constant(0),
    unused: u32,
    embedded: bytes,
  }),
  fc.record({
    kind: fc.constant("redirect" as const),
    code: u8,
    checksum: fc.constant(0),
    gateway: u32,
    embedded: bytes,
  }),
  fc.record({
    kind: fc.constant("time-exceeded" as const),
    code: u8,
    checksum: fc.constant(0),
    length: u8,
    unused: u32.map((x) => (x & 0xff00ffff) >>> 0),
    embedded: bytes,
  }),
  fc.record({
    kind: fc.constant("parameter-problem" as const),
    code: u8,
    checksum: fc.constant(0),
    pointer: u8,
    length: u8,
    unused: u16,
    embedded: bytes,
  }),
  fc.record({
    kind: fc.constantFrom("timestamp" as const, "timestamp-reply" as const),
    code: u8,
    checksum: fc.constant(0),
    id: u16,
    seq: u16,
    originate: u32,
    receive: u32,
    transmit: u32,
    trailing: bytes,
  }),
  fc.record({
    kind: fc.constant("other" as const),
    type: u8.filter((t) => !knownTypes.has(t)),
    code: u8,
    checksum: fc.constant(0),
    rest: u32,
    data: bytes,
  }),
);

describe("properties", () => {
  fcTest.prop([reprArb], { numRuns: 3000 })("repr → emit → parse gives it back; emit(parse(b)) = b", (repr) => {
    const b = icmpv4.emit(repr);
    expect(b.length).toBe(icmpv4.bufferLen(repr));
    expect(icmpv4.verifyChecksum(b, 0, b.length)).toBe(true);
    const back = value(icmpv4.parse(b));
    expect(back).toEqual({ ...repr, checksum: readU16(b, Icmpv4Field.CHECKSUM) });
    expect(hex(icmpv4.emit(back))).toBe(hex(b));
  });

  const fixtures = [msg(PORT_UNREACH), msg(ECHO_REQUEST), msg(ECHO_REPLY)];
  const mutated = fc
    .tuple(fc.constantFrom(...fixtures), fc.array(fc.tuple(fc.nat(), u8), { maxLength: 4 }), fc.nat())
    .map(([f, muts, cut]) => {
      const b = f.slice(0, f.length - (cut % (f.length + 1)));
      for (const [i, v] of muts) if (b.length > 0) b[i % b.length] = v;
      return b;
    });
  const input = fc.oneof(fc.uint8Array({ maxLength: 80 }), mutated);

  fcTest.prop([input, fc.nat({ max: 8 }), fc.nat({ max: 8 })], { numRuns: 20000 })(
    "parse never throws; errors point inside [at, at+len]; valid input round-trips",
    (b, pre, post) => {
      const buf = new Uint8Array(pre + b.length + post);
      buf.set(b, pre);
      const r = icmpv4.parse(buf, pre, b.length);
      if (!r.ok) {
        expect(r.error.offset).toBeGreaterThanOrEqual(pre);
        expect(r.error.offset).toBeLessThanOrEqual(pre + b.length);
      } else {
        const again = icmpv4.emit(r.value);
        expect(hex(again.subarray(0, 2)) + hex(again.subarray(4))).toBe(hex(b.subarray(0, 2)) + hex(b.subarray(4)));
      }
    },
  );

  fcTest.prop([input, fc.nat({ max: 8 }), fc.nat({ max: 8 })], { numRuns: 20000 })(
    "parseEmbedded never throws and errors point inside [at, at+len]",
    (b, pre, post) => {
      const buf = new Uint8Array(pre + b.length + post);
      buf.set(b, pre);
      const r = icmpv4.parseEmbedded(buf, pre, b.length);
      if (!r.ok) {
        expect(r.error.offset).toBeGreaterThanOrEqual(pre);
        expect(r.error.offset).toBeLessThanOrEqual(pre + b.length);
      } else {
        expect(r.value.transportOffset + 8).toBeLessThanOrEqual(pre + b.length);
      }
    },
  );
});
