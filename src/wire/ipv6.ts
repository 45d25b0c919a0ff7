// IPv6 (RFC 8200): the fixed header and the extension-header chain. `parse` keeps every extension header (raw
// data, or fields for Fragment) so `emit(parse(b))` is `b`; `upperLayer` walks the same chain without allocating,
// for the datapath, which needs only where the transport header starts and what it is (as ipv6_skip_exthdr in
// net/ipv6/exthdrs_core.c).

import { readU16, readU32, writeU16, writeU32 } from "./bytes.js";
import { err, ok } from "./result.js";
import type { Result, WireError } from "./result.js";

export const Ipv6Field = {
  VER_TC_FL: 0,
  PAYLOAD_LEN: 4,
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  SRC: 8,
  DST: 24,
} as const;
const F = Ipv6Field;

/** Fields shared by Hop-by-Hop, Routing, Destination Options and AH headers (RFC 8200 §4.3–4.6, RFC 4302 §2). */
export const Ipv6ExtField = { NEXT_HEADER: 0, LENGTH: 1, DATA: 2 } as const;
/** The Fragment header (RFC 8200 §4.5). */
export const Ipv6FragmentField = { NEXT_HEADER: 0, RESERVED: 1, OFFSET_FLAGS: 2, IDENT: 4 } as const;
const X = Ipv6ExtField;
const FR = Ipv6FragmentField;

export const IPV6_HEADER_LEN = 40;
export const IPV6_VERSION = 6;
export const IPV6_FRAGMENT_HEADER_LEN = 8;
export const IPV6_ADDR_LEN = 16;
export const IPV6_MAX_PAYLOAD_LEN = 0xffff;

/** Next-header values the chain walk gives meaning to; any other value is an upper-layer protocol. */
export const Ipv6NextHeader = {
  HOP_BY_HOP: 0,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NO_NEXT_HEADER: 59,
  DESTINATION: 60,
} as const;
const NH = Ipv6NextHeader;

const FL_MASK = 0xfffff;
const TC_SHIFT = 20;
const FRAG_OFFSET_SHIFT = 3;
const FRAG_RES_MASK = 0x6;
const FRAG_M = 0x1;
// Hop-by-Hop, Routing and Destination Options lengths count 8-byte units beyond the first; AH counts 4-byte
// units beyond the first two (RFC 4302 §2.2).
const EXT_UNIT = 8;
const AH_UNIT = 4;
const MAX_EXT_LEN_FIELD = 0xff;

/** Extension headers kept raw: `data` is everything after the next-header and length bytes. */
export interface Ipv6RawExtension {
  readonly kind: "hop-by-hop" | "routing" | "destination" | "auth";
  readonly data: Uint8Array;
}

export interface Ipv6FragmentExtension {
  readonly kind: "fragment";
  /** The reserved byte and the two reserved bits, kept so round trips are exact. */
  readonly reserved: number;
  readonly reservedBits: number;
  /** Offset in 8-byte units (0..8191). */
  readonly fragmentOffset: number;
  readonly moreFragments: boolean;
  readonly ident: number;
}

export type Ipv6Extension = Ipv6RawExtension | Ipv6FragmentExtension;

export interface Ipv6Repr {
  readonly trafficClass: number;
  /** 20 bits. */
  readonly flowLabel: number;
  readonly hopLimit: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /**
   * The extension headers in wire order. A valid repr has a non-first fragment (offset > 0) only last, and then
   * `nextHeader` may be anything; otherwise `nextHeader` is not an extension-header type.
   */
  readonly extensions: readonly Ipv6Extension[];
  /** The upper-layer protocol: the next header of the last extension header, or of the fixed header. */
  readonly nextHeader: number;
  /** Bytes after the last extension header, up to the payload length (link padding excluded). */
  readonly payload: Uint8Array;
}

const EXT_TYPE: Readonly<Record<Ipv6Extension["kind"], number>> = {
  "hop-by-hop": NH.HOP_BY_HOP,
  routing: NH.ROUTING,
  destination: NH.DESTINATION,
  auth: NH.AH,
  fragment: NH.FRAGMENT,
};

