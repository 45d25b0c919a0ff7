// pcapng (draft-ietf-opsawg-pcapng, https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html): a file is
// one or more sections, each a Section Header Block (whose byte-order magic fixes the byte order of the section)
// followed by blocks. Every block is type, total length, body, total length again, padded to 32 bits, so a
// reader can skip any block it does not know. Interfaces (IDBs) are numbered per section in order of appearance.
import { readI64, readU16, readU32, writeU16, writeU32 } from "./byte-order.js";
import { CaptureError } from "./capture-error.js";
import { NANOS_PER_SECOND } from "./capture.js";
import type { CaptureInterface, CaptureRecord } from "./capture.js";
import type { CaptureDecoder, DecodeStep } from "./decode-step.js";

export const BlockType = {
  /** Section Header Block; the value reads the same in both byte orders (§4.1). */
  SHB: 0x0a0d0d0a,
  IDB: 0x00000001,
  /** Obsolete Packet Block (§ Appendix A), still written by old tools. */
  OPB: 0x00000002,
  SPB: 0x00000003,
  NRB: 0x00000004,
  ISB: 0x00000005,
  EPB: 0x00000006,
  DSB: 0x0000000a,
} as const;

/** Offsets common to every block. The trailing copy of the length sits at total length - 4. */
export const BlockField = { TYPE: 0, TOTAL_LENGTH: 4, BODY: 8 } as const;
export const ShbField = {
  BYTE_ORDER_MAGIC: 8,
  VERSION_MAJOR: 12,
  VERSION_MINOR: 14,
  SECTION_LENGTH: 16,
  OPTIONS: 24,
} as const;
export const IdbField = { LINKTYPE: 8, RESERVED: 10, SNAPLEN: 12, OPTIONS: 16 } as const;
export const EpbField = { INTERFACE_ID: 8, TS_HIGH: 12, TS_LOW: 16, CAPLEN: 20, ORIGLEN: 24, DATA: 28 } as const;
/** Obsolete Packet Block: as the EPB but with a 16-bit interface id followed by a 16-bit drop count. */
export const OpbField = {
  INTERFACE_ID: 8,
  DROPS: 10,
  TS_HIGH: 12,
  TS_LOW: 16,
  CAPLEN: 20,
  ORIGLEN: 24,
  DATA: 28,
} as const;
export const SpbField = { ORIGLEN: 8, DATA: 12 } as const;
export const OptionField = { CODE: 0, LENGTH: 2, VALUE: 4 } as const;

/** Block header (type + length) plus the trailing length: the smallest possible block. */
export const BLOCK_OVERHEAD = 12;
const BLOCK_HEADER_LEN = BlockField.BODY;
const SHB_PROBE_LEN = ShbField.VERSION_MAJOR;
const SHB_MIN_LEN = ShbField.OPTIONS + 4;
const IDB_MIN_LEN = IdbField.OPTIONS + 4;
const EPB_MIN_LEN = EpbField.DATA + 4;
const SPB_MIN_LEN = SpbField.DATA + 4;

export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const VERSION_MAJOR = 1;
/**
 * Largest block accepted. Wireshark allows more (wiretap/pcapng.c MAX_BLOCK_SIZE) for D-Bus captures; 16 MiB
 * holds any network packet and bounds what a corrupt length can make the streaming reader buffer.
 */
export const MAX_BLOCK_LEN = 16 * 1024 * 1024;

export const OptionCode = {
  END_OF_OPT: 0,
  COMMENT: 1,
  SHB_HARDWARE: 2,
  SHB_OS: 3,
  SHB_USERAPPL: 4,
  IF_NAME: 2,
  IF_DESCRIPTION: 3,
  IF_TSRESOL: 9,
  IF_FCSLEN: 13,
  IF_TSOFFSET: 14,
  EPB_FLAGS: 2,
} as const;

/** if_tsresol of nanoseconds (10^-9 s). */
const NANOSECOND_EXPONENT = 9;
/** §4.2: if_tsresol defaults to microseconds. */
const DEFAULT_TSRESOL = 6;
const TSRESOL_POWER_OF_TWO = 0x80;
const TSRESOL_EXPONENT = 0x7f;
/** Exponents whose unit still lets a 64-bit counter span years (Wireshark refuses larger ones too). */
const MAX_TSRESOL_POW10 = 19;
const MAX_TSRESOL_POW2 = 63;
const TSOFFSET_LEN = 8;

