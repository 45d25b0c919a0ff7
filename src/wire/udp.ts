// UDP header (RFC 768). Over IPv4 a zero checksum means "none was computed" and is kept as found; a computed
// zero is sent as 0xffff. Over IPv6 the checksum is mandatory (RFC 8200 §8.1), so a zero there is invalid.

import { readU16, writeU16 } from "./bytes.js";
import { finishChecksum, foldSum, sumWords } from "./checksum.js";
import { pseudoSum, type PseudoHeader } from "./pseudo-header.js";
import { err, ok, type Result, type WireError } from "./result.js";

export const UdpField = {
  SRC_PORT: 0,
  DST_PORT: 2,
  LENGTH: 4,
  CHECKSUM: 6,
} as const;
const F = UdpField;

// The views read this module-private name; the exported one is a live ESM binding other modules import.
const HEADER_LEN = 8;

export const UDP_HEADER_LEN = HEADER_LEN;
export const UDP_PROTOCOL = 17;
/** The checksum field value meaning "no checksum" (IPv4 only). */
export const UDP_NO_CHECKSUM = 0;

export interface UdpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
  /** As found by `parse` (0 = none over IPv4); `emit` computes its own. */
  readonly checksum: number;
  /** The datagram's payload as its length field delimits it. */
  readonly payload: Uint8Array;
}

export interface UdpEmitOptions {
  /** Over IPv4, write 0 ("no checksum") instead of computing one; ignored over IPv6, where it is mandatory. */
  readonly omitChecksum?: boolean;
}

const NO_BYTES = new Uint8Array(0);

/** Zero-copy view over a UDP datagram at bytes[at..at+len). Call `check()` once before trusting getters. */
export class UdpView {
  // Fields are created here, in this order and with these kinds (array, small integers), so every view shares
  // one hidden class and the datapath's property accesses stay monomorphic.
  bytes: Uint8Array = NO_BYTES;
  at = 0;
  len = 0;

  constructor(bytes: Uint8Array = NO_BYTES, at = 0, len = bytes.length - at) {
    this.bytes = bytes;
    this.at = at;
    this.len = len;
  }

  wrap(bytes: Uint8Array, at = 0, len = bytes.length - at): this {
    this.bytes = bytes;
    this.at = at;
    this.len = len;
    return this;
  }

  check(): WireError | null {
    const b = this.bytes;
    const at = this.at;
    const len = this.len;
    // Success path first, without allocating; anything it does not accept is diagnosed by `checkHeader`.
    if (at >= 0 && len >= HEADER_LEN && at + len <= b.length) {
      const length = (b[at + F.LENGTH] << 8) | b[at + F.LENGTH + 1];
      if (length >= HEADER_LEN && length <= len) return null;
    }
    return checkHeader(b, at, len);
  }

  get srcPort(): number {
    const b = this.bytes;
    const i = this.at + F.SRC_PORT;
    return (b[i] << 8) | b[i + 1];
  }
  set srcPort(v: number) {
    writeU16(this.bytes, this.at + F.SRC_PORT, v);
  }
  get dstPort(): number {
    const b = this.bytes;
    const i = this.at + F.DST_PORT;
    return (b[i] << 8) | b[i + 1];
  }
  set dstPort(v: number) {
    writeU16(this.bytes, this.at + F.DST_PORT, v);
  }
  /** The length field: header plus payload, at most `len` after `check()`. */
  get length(): number {
    return readU16(this.bytes, this.at + F.LENGTH);
  }
  set length(v: number) {
    writeU16(this.bytes, this.at + F.LENGTH, v);
  }
  get checksum(): number {
    return readU16(this.bytes, this.at + F.CHECKSUM);
  }
  set checksum(v: number) {
    writeU16(this.bytes, this.at + F.CHECKSUM, v);
  }
  get headerLength(): number {
    return UDP_HEADER_LEN;
  }
  get payloadOffset(): number {
    return this.at + UDP_HEADER_LEN;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.at + UDP_HEADER_LEN, this.at + this.length);
  }
  verifyChecksum(pseudo: PseudoHeader): boolean {
    return verifyChecksum(this.bytes, this.at, this.length, pseudo);
  }
  fillChecksum(pseudo: PseudoHeader): void {
    fillChecksum(this.bytes, this.at, this.length, pseudo);
  }
}

