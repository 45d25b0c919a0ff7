import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { fromHex, hex } from "../wire/bytes.js";
import type { CaptureRecord } from "./capture.js";
import { LinkType } from "./capture.js";
import { BlockType, EpbField, MAX_BLOCK_LEN, OptionCode, parseOptions, PcapngDecoder, PcapngWriter } from "./pcapng.js";
import { parseCapture } from "./reader.js";
import { emitCapture } from "./writer.js";

// Written by text2pcap 4.0.17 (`TZ=UTC text2pcap -t '%Y-%m-%d %H:%M:%S.%f'`, pcapng output): an SHB with a comment,
// shb_hardware, shb_os and shb_userappl; an IDB with if_name "Fake IF, text2pcap" and if_tsresol 9; two EPBs.
const TEXT2PCAP_PCAPNG =
  "0a0d0d0ac80000004d3c2b1a01000000ffffffffffffffff0100200047656e6572617465642066726f6d20696e7075742066696c652064" +
  "2e7478742e02001600414d44204550594320287769746820535345342e32290000030015004c696e757820362e31382e34342d66632d76" +
  "36353700000004004700546578743270636170202857697265736861726b2920342e302e313720284769742076342e302e313720706163" +
  "6b6167656420617320342e302e31372d302b64656231327533290000000000c8000000010000003800000001000000000004000200120046" +
  "616b652049462c20746578743270636170000009000100090000000000000038000000060000003400000000000000b768a61715ff5c3714" +
  "0000001400000000112233445566778899aabb080045000014000034000000060000003000000000000000b768a617006169890e0000000e" +
  "000000ffffffffffff02000000000186dd000030000000";
const T1 = 1704164645_123456789n;
const T2 = 1704164646_500000000n;

function parsed(bytes: Uint8Array) {
  const r = parseCapture(bytes);
  if (!r.ok) throw r.error;
  return r.value;
}

// A block builder independent of PcapngWriter, so hand-made fixtures do not test the writer against itself.
function u16(v: number, le: boolean): number[] {
  return le ? [v & 0xff, v >>> 8] : [v >>> 8, v & 0xff];
}
function u32(v: number, le: boolean): number[] {
  const b = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  return le ? b.reverse() : b;
}
function pad(b: number[]): number[] {
  return [...b, ...new Array<number>((4 - (b.length % 4)) % 4).fill(0)];
}
function opt(code: number, value: number[] | string, le: boolean): number[] {
  const v = typeof value === "string" ? [...new TextEncoder().encode(value)] : value;
  return [...u16(code, le), ...u16(v.length, le), ...pad(v)];
}
const END = [0, 0, 0, 0];
function block(type: number, body: number[], le: boolean): number[] {
  const total = 12 + body.length;
  return [...u32(type, le), ...u32(total, le), ...body, ...u32(total, le)];
}
function shb(le: boolean, options: number[] = []): number[] {
  return block(
    BlockType.SHB,
    [...u32(0x1a2b3c4d, le), ...u16(1, le), ...u16(0, le), ...new Array<number>(8).fill(0xff), ...options],
    le,
  );
}
function idb(linkType: number, snaplen: number, le: boolean, options: number[] = []): number[] {
  return block(BlockType.IDB, [...u16(linkType, le), 0, 0, ...u32(snaplen, le), ...options], le);
}
function epb(
  iface: number,
  units: bigint,
  data: number[],
  le: boolean,
  options: number[] = [],
  origlen = data.length,
): number[] {
  const hi = Number(units >> 32n);
  const lo = Number(units & 0xffffffffn);
  return block(
    BlockType.EPB,
    [
      ...u32(iface, le),
      ...u32(hi, le),
      ...u32(lo, le),
      ...u32(data.length, le),
      ...u32(origlen, le),
      ...pad(data),
      ...options,
    ],
    le,
  );
}