const utf8Decoder = new TextDecoder("utf-8");
const utf8Encoder = new TextEncoder();

function padded4(n: number): number {
  return (n + 3) & ~3;
}

function blockName(type: number): string {
  switch (type) {
    case BlockType.SHB:
      return "SHB";
    case BlockType.IDB:
      return "IDB";
    case BlockType.OPB:
      return "OPB";
    case BlockType.SPB:
      return "SPB";
    case BlockType.EPB:
      return "EPB";
    case BlockType.NRB:
      return "NRB";
    case BlockType.ISB:
      return "ISB";
    case BlockType.DSB:
      return "DSB";
    default:
      return `block 0x${type.toString(16).padStart(8, "0")}`;
  }
}

/** One option: its code and its value as a subarray of the block (no padding). */
export interface PcapngOption {
  readonly code: number;
  readonly value: Uint8Array;
}

/**
 * Reads the options in bytes[at..end) (§3.5): code, length, value padded to 32 bits, until opt_endofopt or the
 * end of the block body. Unknown codes are kept; the caller ignores what it does not need.
 */
export function parseOptions(
  bytes: Uint8Array,
  at: number,
  end: number,
  littleEndian: boolean,
  fileOffset: number,
  block: string,
): PcapngOption[] | CaptureError {
  const options: PcapngOption[] = [];
  let p = at;
  while (end - p >= OptionField.VALUE) {
    const code = readU16(bytes, p + OptionField.CODE, littleEndian);
    if (code === OptionCode.END_OF_OPT) break;
    const length = readU16(bytes, p + OptionField.LENGTH, littleEndian);
    const valueAt = p + OptionField.VALUE;
    if (valueAt + length > end) {
      return new CaptureError(
        "bad-option",
        fileOffset + (p - at) + OptionField.LENGTH,
        block,
        `option ${code} of ${length} bytes runs past the end of the block`,
      );
    }
    options.push({ code, value: bytes.subarray(valueAt, valueAt + length) });
    p = valueAt + padded4(length);
  }
  return options;
}

interface InterfaceState {
  readonly info: CaptureInterface;
  /** Units to nanoseconds: ns = ((units * mul) / div) >> shift, precomputed from if_tsresol. */
  readonly mul: bigint;
  readonly div: bigint;
  readonly shift: bigint;
  readonly offsetNs: bigint;
}

/** Converts a timestamp in the units of an interface's if_tsresol to nanoseconds (truncating finer units). */
function toNanoseconds(iface: InterfaceState, units: bigint): bigint {
  return (((units * iface.mul) / iface.div) >> iface.shift) + iface.offsetNs;
}

function interfaceState(info: CaptureInterface): InterfaceState {
  const exponent = info.tsresol & TSRESOL_EXPONENT;
  const offsetNs = info.tsoffsetSeconds * NANOS_PER_SECOND;
  if ((info.tsresol & TSRESOL_POWER_OF_TWO) !== 0) {
    return { info, mul: NANOS_PER_SECOND, div: 1n, shift: BigInt(exponent), offsetNs };
  }
  return exponent <= NANOSECOND_EXPONENT
    ? { info, mul: 10n ** BigInt(NANOSECOND_EXPONENT - exponent), div: 1n, shift: 0n, offsetNs }
    : { info, mul: 1n, div: 10n ** BigInt(exponent - NANOSECOND_EXPONENT), shift: 0n, offsetNs };
}

/** Decodes a pcapng file block by block. */
export class PcapngDecoder implements CaptureDecoder {
  readonly format = "pcapng";
  /** Byte order of the current section; null before the first SHB. */
  littleEndian: boolean | null = null;
  private states: InterfaceState[] = [];
  interfaces: readonly CaptureInterface[] = [];
  /** Options of the current section's SHB (shb_hardware, shb_os, shb_userappl, comments, unknown ones). */
  sectionOptions: readonly PcapngOption[] = [];

