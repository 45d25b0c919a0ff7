import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { fromHex, hex } from "../wire/bytes.js";
import { CaptureError } from "./capture-error.js";
import type { CaptureRecord } from "./capture.js";
import { LinkType } from "./capture.js";
import {
  emitHeader,
  emitRecord,
  MAX_CAPLEN,
  parseHeader,
  PCAP_HEADER_LEN,
  PcapDecoder,
  PcapField,
  PcapRecordField,
  PcapWriter,
} from "./pcap.js";
import type { PcapWriterOptions } from "./pcap.js";
import { parseCapture } from "./reader.js";
import { emitCapture } from "./writer.js";

// Written by text2pcap 4.0.17 (`TZ=UTC text2pcap -t '%Y-%m-%d %H:%M:%S.%f' -F pcap`) from two packets stamped
// 2024-01-02 03:04:05.123456789 and 03:04:06.5: little-endian, microsecond magic, Ethernet, snaplen 262144.
const TEXT2PCAP_MICRO_LE =
  "d4c3b2a10200040000000000000000000000040001000000257d936540e20100140000001400000000112233445566778899aabb080045" +
  "0000140000267d936520a107000e0000000e000000ffffffffffff02000000000186dd";
// The same with `-F nsecpcap`: nanosecond magic, the fraction kept to the nanosecond.
const TEXT2PCAP_NANO_LE =
  "4d3cb2a10200040000000000000000000000040001000000257d936515cd5b07140000001400000000112233445566778899aabb080045" +
  "0000140000267d93650065cd1d0e0000000e000000ffffffffffff02000000000186dd";
const FIRST_DATA = "00112233445566778899aabb0800450000140000";
const SECOND_DATA = "ffffffffffff02000000000186dd";
const T1_SECONDS = 1704164645n; // 2024-01-02T03:04:05Z
const T2_SECONDS = 1704164646n;

function parsed(bytes: Uint8Array) {
  const r = parseCapture(bytes);
  if (!r.ok) throw r.error;
  return r.value;
}

/** Rewrites a little-endian classic pcap as big-endian, field by field, to get a real big-endian file. */
function toBigEndian(le: Uint8Array): Uint8Array {
  const be = le.slice();
  const swap = (at: number, n: number): void => {
    be.set(
      le
        .subarray(at, at + n)
        .slice()
        .reverse(),
      at,
    );
  };
  swap(PcapField.MAGIC, 4);
  swap(PcapField.VERSION_MAJOR, 2);
  swap(PcapField.VERSION_MINOR, 2);
  for (const f of [PcapField.THISZONE, PcapField.SIGFIGS, PcapField.SNAPLEN, PcapField.LINKTYPE]) swap(f, 4);
  let p = PCAP_HEADER_LEN;
  while (p < le.length) {
    for (const f of Object.values(PcapRecordField)) swap(p + f, 4);
    const caplen = new DataView(le.buffer, le.byteOffset, le.byteLength).getUint32(p + PcapRecordField.INCL_LEN, true);
    p += 16 + caplen;
  }
  return be;
}

