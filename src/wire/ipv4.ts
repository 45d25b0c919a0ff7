// IPv4 (RFC 791 §3.1). Two faces: `Ipv4View` reads and rewrites a header in place (the datapath and NAT), and
// `Ipv4Repr` is the plain parsed form with `parse`/`emit`. Options are kept raw so that `emit(parse(b))` is `b`;
// bytes past the total length (Ethernet padding of short frames) belong to the link, not to the packet, and are
// dropped by `parse`.

import { readU16, writeU16, writeU32 } from "./bytes.js";
import { internetChecksum, updateChecksum16, updateChecksum32 } from "./checksum.js";
import { err, ok } from "./result.js";
import type { Result, WireError } from "./result.js";

export const Ipv4Field = {
  VER_IHL: 0,
  DSCP_ECN: 1,
  LENGTH: 2,
  IDENT: 4,
  FLG_OFF: 6,
  TTL: 8,
  PROTOCOL: 9,
  CHECKSUM: 10,
  SRC: 12,
  DST: 16,
  OPTIONS: 20,
} as const;
const F = Ipv4Field;

// The views read these module-private names; the exported ones are live ESM bindings other modules import.
const HEADER_LEN = 20;
const VERSION = 4;

export const IPV4_HEADER_LEN = HEADER_LEN;
/** IHL is 4 bits of 32-bit words: 60 bytes at most, so 40 bytes of options. */
export const IPV4_MAX_HEADER_LEN = 60;
export const IPV4_MAX_LENGTH = 0xffff;
export const IPV4_VERSION = VERSION;

/** IANA protocol numbers; an open set (STYLE.md §10). */
export const IpProtocol = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  SCTP: 132,
} as const;

const PROTOCOL_NAMES = new Map<number, string>([
  [IpProtocol.ICMP, "icmp"],
  [IpProtocol.TCP, "tcp"],
  [IpProtocol.UDP, "udp"],
  [IpProtocol.IPV6, "ipv6"],
  [IpProtocol.GRE, "gre"],
  [IpProtocol.ESP, "esp"],
  [IpProtocol.AH, "ah"],
  [IpProtocol.ICMPV6, "icmpv6"],
  [IpProtocol.SCTP, "sctp"],
]);

/** The lowercase name nftables prints for a protocol number, else `proto-N`. */
export function protocolName(n: number): string {
  return PROTOCOL_NAMES.get(n) ?? `proto-${n}`;
}

// Bits of the 16-bit flags/fragment-offset word (RFC 791 §3.1: reserved, DF, MF, 13-bit offset).
const FLAG_RESERVED = 0x8000;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;
const IHL_MASK = 0x0f;
const ECN_MASK = 0x03;
const WORD = 4;
const VERSION_SHIFT = 4;

export interface Ipv4Repr {
  /** Differentiated services code point (6 bits) and ECN (2 bits) of the former TOS byte (RFC 2474, RFC 3168). */
  readonly dscp: number;
  readonly ecn: number;
  readonly ident: number;
  /** The reserved flag bit (must be zero, RFC 791), kept so round trips are exact. */
  readonly reservedFlag: boolean;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Fragment offset in 8-byte units, as carried (0..8191). */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  /** The header checksum as read; `emit` always writes the correct one. */
  readonly checksum: number;
  /** Addresses as unsigned 32-bit integers. */
  readonly src: number;
  readonly dst: number;
  /** Raw option bytes (a multiple of 4, at most 40), including any end-of-list padding. */
  readonly options: Uint8Array;
  readonly payload: Uint8Array;
}

function badSpan(bytes: Uint8Array, at: number, len: number): boolean {
  return !(Number.isInteger(at) && Number.isInteger(len) && at >= 0 && len >= 0 && at + len <= bytes.length);
}

const NO_BYTES = new Uint8Array(0);

export class Ipv4View {
  // Fields are created here, in this order and with these kinds (array, small integers), so every view shares
  // one hidden class and the datapath's property accesses stay monomorphic.
  bytes: Uint8Array = NO_BYTES;
  at = 0;
  len = 0;

  constructor(bytes: Uint8Array = NO_BYTES, at = 0, len: number = bytes.length - at) {
    this.bytes = bytes;
    this.at = at;
    this.len = len;
  }

  wrap(bytes: Uint8Array, at = 0, len: number = bytes.length - at): this {
    this.bytes = bytes;
    this.at = at;
    this.len = len;
    return this;
  }