  step(bytes: Uint8Array, at: number, len: number, fileOffset: number): DecodeStep {
    if (len < BLOCK_HEADER_LEN) return { kind: "need", bytes: BLOCK_HEADER_LEN, block: "block header" };
    const typeBe = readU32(bytes, at + BlockField.TYPE, false);
    let le: boolean;
    if (typeBe === BlockType.SHB) {
      // The SHB's length can only be read once its byte-order magic, right after it, says which order it is in.
      if (len < SHB_PROBE_LEN) return { kind: "need", bytes: SHB_PROBE_LEN, block: "SHB" };
      const magicBe = readU32(bytes, at + ShbField.BYTE_ORDER_MAGIC, false);
      if (magicBe === BYTE_ORDER_MAGIC) le = false;
      else if (readU32(bytes, at + ShbField.BYTE_ORDER_MAGIC, true) === BYTE_ORDER_MAGIC) le = true;
      else return this.fail("bad-magic", fileOffset + ShbField.BYTE_ORDER_MAGIC, "SHB", "bad byte-order magic");
    } else if (this.littleEndian === null) {
      return this.fail(
        "bad-magic",
        fileOffset,
        blockName(typeBe),
        "a pcapng file must start with a Section Header Block",
      );
    } else {
      le = this.littleEndian;
    }
    const type = readU32(bytes, at + BlockField.TYPE, le);
    const name = blockName(type);
    const total = readU32(bytes, at + BlockField.TOTAL_LENGTH, le);
    const lengthAt = fileOffset + BlockField.TOTAL_LENGTH;
    if (total < BLOCK_OVERHEAD || total % 4 !== 0) {
      return this.fail("bad-length", lengthAt, name, `block length ${total} is not a multiple of 4 of at least 12`);
    }
    if (total > MAX_BLOCK_LEN) {
      return this.fail("too-large", lengthAt, name, `block length ${total} exceeds ${MAX_BLOCK_LEN}`);
    }
    if (len < total) return { kind: "need", bytes: total, block: name };
    const trailer = readU32(bytes, at + total - 4, le);
    if (trailer !== total) {
      return this.fail("bad-length", fileOffset + total - 4, name, `trailing length ${trailer} differs from ${total}`);
    }
    switch (type) {
      case BlockType.SHB:
        return this.sectionHeader(bytes, at, total, le, fileOffset);
      case BlockType.IDB:
        return this.interfaceDescription(bytes, at, total, le, fileOffset);
      case BlockType.EPB:
      case BlockType.OPB:
        return this.packet(bytes, at, total, le, fileOffset, type);
      case BlockType.SPB:
        return this.simplePacket(bytes, at, total, le, fileOffset);
      default:
        // §3.1: unknown block types are skipped by their length.
        return { kind: "skip", consumed: total };
    }
  }

  private fail(code: CaptureError["code"], offset: number, block: string, detail: string): DecodeStep {
    return { kind: "error", error: new CaptureError(code, offset, block, detail) };
  }

  private sectionHeader(bytes: Uint8Array, at: number, total: number, le: boolean, fileOffset: number): DecodeStep {
    if (total < SHB_MIN_LEN)
      return this.fail("bad-length", fileOffset + BlockField.TOTAL_LENGTH, "SHB", `SHB of ${total} bytes`);
    const major = readU16(bytes, at + ShbField.VERSION_MAJOR, le);
    // §4.1: a different major version means the section cannot be read at all.
    if (major !== VERSION_MAJOR) {
      return this.fail("bad-version", fileOffset + ShbField.VERSION_MAJOR, "SHB", `major version ${major} is not 1`);
    }
    const options = parseOptions(
      bytes,
      at + ShbField.OPTIONS,
      at + total - 4,
      le,
      fileOffset + ShbField.OPTIONS,
      "SHB",
    );
    if (options instanceof CaptureError) return { kind: "error", error: options };
    // A new section starts afresh: its own byte order, its own interface numbering (§4.1).
    this.littleEndian = le;
    this.states = [];
    this.interfaces = [];
    this.sectionOptions = options;
    return { kind: "skip", consumed: total };
  }

