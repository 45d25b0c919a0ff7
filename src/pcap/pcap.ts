// Classic libpcap files (https://www.tcpdump.org/manpages/pcap-savefile.5.html, draft-ietf-opsawg-pcap):
// a 24-byte file header, then per packet a 16-byte record header and the captured bytes. The magic number says
// both the byte order (the writer's host order) and whether the sub-second field counts micro- or nanoseconds.
import { readU16, readU32, readI32, writeU16, writeU32 } from "./byte-order.js";
import { CaptureError } from "./capture-error.js";
import { NANOS_PER_SECOND } from "./capture.js";
import type { CaptureInterface, CaptureRecord } from "./capture.js";
import type { CaptureDecoder, DecodeStep } from "./decode-step.js";

/** Byte offsets of the file header fields. */
export const PcapField = {
  MAGIC: 0,
  VERSION_MAJOR: 4,
  VERSION_MINOR: 6,
  THISZONE: 8,
  SIGFIGS: 12,
  SNAPLEN: 16,
  LINKTYPE: 20,
} as const;

/** Byte offsets of the per-packet record header fields. */
export const PcapRecordField = {
  TS_SEC: 0,
  TS_FRAC: 4,
  INCL_LEN: 8,
  ORIG_LEN: 12,
} as const;

export const PCAP_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;

/** Magic numbers as read big-endian from the first four bytes. */
export const PcapMagic = {
  MICRO_BE: 0xa1b2c3d4,
  MICRO_LE: 0xd4c3b2a1,
  NANO_BE: 0xa1b23c4d,
  NANO_LE: 0x4d3cb2a1,
} as const;

const VERSION_MAJOR = 2;
const VERSION_MINOR = 4;
/** pcap-savefile(5): the low 26 bits of the link-type field are the LINKTYPE_ value; the rest carry FCS info. */
const LINKTYPE_MASK = 0x03ffffff;
/**
 * Largest caplen accepted: Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD (wiretap/wtap.h). A bigger value is
 * garbage, and honouring it would let a corrupt header make the streaming reader buffer gigabytes.
 */
export const MAX_CAPLEN = 262_144;

export type TimestampPrecision = "us" | "ns";

/** The file header, parsed. */
export interface PcapHeader {
  readonly littleEndian: boolean;
  readonly precision: TimestampPrecision;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** GMT-to-local correction; always 0 in practice and, as in libpcap, not applied. */
  readonly thiszone: number;
  readonly sigfigs: number;
  readonly snaplen: number;
  readonly linkType: number;
  /** The whole link-type field, with the FCS bits pcap-savefile(5) puts above the link type. */
  readonly linkTypeField: number;
}

/** Byte order and precision for a magic number read big-endian, or null if it is not a pcap magic. */
export function classifyMagic(magicBe: number): { littleEndian: boolean; precision: TimestampPrecision } | null {
  switch (magicBe) {
    case PcapMagic.MICRO_BE:
      return { littleEndian: false, precision: "us" };
    case PcapMagic.MICRO_LE:
      return { littleEndian: true, precision: "us" };
    case PcapMagic.NANO_BE:
      return { littleEndian: false, precision: "ns" };
    case PcapMagic.NANO_LE:
      return { littleEndian: true, precision: "ns" };
    default:
      return null;
  }
}

/** Parses the file header at bytes[at..at+PCAP_HEADER_LEN); the caller guarantees the bytes are there. */
export function parseHeader(bytes: Uint8Array, at: number, fileOffset: number): PcapHeader | CaptureError {
  const kind = classifyMagic(readU32(bytes, at + PcapField.MAGIC, false));
  if (kind === null) return new CaptureError("bad-magic", fileOffset, "pcap header", "not a pcap magic number");
  const le = kind.littleEndian;
  const versionMajor = readU16(bytes, at + PcapField.VERSION_MAJOR, le);
  // Version 2.x is the only one ever written (pcap-savefile(5)); libpcap also rejects anything else.
  if (versionMajor !== VERSION_MAJOR) {
    return new CaptureError(
      "bad-version",
      fileOffset + PcapField.VERSION_MAJOR,
      "pcap header",
      `version ${versionMajor} is not 2`,
    );
  }
  const linkTypeField = readU32(bytes, at + PcapField.LINKTYPE, le);
  return {
    littleEndian: le,
    precision: kind.precision,
    versionMajor,
    versionMinor: readU16(bytes, at + PcapField.VERSION_MINOR, le),
    thiszone: readI32(bytes, at + PcapField.THISZONE, le),
    sigfigs: readU32(bytes, at + PcapField.SIGFIGS, le),
    snaplen: readU32(bytes, at + PcapField.SNAPLEN, le),
    linkType: linkTypeField & LINKTYPE_MASK,
    linkTypeField,
  };
}

/** Decodes a classic pcap file: the header first, then one record per step. */
export class PcapDecoder implements CaptureDecoder {
  readonly format = "pcap";
  header: PcapHeader | null = null;
  interfaces: readonly CaptureInterface[] = [];