describe("pcapng: reading a file written by text2pcap", () => {
  it("reads the interface, both packets, nanosecond timestamps and lengths", () => {
    const cap = parsed(fromHex(TEXT2PCAP_PCAPNG));
    expect(cap.format).toBe("pcapng");
    expect(cap.interfaces).toEqual([
      { linkType: LinkType.ETHERNET, snaplen: 262144, name: "Fake IF, text2pcap", tsresol: 9, tsoffsetSeconds: 0n },
    ]);
    expect(cap.records.map((r) => [r.interfaceId, r.linkType, r.timestampNs, hex(r.data), r.originalLength])).toEqual([
      [0, 1, T1, "00112233445566778899aabb0800450000140000", 20],
      [0, 1, T2, "ffffffffffff02000000000186dd", 14],
    ]);
  });

  it("keeps the SHB options it does not interpret (comment, hardware, os, application)", () => {
    const d = new PcapngDecoder();
    const b = fromHex(TEXT2PCAP_PCAPNG);
    expect(d.step(b, 0, b.length, 0)).toEqual({ kind: "skip", consumed: 200 });
    const text = d.sectionOptions.map((o) => [o.code, new TextDecoder().decode(o.value)]);
    expect(text[0]).toEqual([OptionCode.COMMENT, "Generated from input file d.txt."]);
    expect(text.map((t) => t[0])).toEqual([1, 2, 3, 4]);
    expect(text[3][1]).toMatch(/^Text2pcap \(Wireshark\) 4\.0\.17/);
  });
});

describe("pcapng: hand-built sections", () => {
  for (const le of [true, false]) {
    it(`reads a ${le ? "little" : "big"}-endian section: IDB options, EPB comments (UTF-8, several), unknown blocks`, () => {
      const file = [
        ...shb(le, [...opt(0x1234, [1, 2, 3], le), ...opt(OptionCode.SHB_USERAPPL, "x", le), ...END]),
        ...idb(LinkType.RAW, 65535, le, [
          ...opt(OptionCode.IF_NAME, "wan0", le),
          ...opt(OptionCode.IF_DESCRIPTION, "uplink", le),
          ...opt(OptionCode.IF_TSRESOL, [3], le),
          ...END,
        ]),
        ...block(0x0bad, [1, 2, 3, 4, 5, 6, 7, 8], le), // unknown block type: skipped by its length
        ...block(BlockType.ISB, [...u32(0, le), ...new Array<number>(8).fill(0)], le),
        ...epb(0, 1_700_000_000_123n, [0x45, 0, 0, 20, 9], le, [
          ...opt(OptionCode.COMMENT, "verdict: drop — rule 7", le),
          ...opt(OptionCode.EPB_FLAGS, u32(1, le), le),
          ...opt(OptionCode.COMMENT, "second", le),
          ...END,
        ]),
        ...epb(0, 5n, [0x60], le, [], 1500),
      ];
      const cap = parsed(Uint8Array.from(file));
      expect(cap.interfaces).toEqual([
        {
          linkType: LinkType.RAW,
          snaplen: 65535,
          name: "wan0",
          description: "uplink",
          tsresol: 3,
          tsoffsetSeconds: 0n,
        },
      ]);
      expect(cap.records).toEqual([
        {
          interfaceId: 0,
          linkType: LinkType.RAW,
          timestampNs: 1_700_000_000_123_000_000n,
          data: Uint8Array.of(0x45, 0, 0, 20, 9),
          originalLength: 5,
          comment: "verdict: drop — rule 7\nsecond",
        },
        {
          interfaceId: 0,
          linkType: LinkType.RAW,
          timestampNs: 5_000_000n,
          data: Uint8Array.of(0x60),
          originalLength: 1500,
        },
      ]);
    });
  }

  it("honours if_tsresol as a power of ten and of two, and if_tsoffset", () => {
    const le = true;
    const file = [
      ...shb(le),
      ...idb(1, 0, le, [...opt(OptionCode.IF_TSRESOL, [0x80 | 10], le), ...END]), // 1/1024 s
      ...idb(1, 0, le, [...opt(OptionCode.IF_TSRESOL, [12], le), ...END]), // picoseconds
      ...idb(1, 0, le, []), // default: microseconds
      ...idb(1, 0, le, [
        ...opt(OptionCode.IF_TSOFFSET, [100, 0, 0, 0, 0, 0, 0, 0], le),
        ...opt(OptionCode.IF_TSRESOL, [0], le),
        ...END,
      ]),
      ...epb(0, 1024n * 3n + 512n, [1], le),
      ...epb(1, 1_234_567_891_234n, [2], le),
      ...epb(2, 7_000_001n, [3], le),
      ...epb(3, 5n, [4], le),
    ];
    const cap = parsed(Uint8Array.from(file));
    expect(cap.records.map((r) => [r.interfaceId, r.timestampNs])).toEqual([
      [0, 3_500_000_000n],
      [1, 1_234_567_891n],
      [2, 7_000_001_000n],
      [3, 105_000_000_000n],
    ]);
  });

  it("reads Simple Packet Blocks (first interface, caplen limited by snaplen) and Obsolete Packet Blocks", () => {
    const le = false;
    const spbBody = [...u32(6, le), ...pad([1, 2, 3, 4])];
    const opbBody = [
      ...u16(1, le),
      ...u16(0, le),
      ...u32(0, le),
      ...u32(2_000_000, le),
      ...u32(2, le),
      ...u32(2, le),
      ...pad([7, 7]),
    ];
    const file = [
      ...shb(le),
      ...idb(LinkType.ETHERNET, 4, le),
      ...idb(LinkType.RAW, 0, le),
      ...block(BlockType.SPB, spbBody, le),
      ...block(BlockType.OPB, [...opbBody, ...opt(OptionCode.COMMENT, "old", le), ...END], le),
    ];
    const cap = parsed(Uint8Array.from(file));
    expect(cap.records).toEqual([
      {
        interfaceId: 0,
        linkType: LinkType.ETHERNET,
        timestampNs: 0n,
        data: Uint8Array.of(1, 2, 3, 4),
        originalLength: 6,
      },
      {
        interfaceId: 1,
        linkType: LinkType.RAW,
        timestampNs: 2_000_000_000n,
        data: Uint8Array.of(7, 7),
        originalLength: 2,
        comment: "old",
      },
    ]);
  });

  it("a second section resets byte order and interface numbering", () => {
    const file = [
      ...shb(true),
      ...idb(LinkType.ETHERNET, 0, true),
      ...epb(0, 1n, [1], true),
      ...shb(false),
      ...idb(LinkType.RAW, 0, false),
      ...epb(0, 2n, [2], false),
    ];
    const cap = parsed(Uint8Array.from(file));
    expect(cap.records.map((r) => [r.interfaceId, r.linkType, r.timestampNs])).toEqual([
      [0, LinkType.ETHERNET, 1000n],
      [0, LinkType.RAW, 2000n],
    ]);
    expect(cap.interfaces).toHaveLength(1);
  });
});