  private interfaceDescription(
    bytes: Uint8Array,
    at: number,
    total: number,
    le: boolean,
    fileOffset: number,
  ): DecodeStep {
    if (total < IDB_MIN_LEN)
      return this.fail("bad-length", fileOffset + BlockField.TOTAL_LENGTH, "IDB", `IDB of ${total} bytes`);
    const optionsAt = at + IdbField.OPTIONS;
    const options = parseOptions(bytes, optionsAt, at + total - 4, le, fileOffset + IdbField.OPTIONS, "IDB");
    if (options instanceof CaptureError) return { kind: "error", error: options };
    let name: string | undefined;
    let description: string | undefined;
    let tsresol = DEFAULT_TSRESOL;
    let tsoffsetSeconds = 0n;
    for (const o of options) {
      const valueOffset = fileOffset + (o.value.byteOffset - bytes.byteOffset - at);
      if (o.code === OptionCode.IF_NAME) name = utf8Decoder.decode(o.value);
      else if (o.code === OptionCode.IF_DESCRIPTION) description = utf8Decoder.decode(o.value);
      else if (o.code === OptionCode.IF_TSRESOL) {
        if (o.value.length < 1) return this.fail("bad-option", valueOffset, "IDB", "empty if_tsresol");
        tsresol = o.value[0];
        const exponent = tsresol & TSRESOL_EXPONENT;
        const powerOfTwo = (tsresol & TSRESOL_POWER_OF_TWO) !== 0;
        if (exponent > (powerOfTwo ? MAX_TSRESOL_POW2 : MAX_TSRESOL_POW10)) {
          return this.fail(
            "bad-option",
            valueOffset,
            "IDB",
            `if_tsresol ${powerOfTwo ? 2 : 10}^-${exponent} is too fine`,
          );
        }
      } else if (o.code === OptionCode.IF_TSOFFSET) {
        if (o.value.length < TSOFFSET_LEN)
          return this.fail("bad-option", valueOffset, "IDB", "if_tsoffset shorter than 8 bytes");
        tsoffsetSeconds = readI64(o.value, 0, le);
      }
    }
    const info: CaptureInterface = {
      linkType: readU16(bytes, at + IdbField.LINKTYPE, le),
      snaplen: readU32(bytes, at + IdbField.SNAPLEN, le),
      ...(name === undefined ? {} : { name }),
      ...(description === undefined ? {} : { description }),
      tsresol,
      tsoffsetSeconds,
    };
    this.states.push(interfaceState(info));
    this.interfaces = this.states.map((s) => s.info);
    return { kind: "skip", consumed: total };
  }

  private packet(
    bytes: Uint8Array,
    at: number,
    total: number,
    le: boolean,
    fileOffset: number,
    type: number,
  ): DecodeStep {
    const name = blockName(type);
    if (total < EPB_MIN_LEN)
      return this.fail("bad-length", fileOffset + BlockField.TOTAL_LENGTH, name, `${name} of ${total} bytes`);
    const interfaceId =
      type === BlockType.OPB
        ? readU16(bytes, at + OpbField.INTERFACE_ID, le)
        : readU32(bytes, at + EpbField.INTERFACE_ID, le);
    const iface = this.states[interfaceId] as InterfaceState | undefined;
    if (iface === undefined) {
      return this.fail(
        "bad-interface",
        fileOffset + EpbField.INTERFACE_ID,
        name,
        `interface ${interfaceId} was not described by an IDB`,
      );
    }
    const caplen = readU32(bytes, at + EpbField.CAPLEN, le);
    const dataAt = at + EpbField.DATA;
    const bodyEnd = at + total - 4;
    if (caplen > bodyEnd - dataAt) {
      return this.fail("bad-length", fileOffset + EpbField.CAPLEN, name, `captured length ${caplen} exceeds the block`);
    }
    const options = parseOptions(
      bytes,
      dataAt + padded4(caplen),
      bodyEnd,
      le,
      fileOffset + EpbField.DATA + padded4(caplen),
      name,
    );
    if (options instanceof CaptureError) return { kind: "error", error: options };
    let comment: string | undefined;
    for (const o of options) {
      if (o.code !== OptionCode.COMMENT) continue;
      const text = utf8Decoder.decode(o.value);
      comment = comment === undefined ? text : `${comment}\n${text}`;
    }
    const units =
      (BigInt(readU32(bytes, at + EpbField.TS_HIGH, le)) << 32n) | BigInt(readU32(bytes, at + EpbField.TS_LOW, le));
    const record: CaptureRecord = {
      interfaceId,
      linkType: iface.info.linkType,
      timestampNs: toNanoseconds(iface, units),
      data: bytes.subarray(dataAt, dataAt + caplen),
      originalLength: readU32(bytes, at + EpbField.ORIGLEN, le),
      ...(comment === undefined ? {} : { comment }),
    };
    return { kind: "record", consumed: total, record };
  }