/** The next-header value that announces an extension header. */
export function extensionType(e: Ipv6Extension): number {
  return EXT_TYPE[e.kind];
}

/** True for the next-header values the chain walk steps over. */
export function isExtensionHeader(nh: number): boolean {
  return nh === NH.HOP_BY_HOP || nh === NH.ROUTING || nh === NH.FRAGMENT || nh === NH.DESTINATION || nh === NH.AH;
}

function badSpan(bytes: Uint8Array, at: number, len: number): boolean {
  return !(Number.isInteger(at) && Number.isInteger(len) && at >= 0 && len >= 0 && at + len <= bytes.length);
}

/** Length in bytes of the extension header of type `nh` whose length byte is `lenField` (not Fragment). */
function extLength(nh: number, lenField: number): number {
  return nh === NH.AH ? (lenField + 2) * AH_UNIT : (lenField + 1) * EXT_UNIT;
}

/** Checks the fixed header; shared by the view, `parse` and `upperLayer`. */
function checkFixed(bytes: Uint8Array, at: number, len: number): WireError | null {
  if (badSpan(bytes, at, len)) return err("ipv6", "buffer", at, "span outside the buffer").error;
  if (len < IPV6_HEADER_LEN) {
    return err("ipv6", "header", at, `${len} bytes, shorter than the ${IPV6_HEADER_LEN}-byte header`).error;
  }
  const version = bytes[at + F.VER_TC_FL] >>> 4;
  if (version !== IPV6_VERSION) return err("ipv6", "version", at, `version ${version}, expected 6`).error;
  const plen = readU16(bytes, at + F.PAYLOAD_LEN);
  if (IPV6_HEADER_LEN + plen > len) {
    return err(
      "ipv6",
      "payload-length",
      at + F.PAYLOAD_LEN,
      `payload length ${plen} exceeds the ${len - IPV6_HEADER_LEN} bytes given`,
    ).error;
  }
  return null;
}

export class Ipv6View {
  constructor(
    public bytes: Uint8Array = new Uint8Array(0),
    public at = 0,
    public len: number = bytes.length - at,
  ) {}

  wrap(bytes: Uint8Array, at = 0, len: number = bytes.length - at): this {
    this.bytes = bytes;
    this.at = at;
    this.len = len;
    return this;
  }

  /** Validates version and payload length once: after null, bytes[at .. at + 40 + payloadLength) are in bounds. */
  check(): WireError | null {
    return checkFixed(this.bytes, this.at, this.len);
  }

