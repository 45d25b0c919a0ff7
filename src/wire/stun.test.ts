import { createHash, createHmac } from "node:crypto";
import * as zlib from "node:zlib";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { fromHex, hex } from "./bytes.js";
import * as stun from "./stun.js";
import { StunAttr, StunClass, StunMethod, StunView } from "./stun.js";
import type { StunAddress, StunAttribute, StunRepr } from "./stun.js";

// RFC 5769 test vectors. The bytes below were typed from the RFC; every one of them is checked independently of
// our code: FINGERPRINT by node:zlib's CRC-32, MESSAGE-INTEGRITY by node:crypto's HMAC-SHA1 with the RFC's
// credentials. A single wrong byte anywhere breaks at least one of those checks.

// §2.1 Sample Request (short-term credential, password "VOkJxbRl1RmTxUk/WvJxBt").
const SAMPLE_REQUEST = fromHex(`
  0001 0058 2112a442 b7e7a701 bc34d686 fa87dfae
  8022 0010 5354554e 20746573 7420636c 69656e74
  0024 0004 6e0001ff
  8029 0008 932ff9b1 51263b36
  0006 0009 6576746a 3a683676 59202020
  0008 0014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
  8028 0004 e57a3bcf`);

// §2.2 Sample IPv4 Response: XOR-MAPPED-ADDRESS 192.0.2.1:32853.
const IPV4_RESPONSE = fromHex(`
  0101 003c 2112a442 b7e7a701 bc34d686 fa87dfae
  8022 000b 74657374 20766563 746f7220
  0020 0008 0001a147 e112a643
  0008 0014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
  8028 0004 c07d4c96`);

// §2.3 Sample IPv6 Response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const IPV6_RESPONSE = fromHex(`
  0101 0048 2112a442 b7e7a701 bc34d686 fa87dfae
  8022 000b 74657374 20766563 746f7220
  0020 0014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
  0008 0014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
  8028 0004 c8fb0b4c`);

// §2.4 Sample Request with Long-Term Authentication: username "マトリックス", password "TheMatrIX" (after
// SASLprep), nonce "f//499k954d6OL34oL9FSTvy64sA", realm "example.org"; no FINGERPRINT.
const LONG_TERM_REQUEST = fromHex(`
  0001 0060 2112a442 78ad3433 c6ad72c0 29da412e
  0006 0012 e3839ee3 8388e383 aae38383 e382afe3 82b90000
  0015 001c 662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341
  0014 000b 6578616d 706c652e 6f726700
  0008 0014 f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666`);

const SHORT_TERM_PASSWORD = "VOkJxbRl1RmTxUk/WvJxBt";
const RFC_TX = fromHex("b7e7a701bc34d686fa87dfae");

function hmacSha1(key: Uint8Array | string, data: Uint8Array): string {
  return createHmac("sha1", key).update(data).digest("hex");
}

function parseOk(b: Uint8Array): StunRepr {
  const r = stun.parse(b);
  if (!r.ok) throw new Error(`expected a STUN message: ${r.error.field} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
}