  private simplePacket(bytes: Uint8Array, at: number, total: number, le: boolean, fileOffset: number): DecodeStep {
    if (total < SPB_MIN_LEN)
      return this.fail("bad-length", fileOffset + BlockField.TOTAL_LENGTH, "SPB", `SPB of ${total} bytes`);
    // §4.4: an SPB belongs to the section's first interface and carries no timestamp.
    const iface = this.states[0] as InterfaceState | undefined;
    if (iface === undefined)
      return this.fail("bad-interface", fileOffset, "SPB", "no IDB precedes the Simple Packet Block");
    const originalLength = readU32(bytes, at + SpbField.ORIGLEN, le);
    const room = total - SPB_MIN_LEN;
    const snaplen = iface.info.snaplen === 0 ? originalLength : iface.info.snaplen;
    const caplen = Math.min(originalLength, snaplen, room);
    const dataAt = at + SpbField.DATA;
    const record: CaptureRecord = {
      interfaceId: 0,
      linkType: iface.info.linkType,
      timestampNs: 0n,
      data: bytes.subarray(dataAt, dataAt + caplen),
      originalLength,
    };
    return { kind: "record", consumed: total, record };
  }
}

// ---- writing ----

interface OptionToWrite {
  readonly code: number;
  readonly value: Uint8Array;
}

function optionsLength(options: readonly OptionToWrite[]): number {
  if (options.length === 0) return 0;
  let n = OptionField.VALUE; // opt_endofopt
  for (const o of options) n += OptionField.VALUE + padded4(o.value.length);
  return n;
}

function writeOptions(b: Uint8Array, at: number, options: readonly OptionToWrite[], le: boolean): void {
  if (options.length === 0) return;
  let p = at;
  for (const o of options) {
    writeU16(b, p + OptionField.CODE, o.code, le);
    writeU16(b, p + OptionField.LENGTH, o.value.length, le);
    b.set(o.value, p + OptionField.VALUE);
    p += OptionField.VALUE + padded4(o.value.length);
  }
  // opt_endofopt: code 0, length 0; the buffer is already zero.
}

/** Allocates a block of the given type with `fixed` body bytes before the options, and writes its lengths. */
function newBlock(type: number, fixed: number, options: readonly OptionToWrite[], le: boolean): Uint8Array {
  const total = BLOCK_OVERHEAD + fixed + optionsLength(options);
  const b = new Uint8Array(total);
  writeU32(b, BlockField.TYPE, type, le);
  writeU32(b, BlockField.TOTAL_LENGTH, total, le);
  writeU32(b, total - 4, total, le);
  writeOptions(b, BlockField.BODY + fixed, options, le);
  return b;
}

function textOption(code: number, text: string | undefined): OptionToWrite[] {
  if (text === undefined) return [];
  const value = utf8Encoder.encode(text);
  if (value.length > 0xffff) throw new RangeError(`option ${code} of ${value.length} bytes exceeds 65535`);
  return [{ code, value }];
}

export interface PcapngWriterOptions {
  /** shb_userappl; default "mallory". */
  readonly application?: string;
  readonly hardware?: string;
  readonly os?: string;
  /** Default true (the host order of every machine we run on); false writes a big-endian section. */
  readonly littleEndian?: boolean;
}

export interface PcapngInterfaceOptions {
  readonly linkType: number;
  readonly name?: string;
  readonly description?: string;
  /** Default 0: no limit (§4.2). */
  readonly snaplen?: number;
}

export interface PcapngPacket {
  readonly interfaceId: number;
  readonly timestampNs: bigint;
  readonly data: Uint8Array;
  /** Defaults to `data.length`. */
  readonly originalLength?: number;
  /** Written as opt_comment (UTF-8); Wireshark shows it as frame.comment. */
  readonly comment?: string;
}

/** Every IDB we write says nanoseconds (if_tsresol 9), so bigint nanosecond timestamps are written exactly. */
const WRITE_TSRESOL = NANOSECOND_EXPONENT;
const SHB_FIXED = ShbField.OPTIONS - BlockField.BODY;
const IDB_FIXED = IdbField.OPTIONS - BlockField.BODY;
const EPB_FIXED = EpbField.DATA - BlockField.BODY;
const U32_SPAN = 0x1_0000_0000n;
const MAX_U64 = (1n << 64n) - 1n;
const SECTION_LENGTH_UNKNOWN = 0xffffffff;

