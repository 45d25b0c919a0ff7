// TCP header (RFC 9293 §3.1): a zero-copy view for the datapath and a plain repr for everything else.
// Options are kept as an ordered list that preserves NOPs, EOL and any bytes after EOL, so that
// emit(parse(b)) reproduces b exactly; the engine reads MSS and window scale without allocating.

import { readU16, readU32, writeU16, writeU32 } from "./bytes.js";
import { finishChecksum, foldSum, sumWords } from "./checksum.js";
import { pseudoSum, type PseudoHeader } from "./pseudo-header.js";
import { err, ok, type Result, type WireError } from "./result.js";

/** Byte offsets of the fixed header fields. */
export const TcpField = {
  SRC_PORT: 0,
  DST_PORT: 2,
  SEQ: 4,
  ACK: 8,
  /** High nibble: data offset in 32-bit words; low nibble: reserved bits, bit 0 is NS/AE (RFC 3540). */
  DATA_OFF: 12,
  FLAGS: 13,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT: 18,
  OPTIONS: 20,
} as const;
const F = TcpField;

// The views read this module-private name; the exported one is a live ESM binding other modules import.
const HEADER_LEN = 20;

export const TCP_HEADER_LEN = HEADER_LEN;
/** Data offset is 4 bits of 32-bit words. */
export const TCP_MAX_HEADER_LEN = 60;
export const TCP_PROTOCOL = 6;

/**
 * Flag bits of the 12-bit flags value used by views and reprs: byte 13 in bits 0–7, then the low nibble of
 * byte 12 (NS, RFC 3540, now AE of accurate ECN, and three reserved bits) in bits 8–11, as Wireshark's tcp.flags.
 */
export const TcpFlags = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
  NS: 0x100,
} as const;
const FLAGS_MASK = 0x0fff;
/** Data offset: the high nibble of byte 12, in 32-bit words. */
const DATA_OFF_SHIFT = 4;
const WORD = 4;

/** Option kinds (IANA "TCP Option Kind Numbers"). */
export const TcpOptionKind = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMPS: 8,
} as const;
const K = TcpOptionKind;

const OPT_LEN = { MSS: 4, WINDOW_SCALE: 3, SACK_PERMITTED: 2, TIMESTAMPS: 10, SACK_BLOCK: 8, TLV_HEADER: 2 } as const;

export type TcpOption =
  /** End of option list; `trailing` holds every byte after it up to the end of the header (normally zeros). */
  | { readonly kind: "eol"; readonly trailing: Uint8Array }
  | { readonly kind: "nop" }
  | { readonly kind: "mss"; readonly value: number }
  | { readonly kind: "window-scale"; readonly shift: number }
  | { readonly kind: "sack-permitted" }
  /** Blocks as [left, right) edges in order. */
  | { readonly kind: "sack"; readonly blocks: readonly { readonly left: number; readonly right: number }[] }
  | { readonly kind: "timestamps"; readonly tsval: number; readonly tsecr: number }
  /** Any other kind, with its data (the bytes after kind and length). */
  | { readonly kind: "unknown"; readonly type: number; readonly data: Uint8Array };

export interface TcpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** 12-bit flags, see `TcpFlags`. */
  readonly flags: number;
  readonly window: number;
  /** As found by `parse`; `emit` ignores it and writes the correct one. */
  readonly checksum: number;
  readonly urgent: number;
  readonly options: readonly TcpOption[];
  readonly payload: Uint8Array;
}

const NO_BYTES = new Uint8Array(0);

