import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromHex, hex } from "./bytes.js";
import * as ethernet from "./ethernet.js";
import { ETHERNET_HEADER_LEN, EtherType, EthernetField, EthernetView, VLAN_TAG_LEN } from "./ethernet.js";
import type { EthernetRepr } from "./ethernet.js";

// A TCP SYN from 192.0.2.1 to 192.0.2.2:8080, captured by tcpdump on a veth in a network namespace (Linux 6.x).
const SYN_FRAME = fromHex(
  "a600c440328f c6261428e68b 0800" +
    "4500003c022e40004006b48ac0000201c0000202cae21f900ce675dd00000000a002fbe02b320000020404d80402080a8c25a466000000000103030a",
);
// The same frame with an 802.1Q tag (PCP 5, DEI 0, VID 10) inserted; tshark decodes it as VLAN 10, IPv4 inside.
const VLAN_FRAME = fromHex(
  "a600c440328f c6261428e68b 8100 a00a 0800" +
    "4500003c022e40004006b48ac0000201c0000202cae21f900ce675dd00000000a002fbe02b320000020404d80402080a8c25a466000000000103030a",
);

function parsed(b: Uint8Array, at?: number, len?: number): EthernetRepr {
  const r = ethernet.parse(b, at, len);
  if (!r.ok) throw new Error(`fixture did not parse: ${r.error.message}`);
  return r.value;
}

const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
const reprArb: fc.Arbitrary<EthernetRepr> = fc
  .record({
    dst: mac,
    src: mac,
    vlan: fc.option(fc.record({ pcp: fc.nat(7), dei: fc.boolean(), vid: fc.nat(4095) }), { nil: null }),
    etherType: fc.integer({ min: 0, max: 0xffff }),
    payload: fc.uint8Array({ maxLength: 64 }),
  })
  // Not a valid repr: a frame whose outer ether type is 0x8100 is tagged by definition.
  .filter((r) => !(r.vlan === null && r.etherType === EtherType.VLAN));

/** Random bytes and mutated, truncated fixtures, each with a random (at, len) window inside. */
const fuzzInput = fc
  .oneof(
    fc.uint8Array({ maxLength: 48 }),
    fc
      .tuple(
        fc.constantFrom(SYN_FRAME, VLAN_FRAME),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }),
        fc.nat(),
      )
      .map(([f, edits, cut]) => {
        const b = f.slice();
        for (const [i, v] of edits) b[i % b.length] = v;
        return b.subarray(0, cut % (b.length + 1));
      }),
  )
  .chain((b) => fc.nat(b.length).chain((at) => fc.tuple(fc.constant(b), fc.constant(at), fc.nat(b.length - at))));

describe("ethernet parse", () => {
  it("reads an untagged frame", () => {
    const f = parsed(SYN_FRAME);
    expect(hex(f.dst)).toBe("a600c440328f");
    expect(hex(f.src)).toBe("c6261428e68b");
    expect(f.vlan).toBeNull();
    expect(f.etherType).toBe(EtherType.IPV4);
    expect(f.payload.length).toBe(60);
    expect(hex(f.payload.subarray(0, 4))).toBe("4500003c");
    // Zero-copy: the payload is a view into the frame.
    expect(f.payload.buffer).toBe(SYN_FRAME.buffer);
    expect(f.payload.byteOffset).toBe(SYN_FRAME.byteOffset + ETHERNET_HEADER_LEN);
  });

  it("reads an 802.1Q tag and the inner ether type", () => {
    const f = parsed(VLAN_FRAME);
    expect(f.vlan).toEqual({ pcp: 5, dei: false, vid: 10 });
    expect(f.etherType).toBe(EtherType.IPV4);
    expect(hex(f.payload)).toBe(hex(parsed(SYN_FRAME).payload));
  });

  it("reads a frame at an offset inside a larger buffer", () => {
    const buf = new Uint8Array(VLAN_FRAME.length + 10);
    buf.set(VLAN_FRAME, 7);
    const f = parsed(buf, 7, VLAN_FRAME.length);
    expect(f.vlan?.vid).toBe(10);
    expect(f.payload.length).toBe(60);
  });

  it("names the field a truncated frame ends in", () => {
    const cases: [number, string, number][] = [
      [0, "dst", 0],
      [5, "dst", 0],
      [6, "src", 6],
      [11, "src", 6],
      [12, "ethertype", 12],
      [13, "ethertype", 12],
    ];
    for (const [n, field, offset] of cases) {
      const r = ethernet.parse(SYN_FRAME, 0, n);
      expect(r.ok).toBe(false);
      if (!r.ok) expect([r.error.field, r.error.offset]).toEqual([field, offset]);
    }
    for (let n = 14; n < 18; n++) {
      const r = ethernet.parse(VLAN_FRAME.subarray(0, n));
      expect(r.ok ? null : [r.error.protocol, r.error.field, r.error.offset]).toEqual(["ethernet", "vlan-tag", 14]);
    }
    expect(ethernet.parse(SYN_FRAME.subarray(0, 14)).ok).toBe(true);
  });

  it("rejects a window outside the buffer instead of reading past it", () => {
    expect(ethernet.parse(SYN_FRAME, 70, 10).ok).toBe(false);
    expect(ethernet.parse(SYN_FRAME, -1, 20).ok).toBe(false);
    expect(ethernet.parse(SYN_FRAME, 1.5, 20).ok).toBe(false);
  });
});