function integrityOf(b: Uint8Array): { input: Uint8Array; hmac: Uint8Array } {
  const r = stun.integrityInput(b);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe("RFC 5769 vectors, checked independently of this module", () => {
  const zlibCrc32 = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
  it.runIf(zlibCrc32 !== undefined)("carry FINGERPRINTs that match zlib's CRC-32 XOR 0x5354554e", () => {
    for (const v of [SAMPLE_REQUEST, IPV4_RESPONSE, IPV6_RESPONSE]) {
      const body = v.subarray(0, v.length - 8);
      const stored = Buffer.from(v.subarray(v.length - 4)).readUInt32BE(0);
      expect((zlibCrc32!(body) ^ 0x5354554e) >>> 0).toBe(stored);
    }
  });

  it("carry short-term MESSAGE-INTEGRITY values that match HMAC-SHA1 over the RFC 8489 §14.5 range", () => {
    for (const v of [SAMPLE_REQUEST, IPV4_RESPONSE, IPV6_RESPONSE]) {
      // Independent range: everything before MESSAGE-INTEGRITY (it sits 24 + 8 bytes from the end) with the
      // length field set to end after it.
      const miAt = v.length - 8 - 24;
      const input = Uint8Array.from(v.subarray(0, miAt));
      input[2] = 0;
      input[3] = miAt + 24 - 20;
      expect(hmacSha1(SHORT_TERM_PASSWORD, input)).toBe(hex(v.subarray(miAt + 4, miAt + 24)));
      // And integrityInput selects exactly those bytes.
      const mine = integrityOf(v);
      expect(hex(mine.input)).toBe(hex(input));
      expect(hex(mine.hmac)).toBe(hex(v.subarray(miAt + 4, miAt + 24)));
    }
  });

  it("carries a long-term MESSAGE-INTEGRITY keyed by MD5(username:realm:password)", () => {
    const key = createHash("md5").update("マトリックス:example.org:TheMatrIX", "utf8").digest();
    const { input, hmac } = integrityOf(LONG_TERM_REQUEST);
    expect(input.length).toBe(LONG_TERM_REQUEST.length - 24);
    expect(hmacSha1(key, input)).toBe(hex(hmac));
  });
});

describe("stun.parse on RFC 5769 vectors", () => {
  it("decodes the sample request, keeping ICE attributes raw and the 0x20 padding", () => {
    const m = parseOk(SAMPLE_REQUEST);
    expect(m.class).toBe(StunClass.REQUEST);
    expect(m.method).toBe(StunMethod.BINDING);
    expect(hex(m.transactionId)).toBe("b7e7a701bc34d686fa87dfae");
    expect(m.attributes.map((a) => a.kind)).toEqual(["text", "raw", "raw", "text", "raw", "fingerprint"]);
    expect(m.attributes[0]).toMatchObject({ kind: "text", type: StunAttr.SOFTWARE, text: "STUN test client" });
    expect(m.attributes[1]).toMatchObject({ kind: "raw", type: 0x0024, value: fromHex("6e0001ff") });
    expect(m.attributes[3]).toMatchObject({ kind: "text", type: StunAttr.USERNAME, text: "evtj:h6vY" });
    expect(hex(m.attributes[3].padding!)).toBe("202020");
    expect(m.attributes[4]).toMatchObject({ kind: "raw", type: StunAttr.MESSAGE_INTEGRITY });
    expect(m.attributes[5]).toEqual({ kind: "fingerprint", value: 0xe57a3bcf, padding: new Uint8Array(0) });
    expect(stun.verifyFingerprint(SAMPLE_REQUEST)).toBe(true);
  });

  it("de-XORs the IPv4 mapped address to 192.0.2.1:32853", () => {
    const m = parseOk(IPV4_RESPONSE);
    expect(m.class).toBe(StunClass.SUCCESS);
    expect(m.attributes[0]).toMatchObject({ kind: "text", text: "test vector" });
    expect(stun.mappedAddress(m)).toEqual({ family: 4, port: 32853, address: 0xc0000201 });
    expect(stun.verifyFingerprint(IPV4_RESPONSE)).toBe(true);
  });

  it("de-XORs the IPv6 mapped address with cookie and transaction id", () => {
    const m = parseOk(IPV6_RESPONSE);
    const a = stun.mappedAddress(m);
    expect(a?.family).toBe(6);
    expect(a?.port).toBe(32853);
    expect(hex(a!.address as Uint8Array)).toBe("20010db8123456780011223344556677");
    expect(stun.verifyFingerprint(IPV6_RESPONSE)).toBe(true);
  });

  it("decodes the long-term request's UTF-8 username, nonce and realm", () => {
    const m = parseOk(LONG_TERM_REQUEST);
    expect(m.attributes.slice(0, 3)).toMatchObject([
      { kind: "text", type: StunAttr.USERNAME, text: "マトリックス" },
      { kind: "text", type: StunAttr.NONCE, text: "f//499k954d6OL34oL9FSTvy64sA" },
      { kind: "text", type: StunAttr.REALM, text: "example.org" },
    ]);
    expect(stun.verifyFingerprint(LONG_TERM_REQUEST)).toBe(false);
  });

  it("emits every vector back byte for byte", () => {
    for (const v of [SAMPLE_REQUEST, IPV4_RESPONSE, IPV6_RESPONSE, LONG_TERM_REQUEST]) {
      expect(hex(stun.emit(parseOk(v)))).toBe(hex(v));
    }
  });
});

describe("StunView", () => {
  it("reads the header in place and rewrites the type", () => {
    const b = Uint8Array.from(IPV4_RESPONSE);
    const v = new StunView().wrap(b);
    expect(v.check()).toBeNull();
    expect(v.class).toBe(StunClass.SUCCESS);
    expect(v.method).toBe(StunMethod.BINDING);
    expect(v.length).toBe(0x3c);
    expect(v.cookie).toBe(stun.STUN_MAGIC_COOKIE);
    expect(hex(v.transactionId)).toBe(hex(RFC_TX));
    expect(v.payloadOffset).toBe(20);
    expect(v.payload.length).toBe(0x3c);
    v.type = stun.messageType(StunClass.ERROR, StunMethod.BINDING);
    expect(b[0]).toBe(0x01);
    expect(b[1]).toBe(0x11);
  });

  it("rejects a bad cookie, set top bits, short buffers and a length that does not fill the datagram", () => {
    const cases: [Uint8Array, string][] = [
      [Uint8Array.from(SAMPLE_REQUEST).fill(0, 4, 5), "cookie"],
      [Uint8Array.from(SAMPLE_REQUEST).fill(0xc0, 0, 1), "type"],
      [SAMPLE_REQUEST.subarray(0, 19), "header"],
      [SAMPLE_REQUEST.subarray(0, SAMPLE_REQUEST.length - 4), "length"],
    ];
    for (const [b, field] of cases) expect(new StunView(b).check()?.field).toBe(field);
  });
});

describe("message type encoding (RFC 8489 §5)", () => {
  it("places class and method bits as in the RFC's examples", () => {
    expect(stun.messageType(StunClass.REQUEST, StunMethod.BINDING)).toBe(0x0001);
    expect(stun.messageType(StunClass.SUCCESS, StunMethod.BINDING)).toBe(0x0101);
    expect(stun.messageType(StunClass.ERROR, StunMethod.BINDING)).toBe(0x0111);
    expect(stun.messageType(StunClass.INDICATION, StunMethod.BINDING)).toBe(0x0011);
    expect(stun.messageType(StunClass.REQUEST, StunMethod.ALLOCATE)).toBe(0x0003);
  });

  test.prop([fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xfff })])(
    "classOf/methodOf invert messageType",
    (c, m) => {
      const t = stun.messageType(c as stun.StunClass, m);
      expect(t & 0xc000).toBe(0);
      expect(stun.classOf(t)).toBe(c);
      expect(stun.methodOf(t)).toBe(m);
    },
  );
});