  /**
   * Validates version, IHL and total length once: after null, the header and bytes[at .. at + totalLength) are
   * within the buffer. The checksum is not checked here (`verifyChecksum`).
   */
  check(): WireError | null {
    const b = this.bytes;
    const at = this.at;
    const len = this.len;
    // Success path first, without allocating; anything it does not accept is diagnosed by `checkHeader`, which
    // decides exactly as before (and also accepts the rare valid span this test is too strict for).
    if ((at | 0) === at && (len | 0) === len && at >= 0 && len >= HEADER_LEN && at + len <= b.length) {
      const verIhl = b[at + F.VER_IHL];
      const hl = (verIhl & IHL_MASK) * WORD;
      const total = (b[at + F.LENGTH] << 8) | b[at + F.LENGTH + 1];
      if (verIhl >>> VERSION_SHIFT === VERSION && hl >= HEADER_LEN && hl <= total && total <= len) return null;
    }
    return checkHeader(b, at, len);
  }

  get version(): number {
    return this.bytes[this.at + F.VER_IHL] >>> VERSION_SHIFT;
  }
  /** Header length in bytes (IHL × 4). */
  get headerLength(): number {
    return (this.bytes[this.at + F.VER_IHL] & IHL_MASK) * WORD;
  }
  get dscp(): number {
    return this.bytes[this.at + F.DSCP_ECN] >>> 2;
  }
  set dscp(v: number) {
    const p = this.at + F.DSCP_ECN;
    this.bytes[p] = ((v & 0x3f) << 2) | (this.bytes[p] & ECN_MASK);
  }
  get ecn(): number {
    return this.bytes[this.at + F.DSCP_ECN] & ECN_MASK;
  }
  set ecn(v: number) {
    const p = this.at + F.DSCP_ECN;
    this.bytes[p] = (this.bytes[p] & ~ECN_MASK) | (v & ECN_MASK);
  }
  get totalLength(): number {
    return readU16(this.bytes, this.at + F.LENGTH);
  }
  set totalLength(v: number) {
    writeU16(this.bytes, this.at + F.LENGTH, v);
  }
  get ident(): number {
    return readU16(this.bytes, this.at + F.IDENT);
  }
  set ident(v: number) {
    writeU16(this.bytes, this.at + F.IDENT, v);
  }
  get dontFragment(): boolean {
    return (readU16(this.bytes, this.at + F.FLG_OFF) & FLAG_DF) !== 0;
  }
  set dontFragment(v: boolean) {
    this.setFlag(FLAG_DF, v);
  }
  get moreFragments(): boolean {
    return (readU16(this.bytes, this.at + F.FLG_OFF) & FLAG_MF) !== 0;
  }
  set moreFragments(v: boolean) {
    this.setFlag(FLAG_MF, v);
  }
  /** Fragment offset in 8-byte units. */
  get fragmentOffset(): number {
    const b = this.bytes;
    const i = this.at + F.FLG_OFF;
    return ((b[i] << 8) | b[i + 1]) & FRAG_OFFSET_MASK;
  }
  set fragmentOffset(v: number) {
    const p = this.at + F.FLG_OFF;
    writeU16(this.bytes, p, (readU16(this.bytes, p) & ~FRAG_OFFSET_MASK) | (v & FRAG_OFFSET_MASK));
  }
  /** True for any fragment (MF set or a non-zero offset), as the kernel's ip_is_fragment. */
  get isFragment(): boolean {
    return (readU16(this.bytes, this.at + F.FLG_OFF) & (FLAG_MF | FRAG_OFFSET_MASK)) !== 0;
  }
  get ttl(): number {
    return this.bytes[this.at + F.TTL];
  }
  set ttl(v: number) {
    this.bytes[this.at + F.TTL] = v;
  }
  get protocol(): number {
    return this.bytes[this.at + F.PROTOCOL];
  }
  set protocol(v: number) {
    this.bytes[this.at + F.PROTOCOL] = v;
  }
  get checksum(): number {
    return readU16(this.bytes, this.at + F.CHECKSUM);
  }
  set checksum(v: number) {
    writeU16(this.bytes, this.at + F.CHECKSUM, v);
  }
  get src(): number {
    const b = this.bytes;
    const i = this.at + F.SRC;
    return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  }
  set src(a: number) {
    writeU32(this.bytes, this.at + F.SRC, a);
  }
  get dst(): number {
    const b = this.bytes;
    const i = this.at + F.DST;
    return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  }
  set dst(a: number) {
    writeU32(this.bytes, this.at + F.DST, a);
  }