  get version(): number {
    return this.bytes[this.at + F.VER_TC_FL] >>> 4;
  }
  get trafficClass(): number {
    return (readU32(this.bytes, this.at + F.VER_TC_FL) >>> TC_SHIFT) & 0xff;
  }
  set trafficClass(v: number) {
    const p = this.at + F.VER_TC_FL;
    const w = readU32(this.bytes, p);
    writeU32(this.bytes, p, ((w & ~(0xff << TC_SHIFT)) | ((v & 0xff) << TC_SHIFT)) >>> 0);
  }
  get flowLabel(): number {
    return readU32(this.bytes, this.at + F.VER_TC_FL) & FL_MASK;
  }
  set flowLabel(v: number) {
    const p = this.at + F.VER_TC_FL;
    writeU32(this.bytes, p, ((readU32(this.bytes, p) & ~FL_MASK) | (v & FL_MASK)) >>> 0);
  }
  get payloadLength(): number {
    return readU16(this.bytes, this.at + F.PAYLOAD_LEN);
  }
  set payloadLength(v: number) {
    writeU16(this.bytes, this.at + F.PAYLOAD_LEN, v);
  }
  /** The fixed header's next header (the first extension header, if any). */
  get nextHeader(): number {
    return this.bytes[this.at + F.NEXT_HEADER];
  }
  set nextHeader(v: number) {
    this.bytes[this.at + F.NEXT_HEADER] = v;
  }
  get hopLimit(): number {
    return this.bytes[this.at + F.HOP_LIMIT];
  }
  set hopLimit(v: number) {
    this.bytes[this.at + F.HOP_LIMIT] = v;
  }
  /** Absolute offsets of the addresses, for word-wise reads (`ipv6ToWords`) without a subarray. */
  get srcOffset(): number {
    return this.at + F.SRC;
  }
  get dstOffset(): number {
    return this.at + F.DST;
  }
  /** Subarray over the source address (writes go to the packet). */
  get src(): Uint8Array {
    return this.bytes.subarray(this.at + F.SRC, this.at + F.SRC + IPV6_ADDR_LEN);
  }
  set src(a: Uint8Array) {
    this.bytes.set(a.subarray(0, IPV6_ADDR_LEN), this.at + F.SRC);
  }
  get dst(): Uint8Array {
    return this.bytes.subarray(this.at + F.DST, this.at + F.DST + IPV6_ADDR_LEN);
  }
  set dst(a: Uint8Array) {
    this.bytes.set(a.subarray(0, IPV6_ADDR_LEN), this.at + F.DST);
  }
  get headerLength(): number {
    return IPV6_HEADER_LEN;
  }
  /** Fixed header plus payload: where the packet ends, link padding excluded. */
  get totalLength(): number {
    return IPV6_HEADER_LEN + this.payloadLength;
  }
  get payloadOffset(): number {
    return this.at + IPV6_HEADER_LEN;
  }
  /** Everything after the fixed header, extension headers included. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.at + IPV6_HEADER_LEN, this.at + IPV6_HEADER_LEN + this.payloadLength);
  }
}

/** What `upperLayer` found; one instance is reused per packet. */
export class Ipv6UpperLayer {
  /** The final next header: the upper-layer protocol (or 59, 50, or a non-first fragment's next header). */
  nextHeader = 0;
  /** Offset just past the packet (at + 40 + payload length). */
  end = 0;
  /** The chain or fixed header is malformed (truncated, bad version, jumbogram). */
  malformed = false;
  isFragment = false;
  /** Fragment offset in 8-byte units and the M flag, when a Fragment header was seen. */
  fragmentOffset = 0;
  moreFragments = false;
  fragmentIdent = 0;