/** Zero-copy view over a TCP segment at bytes[at..at+len). Call `check()` once before trusting getters. */
export class TcpView {
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
      const hl = (b[at + F.DATA_OFF] >>> DATA_OFF_SHIFT) * WORD;
      if (hl >= HEADER_LEN && hl <= len) return null;
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
  get seq(): number {
    return readU32(this.bytes, this.at + F.SEQ);
  }
  set seq(v: number) {
    writeU32(this.bytes, this.at + F.SEQ, v);
  }
  get ack(): number {
    return readU32(this.bytes, this.at + F.ACK);
  }
  set ack(v: number) {
    writeU32(this.bytes, this.at + F.ACK, v);
  }
  /** Header length in bytes (data offset × 4). */
  get headerLength(): number {
    return (this.bytes[this.at + F.DATA_OFF] >>> DATA_OFF_SHIFT) * WORD;
  }
  /** 12-bit flags (see `TcpFlags`); the setter keeps the data offset. */
  get flags(): number {
    return readU16(this.bytes, this.at + F.DATA_OFF) & FLAGS_MASK;
  }
  set flags(v: number) {
    const b = this.bytes;
    const i = this.at + F.DATA_OFF;
    b[i] = (b[i] & 0xf0) | ((v >>> 8) & 0x0f);
    b[i + 1] = v & 0xff;
  }
  get window(): number {
    return readU16(this.bytes, this.at + F.WINDOW);
  }
  set window(v: number) {
    writeU16(this.bytes, this.at + F.WINDOW, v);
  }
  get checksum(): number {
    return readU16(this.bytes, this.at + F.CHECKSUM);
  }
  set checksum(v: number) {
    writeU16(this.bytes, this.at + F.CHECKSUM, v);
  }
  get urgent(): number {
    return readU16(this.bytes, this.at + F.URGENT);
  }
  set urgent(v: number) {
    writeU16(this.bytes, this.at + F.URGENT, v);
  }
  /** Absolute offset of the payload in `bytes`. */
  get payloadOffset(): number {
    return this.at + this.headerLength;
  }
  get payloadLength(): number {
    return this.len - this.headerLength;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.payloadOffset, this.at + this.len);
  }
  get options(): Uint8Array {
    return this.bytes.subarray(this.at + TCP_HEADER_LEN, this.payloadOffset);
  }
  verifyChecksum(pseudo: PseudoHeader): boolean {
    return verifyChecksum(this.bytes, this.at, this.len, pseudo);
  }
  /** Recomputes and writes the checksum over the whole segment. */
  fillChecksum(pseudo: PseudoHeader): void {
    fillChecksum(this.bytes, this.at, this.len, pseudo);
  }
}

function checkHeader(b: Uint8Array, at: number, len: number): WireError | null {
  if (at < 0 || len < 0 || at + len > b.length) return err("tcp", "buffer", at, "range outside the buffer").error;
  if (len < TCP_HEADER_LEN) {
    return err("tcp", "header", at + len, `segment of ${len} bytes is shorter than the 20-byte header`).error;
  }
  const hl = (b[at + F.DATA_OFF] >>> 4) * 4;
  if (hl < TCP_HEADER_LEN) return err("tcp", "data-offset", at + F.DATA_OFF, `data offset ${hl / 4} is below 5`).error;
  if (hl > len) {
    return err("tcp", "data-offset", at + F.DATA_OFF, `header length ${hl} exceeds the ${len} bytes given`).error;
  }
  return null;
}

/** True when the segment's checksum is correct over the pseudo-header and bytes[at..at+len). */
export function verifyChecksum(bytes: Uint8Array, at: number, len: number, pseudo: PseudoHeader): boolean {
  const sum = sumWords(bytes, at, len, pseudoSum(pseudo, TCP_PROTOCOL, len));
  return foldSum(sum) === 0xffff;
}

/** Writes the correct checksum into the segment at bytes[at..at+len). */
export function fillChecksum(bytes: Uint8Array, at: number, len: number, pseudo: PseudoHeader): void {
  writeU16(bytes, at + F.CHECKSUM, 0);
  writeU16(bytes, at + F.CHECKSUM, finishChecksum(sumWords(bytes, at, len, pseudoSum(pseudo, TCP_PROTOCOL, len))));
}

function optionError(name: string, offset: number, message: string): { ok: false; error: WireError } {
  return err("tcp", `option ${name}`, offset, message);
}

function parseOptions(b: Uint8Array, start: number, end: number): Result<TcpOption[]> {
  const out: TcpOption[] = [];
  let i = start;
  while (i < end) {
    const kind = b[i];
    if (kind === K.EOL) {
      out.push({ kind: "eol", trailing: b.subarray(i + 1, end) });
      break;
    }
    if (kind === K.NOP) {
      out.push({ kind: "nop" });
      i += 1;
      continue;
    }
    const name = optionName(kind);
    if (i + 1 >= end) return optionError(name, i, "option kind without a length byte at the end of the header");
    const olen = b[i + 1];
    if (olen < OPT_LEN.TLV_HEADER) return optionError(name, i + 1, `length ${olen} is below 2`);
    if (i + olen > end) return optionError(name, i + 1, `length ${olen} runs past the end of the header`);
    switch (kind) {
      case K.MSS:
        if (olen !== OPT_LEN.MSS) return optionError(name, i + 1, `length ${olen}, expected ${OPT_LEN.MSS}`);
        out.push({ kind: "mss", value: readU16(b, i + 2) });
        break;
      case K.WINDOW_SCALE:
        if (olen !== OPT_LEN.WINDOW_SCALE) {
          return optionError(name, i + 1, `length ${olen}, expected ${OPT_LEN.WINDOW_SCALE}`);
        }
        out.push({ kind: "window-scale", shift: b[i + 2] });
        break;
      case K.SACK_PERMITTED:
        if (olen !== OPT_LEN.SACK_PERMITTED) {
          return optionError(name, i + 1, `length ${olen}, expected ${OPT_LEN.SACK_PERMITTED}`);
        }
        out.push({ kind: "sack-permitted" });
        break;
      case K.SACK: {
        const body = olen - OPT_LEN.TLV_HEADER;
        // RFC 2018 §3: 8 bytes per block; Linux (tcp_parse_options) ignores any other length.
        if (body === 0 || body % OPT_LEN.SACK_BLOCK !== 0) {
          return optionError(name, i + 1, `length ${olen} is not 2 + 8n with n >= 1`);
        }
        const blocks: { left: number; right: number }[] = [];
        for (let j = i + 2; j < i + olen; j += OPT_LEN.SACK_BLOCK) {
          blocks.push({ left: readU32(b, j), right: readU32(b, j + 4) });
        }
        out.push({ kind: "sack", blocks });
        break;
      }
      case K.TIMESTAMPS:
        if (olen !== OPT_LEN.TIMESTAMPS) {
          return optionError(name, i + 1, `length ${olen}, expected ${OPT_LEN.TIMESTAMPS}`);
        }
        out.push({ kind: "timestamps", tsval: readU32(b, i + 2), tsecr: readU32(b, i + 6) });
        break;
      default:
        out.push({ kind: "unknown", type: kind, data: b.subarray(i + 2, i + olen) });
    }
    i += olen;
  }
  return ok(out);
}