/**
 * Writes a pcapng file to `sink`: the SHB at construction, an IDB per `addInterface`, an EPB per packet.
 * Each call hands the sink one complete block (a fresh buffer the sink may keep).
 */
export class PcapngWriter {
  private readonly le: boolean;
  private interfaceCount = 0;

  constructor(
    private readonly sink: (chunk: Uint8Array) => void,
    options: PcapngWriterOptions = {},
  ) {
    this.le = options.littleEndian ?? true;
    const shbOptions = [
      ...textOption(OptionCode.SHB_HARDWARE, options.hardware),
      ...textOption(OptionCode.SHB_OS, options.os),
      ...textOption(OptionCode.SHB_USERAPPL, options.application ?? "mallory"),
    ];
    const b = newBlock(BlockType.SHB, SHB_FIXED, shbOptions, this.le);
    writeU32(b, ShbField.BYTE_ORDER_MAGIC, BYTE_ORDER_MAGIC, this.le);
    writeU16(b, ShbField.VERSION_MAJOR, VERSION_MAJOR, this.le);
    writeU16(b, ShbField.VERSION_MINOR, 0, this.le);
    // Section length -1: "not specified" (§4.1), so the file can be streamed.
    writeU32(b, ShbField.SECTION_LENGTH, SECTION_LENGTH_UNKNOWN, this.le);
    writeU32(b, ShbField.SECTION_LENGTH + 4, SECTION_LENGTH_UNKNOWN, this.le);
    sink(b);
  }

  /** Writes an IDB and returns the interface id packets must name. */
  addInterface(options: PcapngInterfaceOptions): number {
    const idbOptions = [
      ...textOption(OptionCode.IF_NAME, options.name),
      ...textOption(OptionCode.IF_DESCRIPTION, options.description),
      { code: OptionCode.IF_TSRESOL, value: Uint8Array.of(WRITE_TSRESOL) },
    ];
    const b = newBlock(BlockType.IDB, IDB_FIXED, idbOptions, this.le);
    writeU16(b, IdbField.LINKTYPE, options.linkType, this.le);
    writeU32(b, IdbField.SNAPLEN, options.snaplen ?? 0, this.le);
    this.sink(b);
    return this.interfaceCount++;
  }

  /** Writes an EPB. Throws RangeError on an unknown interface or impossible lengths (caller bugs, not input). */
  writePacket(packet: PcapngPacket): void {
    if (!Number.isInteger(packet.interfaceId) || packet.interfaceId < 0 || packet.interfaceId >= this.interfaceCount) {
      throw new RangeError(`interface ${packet.interfaceId} was not added (have ${this.interfaceCount})`);
    }
    if (packet.timestampNs < 0n || packet.timestampNs > MAX_U64) {
      throw new RangeError(`timestamp ${packet.timestampNs} ns does not fit an unsigned 64-bit count`);
    }
    const caplen = packet.data.length;
    const originalLength = packet.originalLength ?? caplen;
    if (originalLength < caplen || originalLength > SECTION_LENGTH_UNKNOWN) {
      throw new RangeError(`original length ${originalLength} is below the captured ${caplen} bytes or over 2^32`);
    }
    const fixed = EPB_FIXED + padded4(caplen);
    if (BLOCK_OVERHEAD + fixed > MAX_BLOCK_LEN)
      throw new RangeError(`packet of ${caplen} bytes is too large for a block`);
    const b = newBlock(BlockType.EPB, fixed, textOption(OptionCode.COMMENT, packet.comment), this.le);
    writeU32(b, EpbField.INTERFACE_ID, packet.interfaceId, this.le);
    writeU32(b, EpbField.TS_HIGH, Number(packet.timestampNs / U32_SPAN), this.le);
    writeU32(b, EpbField.TS_LOW, Number(packet.timestampNs % U32_SPAN), this.le);
    writeU32(b, EpbField.CAPLEN, caplen, this.le);
    writeU32(b, EpbField.ORIGLEN, originalLength, this.le);
    b.set(packet.data, EpbField.DATA);
    this.sink(b);
  }
}