describe("builders and emit", () => {
  const tx = fromHex("0102030405060708090a0b0c");

  it("builds a binding request with CHANGE-REQUEST and RESPONSE-PORT (RFC 5780)", () => {
    const req = stun.bindingRequest(tx, [
      { kind: "change-request", changeIp: true, changePort: false },
      { kind: "response-port", port: 40000 },
      { kind: "fingerprint", value: 0 },
    ]);
    const b = stun.emit(req);
    expect(hex(b.subarray(0, 20))).toBe("000100182112a442" + hex(tx));
    expect(hex(b.subarray(20, 28))).toBe("0003000400000004");
    expect(hex(b.subarray(28, 36))).toBe("002700049c400000");
    expect(stun.verifyFingerprint(b)).toBe(true);
    const back = parseOk(b);
    expect(back.attributes[0]).toMatchObject({ kind: "change-request", changeIp: true, changePort: false });
    expect(back.attributes[1]).toMatchObject({ kind: "response-port", port: 40000 });
  });

  it("builds a binding success whose XOR-MAPPED-ADDRESS decodes to the mapped address", () => {
    const mapped: StunAddress = { family: 4, port: 32853, address: 0xc0000201 };
    const b = stun.emit(
      stun.bindingSuccess(RFC_TX, mapped, [
        { kind: "address", type: StunAttr.OTHER_ADDRESS, address: { family: 4, port: 3479, address: 0xcb007142 } },
      ]),
    );
    // Same XOR encoding as the RFC 5769 IPv4 response.
    expect(hex(b.subarray(20, 32))).toBe("002000080001a147e112a643");
    expect(hex(b.subarray(32, 44))).toBe("802c000800010d97cb007142");
    expect(stun.mappedAddress(parseOk(b))).toEqual(mapped);
  });

  it("writes ERROR-CODE and UNKNOWN-ATTRIBUTES with zero padding", () => {
    const m: StunRepr = {
      class: StunClass.ERROR,
      method: StunMethod.BINDING,
      transactionId: tx,
      attributes: [
        { kind: "error-code", code: 420, reason: "Unknown" },
        { kind: "unknown-attributes", types: [0x0024] },
      ],
    };
    const b = stun.emit(m);
    expect(hex(b.subarray(20))).toBe("0009000b00000414556e6b6e6f776e00" + "000a000200240000");
    expect(parseOk(b).attributes).toMatchObject([
      { kind: "error-code", code: 420, reason: "Unknown" },
      { kind: "unknown-attributes", types: [0x24] },
    ]);
  });

  it("keeps non-canonical known attributes raw so they round-trip", () => {
    // MAPPED-ADDRESS with family 3, and CHANGE-REQUEST with an undefined flag bit.
    const b = fromHex("0001 0014 2112a442 0102030405060708090a0b0c 0001 0008 00030035 c0000201 0003 0004 00000001");
    const m = parseOk(b);
    expect(m.attributes).toMatchObject([
      { kind: "raw", type: StunAttr.MAPPED_ADDRESS },
      { kind: "raw", type: StunAttr.CHANGE_REQUEST },
    ]);
    expect(hex(stun.emit(m))).toBe(hex(b));
  });

  it("reports an attribute that runs past the message end with its offset", () => {
    const b = fromHex("0001 0008 2112a442 0102030405060708090a0b0c 8022 0005 61626364");
    const r = stun.parse(b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ protocol: "stun", field: "attribute length", offset: 22 });
  });

  it("throws on a transaction id that is not 12 bytes (a programming error)", () => {
    expect(() => stun.emit(stun.bindingRequest(new Uint8Array(11)))).toThrow(RangeError);
  });
});