function optionName(kind: number): string {
  switch (kind) {
    case K.MSS:
      return "mss";
    case K.WINDOW_SCALE:
      return "window-scale";
    case K.SACK_PERMITTED:
      return "sack-permitted";
    case K.SACK:
      return "sack";
    case K.TIMESTAMPS:
      return "timestamps";
    default:
      return `kind-${kind}`;
  }
}

/** Parses the TCP segment at bytes[at..at+len). Does not check the checksum (see `verifyChecksum`). */
export function parse(bytes: Uint8Array, at = 0, len = bytes.length - at): Result<TcpRepr> {
  const e = checkHeader(bytes, at, len);
  if (e) return { ok: false, error: e };
  const hl = (bytes[at + F.DATA_OFF] >>> 4) * 4;
  const options = parseOptions(bytes, at + TCP_HEADER_LEN, at + hl);
  if (!options.ok) return options;
  return ok({
    srcPort: readU16(bytes, at + F.SRC_PORT),
    dstPort: readU16(bytes, at + F.DST_PORT),
    seq: readU32(bytes, at + F.SEQ),
    ack: readU32(bytes, at + F.ACK),
    flags: readU16(bytes, at + F.DATA_OFF) & FLAGS_MASK,
    window: readU16(bytes, at + F.WINDOW),
    checksum: readU16(bytes, at + F.CHECKSUM),
    urgent: readU16(bytes, at + F.URGENT),
    options: options.value,
    payload: bytes.subarray(at + hl, at + len),
  });
}

function optionLength(o: TcpOption): number {
  switch (o.kind) {
    case "eol":
      return 1 + o.trailing.length;
    case "nop":
      return 1;
    case "mss":
      return OPT_LEN.MSS;
    case "window-scale":
      return OPT_LEN.WINDOW_SCALE;
    case "sack-permitted":
      return OPT_LEN.SACK_PERMITTED;
    case "sack":
      return OPT_LEN.TLV_HEADER + OPT_LEN.SACK_BLOCK * o.blocks.length;
    case "timestamps":
      return OPT_LEN.TIMESTAMPS;
    case "unknown":
      return OPT_LEN.TLV_HEADER + o.data.length;
  }
}

/** Header length `emit` writes: 20 + options, padded with zero (EOL) bytes to a multiple of 4. */
export function headerLen(repr: Pick<TcpRepr, "options">): number {
  let n = 0;
  for (const o of repr.options) n += optionLength(o);
  return TCP_HEADER_LEN + ((n + 3) & ~3);
}

export function bufferLen(repr: TcpRepr): number {
  return headerLen(repr) + repr.payload.length;
}

function writeOption(o: TcpOption, b: Uint8Array, i: number): void {
  switch (o.kind) {
    case "eol":
      b[i] = K.EOL;
      b.set(o.trailing, i + 1);
      return;
    case "nop":
      b[i] = K.NOP;
      return;
    case "mss":
      b[i] = K.MSS;
      b[i + 1] = OPT_LEN.MSS;
      writeU16(b, i + 2, o.value);
      return;
    case "window-scale":
      b[i] = K.WINDOW_SCALE;
      b[i + 1] = OPT_LEN.WINDOW_SCALE;
      b[i + 2] = o.shift;
      return;
    case "sack-permitted":
      b[i] = K.SACK_PERMITTED;
      b[i + 1] = OPT_LEN.SACK_PERMITTED;
      return;
    case "sack":
      b[i] = K.SACK;
      b[i + 1] = optionLength(o);
      for (let j = 0; j < o.blocks.length; j++) {
        writeU32(b, i + 2 + j * OPT_LEN.SACK_BLOCK, o.blocks[j].left);
        writeU32(b, i + 6 + j * OPT_LEN.SACK_BLOCK, o.blocks[j].right);
      }
      return;
    case "timestamps":
      b[i] = K.TIMESTAMPS;
      b[i + 1] = OPT_LEN.TIMESTAMPS;
      writeU32(b, i + 2, o.tsval);
      writeU32(b, i + 6, o.tsecr);
      return;
    case "unknown":
      b[i] = o.type;
      b[i + 1] = optionLength(o);
      b.set(o.data, i + 2);
      return;
  }
}