  step(bytes: Uint8Array, at: number, len: number, fileOffset: number): DecodeStep {
    const header = this.header;
    if (header === null) {
      if (len < PCAP_HEADER_LEN) return { kind: "need", bytes: PCAP_HEADER_LEN, block: "pcap header" };
      const parsed = parseHeader(bytes, at, fileOffset);
      if (parsed instanceof CaptureError) return { kind: "error", error: parsed };
      this.header = parsed;
      this.interfaces = [
        {
          linkType: parsed.linkType,
          snaplen: parsed.snaplen,
          tsresol: parsed.precision === "ns" ? 9 : 6,
          tsoffsetSeconds: 0n,
        },
      ];
      return { kind: "skip", consumed: PCAP_HEADER_LEN };
    }
    if (len < PCAP_RECORD_HEADER_LEN) return { kind: "need", bytes: PCAP_RECORD_HEADER_LEN, block: "pcap record" };
    const le = header.littleEndian;
    const caplen = readU32(bytes, at + PcapRecordField.INCL_LEN, le);
    if (caplen > MAX_CAPLEN) {
      return {
        kind: "error",
        error: new CaptureError(
          "too-large",
          fileOffset + PcapRecordField.INCL_LEN,
          "pcap record",
          `captured length ${caplen} exceeds ${MAX_CAPLEN}`,
        ),
      };
    }
    const total = PCAP_RECORD_HEADER_LEN + caplen;
    if (len < total) return { kind: "need", bytes: total, block: "pcap record" };
    const seconds = BigInt(readU32(bytes, at + PcapRecordField.TS_SEC, le));
    const frac = BigInt(readU32(bytes, at + PcapRecordField.TS_FRAC, le));
    const record: CaptureRecord = {
      interfaceId: 0,
      linkType: header.linkType,
      timestampNs: seconds * NANOS_PER_SECOND + (header.precision === "ns" ? frac : frac * 1000n),
      data: bytes.subarray(at + PCAP_RECORD_HEADER_LEN, at + total),
      originalLength: readU32(bytes, at + PcapRecordField.ORIG_LEN, le),
    };
    return { kind: "record", consumed: total, record };
  }
}

export interface PcapWriterOptions {
  readonly linkType: number;
  /** Written to the header; 0 is read by some tools as "unknown", so the default is 262144 like tcpdump. */
  readonly snaplen?: number;
  /** Default "ns": our timestamps come from a virtual clock in nanoseconds and survive exactly. */
  readonly precision?: TimestampPrecision;
  /** Default true: the order libpcap writes on every machine we run on (x86-64, arm64). */
  readonly littleEndian?: boolean;
}

export interface PcapPacket {
  readonly timestampNs: bigint;
  readonly data: Uint8Array;
  /** Defaults to `data.length`. */
  readonly originalLength?: number;
}

const MAX_U32 = 0xffffffff;

/** Bytes of a classic pcap file header. */
export function emitHeader(options: PcapWriterOptions): Uint8Array {
  const le = options.littleEndian ?? true;
  const precision = options.precision ?? "ns";
  const b = new Uint8Array(PCAP_HEADER_LEN);
  writeU32(b, PcapField.MAGIC, precision === "ns" ? PcapMagic.NANO_BE : PcapMagic.MICRO_BE, le);
  writeU16(b, PcapField.VERSION_MAJOR, VERSION_MAJOR, le);
  writeU16(b, PcapField.VERSION_MINOR, VERSION_MINOR, le);
  writeU32(b, PcapField.SNAPLEN, options.snaplen ?? MAX_CAPLEN, le);
  writeU32(b, PcapField.LINKTYPE, options.linkType, le);
  return b;
}

/**
 * Bytes of one record. Throws RangeError for a timestamp outside what 32-bit seconds can hold or a packet
 * over MAX_CAPLEN: these are programming errors of the caller, not bad input.
 */
export function emitRecord(packet: PcapPacket, precision: TimestampPrecision, littleEndian: boolean): Uint8Array {
  const seconds = packet.timestampNs / NANOS_PER_SECOND;
  const nanos = packet.timestampNs % NANOS_PER_SECOND;
  if (packet.timestampNs < 0n || seconds > BigInt(MAX_U32)) {
    throw new RangeError(`pcap timestamp ${packet.timestampNs} ns does not fit 32-bit seconds since 1970`);
  }
  const caplen = packet.data.length;
  if (caplen > MAX_CAPLEN) throw new RangeError(`packet of ${caplen} bytes exceeds the ${MAX_CAPLEN}-byte caplen`);
  const originalLength = packet.originalLength ?? caplen;
  if (originalLength < caplen || originalLength > MAX_U32) {
    throw new RangeError(`original length ${originalLength} is below the captured ${caplen} bytes or over 2^32`);
  }
  const b = new Uint8Array(PCAP_RECORD_HEADER_LEN + caplen);
  writeU32(b, PcapRecordField.TS_SEC, Number(seconds), littleEndian);
  writeU32(b, PcapRecordField.TS_FRAC, Number(precision === "ns" ? nanos : nanos / 1000n), littleEndian);
  writeU32(b, PcapRecordField.INCL_LEN, caplen, littleEndian);
  writeU32(b, PcapRecordField.ORIG_LEN, originalLength, littleEndian);
  b.set(packet.data, PCAP_RECORD_HEADER_LEN);
  return b;
}

/** Writes a classic pcap file to `sink`: the header at construction, then one chunk per packet. */
export class PcapWriter {
  private readonly precision: TimestampPrecision;
  private readonly littleEndian: boolean;

  constructor(
    private readonly sink: (chunk: Uint8Array) => void,
    options: PcapWriterOptions,
  ) {
    this.precision = options.precision ?? "ns";
    this.littleEndian = options.littleEndian ?? true;
    sink(emitHeader(options));
  }

  writePacket(packet: PcapPacket): void {
    this.sink(emitRecord(packet, this.precision, this.littleEndian));
  }
}