// ---- properties ----

const u16 = fc.integer({ min: 0, max: 0xffff });
const padded = (vlen: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength: (4 - (vlen % 4)) % 4, maxLength: (4 - (vlen % 4)) % 4 });
const utf8Len = (s: string): number => new TextEncoder().encode(s).length;

const addressArb: fc.Arbitrary<StunAddress> = fc.oneof(
  fc.record({ family: fc.constant(4 as const), port: u16, address: fc.nat({ max: 0xffffffff }) }),
  fc.record({ family: fc.constant(6 as const), port: u16, address: fc.uint8Array({ minLength: 16, maxLength: 16 }) }),
);

// Text must not contain lone surrogates (not encodable as UTF-8).
const textArb = fc.string({ unit: "grapheme", maxLength: 12 });

const attributeArb: fc.Arbitrary<StunAttribute> = fc.oneof(
  fc.record({
    kind: fc.constant("address" as const),
    type: fc.constantFrom(StunAttr.MAPPED_ADDRESS, StunAttr.OTHER_ADDRESS, StunAttr.RESPONSE_ORIGIN),
    address: addressArb,
    padding: fc.constant(new Uint8Array(0)),
  }),
  fc.record({
    kind: fc.constant("xor-address" as const),
    type: fc.constant(StunAttr.XOR_MAPPED_ADDRESS),
    address: addressArb,
    padding: fc.constant(new Uint8Array(0)),
  }),
  textArb.chain((text) =>
    fc.record({
      kind: fc.constant("text" as const),
      type: fc.constantFrom(StunAttr.USERNAME, StunAttr.REALM, StunAttr.NONCE, StunAttr.SOFTWARE),
      text: fc.constant(text),
      padding: padded(utf8Len(text)),
    }),
  ),
  textArb.chain((reason) =>
    fc.record({
      kind: fc.constant("error-code" as const),
      code: fc.integer({ min: 300, max: 699 }),
      reason: fc.constant(reason),
      padding: padded(4 + utf8Len(reason)),
    }),
  ),
  fc.array(u16, { maxLength: 5 }).chain((types) =>
    fc.record({
      kind: fc.constant("unknown-attributes" as const),
      types: fc.constant(types),
      padding: padded(2 * types.length),
    }),
  ),
  fc.record({
    kind: fc.constant("change-request" as const),
    changeIp: fc.boolean(),
    changePort: fc.boolean(),
    padding: fc.constant(new Uint8Array(0)),
  }),
  fc.record({ kind: fc.constant("response-port" as const), port: u16, padding: fc.constant(new Uint8Array(0)) }),
  fc.uint8Array({ maxLength: 24 }).chain((value) =>
    fc.record({
      kind: fc.constant("raw" as const),
      // Types this module never types, so a random value cannot turn into a typed attribute.
      type: fc.constantFrom(
        StunAttr.MESSAGE_INTEGRITY,
        StunAttr.MESSAGE_INTEGRITY_SHA256,
        0x0024,
        0x8029,
        0x7fff,
        0xc001,
      ),
      value: fc.constant(value),
      padding: padded(value.length),
    }),
  ),
);

