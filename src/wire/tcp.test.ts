import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { fromHex, hex, readU16, readU32 } from "./bytes.js";
import type { PseudoHeader } from "./pseudo-header.js";
import type { Result } from "./result.js";
import * as tcp from "./tcp.js";
import { TcpField, TcpFlags, TcpView, findMss, findWindowScale, flagsToString, type TcpOption } from "./tcp.js";

// Captured with tcpdump on a veth between two network namespaces (192.0.2.1 → 192.0.2.2:8080, Linux 6.x,
// checksum offload off); tcpdump reported every checksum correct. IPv4 header + TCP segment.
const SYN =
  "4500003c0caf40004006aa09c0000201c000020285ec1f9047bb9a4200000000a002faf073000000020405b40402080a286ea61f000000000103030a";
const SYN_ACK =
  "4500003c000040004006b6b8c0000202c00002011f9085ecef53ea8d47bb9a43a012fe88c32a0000020405b40402080ad2beff8b286ea61f0103030a";
const PSH =
  "450000420cb140004006aa01c0000201c000020285ec1f9047bb9a43ef53ea8e8018003fe9f000000101080a286ea61fd2beff8b68656c6c6f206d616c6c6f72790a";
const FIN = "450000340cb240004006aa0ec0000201c000020285ec1f9047bb9a51ef53ea8e8011003ff03400000101080a286ea61fd2beff8b";

/** Splits a captured IPv4 packet into its TCP segment (offset, length) and pseudo-header. */
function capture(h: string): { b: Uint8Array; at: number; len: number; pseudo: PseudoHeader & { family: 4 } } {
  const b = fromHex(h);
  const at = (b[0] & 0x0f) * 4;
  return { b, at, len: readU16(b, 2) - at, pseudo: { family: 4, src: readU32(b, 12), dst: readU32(b, 16) } };
}

function value<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.field} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
}

describe("captured Linux segments", () => {
  it("parses a Linux SYN with MSS, SACK-permitted, timestamps, NOP and window scale", () => {
    const { b, at, len, pseudo } = capture(SYN);
    const r = value(tcp.parse(b, at, len));
    expect(r).toMatchObject({ srcPort: 34284, dstPort: 8080, seq: 1203477058, ack: 0, window: 64240, urgent: 0 });
    expect(r.flags).toBe(TcpFlags.SYN);
    expect(r.checksum).toBe(0x7300);
    expect(r.options).toEqual([
      { kind: "mss", value: 1460 },
      { kind: "sack-permitted" },
      { kind: "timestamps", tsval: 678340127, tsecr: 0 },
      { kind: "nop" },
      { kind: "window-scale", shift: 10 },
    ]);
    expect(r.payload.length).toBe(0);
    expect(tcp.verifyChecksum(b, at, len, pseudo)).toBe(true);
    expect(flagsToString(r.flags)).toBe("S");
    expect(hex(tcp.emit(r, pseudo))).toBe(hex(b.subarray(at)));
  });

  it("parses the SYN/ACK, the data segment and the FIN, and re-emits each byte for byte", () => {
    const cases: [string, string, number][] = [
      [SYN_ACK, "S.", 0],
      [PSH, "P.", 14],
      [FIN, "F.", 0],
    ];
    for (const [h, flags, payloadLen] of cases) {
      const { b, at, len, pseudo } = capture(h);
      const r = value(tcp.parse(b, at, len));
      expect(flagsToString(r.flags)).toBe(flags);
      expect(r.payload.length).toBe(payloadLen);
      expect(tcp.verifyChecksum(b, at, len, pseudo)).toBe(true);
      expect(hex(tcp.emit(r, pseudo))).toBe(hex(b.subarray(at)));
    }
    const psh = capture(PSH);
    const r = value(tcp.parse(psh.b, psh.at, psh.len));
    expect(new TextDecoder().decode(r.payload.slice())).toBe("hello mallory\n");
    expect(r.ack).toBe(0xef53ea8e);
    expect(r.options).toEqual([
      { kind: "nop" },
      { kind: "nop" },
      { kind: "timestamps", tsval: 678340127, tsecr: 3535732619 },
    ]);
  });

  it("finds MSS and window scale without parsing, and -1 when absent", () => {
    const syn = capture(SYN);
    expect(findWindowScale(syn.b, syn.at)).toBe(10);
    expect(findMss(syn.b, syn.at)).toBe(1460);
    const psh = capture(PSH);
    expect(findWindowScale(psh.b, psh.at)).toBe(-1);
    expect(findMss(psh.b, psh.at)).toBe(-1);
    expect(findMss(syn.b, syn.b.length - 4)).toBe(-1); // header would run past the buffer
  });

  it("reports a corrupted checksum without rejecting the segment", () => {
    const { b, at, len, pseudo } = capture(SYN);
    b[at + TcpField.CHECKSUM] ^= 0x01;
    expect(tcp.parse(b, at, len).ok).toBe(true);
    expect(tcp.verifyChecksum(b, at, len, pseudo)).toBe(false);
    // The checksum covers the pseudo-header: the right bytes under another destination do not verify.
    const fixed = capture(SYN);
    expect(tcp.verifyChecksum(fixed.b, fixed.at, fixed.len, { ...fixed.pseudo, dst: 0xc0000203 })).toBe(false);
  });
});