describe("ethernet emit", () => {
  it("reproduces both fixtures byte for byte", () => {
    expect(hex(ethernet.emit(parsed(SYN_FRAME)))).toBe(hex(SYN_FRAME));
    expect(hex(ethernet.emit(parsed(VLAN_FRAME)))).toBe(hex(VLAN_FRAME));
  });

  it("adds and removes a tag", () => {
    const untagged = parsed(SYN_FRAME);
    expect(hex(ethernet.emit({ ...untagged, vlan: { pcp: 5, dei: false, vid: 10 } }))).toBe(hex(VLAN_FRAME));
    expect(hex(ethernet.emit({ ...parsed(VLAN_FRAME), vlan: null }))).toBe(hex(SYN_FRAME));
  });

  it("writes at an offset and reports the bytes written", () => {
    const r = parsed(VLAN_FRAME);
    const buf = new Uint8Array(100).fill(0xee);
    const n = ethernet.emitInto(r, buf, 3);
    expect(n).toBe(VLAN_FRAME.length);
    expect(n).toBe(ethernet.bufferLen(r));
    expect(hex(buf.subarray(3, 3 + n))).toBe(hex(VLAN_FRAME));
    expect(buf[2]).toBe(0xee);
    expect(buf[3 + n]).toBe(0xee);
  });
});

describe("EthernetView", () => {
  it("reads fields in place and reuses itself through wrap", () => {
    const v = new EthernetView(SYN_FRAME);
    expect(v.check()).toBeNull();
    expect(v.hasVlan).toBe(false);
    expect(v.headerLength).toBe(ETHERNET_HEADER_LEN);
    expect(v.etherType).toBe(EtherType.IPV4);
    v.wrap(VLAN_FRAME);
    expect(v.check()).toBeNull();
    expect(v.hasVlan).toBe(true);
    expect(v.outerEtherType).toBe(EtherType.VLAN);
    expect([v.pcp, v.dei, v.vid]).toEqual([5, false, 10]);
    expect(v.headerLength).toBe(ETHERNET_HEADER_LEN + VLAN_TAG_LEN);
    expect(v.payloadOffset).toBe(18);
    expect(v.srcOffset).toBe(EthernetField.SRC);
  });

  it("rewrites tag fields, ether type and MACs in place", () => {
    const b = VLAN_FRAME.slice();
    const v = new EthernetView(b);
    v.vid = 4094;
    v.pcp = 1;
    v.dei = true;
    v.etherType = EtherType.IPV6;
    v.dst = fromHex("020000000001");
    v.src = fromHex("020000000002");
    expect(parsed(b)).toMatchObject({ vlan: { pcp: 1, dei: true, vid: 4094 }, etherType: EtherType.IPV6 });
    expect(hex(b.subarray(0, 18))).toBe("0200000000010200000000028100" + "3ffe" + "86dd");
    expect(hex(b.subarray(18))).toBe(hex(VLAN_FRAME.subarray(18)));
  });

  it("check fails on a short frame", () => {
    expect(new EthernetView(SYN_FRAME, 0, 13).check()?.field).toBe("ethertype");
    expect(new EthernetView(VLAN_FRAME, 0, 16).check()?.field).toBe("vlan-tag");
  });
});

describe("ethernet properties", () => {
  it("parse(emit(repr)) gives back the repr, emit(parse(bytes)) gives back the bytes", () => {
    fc.assert(
      fc.property(reprArb, (repr) => {
        const b = ethernet.emit(repr);
        expect(b.length).toBe(ethernet.bufferLen(repr));
        const back = parsed(b);
        expect(hex(back.dst)).toBe(hex(repr.dst));
        expect(hex(back.src)).toBe(hex(repr.src));
        expect(back.vlan).toEqual(repr.vlan);
        expect(back.etherType).toBe(repr.etherType);
        expect(hex(back.payload)).toBe(hex(repr.payload));
        expect(hex(ethernet.emit(back))).toBe(hex(b));
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on arbitrary input and errors point inside the window", () => {
    fc.assert(
      fc.property(fuzzInput, ([b, at, len]) => {
        const r = ethernet.parse(b, at, len);
        if (r.ok) {
          expect(ethernet.bufferLen(r.value)).toBe(len);
          expect(hex(ethernet.emit(r.value))).toBe(hex(b.subarray(at, at + len)));
        } else {
          expect(r.error.protocol).toBe("ethernet");
          expect(r.error.offset).toBeGreaterThanOrEqual(at);
          expect(r.error.offset).toBeLessThanOrEqual(at + len);
        }
      }),
      { numRuns: 20000 },
    );
  });
});