describe("pcapng: malformed input is a CaptureError naming block and offset", () => {
  const le = true;
  const good = [...shb(le), ...idb(1, 0, le)];
  const cases: [string, number[], string, string, number][] = [
    ["first block not an SHB", [...idb(1, 0, le)], "bad-magic", "file", 0],
    ["bad byte-order magic", [...shb(le).slice(0, 8), 1, 2, 3, 4, ...shb(le).slice(12)], "bad-magic", "SHB", 8],
    ["unsupported major version", [...shb(le).slice(0, 12), 2, 0, ...shb(le).slice(14)], "bad-version", "SHB", 12],
    [
      "block length not a multiple of 4",
      [...good, ...u32(6, le), ...u32(13, le), ...new Array<number>(9).fill(0)],
      "bad-length",
      "EPB",
      52,
    ],
    [
      "trailing length disagrees",
      [...good, ...block(0x77, [0, 0, 0, 0], le).slice(0, 12), 20, 0, 0, 0],
      "bad-length",
      "block 0x00000077",
      60,
    ],
    ["EPB names an interface no IDB described", [...good, ...epb(1, 0n, [1], le)], "bad-interface", "EPB", 56],
    [
      "EPB caplen beyond the block",
      [...good, ...epb(0, 0n, [1], le).map((x, i) => (i === EpbField.CAPLEN ? 99 : x))],
      "bad-length",
      "EPB",
      68,
    ],
    [
      "option runs past its block",
      [...good, ...epb(0, 0n, [1], le, [...u16(1, le), ...u16(40, le), 0, 0, 0, 0])],
      "bad-option",
      "EPB",
      82,
    ],
    [
      "SPB before any IDB",
      [...shb(le), ...block(BlockType.SPB, [...u32(1, le), 1, 0, 0, 0], le)],
      "bad-interface",
      "SPB",
      28,
    ],
    [
      "if_tsresol too fine",
      [...shb(le), ...idb(1, 0, le, [...opt(OptionCode.IF_TSRESOL, [20], le), ...END])],
      "bad-option",
      "IDB",
      48,
    ],
    ["block length over the limit", [...good, ...u32(6, le), ...u32(MAX_BLOCK_LEN + 4, le)], "too-large", "EPB", 52],
    ["file cut inside a block", [...good, ...epb(0, 0n, [1, 2, 3], le).slice(0, 20)], "truncated", "EPB", 48],
  ];
  for (const [what, file, code, blockName, offset] of cases) {
    it(what, () => {
      const r = parseCapture(Uint8Array.from(file));
      expect(r.ok).toBe(false);
      if (!r.ok) expect([r.error.code, r.error.block, r.error.offset]).toEqual([code, blockName, offset]);
    });
  }

  it("parseOptions stops at opt_endofopt and refuses an overrun", () => {
    const b = Uint8Array.from([...opt(2, "ab", true), ...END, ...opt(3, "ignored", true)]);
    const opts = parseOptions(b, 0, b.length, true, 100, "IDB");
    expect(Array.isArray(opts) && opts.map((o) => [o.code, hex(o.value)])).toEqual([[2, "6162"]]);
    const bad = parseOptions(b, 0, 5, true, 100, "IDB");
    expect(bad).toMatchObject({ code: "bad-option", offset: 102, block: "IDB" });
  });
});

