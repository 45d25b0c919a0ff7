import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { fromHex, hex, readU16, readU32 } from "./bytes.js";
import type { PseudoHeader } from "./pseudo-header.js";
import type { Result } from "./result.js";
import * as udp from "./udp.js";
import { UdpField, UdpView } from "./udp.js";

// Captured with tcpdump between two network namespaces: a DNS query "A? example.com" over IPv4 and over IPv6
// (checksum offload off; tcpdump: "udp sum ok").
const DNS_V4 =
  "450000398aba400040112bf6c0000201c0000202b30300350025dece1a2b01000001000000000000076578616d706c6503636f6d0000010001";
const DNS_V6 =
  "600f28cd0025114020010db800000000000000000000000120010db8000000000000000000000002ab23003500250f3e1a2b01000001000000000000076578616d706c6503636f6d0000010001";
const QUERY = "1a2b01000001000000000000076578616d706c6503636f6d0000010001";

function v4(h: string): { b: Uint8Array; at: number; len: number; pseudo: PseudoHeader } {
  const b = fromHex(h);
  const at = (b[0] & 0x0f) * 4;
  return { b, at, len: readU16(b, 2) - at, pseudo: { family: 4, src: readU32(b, 12), dst: readU32(b, 16) } };
}
function v6(h: string): { b: Uint8Array; at: number; len: number; pseudo: PseudoHeader } {
  const b = fromHex(h);
  return { b, at: 40, len: readU16(b, 4), pseudo: { family: 6, src: b.slice(8, 24), dst: b.slice(24, 40) } };
}
function value<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.field} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
}

describe("captured DNS datagrams", () => {
  it("parses the IPv4 query, verifies its checksum and re-emits it byte for byte", () => {
    const { b, at, len, pseudo } = v4(DNS_V4);
    const r = value(udp.parse(b, at, len));
    expect(r).toMatchObject({ srcPort: 45827, dstPort: 53, checksum: 0xdece });
    expect(hex(r.payload)).toBe(QUERY);
    expect(udp.verifyChecksum(b, at, len, pseudo)).toBe(true);
    expect(hex(udp.emit(r, pseudo))).toBe(hex(b.subarray(at)));
  });

  it("parses the IPv6 query and checks it over the IPv6 pseudo-header", () => {
    const { b, at, len, pseudo } = v6(DNS_V6);
    const r = value(udp.parse(b, at, len));
    expect(r).toMatchObject({ srcPort: 43811, dstPort: 53, checksum: 0x0f3e });
    expect(udp.verifyChecksum(b, at, len, pseudo)).toBe(true);
    expect(hex(udp.emit(r, pseudo))).toBe(hex(b.subarray(at)));
    b[at + len - 1] ^= 0x80;
    expect(udp.verifyChecksum(b, at, len, pseudo)).toBe(false);
  });

  it("the view reads and rewrites ports in place; fillChecksum makes it valid again", () => {
    const { b, at, len, pseudo } = v4(DNS_V4);
    const v = new UdpView().wrap(b, at, len);
    expect(v.check()).toBeNull();
    expect([v.srcPort, v.dstPort, v.length, v.checksum, v.payloadOffset]).toEqual([45827, 53, 37, 0xdece, 28]);
    v.srcPort = 1024;
    expect(v.verifyChecksum(pseudo)).toBe(false);
    v.fillChecksum(pseudo);
    expect(v.verifyChecksum(pseudo)).toBe(true);
    expect(hex(v.payload)).toBe(QUERY);
  });
});