  reset(): void {
    this.nextHeader = 0;
    this.end = 0;
    this.malformed = false;
    this.isFragment = false;
    this.fragmentOffset = 0;
    this.moreFragments = false;
    this.fragmentIdent = 0;
  }
}

/** The default result object of `upperLayer`, for callers that do not keep their own. */
export const upperLayerInfo = new Ipv6UpperLayer();

/**
 * Walks the extension-header chain of the packet at bytes[at..at+len) without allocating. Returns the offset of
 * the upper-layer header (ESP counts as one), or -1 when there is none in this packet: a non-first fragment, No
 * Next Header, or a malformed packet (`out.malformed`). `out` is filled in every case.
 */
export function upperLayer(bytes: Uint8Array, at: number, len: number, out: Ipv6UpperLayer = upperLayerInfo): number {
  out.reset();
  // The same checks as checkFixed, without building an error object.
  if (
    badSpan(bytes, at, len) ||
    len < IPV6_HEADER_LEN ||
    bytes[at + F.VER_TC_FL] >>> 4 !== IPV6_VERSION ||
    IPV6_HEADER_LEN + readU16(bytes, at + F.PAYLOAD_LEN) > len
  ) {
    out.malformed = true;
    return -1;
  }
  const plen = readU16(bytes, at + F.PAYLOAD_LEN);
  const end = at + IPV6_HEADER_LEN + plen;
  out.end = end;
  let nh = bytes[at + F.NEXT_HEADER];
  if (plen === 0 && nh === NH.HOP_BY_HOP) {
    out.malformed = true;
    return -1;
  }
  let p = at + IPV6_HEADER_LEN;
  while (true) {
    out.nextHeader = nh;
    if (nh === NH.FRAGMENT) {
      if (p + IPV6_FRAGMENT_HEADER_LEN > end) {
        out.malformed = true;
        return -1;
      }
      const w = readU16(bytes, p + FR.OFFSET_FLAGS);
      out.isFragment = true;
      out.fragmentOffset = w >>> FRAG_OFFSET_SHIFT;
      out.moreFragments = (w & FRAG_M) !== 0;
      out.fragmentIdent = readU32(bytes, p + FR.IDENT);
      nh = bytes[p + FR.NEXT_HEADER];
      p += IPV6_FRAGMENT_HEADER_LEN;
      if (out.fragmentOffset !== 0) {
        out.nextHeader = nh;
        return -1;
      }
      continue;
    }
    if (nh === NH.HOP_BY_HOP || nh === NH.ROUTING || nh === NH.DESTINATION || nh === NH.AH) {
      if (p + X.DATA > end) {
        out.malformed = true;
        return -1;
      }
      const hlen = extLength(nh, bytes[p + X.LENGTH]);
      if (p + hlen > end) {
        out.malformed = true;
        return -1;
      }
      nh = bytes[p + X.NEXT_HEADER];
      p += hlen;
      continue;
    }
    return nh === NH.NO_NEXT_HEADER ? -1 : p;
  }
}

/** Packet bytes → repr. Addresses, extension data and payload are subarrays of `bytes` (zero-copy). */
export function parse(bytes: Uint8Array, at = 0, len: number = bytes.length - at): Result<Ipv6Repr> {
  const e = checkFixed(bytes, at, len);
  if (e !== null) return { ok: false, error: e };
  const plen = readU16(bytes, at + F.PAYLOAD_LEN);
  const end = at + IPV6_HEADER_LEN + plen;
  let nh = bytes[at + F.NEXT_HEADER];
  if (plen === 0 && nh === NH.HOP_BY_HOP) {
    return err(
      "ipv6",
      "payload-length",
      at + F.PAYLOAD_LEN,
      "payload length 0 with Hop-by-Hop: a jumbogram (RFC 2675), not supported",
    );
  }
  const extensions: Ipv6Extension[] = [];
  let p = at + IPV6_HEADER_LEN;
  while (isExtensionHeader(nh)) {
    if (nh === NH.FRAGMENT) {
      if (p + IPV6_FRAGMENT_HEADER_LEN > end) {
        return err("ipv6", "fragment-header", p, `${end - p} bytes left, the Fragment header needs 8`);
      }
      const w = readU16(bytes, p + FR.OFFSET_FLAGS);
      const frag: Ipv6FragmentExtension = {
        kind: "fragment",
        reserved: bytes[p + FR.RESERVED],
        reservedBits: (w & FRAG_RES_MASK) >>> 1,
        fragmentOffset: w >>> FRAG_OFFSET_SHIFT,
        moreFragments: (w & FRAG_M) !== 0,
        ident: readU32(bytes, p + FR.IDENT),
      };
      extensions.push(frag);
      nh = bytes[p + FR.NEXT_HEADER];
      p += IPV6_FRAGMENT_HEADER_LEN;
      // RFC 8200 §4.5: a non-first fragment carries the rest of the fragmentable part, not a header we can read.
      if (frag.fragmentOffset !== 0) break;
      continue;
    }
    const kind =
      nh === NH.HOP_BY_HOP ? "hop-by-hop" : nh === NH.ROUTING ? "routing" : nh === NH.AH ? "auth" : "destination";
    if (p + X.DATA > end) return err("ipv6", `${kind}-header`, p, `${end - p} bytes left, the header needs at least 2`);
    const hlen = extLength(nh, bytes[p + X.LENGTH]);
    if (p + hlen > end) {
      return err("ipv6", `${kind}-length`, p + X.LENGTH, `header of ${hlen} bytes runs past the payload length`);
    }
    extensions.push({ kind, data: bytes.subarray(p + X.DATA, p + hlen) });
    nh = bytes[p + X.NEXT_HEADER];
    p += hlen;
  }
  return ok({
    trafficClass: (readU32(bytes, at + F.VER_TC_FL) >>> TC_SHIFT) & 0xff,
    flowLabel: readU32(bytes, at + F.VER_TC_FL) & FL_MASK,
    hopLimit: bytes[at + F.HOP_LIMIT],
    src: bytes.subarray(at + F.SRC, at + F.SRC + IPV6_ADDR_LEN),
    dst: bytes.subarray(at + F.DST, at + F.DST + IPV6_ADDR_LEN),
    extensions,
    nextHeader: nh,
    payload: bytes.subarray(p, end),
  });
}

/** Bytes an extension header takes on the wire. */
export function extensionLen(e: Ipv6Extension): number {
  return e.kind === "fragment" ? IPV6_FRAGMENT_HEADER_LEN : X.DATA + e.data.length;
}

export function bufferLen(repr: Ipv6Repr): number {
  let n = IPV6_HEADER_LEN + repr.payload.length;
  for (const e of repr.extensions) n += extensionLen(e);
  return n;
}

/** The length byte for raw extension data, or -1 when the data length cannot be expressed. */
function extLengthField(e: Ipv6RawExtension): number {
  const total = X.DATA + e.data.length;
  const unit = e.kind === "auth" ? AH_UNIT : EXT_UNIT;
  const field = total / unit - (e.kind === "auth" ? 2 : 1);
  return Number.isInteger(field) && field >= 0 && field <= MAX_EXT_LEN_FIELD ? field : -1;
}

/**
 * Writes the packet at buf[at..] with the payload length and every next-header byte derived from the repr;
 * returns bytes written. A repr that cannot be expressed (extension data not filling whole 8-byte units, or 4-byte
 * units for AH; payload over 65535 bytes) is a programming error: RangeError.
 */
export function emitInto(repr: Ipv6Repr, buf: Uint8Array, at: number): number {
  const total = bufferLen(repr);
  if (total - IPV6_HEADER_LEN > IPV6_MAX_PAYLOAD_LEN) {
    throw new RangeError(`IPv6 payload of ${total - IPV6_HEADER_LEN} bytes exceeds 65535`);
  }
  writeU32(
    buf,
    at + F.VER_TC_FL,
    ((IPV6_VERSION << 28) | ((repr.trafficClass & 0xff) << TC_SHIFT) | (repr.flowLabel & FL_MASK)) >>> 0,
  );
  writeU16(buf, at + F.PAYLOAD_LEN, total - IPV6_HEADER_LEN);
  const exts = repr.extensions;
  buf[at + F.NEXT_HEADER] = exts.length > 0 ? extensionType(exts[0]) : repr.nextHeader;
  buf[at + F.HOP_LIMIT] = repr.hopLimit;
  buf.set(repr.src.subarray(0, IPV6_ADDR_LEN), at + F.SRC);
  buf.set(repr.dst.subarray(0, IPV6_ADDR_LEN), at + F.DST);
  let p = at + IPV6_HEADER_LEN;
  for (let i = 0; i < exts.length; i++) {
    const e = exts[i];
    const next = i + 1 < exts.length ? extensionType(exts[i + 1]) : repr.nextHeader;
    if (e.kind === "fragment") {
      buf[p + FR.NEXT_HEADER] = next;
      buf[p + FR.RESERVED] = e.reserved;
      writeU16(
        buf,
        p + FR.OFFSET_FLAGS,
        ((e.fragmentOffset << FRAG_OFFSET_SHIFT) & 0xfff8) |
          ((e.reservedBits << 1) & FRAG_RES_MASK) |
          (e.moreFragments ? FRAG_M : 0),
      );
      writeU32(buf, p + FR.IDENT, e.ident);
      p += IPV6_FRAGMENT_HEADER_LEN;
      continue;
    }
    const lenField = extLengthField(e);
    if (lenField < 0) throw new RangeError(`IPv6 ${e.kind} header data of ${e.data.length} bytes has no valid length`);
    buf[p + X.NEXT_HEADER] = next;
    buf[p + X.LENGTH] = lenField;
    buf.set(e.data, p + X.DATA);
    p += X.DATA + e.data.length;
  }
  buf.set(repr.payload, p);
  return total;
}

export function emit(repr: Ipv6Repr): Uint8Array {
  const out = new Uint8Array(bufferLen(repr));
  emitInto(repr, out, 0);
  return out;
}