describe("TcpView", () => {
  it("reads and rewrites fields in place, then refills the checksum", () => {
    const { b, at, len, pseudo } = capture(SYN_ACK);
    const v = new TcpView().wrap(b, at, len);
    expect(v.check()).toBeNull();
    expect([v.srcPort, v.dstPort, v.seq, v.ack, v.window, v.headerLength]).toEqual([
      8080, 34284, 4015254157, 1203477059, 65160, 40,
    ]);
    expect(v.flags).toBe(TcpFlags.SYN | TcpFlags.ACK);
    expect(v.verifyChecksum(pseudo)).toBe(true);
    v.dstPort = 40000;
    v.seq = 0xfffffffe;
    v.flags = TcpFlags.RST | TcpFlags.ACK | TcpFlags.NS;
    expect(v.verifyChecksum(pseudo)).toBe(false);
    v.fillChecksum(pseudo);
    expect(v.verifyChecksum(pseudo)).toBe(true);
    const r = value(tcp.parse(b, at, len));
    expect(r).toMatchObject({ dstPort: 40000, seq: 0xfffffffe, flags: 0x114 });
    expect(v.headerLength).toBe(40); // the flags setter kept the data offset
    expect(flagsToString(r.flags)).toBe("R.e");
    expect(v.payloadOffset).toBe(at + 40);
    expect(v.options.length).toBe(20);
  });

  it("check() rejects what parse rejects", () => {
    const v = new TcpView(fromHex("0000000000000000000000004000000000000000"));
    expect(v.check()).toMatchObject({ protocol: "tcp", field: "data-offset", offset: 12 });
  });
});

describe("malformed segments are WireErrors naming the field and offset", () => {
  const syn = capture(SYN);
  const seg = () => syn.b.slice(syn.at);

  it("truncated header and bad data offsets", () => {
    expect(tcp.parse(seg(), 0, 19)).toMatchObject({ ok: false, error: { field: "header", offset: 19 } });
    const low = seg();
    low[TcpField.DATA_OFF] = 0x40;
    expect(tcp.parse(low)).toMatchObject({ ok: false, error: { field: "data-offset", offset: 12 } });
    const high = seg();
    high[TcpField.DATA_OFF] = 0xf0;
    expect(tcp.parse(high)).toMatchObject({ ok: false, error: { field: "data-offset", offset: 12 } });
    expect(tcp.parse(seg(), 30, 20)).toMatchObject({ ok: false, error: { field: "buffer" } });
  });

  it("option lengths that are wrong for the kind, too short, or run past the header", () => {
    const cases: [number, number, string, number][] = [
      [21, 3, "option mss", 21], // MSS length 3
      [21, 1, "option mss", 21], // below 2
      [21, 40, "option mss", 21], // past the header
      [25, 3, "option sack-permitted", 25],
      [27, 9, "option timestamps", 27],
      [38, 4, "option window-scale", 38], // runs past the header
    ];
    for (const [off, v, field, errOff] of cases) {
      const b = seg();
      b[off] = v;
      const r = tcp.parse(b);
      expect(r).toMatchObject({ ok: false, error: { protocol: "tcp", field, offset: errOff } });
    }
    // A kind byte as the last header byte has no length.
    const b = seg();
    b.set([1, 1, 30], 37);
    expect(tcp.parse(b)).toMatchObject({ ok: false, error: { field: "option kind-30", offset: 39 } });
    // SACK must be 2 + 8n bytes.
    const s = seg();
    s.set([5, 6, 1, 2, 3, 4], 20);
    expect(tcp.parse(s)).toMatchObject({ ok: false, error: { field: "option sack", offset: 21 } });
  });
});