describe("classic pcap: reading files written by text2pcap", () => {
  it("reads a little-endian microsecond file: header, link type, timestamps, bytes, lengths", () => {
    const cap = parsed(fromHex(TEXT2PCAP_MICRO_LE));
    expect(cap.format).toBe("pcap");
    expect(cap.interfaces).toEqual([{ linkType: LinkType.ETHERNET, snaplen: 262144, tsresol: 6, tsoffsetSeconds: 0n }]);
    expect(cap.records).toHaveLength(2);
    const [a, b] = cap.records;
    expect(a.timestampNs).toBe(T1_SECONDS * 1_000_000_000n + 123_456_000n);
    expect(b.timestampNs).toBe(T2_SECONDS * 1_000_000_000n + 500_000_000n);
    expect(hex(a.data)).toBe(FIRST_DATA);
    expect(a.originalLength).toBe(20);
    expect(hex(b.data)).toBe(SECOND_DATA);
    expect(b.originalLength).toBe(14);
    expect([a.interfaceId, a.linkType, a.comment]).toEqual([0, LinkType.ETHERNET, undefined]);
  });

  it("reads the nanosecond variant to the nanosecond", () => {
    const cap = parsed(fromHex(TEXT2PCAP_NANO_LE));
    expect(cap.interfaces[0].tsresol).toBe(9);
    expect(cap.records.map((r) => r.timestampNs)).toEqual([
      T1_SECONDS * 1_000_000_000n + 123_456_789n,
      T2_SECONDS * 1_000_000_000n + 500_000_000n,
    ]);
  });

  it("reads big-endian files (magic a1b2c3d4 and a1b23c4d) to the same records", () => {
    for (const fixture of [TEXT2PCAP_MICRO_LE, TEXT2PCAP_NANO_LE]) {
      const le = fromHex(fixture);
      const be = toBigEndian(le);
      expect(hex(be.subarray(0, 4))).toMatch(/^a1b2(c3d4|3c4d)$/);
      expect(parsed(be).records).toEqual(parsed(le).records);
    }
  });

  it("parseHeader reports version, snaplen and strips the FCS bits from the link-type field", () => {
    const b = fromHex(TEXT2PCAP_MICRO_LE).subarray(0, PCAP_HEADER_LEN).slice();
    b[PcapField.LINKTYPE + 3] = 0x10 | 0x04; // FCS present flag + 2 * 16-bit words, pcap-savefile(5)
    b[PcapField.LINKTYPE] = LinkType.RAW;
    const h = parseHeader(b, 0, 0);
    if (h instanceof CaptureError) throw h;
    expect(h).toMatchObject({ littleEndian: true, precision: "us", versionMajor: 2, versionMinor: 4, snaplen: 262144 });
    expect(h.linkType).toBe(LinkType.RAW);
    expect(h.linkTypeField >>> 24).toBe(0x14);
  });

  it("passes other link types through as numbers", () => {
    const bytes = emitCapture(
      [{ interfaceId: 0, linkType: 147, timestampNs: 5n, data: Uint8Array.of(1, 2, 3), originalLength: 3 }],
      { format: "pcap" },
    );
    expect(parsed(bytes).records[0].linkType).toBe(147);
  });
});

describe("classic pcap: malformed input is a CaptureError with the offset", () => {
  it("rejects an unknown magic", () => {
    const r = parseCapture(fromHex("a1b2c3d5" + "00".repeat(20)));
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.error.code, r.error.offset]).toEqual(["bad-magic", 0]);
  });

  it("rejects a major version other than 2", () => {
    const b = fromHex(TEXT2PCAP_MICRO_LE);
    b[PcapField.VERSION_MAJOR] = 3;
    const r = parseCapture(b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.error.code, r.error.offset, r.error.block]).toEqual(["bad-version", 4, "pcap header"]);
  });

  it("rejects a record whose caplen is absurd, naming the field offset", () => {
    const b = fromHex(TEXT2PCAP_MICRO_LE);
    const second = PCAP_HEADER_LEN + 16 + 20;
    b.set([0, 0, 0, 0x40], second + PcapRecordField.INCL_LEN); // 1 GiB
    const r = parseCapture(b);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toBeInstanceOf(CaptureError);
      expect([r.error.code, r.error.offset, r.error.block]).toEqual(["too-large", second + 8, "pcap record"]);
    }
  });

  it("reports a file cut inside a record as truncated at that record", () => {
    const b = fromHex(TEXT2PCAP_MICRO_LE);
    for (const cut of [10, PCAP_HEADER_LEN + 5, PCAP_HEADER_LEN + 16 + 3, b.length - 1]) {
      const r = parseCapture(b.subarray(0, cut));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe("truncated");
        expect(r.error.offset).toBe(
          cut < PCAP_HEADER_LEN ? 0 : cut < PCAP_HEADER_LEN + 36 ? PCAP_HEADER_LEN : PCAP_HEADER_LEN + 36,
        );
      }
    }
  });

  it("decoder asks for the header first, then the record header, then the whole record", () => {
    const b = fromHex(TEXT2PCAP_MICRO_LE);
    const d = new PcapDecoder();
    expect(d.step(b, 0, 10, 0)).toEqual({ kind: "need", bytes: 24, block: "pcap header" });
    expect(d.step(b, 0, b.length, 0)).toEqual({ kind: "skip", consumed: 24 });
    expect(d.step(b, 24, 8, 24)).toEqual({ kind: "need", bytes: 16, block: "pcap record" });
    expect(d.step(b, 24, 20, 24)).toEqual({ kind: "need", bytes: 36, block: "pcap record" });
    expect(d.step(b, 24, 36, 24)).toMatchObject({ kind: "record", consumed: 36 });
  });
});