  /** Raw options (subarray). */
  get options(): Uint8Array {
    return this.bytes.subarray(this.at + F.OPTIONS, this.at + this.headerLength);
  }
  get payloadOffset(): number {
    return this.at + this.headerLength;
  }
  get payloadLength(): number {
    const b = this.bytes;
    const at = this.at;
    const i = at + F.LENGTH;
    return ((b[i] << 8) | b[i + 1]) - (b[at + F.VER_IHL] & IHL_MASK) * WORD;
  }
  /** bytes[IHL*4 .. totalLength): link padding after the packet is excluded. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.payloadOffset, this.at + this.totalLength);
  }

  /** Recomputes the header checksum over the whole header. */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes, this.at, this.headerLength);
  }
  verifyChecksum(): boolean {
    return internetChecksum(this.bytes, this.at, this.headerLength) === 0;
  }

  /** NAT rewrites: set the address and patch the header checksum incrementally (RFC 1624 eqn. 3). */
  rewriteSrc(a: number): void {
    this.checksum = updateChecksum32(this.checksum, this.src, a);
    this.src = a;
  }
  rewriteDst(a: number): void {
    this.checksum = updateChecksum32(this.checksum, this.dst, a);
    this.dst = a;
  }
  /** Forwarding: TTL − 1 with the checksum patched in place, as ip_decrease_ttl (include/net/ip.h). */
  decrementTtl(): void {
    const p = this.at + F.TTL;
    const oldWord = readU16(this.bytes, p);
    this.bytes[p] = (this.bytes[p] - 1) & 0xff;
    this.checksum = updateChecksum16(this.checksum, oldWord, readU16(this.bytes, p));
  }

  private setFlag(bit: number, v: boolean): void {
    const p = this.at + F.FLG_OFF;
    const w = readU16(this.bytes, p);
    writeU16(this.bytes, p, v ? w | bit : w & ~bit);
  }
}

/** The full diagnosis behind `Ipv4View.check` (off the success path, so the check itself stays small). */
function checkHeader(bytes: Uint8Array, at: number, len: number): WireError | null {
  if (badSpan(bytes, at, len)) return err("ipv4", "buffer", at, "span outside the buffer").error;
  if (len < IPV4_HEADER_LEN) {
    return err("ipv4", "header", at, `${len} bytes, shorter than the ${IPV4_HEADER_LEN}-byte header`).error;
  }
  const version = bytes[at + F.VER_IHL] >>> VERSION_SHIFT;
  if (version !== IPV4_VERSION) {
    return err("ipv4", "version", at + F.VER_IHL, `version ${version}, expected 4`).error;
  }
  const hl = (bytes[at + F.VER_IHL] & IHL_MASK) * WORD;
  if (hl < IPV4_HEADER_LEN) return err("ipv4", "ihl", at + F.VER_IHL, `IHL ${hl / WORD} is below 5`).error;
  if (hl > len) {
    return err("ipv4", "ihl", at + F.VER_IHL, `header length ${hl} runs past the ${len} bytes given`).error;
  }
  const total = readU16(bytes, at + F.LENGTH);
  if (total < hl) {
    return err("ipv4", "total-length", at + F.LENGTH, `total length ${total} below header length ${hl}`).error;
  }
  if (total > len) {
    return err("ipv4", "total-length", at + F.LENGTH, `total length ${total} exceeds the ${len} bytes given`).error;
  }
  return null;
}

/** True when the header at bytes[at..] has a valid checksum; false also when the header does not fit. */
export function verifyChecksum(bytes: Uint8Array, at = 0): boolean {
  if (!Number.isInteger(at) || at < 0 || at + IPV4_HEADER_LEN > bytes.length) return false;
  const hl = (bytes[at + F.VER_IHL] & IHL_MASK) * WORD;
  if (hl < IPV4_HEADER_LEN || at + hl > bytes.length) return false;
  return internetChecksum(bytes, at, hl) === 0;
}

const view = new Ipv4View();

/** Packet bytes → repr; options and payload are subarrays of `bytes`. A bad checksum is reported, not rejected. */
export function parse(bytes: Uint8Array, at = 0, len: number = bytes.length - at): Result<Ipv4Repr> {
  const e = view.wrap(bytes, at, len).check();
  if (e !== null) return { ok: false, error: e };
  const flags = readU16(bytes, at + F.FLG_OFF);
  return ok({
    dscp: view.dscp,
    ecn: view.ecn,
    ident: view.ident,
    reservedFlag: (flags & FLAG_RESERVED) !== 0,
    dontFragment: (flags & FLAG_DF) !== 0,
    moreFragments: (flags & FLAG_MF) !== 0,
    fragmentOffset: flags & FRAG_OFFSET_MASK,
    ttl: view.ttl,
    protocol: view.protocol,
    checksum: view.checksum,
    src: view.src,
    dst: view.dst,
    options: view.options,
    payload: view.payload,
  });
}