describe("options are kept exactly", () => {
  const pseudo: PseudoHeader = { family: 4, src: 0xc0000201, dst: 0xc0000202 };
  const base = { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TcpFlags.ACK, window: 5, checksum: 0, urgent: 0 };

  it("round-trips EOL followed by non-zero bytes, SACK blocks and unknown kinds (TFO cookie)", () => {
    const options: TcpOption[] = [
      { kind: "nop" },
      { kind: "nop" },
      {
        kind: "sack",
        blocks: [
          { left: 1000, right: 2000 },
          { left: 3000, right: 4000 },
        ],
      },
      { kind: "unknown", type: 34, data: fromHex("0102030405060708") },
      { kind: "eol", trailing: fromHex("aabbcc0011") },
    ];
    const bytes = tcp.emit({ ...base, options, payload: fromHex("deadbeef") }, pseudo);
    expect(bytes.length).toBe(20 + 36 + 4);
    expect(bytes[TcpField.DATA_OFF] >>> 4).toBe(14);
    const r = value(tcp.parse(bytes));
    expect(r.options).toEqual(options);
    expect(hex(tcp.emit(r, pseudo))).toBe(hex(bytes));
  });

  it("pads unaligned options with zero (EOL) bytes", () => {
    const bytes = tcp.emit(
      { ...base, options: [{ kind: "window-scale", shift: 7 }], payload: new Uint8Array() },
      pseudo,
    );
    expect(hex(bytes.subarray(20))).toBe("03030700");
    expect(value(tcp.parse(bytes)).options).toEqual([
      { kind: "window-scale", shift: 7 },
      { kind: "eol", trailing: new Uint8Array(0) },
    ]);
  });

  it("refuses options that cannot fit in 40 bytes", () => {
    const options = Array.from({ length: 41 }, (): TcpOption => ({ kind: "nop" }));
    expect(() => tcp.emit({ ...base, options, payload: new Uint8Array() }, pseudo)).toThrow(RangeError);
  });
});

it("flagsToString prints tcpdump's letters in tcpdump's order", () => {
  expect(flagsToString(TcpFlags.RST | TcpFlags.ACK)).toBe("R.");
  expect(flagsToString(TcpFlags.FIN | TcpFlags.PSH | TcpFlags.ACK)).toBe("FP.");
  expect(flagsToString(TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR)).toBe("SEW");
  expect(flagsToString(TcpFlags.ACK | TcpFlags.URG)).toBe(".U");
  expect(flagsToString(0)).toBe("none");
});

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const knownKinds = new Set([0, 1, 2, 3, 4, 5, 8]);
const optionArb: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: "nop" }),
  u16.map((value): TcpOption => ({ kind: "mss", value })),
  fc.integer({ min: 0, max: 255 }).map((shift): TcpOption => ({ kind: "window-scale", shift })),
  fc.constant<TcpOption>({ kind: "sack-permitted" }),
  fc
    .array(fc.record({ left: u32, right: u32 }), { minLength: 1, maxLength: 4 })
    .map((blocks): TcpOption => ({ kind: "sack", blocks })),
  fc.record({ tsval: u32, tsecr: u32 }).map(({ tsval, tsecr }): TcpOption => ({ kind: "timestamps", tsval, tsecr })),
  fc
    .record({
      type: fc.integer({ min: 6, max: 255 }).filter((k) => !knownKinds.has(k)),
      data: fc.uint8Array({ maxLength: 12 }),
    })
    .map(({ type, data }): TcpOption => ({ kind: "unknown", type, data })),
);

function rawLen(o: TcpOption): number {
  switch (o.kind) {
    case "nop":
      return 1;
    case "eol":
      return 1 + o.trailing.length;
    case "mss":
      return 4;
    case "window-scale":
      return 3;
    case "sack-permitted":
      return 2;
    case "sack":
      return 2 + 8 * o.blocks.length;
    case "timestamps":
      return 10;
    case "unknown":
      return 2 + o.data.length;
  }
}