/**
 * Writes the segment at buf[at..) with a correct checksum and returns its length. A repr whose options do not fit
 * the 40 bytes a header can hold is a programming error (RangeError), not a wire condition.
 */
export function emitInto(repr: TcpRepr, buf: Uint8Array, at: number, pseudo: PseudoHeader): number {
  const hl = headerLen(repr);
  if (hl > TCP_MAX_HEADER_LEN) throw new RangeError(`TCP options need ${hl - TCP_HEADER_LEN} bytes; at most 40 fit`);
  const total = hl + repr.payload.length;
  writeU16(buf, at + F.SRC_PORT, repr.srcPort);
  writeU16(buf, at + F.DST_PORT, repr.dstPort);
  writeU32(buf, at + F.SEQ, repr.seq);
  writeU32(buf, at + F.ACK, repr.ack);
  buf[at + F.DATA_OFF] = ((hl / 4) << 4) | ((repr.flags >>> 8) & 0x0f);
  buf[at + F.FLAGS] = repr.flags & 0xff;
  writeU16(buf, at + F.WINDOW, repr.window);
  writeU16(buf, at + F.URGENT, repr.urgent);
  let i = at + TCP_HEADER_LEN;
  for (const o of repr.options) {
    writeOption(o, buf, i);
    i += optionLength(o);
  }
  buf.fill(0, i, at + hl);
  buf.set(repr.payload, at + hl);
  fillChecksum(buf, at, total, pseudo);
  return total;
}

export function emit(repr: TcpRepr, pseudo: PseudoHeader): Uint8Array {
  const out = new Uint8Array(bufferLen(repr));
  emitInto(repr, out, 0, pseudo);
  return out;
}

/**
 * Offset of the data of the first option of `kind` with length `optLen` in the header at bytes[tcpAt..), or -1.
 * Bounds-checked against the buffer and the data offset; a malformed list ends the search (as tcp_parse_options).
 */
function findOption(bytes: Uint8Array, tcpAt: number, kind: number, optLen: number): number {
  if (tcpAt < 0 || tcpAt + TCP_HEADER_LEN > bytes.length) return -1;
  const end = tcpAt + (bytes[tcpAt + F.DATA_OFF] >>> 4) * 4;
  if (end > bytes.length) return -1;
  let i = tcpAt + TCP_HEADER_LEN;
  while (i < end) {
    const k = bytes[i];
    if (k === K.EOL) return -1;
    if (k === K.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return -1;
    const l = bytes[i + 1];
    if (l < OPT_LEN.TLV_HEADER || i + l > end) return -1;
    if (k === kind && l === optLen) return i + OPT_LEN.TLV_HEADER;
    i += l;
  }
  return -1;
}

/** The window scale shift of the header at bytes[tcpAt..), or -1 when absent; no allocation. */
export function findWindowScale(bytes: Uint8Array, tcpAt: number): number {
  const i = findOption(bytes, tcpAt, K.WINDOW_SCALE, OPT_LEN.WINDOW_SCALE);
  return i < 0 ? -1 : bytes[i];
}

/** The MSS option value of the header at bytes[tcpAt..), or -1 when absent; no allocation. */
export function findMss(bytes: Uint8Array, tcpAt: number): number {
  const i = findOption(bytes, tcpAt, K.MSS, OPT_LEN.MSS);
  return i < 0 ? -1 : readU16(bytes, i);
}

// Order and letters of tcpdump's print-tcp.c tcp_flag_values.
const FLAG_LETTERS: readonly (readonly [number, string])[] = [
  [TcpFlags.FIN, "F"],
  [TcpFlags.SYN, "S"],
  [TcpFlags.RST, "R"],
  [TcpFlags.PSH, "P"],
  [TcpFlags.ACK, "."],
  [TcpFlags.URG, "U"],
  [TcpFlags.ECE, "E"],
  [TcpFlags.CWR, "W"],
  [TcpFlags.NS, "e"],
];

/** Flags as tcpdump prints them: `S`, `S.`, `R.`, `F.`, `P.`; `none` when no flag is set. */
export function flagsToString(flags: number): string {
  let s = "";
  for (const [bit, letter] of FLAG_LETTERS) if (flags & bit) s += letter;
  return s === "" ? "none" : s;
}