const reprArb: fc.Arbitrary<StunRepr> = fc
  .record({
    class: fc.constantFrom(StunClass.REQUEST, StunClass.INDICATION, StunClass.SUCCESS, StunClass.ERROR),
    method: fc.integer({ min: 0, max: 0xfff }),
    transactionId: fc.uint8Array({ minLength: 12, maxLength: 12 }),
    attributes: fc.array(attributeArb, { maxLength: 6 }),
    fingerprint: fc.boolean(),
  })
  .map(({ fingerprint, ...r }) => ({
    ...r,
    attributes: fingerprint
      ? [...r.attributes, { kind: "fingerprint" as const, value: 0, padding: new Uint8Array(0) }]
      : r.attributes,
  }));

/** The stored fingerprint is recomputed by emit; compare reprs with it normalised. */
function withoutFingerprintValue(r: StunRepr): StunRepr {
  return { ...r, attributes: r.attributes.map((a) => (a.kind === "fingerprint" ? { ...a, value: 0 } : a)) };
}

describe("stun properties", () => {
  test.prop([reprArb], { numRuns: 3000 })("emit then parse gives the repr back, and re-emits the same bytes", (r) => {
    const b = stun.emit(r);
    expect(b.length).toBe(stun.bufferLen(r));
    const back = parseOk(b);
    expect(withoutFingerprintValue(back)).toEqual(r);
    expect(hex(stun.emit(back))).toBe(hex(b));
    if (r.attributes.at(-1)?.kind === "fingerprint") expect(stun.verifyFingerprint(b)).toBe(true);
  });

  const mutated = fc
    .tuple(
      reprArb.map((r) => stun.emit(r)),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(),
    )
    .map(([b, edits, cut]) => {
      const m = Uint8Array.from(b);
      for (const [i, v] of edits) m[i % m.length] = v;
      return cut % 3 === 0 ? m.subarray(0, cut % (m.length + 1)) : m;
    });

  test.prop([fc.oneof(mutated, fc.uint8Array({ maxLength: 80 })), fc.nat({ max: 4 })], { numRuns: 20000 })(
    "parse never throws, errors stay within the range, and whatever parses re-emits exactly",
    (b, shift) => {
      // Place the message at an offset inside a larger buffer to check that offsets are absolute.
      const buf = new Uint8Array(b.length + shift + 3);
      buf.set(b, shift);
      const r = stun.parse(buf, shift, b.length);
      if (r.ok) {
        const again = stun.emit(r.value);
        // FINGERPRINT is recomputed, so exactness holds whenever the received one was correct.
        if (r.value.attributes.every((a) => a.kind !== "fingerprint") || stun.verifyFingerprint(buf, shift, b.length))
          expect(hex(again)).toBe(hex(b));
      } else {
        expect(r.error.offset).toBeGreaterThanOrEqual(shift);
        expect(r.error.offset).toBeLessThanOrEqual(shift + b.length);
      }
      expect(typeof stun.verifyFingerprint(buf, shift, b.length)).toBe("boolean");
    },
  );
});