/** Options that fill a whole header: the list, then (when needed or asked for) an EOL whose trailing bytes align it. */
const alignedOptions = fc
  .tuple(fc.array(optionArb, { maxLength: 8 }), fc.option(fc.uint8Array({ maxLength: 12 })))
  .map(([list, eolTail]) => {
    const options: TcpOption[] = [];
    let n = 0;
    for (const o of list) {
      if (n + rawLen(o) > 40) break;
      options.push(o);
      n += rawLen(o);
    }
    if (n < 40 && (n % 4 !== 0 || eolTail !== null)) {
      const align = (4 - ((n + 1) % 4)) % 4;
      const words = eolTail === null ? 0 : Math.floor(Math.min(eolTail.length, 39 - n - align) / 4) * 4;
      const trailing = new Uint8Array(align + words);
      if (eolTail !== null) trailing.set(eolTail.subarray(0, trailing.length));
      options.push({ kind: "eol", trailing });
    }
    return options;
  });

const reprArb = fc.record({
  srcPort: u16,
  dstPort: u16,
  seq: u32,
  ack: u32,
  flags: fc.integer({ min: 0, max: 0xfff }),
  window: u16,
  checksum: fc.constant(0),
  urgent: u16,
  options: alignedOptions,
  payload: fc.uint8Array({ maxLength: 64 }),
});
const pseudoArb: fc.Arbitrary<PseudoHeader> = fc.oneof(
  fc.record({ family: fc.constant(4 as const), src: u32, dst: u32 }),
  fc.record({
    family: fc.constant(6 as const),
    src: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    dst: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  }),
);

describe("properties", () => {
  fcTest.prop([reprArb, pseudoArb], { numRuns: 2000 })(
    "repr → emit → parse gives the repr back, with a valid checksum, and emit(parse(b)) = b",
    (repr, pseudo) => {
      const bytes = tcp.emit(repr, pseudo);
      expect(bytes.length).toBe(tcp.bufferLen(repr));
      expect(tcp.verifyChecksum(bytes, 0, bytes.length, pseudo)).toBe(true);
      const back = value(tcp.parse(bytes));
      expect(back).toEqual({ ...repr, checksum: readU16(bytes, TcpField.CHECKSUM) });
      expect(hex(tcp.emit(back, pseudo))).toBe(hex(bytes));
      const ws = repr.options.find((o) => o.kind === "window-scale");
      const firstEol = repr.options.findIndex((o) => o.kind === "eol");
      const wsIndex = repr.options.findIndex((o) => o.kind === "window-scale");
      if (ws && (firstEol < 0 || wsIndex < firstEol)) expect(findWindowScale(bytes, 0)).toBe(ws.shift);
      else expect(findWindowScale(bytes, 0)).toBe(-1);
    },
  );

  const fixtures = [SYN, SYN_ACK, PSH, FIN].map((h) => capture(h).b.subarray(capture(h).at));
  const mutated = fc
    .tuple(
      fc.constantFrom(...fixtures),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(),
    )
    .map(([f, muts, cut]) => {
      const b = f.slice(0, f.length - (cut % (f.length + 1)));
      for (const [i, v] of muts) if (b.length > 0) b[i % b.length] = v;
      return b;
    });

  fcTest.prop([fc.oneof(fc.uint8Array({ maxLength: 80 }), mutated), fc.nat({ max: 8 }), fc.nat({ max: 8 })], {
    numRuns: 20000,
  })("parse never throws; errors point inside [at, at+len]; findMss/findWindowScale stay in bounds", (b, pre, post) => {
    const buf = new Uint8Array(pre + b.length + post);
    buf.set(b, pre);
    const r = tcp.parse(buf, pre, b.length);
    if (!r.ok) {
      expect(r.error.offset).toBeGreaterThanOrEqual(pre);
      expect(r.error.offset).toBeLessThanOrEqual(pre + b.length);
    } else {
      const again = tcp.emit(r.value, { family: 4, src: 1, dst: 2 });
      expect(hex(again.subarray(0, 16)) + hex(again.subarray(18))).toBe(
        hex(buf.subarray(pre, pre + 16)) + hex(buf.subarray(pre + 18, pre + b.length)),
      );
    }
    const v = new TcpView(buf, pre, b.length);
    expect(v.check() === null).toBe(r.ok || r.error.field.startsWith("option"));
    expect(findMss(buf, pre)).toBeGreaterThanOrEqual(-1);
    expect(findWindowScale(b, 0)).toBeLessThan(256);
  });
});