describe("classic pcap: writing", () => {
  it("writes byte for byte what text2pcap writes (little-endian, both precisions)", () => {
    for (const [fixture, precision] of [
      [TEXT2PCAP_MICRO_LE, "us"],
      [TEXT2PCAP_NANO_LE, "ns"],
    ] as const) {
      const chunks: Uint8Array[] = [];
      const w = new PcapWriter((c) => chunks.push(c), { linkType: LinkType.ETHERNET, precision });
      for (const r of parsed(fromHex(TEXT2PCAP_NANO_LE)).records) w.writePacket(r);
      expect(chunks.map(hex).join("")).toBe(fixture);
    }
  });

  it("keeps caplen below the original length (snaplen truncation)", () => {
    const b = emitRecord(
      { timestampNs: 1_500_000_000n, data: Uint8Array.of(9, 8, 7), originalLength: 1500 },
      "us",
      false,
    );
    expect(hex(b)).toBe("00000001" + "0007a120" + "00000003" + "000005dc" + "090807");
  });

  it("refuses timestamps before 1970 or past 2106 and lengths below caplen", () => {
    expect(() => emitRecord({ timestampNs: -1n, data: new Uint8Array(0) }, "ns", true)).toThrow(RangeError);
    expect(() => emitRecord({ timestampNs: 2n ** 32n * 1_000_000_000n, data: new Uint8Array(0) }, "ns", true)).toThrow(
      RangeError,
    );
    expect(() => emitRecord({ timestampNs: 0n, data: new Uint8Array(4), originalLength: 3 }, "ns", true)).toThrow(
      RangeError,
    );
    expect(() => emitRecord({ timestampNs: 0n, data: new Uint8Array(MAX_CAPLEN + 1) }, "ns", true)).toThrow(RangeError);
  });

  it("header carries the options given", () => {
    const h = emitHeader({ linkType: LinkType.RAW, snaplen: 65535, precision: "us", littleEndian: false });
    expect(hex(h)).toBe("a1b2c3d4" + "00020004" + "00000000" + "00000000" + "0000ffff" + "00000065");
  });
});

const recordArb = (linkType: number) =>
  fc
    .record({
      seconds: fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }),
      nanos: fc.bigInt({ min: 0n, max: 999_999_999n }),
      data: fc.uint8Array({ maxLength: 80 }),
      extra: fc.nat({ max: 70000 }),
    })
    .map(({ seconds, nanos, data, extra }): CaptureRecord => ({
      interfaceId: 0,
      linkType,
      timestampNs: seconds * 1_000_000_000n + nanos,
      data,
      originalLength: data.length + extra,
    }));

describe("classic pcap: properties", () => {
  it("records → bytes → records is exact for nanosecond files and bytes → records → bytes is identity", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }).chain((lt) => fc.array(recordArb(lt), { minLength: 1, maxLength: 8 })),
        fc.boolean(),
        (records, littleEndian) => {
          const options = { format: "pcap", precision: "ns", littleEndian } as const;
          const bytes = emitCapture(records, options);
          const back = parsed(bytes).records;
          expect(back).toEqual(records);
          expect(hex(emitCapture(back, options))).toBe(hex(bytes));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("microsecond files keep the timestamp truncated to the microsecond", () => {
    fc.assert(
      fc.property(
        fc.array(recordArb(LinkType.ETHERNET), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (records, le) => {
          const options: PcapWriterOptions = { linkType: LinkType.ETHERNET, precision: "us", littleEndian: le };
          const chunks: Uint8Array[] = [];
          const w = new PcapWriter((c) => chunks.push(c), options);
          for (const r of records) w.writePacket(r);
          const back = parsed(Uint8Array.from(chunks.flatMap((c) => [...c]))).records;
          expect(back.map((r) => r.timestampNs)).toEqual(records.map((r) => r.timestampNs - (r.timestampNs % 1000n)));
          expect(back.map((r) => hex(r.data))).toEqual(records.map((r) => hex(r.data)));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("classic pcap: writeCapture/emitCapture", () => {
  it("writes an empty file given the link type, refuses one without, and refuses mixed link types", () => {
    const empty = emitCapture([], { format: "pcap", linkType: LinkType.RAW });
    expect(parsed(empty)).toEqual({
      format: "pcap",
      interfaces: [{ linkType: LinkType.RAW, snaplen: MAX_CAPLEN, tsresol: 9, tsoffsetSeconds: 0n }],
      records: [],
    });
    expect(() => emitCapture([], { format: "pcap" })).toThrow(RangeError);
    const r = (linkType: number): CaptureRecord => ({
      interfaceId: 0,
      linkType,
      timestampNs: 0n,
      data: Uint8Array.of(1),
      originalLength: 1,
    });
    expect(() => emitCapture([r(1), r(101)], { format: "pcap" })).toThrow(/one link type/);
    expect(() => emitCapture([r(1)], { format: "pcap", linkType: 101 })).toThrow(/one link type/);
  });
});