describe("pcapng: writing", () => {
  it("writes SHB, IDB (name, description, if_tsresol 9) and EPB with a comment, byte for byte", () => {
    const chunks: Uint8Array[] = [];
    const w = new PcapngWriter((c) => chunks.push(c), { application: "t" });
    expect(w.addInterface({ linkType: LinkType.RAW, name: "lan", description: "d" })).toBe(0);
    w.writePacket({ interfaceId: 0, timestampNs: 0x1_0000_0002n, data: Uint8Array.of(0x45, 1), comment: "é" });
    const le = true;
    const expected = [
      ...shb(le, [...opt(OptionCode.SHB_USERAPPL, "t", le), ...END]),
      ...idb(LinkType.RAW, 0, le, [
        ...opt(OptionCode.IF_NAME, "lan", le),
        ...opt(OptionCode.IF_DESCRIPTION, "d", le),
        ...opt(OptionCode.IF_TSRESOL, [9], le),
        ...END,
      ]),
      ...epb(0, 0x1_0000_0002n, [0x45, 1], le, [...opt(OptionCode.COMMENT, "é", le), ...END]),
    ];
    expect(chunks.map(hex)).toHaveLength(3);
    expect(chunks.map(hex).join("")).toBe(hex(Uint8Array.from(expected)));
  });

  it("writes a big-endian section when asked", () => {
    const chunks: Uint8Array[] = [];
    new PcapngWriter((c) => chunks.push(c), { littleEndian: false, application: "t" });
    expect(hex(chunks[0])).toBe(hex(Uint8Array.from([...shb(false, [...opt(4, "t", false), ...END])])));
  });

  it("refuses packets on interfaces never added and impossible lengths", () => {
    const w = new PcapngWriter(() => undefined);
    expect(() => {
      w.writePacket({ interfaceId: 0, timestampNs: 0n, data: new Uint8Array(1) });
    }).toThrow(RangeError);
    w.addInterface({ linkType: 1 });
    expect(() => {
      w.writePacket({ interfaceId: 0, timestampNs: -1n, data: new Uint8Array(1) });
    }).toThrow(RangeError);
    expect(() => {
      w.writePacket({ interfaceId: 0, timestampNs: 0n, data: new Uint8Array(2), originalLength: 1 });
    }).toThrow(RangeError);
  });
});

const recordArb: fc.Arbitrary<CaptureRecord> = fc
  .record({
    interfaceId: fc.integer({ min: 0, max: 2 }),
    timestampNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    data: fc.uint8Array({ maxLength: 70 }),
    extra: fc.nat({ max: 5000 }),
    comment: fc.option(fc.string({ unit: "grapheme", maxLength: 20 }), { nil: undefined }),
  })
  .map(({ interfaceId, timestampNs, data, extra, comment }) => ({
    interfaceId,
    linkType: [LinkType.ETHERNET, LinkType.RAW, 228][interfaceId],
    timestampNs,
    data,
    originalLength: data.length + extra,
    ...(comment === undefined ? {} : { comment }),
  }));

describe("pcapng: properties", () => {
  it("records → bytes → records is exact (both byte orders) and bytes → records → bytes is identity", () => {
    const interfaces = [
      { linkType: LinkType.ETHERNET, name: "eth0" },
      { linkType: LinkType.RAW, name: "wan" },
      { linkType: 228 },
    ];
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 10 }), fc.boolean(), (records, littleEndian) => {
        const options = { interfaces, section: { littleEndian } };
        const bytes = emitCapture(records, options);
        const cap = parsed(bytes);
        expect(cap.records).toEqual(records);
        expect(cap.interfaces.map((i) => [i.linkType, i.tsresol])).toEqual(interfaces.map((i) => [i.linkType, 9]));
        expect(hex(emitCapture(cap.records, options))).toBe(hex(bytes));
      }),
      { numRuns: 500 },
    );
  });
});