/** Options are padded with zeros (End of Option List, RFC 791) to a 4-byte boundary. */
function optionsLen(repr: Ipv4Repr): number {
  return (repr.options.length + WORD - 1) & ~(WORD - 1);
}

export function headerLen(repr: Ipv4Repr): number {
  return IPV4_HEADER_LEN + optionsLen(repr);
}

export function bufferLen(repr: Ipv4Repr): number {
  return headerLen(repr) + repr.payload.length;
}

/**
 * Writes header and payload at buf[at..] with the correct total length and checksum; returns bytes written.
 * A repr whose options exceed 40 bytes or whose packet exceeds 65535 bytes cannot be expressed: RangeError
 * (a programming error, not bad input).
 */
export function emitInto(repr: Ipv4Repr, buf: Uint8Array, at: number): number {
  const hl = headerLen(repr);
  const total = hl + repr.payload.length;
  if (hl > IPV4_MAX_HEADER_LEN) throw new RangeError(`IPv4 options of ${repr.options.length} bytes exceed 40`);
  if (total > IPV4_MAX_LENGTH) throw new RangeError(`IPv4 packet of ${total} bytes exceeds 65535`);
  buf[at + F.VER_IHL] = (IPV4_VERSION << 4) | (hl / WORD);
  buf[at + F.DSCP_ECN] = ((repr.dscp & 0x3f) << 2) | (repr.ecn & ECN_MASK);
  writeU16(buf, at + F.LENGTH, total);
  writeU16(buf, at + F.IDENT, repr.ident);
  writeU16(
    buf,
    at + F.FLG_OFF,
    (repr.reservedFlag ? FLAG_RESERVED : 0) |
      (repr.dontFragment ? FLAG_DF : 0) |
      (repr.moreFragments ? FLAG_MF : 0) |
      (repr.fragmentOffset & FRAG_OFFSET_MASK),
  );
  buf[at + F.TTL] = repr.ttl;
  buf[at + F.PROTOCOL] = repr.protocol;
  writeU16(buf, at + F.CHECKSUM, 0);
  writeU32(buf, at + F.SRC, repr.src);
  writeU32(buf, at + F.DST, repr.dst);
  buf.set(repr.options, at + F.OPTIONS);
  buf.fill(0, at + F.OPTIONS + repr.options.length, at + hl);
  writeU16(buf, at + F.CHECKSUM, internetChecksum(buf, at, hl));
  buf.set(repr.payload, at + hl);
  return total;
}

export function emit(repr: Ipv4Repr): Uint8Array {
  const out = new Uint8Array(bufferLen(repr));
  emitInto(repr, out, 0);
  return out;
}

/** One option as listed by `listOptions`: its type byte and its data (after type and length). */
export interface Ipv4Option {
  readonly type: number;
  readonly data: Uint8Array;
}

export const Ipv4OptionType = {
  END: 0,
  NOP: 1,
  RECORD_ROUTE: 7,
  TIMESTAMP: 68,
  LSRR: 131,
  SSRR: 137,
  ROUTER_ALERT: 148,
} as const;

/**
 * Splits raw option bytes into options, for display and for rules that match on them (nft `ip option`).
 * End of Option List stops the walk; No Operation has no length byte (RFC 791 §3.1). Unknown types are listed.
 * `optionsAt` is the absolute offset of `options` in the packet, so errors name the right byte.
 */
export function listOptions(options: Uint8Array, optionsAt = 0): Result<Ipv4Option[]> {
  const out: Ipv4Option[] = [];
  let i = 0;
  while (i < options.length) {
    const type = options[i];
    if (type === Ipv4OptionType.END) break;
    if (type === Ipv4OptionType.NOP) {
      out.push({ type, data: options.subarray(i + 1, i + 1) });
      i++;
      continue;
    }
    if (i + 1 >= options.length)
      return err("ipv4", "option-length", optionsAt + i, `option ${type} has no length byte`);
    const olen = options[i + 1];
    if (olen < 2 || i + olen > options.length) {
      return err("ipv4", "option-length", optionsAt + i + 1, `option ${type} length ${olen} does not fit`);
    }
    out.push({ type, data: options.subarray(i + 2, i + olen) });
    i += olen;
  }
  return ok(out);
}