describe("the zero checksum (RFC 768, RFC 8200 §8.1)", () => {
  const repr = { srcPort: 68, dstPort: 67, checksum: 0, payload: fromHex("0102") };
  const p4: PseudoHeader = { family: 4, src: 0, dst: 0xffffffff };
  const p6: PseudoHeader = { family: 6, src: new Uint8Array(16), dst: fromHex("ff020000000000000000000000010002") };

  it("over IPv4, 0 means none: parse keeps it, verify accepts it, emit writes it when asked", () => {
    const b = udp.emit(repr, p4, { omitChecksum: true });
    expect(readU16(b, UdpField.CHECKSUM)).toBe(0);
    expect(value(udp.parse(b)).checksum).toBe(0);
    expect(udp.verifyChecksum(b, 0, b.length, p4)).toBe(true);
    expect(hex(udp.emit(value(udp.parse(b)), p4, { omitChecksum: true }))).toBe(hex(b));
  });

  it("over IPv6, a zero checksum is invalid and cannot be omitted", () => {
    const b = udp.emit(repr, p6, { omitChecksum: true });
    expect(readU16(b, UdpField.CHECKSUM)).not.toBe(0);
    expect(udp.verifyChecksum(b, 0, b.length, p6)).toBe(true);
    b[UdpField.CHECKSUM] = 0;
    b[UdpField.CHECKSUM + 1] = 0;
    expect(udp.verifyChecksum(b, 0, b.length, p6)).toBe(false);
  });

  it("a computed zero is sent as 0xffff", () => {
    // Payload word chosen so that the data sums to 0xffff: the computed checksum is 0.
    const probe = udp.emit({ ...repr, payload: fromHex("0000") }, p4);
    const b = udp.emit(
      { ...repr, payload: fromHex(readU16(probe, UdpField.CHECKSUM).toString(16).padStart(4, "0")) },
      p4,
    );
    expect(readU16(b, UdpField.CHECKSUM)).toBe(0xffff);
    expect(udp.verifyChecksum(b, 0, b.length, p4)).toBe(true);
    expect(udp.transmittedChecksum(0)).toBe(0xffff);
  });
});

describe("malformed datagrams", () => {
  const dgram = () => v4(DNS_V4).b.slice(20);
  it("names the length field and its offset", () => {
    expect(udp.parse(dgram(), 0, 7)).toMatchObject({ ok: false, error: { field: "header", offset: 7 } });
    const short = dgram();
    short[UdpField.LENGTH + 1] = 7;
    expect(udp.parse(short)).toMatchObject({ ok: false, error: { protocol: "udp", field: "length", offset: 4 } });
    expect(udp.parse(dgram(), 0, 30)).toMatchObject({ ok: false, error: { field: "length", offset: 4 } });
  });
  it("bytes after the length field (link padding) are not payload", () => {
    const padded = new Uint8Array(60);
    padded.set(dgram());
    expect(hex(value(udp.parse(padded)).payload)).toBe(QUERY);
  });
});

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const pseudoArb: fc.Arbitrary<PseudoHeader> = fc.oneof(
  fc.record({ family: fc.constant(4 as const), src: u32, dst: u32 }),
  fc.record({
    family: fc.constant(6 as const),
    src: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    dst: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  }),
);

describe("properties", () => {
  fcTest.prop(
    [
      fc.record({ srcPort: u16, dstPort: u16, checksum: fc.constant(0), payload: fc.uint8Array({ maxLength: 100 }) }),
      pseudoArb,
    ],
    {
      numRuns: 2000,
    },
  )("repr → emit → parse gives it back with a valid, non-zero checksum; emit(parse(b)) = b", (repr, pseudo) => {
    const b = udp.emit(repr, pseudo);
    const c = readU16(b, UdpField.CHECKSUM);
    expect(c).not.toBe(0);
    expect(udp.verifyChecksum(b, 0, b.length, pseudo)).toBe(true);
    const back = value(udp.parse(b));
    expect(back).toEqual({ ...repr, checksum: c });
    expect(hex(udp.emit(back, pseudo))).toBe(hex(b));
  });

  const fixtures = [v4(DNS_V4).b.slice(20), v6(DNS_V6).b.slice(40)];
  const mutated = fc
    .tuple(
      fc.constantFrom(...fixtures),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
      fc.nat(),
    )
    .map(([f, muts, cut]) => {
      const b = f.slice(0, f.length - (cut % (f.length + 1)));
      for (const [i, v] of muts) if (b.length > 0) b[i % b.length] = v;
      return b;
    });

  fcTest.prop([fc.oneof(fc.uint8Array({ maxLength: 48 }), mutated), fc.nat({ max: 8 }), fc.nat({ max: 8 })], {
    numRuns: 20000,
  })("parse never throws and errors point inside [at, at+len]", (b, pre, post) => {
    const buf = new Uint8Array(pre + b.length + post);
    buf.set(b, pre);
    const r = udp.parse(buf, pre, b.length);
    expect(new UdpView(buf, pre, b.length).check() === null).toBe(r.ok);
    if (!r.ok) {
      expect(r.error.offset).toBeGreaterThanOrEqual(pre);
      expect(r.error.offset).toBeLessThanOrEqual(pre + b.length);
    } else {
      expect(r.value.payload.length).toBe(readU16(buf, pre + UdpField.LENGTH) - udp.UDP_HEADER_LEN);
    }
  });
});