function checkHeader(b: Uint8Array, at: number, len: number): WireError | null {
  if (at < 0 || len < 0 || at + len > b.length) return err("udp", "buffer", at, "range outside the buffer").error;
  if (len < UDP_HEADER_LEN) {
    return err("udp", "header", at + len, `datagram of ${len} bytes is shorter than the 8-byte header`).error;
  }
  const length = readU16(b, at + F.LENGTH);
  if (length < UDP_HEADER_LEN) return err("udp", "length", at + F.LENGTH, `length ${length} is below 8`).error;
  if (length > len) {
    return err("udp", "length", at + F.LENGTH, `length ${length} exceeds the ${len} bytes given`).error;
  }
  return null;
}

/**
 * Whether the checksum of the datagram at bytes[at..at+len) (len = its length field) is acceptable: correct, or
 * absent (0) over IPv4 (RFC 768). A zero over IPv6 is not acceptable (RFC 8200 §8.1).
 */
export function verifyChecksum(bytes: Uint8Array, at: number, len: number, pseudo: PseudoHeader): boolean {
  if (readU16(bytes, at + F.CHECKSUM) === UDP_NO_CHECKSUM) return pseudo.family === 4;
  return foldSum(sumWords(bytes, at, len, pseudoSum(pseudo, UDP_PROTOCOL, len))) === 0xffff;
}

/** The checksum to transmit for a computed one: RFC 768 sends a computed 0 as all ones. */
export function transmittedChecksum(computed: number): number {
  return computed === 0 ? 0xffff : computed;
}

/** Computes and writes the checksum of the datagram at bytes[at..at+len). */
export function fillChecksum(bytes: Uint8Array, at: number, len: number, pseudo: PseudoHeader): void {
  writeU16(bytes, at + F.CHECKSUM, 0);
  const sum = sumWords(bytes, at, len, pseudoSum(pseudo, UDP_PROTOCOL, len));
  writeU16(bytes, at + F.CHECKSUM, transmittedChecksum(finishChecksum(sum)));
}

/** Parses the datagram at bytes[at..at+len); bytes past the length field (link padding) are not part of it. */
export function parse(bytes: Uint8Array, at = 0, len = bytes.length - at): Result<UdpRepr> {
  const e = checkHeader(bytes, at, len);
  if (e) return { ok: false, error: e };
  return ok({
    srcPort: readU16(bytes, at + F.SRC_PORT),
    dstPort: readU16(bytes, at + F.DST_PORT),
    checksum: readU16(bytes, at + F.CHECKSUM),
    payload: bytes.subarray(at + UDP_HEADER_LEN, at + readU16(bytes, at + F.LENGTH)),
  });
}

export function bufferLen(repr: UdpRepr): number {
  return UDP_HEADER_LEN + repr.payload.length;
}

/** Writes the datagram at buf[at..) and returns its length. A payload over 65527 bytes is a RangeError. */
export function emitInto(
  repr: UdpRepr,
  buf: Uint8Array,
  at: number,
  pseudo: PseudoHeader,
  options: UdpEmitOptions = {},
): number {
  const total = bufferLen(repr);
  if (total > 0xffff) throw new RangeError(`UDP datagram of ${total} bytes does not fit the 16-bit length field`);
  writeU16(buf, at + F.SRC_PORT, repr.srcPort);
  writeU16(buf, at + F.DST_PORT, repr.dstPort);
  writeU16(buf, at + F.LENGTH, total);
  buf.set(repr.payload, at + UDP_HEADER_LEN);
  if (options.omitChecksum === true && pseudo.family === 4) writeU16(buf, at + F.CHECKSUM, UDP_NO_CHECKSUM);
  else fillChecksum(buf, at, total, pseudo);
  return total;
}

export function emit(repr: UdpRepr, pseudo: PseudoHeader, options: UdpEmitOptions = {}): Uint8Array {
  const out = new Uint8Array(bufferLen(repr));
  emitInto(repr, out, 0, pseudo, options);
  return out;
}
