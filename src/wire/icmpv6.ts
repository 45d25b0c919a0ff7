// ICMPv6 (RFC 4443) and the Neighbor Discovery messages a home network runs on (RFC 4861). The checksum covers the
// IPv6 pseudo-header and is mandatory. Errors carry as much of the offending packet as fits in 1280 bytes;
// `parseEmbedded` walks its extension headers only as far as they are carried.

import { readU16, readU32, writeU16, writeU32 } from "./bytes.js";
import { finishChecksum, foldSum, sumWords } from "./checksum.js";
import { pseudoSum, type PseudoHeader } from "./pseudo-header.js";
import { err, ok, type Result, type WireError } from "./result.js";

export const Icmpv6Field = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Echo: identifier and sequence number. */
  ID: 4,
  SEQ: 6,
  REST: 4,
  /** Packet too big: MTU (32 bits). */
  MTU: 4,
  /** Parameter problem: pointer (32 bits). */
  POINTER: 4,
  /** Dest unreachable, time exceeded: original datagram length in words (RFC 4884 §4.1). */
  LENGTH: 4,
  /** Errors: the offending packet; echo: the data. */
  EMBEDDED: 8,
  DATA: 8,
  /** Router advertisement (RFC 4861 §4.2). */
  CUR_HOP_LIMIT: 4,
  RA_FLAGS: 5,
  ROUTER_LIFETIME: 6,
  REACHABLE_TIME: 8,
  RETRANS_TIMER: 12,
  /** Neighbor advertisement flags R/S/O (RFC 4861 §4.4). */
  NA_FLAGS: 4,
  /** Neighbor solicitation / advertisement: target address (16 bytes). */
  TARGET: 8,
} as const;
const F = Icmpv6Field;

export const ICMPV6_HEADER_LEN = 8;
export const ICMPV6_PROTOCOL = 58;
const IPV6_ADDR_LEN = 16;

/** Where the options of each NDP message begin, i.e. its fixed length. */
export const NdpOptionsAt = { ROUTER_SOLICITATION: 8, ROUTER_ADVERTISEMENT: 16, NEIGHBOR: 24 } as const;

export const Icmpv6Type = {
  DEST_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAMETER_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  MLD_QUERY: 130,
  MLD_REPORT: 131,
  MLD_DONE: 132,
  ROUTER_SOLICITATION: 133,
  ROUTER_ADVERTISEMENT: 134,
  NEIGHBOR_SOLICITATION: 135,
  NEIGHBOR_ADVERTISEMENT: 136,
  REDIRECT: 137,
  MLDV2_REPORT: 143,
} as const;
const T = Icmpv6Type;

/** Destination unreachable codes (RFC 4443 §3.1, RFC 4443 errata, RFC 6550 none). */
export const Icmpv6UnreachableCode = {
  NO_ROUTE: 0,
  ADMIN_PROHIBITED: 1,
  BEYOND_SCOPE: 2,
  ADDRESS: 3,
  PORT: 4,
  SOURCE_POLICY: 5,
  REJECT_ROUTE: 6,
} as const;

/** Router advertisement flag bits (RFC 4861 §4.2; H RFC 6275, Prf RFC 4191, P RFC 4389). */
export const RaFlags = { MANAGED: 0x80, OTHER: 0x40, HOME_AGENT: 0x20, PREFERENCE_MASK: 0x18, PROXY: 0x04 } as const;
/** Neighbor advertisement flag bits, in byte 4 (RFC 4861 §4.4). */
export const NaFlags = { ROUTER: 0x80, SOLICITED: 0x40, OVERRIDE: 0x20 } as const;
/** Prefix information flag bits (RFC 4861 §4.6.2; R RFC 6275). */
export const PrefixFlags = { ON_LINK: 0x80, AUTONOMOUS: 0x40, ROUTER_ADDRESS: 0x20 } as const;

export const NdpOptionType = {
  SOURCE_LINK_ADDR: 1,
  TARGET_LINK_ADDR: 2,
  PREFIX_INFO: 3,
  REDIRECTED_HEADER: 4,
  MTU: 5,
} as const;
const O = NdpOptionType;
/** NDP option lengths are in units of 8 bytes (RFC 4861 §4.6). */
const NDP_UNIT = 8;
const PREFIX_INFO_UNITS = 4;
const MTU_UNITS = 1;
const PrefixField = { PREFIX_LENGTH: 2, FLAGS: 3, VALID: 4, PREFERRED: 8, RESERVED2: 12, PREFIX: 16 } as const;
const MtuField = { RESERVED: 2, MTU: 4 } as const;

/** Errors are the types below 128 (RFC 4443 §2.1). */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

export type NdpOption =
  /** Link-layer address: every byte after type and length (6 for Ethernet, without padding). */
  | { readonly kind: "source-link-addr" | "target-link-addr"; readonly addr: Uint8Array }
  | {
      readonly kind: "prefix-info";
      readonly prefixLength: number;
      readonly flags: number;
      readonly validLifetime: number;
      readonly preferredLifetime: number;
      readonly reserved: number;
      readonly prefix: Uint8Array;
    }
  | { readonly kind: "mtu"; readonly reserved: number; readonly mtu: number }
  /** Any other option: the bytes after type and length. */
  | { readonly kind: "unknown"; readonly type: number; readonly data: Uint8Array };

interface Base {
  readonly code: number;
  /** As found by `parse`; `emit` writes the correct one. */
  readonly checksum: number;
}

export type Icmpv6Repr =
  | (Base & {
      readonly kind: "echo-request" | "echo-reply";
      readonly id: number;
      readonly seq: number;
      readonly data: Uint8Array;
    })
  | (Base & {
      readonly kind: "dest-unreachable" | "time-exceeded";
      /** RFC 4884 length of the original datagram in 64-bit words; 0 without extension. */
      readonly length: number;
      /** Bytes 5–7. */
      readonly unused: number;
      readonly embedded: Uint8Array;
    })
  | (Base & { readonly kind: "packet-too-big"; readonly mtu: number; readonly embedded: Uint8Array })
  | (Base & { readonly kind: "parameter-problem"; readonly pointer: number; readonly embedded: Uint8Array })
  | (Base & { readonly kind: "router-solicitation"; readonly reserved: number; readonly options: readonly NdpOption[] })
  | (Base & {
      readonly kind: "router-advertisement";
      readonly curHopLimit: number;
      /** See `RaFlags`. */
      readonly flags: number;
      readonly routerLifetime: number;
      readonly reachableTime: number;
      readonly retransTimer: number;
      readonly options: readonly NdpOption[];
    })
  | (Base & {
      readonly kind: "neighbor-solicitation";
      readonly reserved: number;
      readonly target: Uint8Array;
      readonly options: readonly NdpOption[];
    })
  | (Base & {
      readonly kind: "neighbor-advertisement";
      /** See `NaFlags`. */
      readonly flags: number;
      /** Bytes 5–7. */
      readonly reserved: number;
      readonly target: Uint8Array;
      readonly options: readonly NdpOption[];
    })
  | (Base & { readonly kind: "other"; readonly type: number; readonly rest: number; readonly data: Uint8Array });

/** Zero-copy view over an ICMPv6 message at bytes[at..at+len). Call `check()` once before trusting getters. */
export class Icmpv6View {
  bytes: Uint8Array;
  at: number;
  len: number;

  constructor(bytes: Uint8Array = new Uint8Array(0), at = 0, len = bytes.length - at) {
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
    return checkHeader(this.bytes, this.at, this.len);
  }

  get type(): number {
    return this.bytes[this.at + F.TYPE];
  }
  set type(v: number) {
    this.bytes[this.at + F.TYPE] = v;
  }
  get code(): number {
    return this.bytes[this.at + F.CODE];
  }
  set code(v: number) {
    this.bytes[this.at + F.CODE] = v;
  }
  get checksum(): number {
    return readU16(this.bytes, this.at + F.CHECKSUM);
  }
  set checksum(v: number) {
    writeU16(this.bytes, this.at + F.CHECKSUM, v);
  }
  get id(): number {
    return readU16(this.bytes, this.at + F.ID);
  }
  set id(v: number) {
    writeU16(this.bytes, this.at + F.ID, v);
  }
  get seq(): number {
    return readU16(this.bytes, this.at + F.SEQ);
  }
  set seq(v: number) {
    writeU16(this.bytes, this.at + F.SEQ, v);
  }
  get rest(): number {
    return readU32(this.bytes, this.at + F.REST);
  }
  set rest(v: number) {
    writeU32(this.bytes, this.at + F.REST, v);
  }
  get headerLength(): number {
    return ICMPV6_HEADER_LEN;
  }
  get payloadOffset(): number {
    return this.at + ICMPV6_HEADER_LEN;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.at + ICMPV6_HEADER_LEN, this.at + this.len);
  }
  verifyChecksum(pseudo: PseudoHeader): boolean {
    return verifyChecksum(this.bytes, this.at, this.len, pseudo);
  }
  fillChecksum(pseudo: PseudoHeader): void {
    fillChecksum(this.bytes, this.at, this.len, pseudo);
  }
}

function checkHeader(b: Uint8Array, at: number, len: number): WireError | null {
  if (at < 0 || len < 0 || at + len > b.length) return err("icmpv6", "buffer", at, "range outside the buffer").error;
  if (len < ICMPV6_HEADER_LEN) {
    return err("icmpv6", "header", at + len, `message of ${len} bytes is shorter than the 8-byte header`).error;
  }
  return null;
}

export function verifyChecksum(bytes: Uint8Array, at: number, len: number, pseudo: PseudoHeader): boolean {
  return foldSum(sumWords(bytes, at, len, pseudoSum(pseudo, ICMPV6_PROTOCOL, len))) === 0xffff;
}

export function fillChecksum(bytes: Uint8Array, at: number, len: number, pseudo: PseudoHeader): void {
  writeU16(bytes, at + F.CHECKSUM, 0);
  writeU16(bytes, at + F.CHECKSUM, finishChecksum(sumWords(bytes, at, len, pseudoSum(pseudo, ICMPV6_PROTOCOL, len))));
}

/** Parses the NDP options filling bytes[start..end) (RFC 4861 §4.6). */
export function parseNdpOptions(b: Uint8Array, start: number, end: number): Result<NdpOption[]> {
  const out: NdpOption[] = [];
  let i = start;
  while (i < end) {
    const type = b[i];
    if (i + 1 >= end) return err("icmpv6", `ndp option ${type}`, i, "option type without a length byte");
    const units = b[i + 1];
    // RFC 4861 §4.6: a zero length must make the whole packet be discarded.
    if (units === 0) return err("icmpv6", `ndp option ${type}`, i + 1, "length 0");
    const olen = units * NDP_UNIT;
    if (i + olen > end) return err("icmpv6", `ndp option ${type}`, i + 1, `length ${olen} runs past the message`);
    switch (type) {
      case O.SOURCE_LINK_ADDR:
      case O.TARGET_LINK_ADDR:
        out.push({
          kind: type === O.SOURCE_LINK_ADDR ? "source-link-addr" : "target-link-addr",
          addr: b.subarray(i + 2, i + olen),
        });
        break;
      case O.PREFIX_INFO:
        if (units !== PREFIX_INFO_UNITS) {
          return err("icmpv6", "ndp option prefix-info", i + 1, `length ${units}, expected ${PREFIX_INFO_UNITS}`);
        }
        out.push({
          kind: "prefix-info",
          prefixLength: b[i + PrefixField.PREFIX_LENGTH],
          flags: b[i + PrefixField.FLAGS],
          validLifetime: readU32(b, i + PrefixField.VALID),
          preferredLifetime: readU32(b, i + PrefixField.PREFERRED),
          reserved: readU32(b, i + PrefixField.RESERVED2),
          prefix: b.subarray(i + PrefixField.PREFIX, i + PrefixField.PREFIX + IPV6_ADDR_LEN),
        });
        break;
      case O.MTU:
        if (units !== MTU_UNITS) return err("icmpv6", "ndp option mtu", i + 1, `length ${units}, expected 1`);
        out.push({ kind: "mtu", reserved: readU16(b, i + MtuField.RESERVED), mtu: readU32(b, i + MtuField.MTU) });
        break;
      default:
        out.push({ kind: "unknown", type, data: b.subarray(i + 2, i + olen) });
    }
    i += olen;
  }
  return ok(out);
}

function ndpTooShort(type: string, at: number, len: number, need: number): { ok: false; error: WireError } {
  return err("icmpv6", type, at + len, `${type} of ${len} bytes is shorter than ${need}`);
}

/** Parses the message at bytes[at..at+len). Does not check the checksum (see `verifyChecksum`). */
export function parse(bytes: Uint8Array, at = 0, len = bytes.length - at): Result<Icmpv6Repr> {
  const e = checkHeader(bytes, at, len);
  if (e) return { ok: false, error: e };
  const type = bytes[at + F.TYPE];
  const code = bytes[at + F.CODE];
  const checksum = readU16(bytes, at + F.CHECKSUM);
  const rest = readU32(bytes, at + F.REST);
  const end = at + len;
  const body = bytes.subarray(at + ICMPV6_HEADER_LEN, end);
  switch (type) {
    case T.ECHO_REQUEST:
    case T.ECHO_REPLY:
      return ok({
        kind: type === T.ECHO_REQUEST ? "echo-request" : "echo-reply",
        code,
        checksum,
        id: readU16(bytes, at + F.ID),
        seq: readU16(bytes, at + F.SEQ),
        data: body,
      });
    case T.DEST_UNREACHABLE:
    case T.TIME_EXCEEDED:
      return ok({
        kind: type === T.DEST_UNREACHABLE ? "dest-unreachable" : "time-exceeded",
        code,
        checksum,
        length: bytes[at + F.LENGTH],
        unused: rest & 0xffffff,
        embedded: body,
      });
    case T.PACKET_TOO_BIG:
      return ok({ kind: "packet-too-big", code, checksum, mtu: rest, embedded: body });
    case T.PARAMETER_PROBLEM:
      return ok({ kind: "parameter-problem", code, checksum, pointer: rest, embedded: body });
    case T.ROUTER_SOLICITATION: {
      const options = parseNdpOptions(bytes, at + NdpOptionsAt.ROUTER_SOLICITATION, end);
      if (!options.ok) return options;
      return ok({ kind: "router-solicitation", code, checksum, reserved: rest, options: options.value });
    }
    case T.ROUTER_ADVERTISEMENT: {
      if (len < NdpOptionsAt.ROUTER_ADVERTISEMENT) {
        return ndpTooShort("router advertisement", at, len, NdpOptionsAt.ROUTER_ADVERTISEMENT);
      }
      const options = parseNdpOptions(bytes, at + NdpOptionsAt.ROUTER_ADVERTISEMENT, end);
      if (!options.ok) return options;
      return ok({
        kind: "router-advertisement",
        code,
        checksum,
        curHopLimit: bytes[at + F.CUR_HOP_LIMIT],
        flags: bytes[at + F.RA_FLAGS],
        routerLifetime: readU16(bytes, at + F.ROUTER_LIFETIME),
        reachableTime: readU32(bytes, at + F.REACHABLE_TIME),
        retransTimer: readU32(bytes, at + F.RETRANS_TIMER),
        options: options.value,
      });
    }
    case T.NEIGHBOR_SOLICITATION:
    case T.NEIGHBOR_ADVERTISEMENT: {
      const solicit = type === T.NEIGHBOR_SOLICITATION;
      if (len < NdpOptionsAt.NEIGHBOR) {
        return ndpTooShort(
          solicit ? "neighbor solicitation" : "neighbor advertisement",
          at,
          len,
          NdpOptionsAt.NEIGHBOR,
        );
      }
      const options = parseNdpOptions(bytes, at + NdpOptionsAt.NEIGHBOR, end);
      if (!options.ok) return options;
      const target = bytes.subarray(at + F.TARGET, at + F.TARGET + IPV6_ADDR_LEN);
      return solicit
        ? ok({ kind: "neighbor-solicitation", code, checksum, reserved: rest, target, options: options.value })
        : ok({
            kind: "neighbor-advertisement",
            code,
            checksum,
            flags: bytes[at + F.NA_FLAGS],
            reserved: rest & 0xffffff,
            target,
            options: options.value,
          });
    }
    default:
      return ok({ kind: "other", type, code, checksum, rest, data: body });
  }
}

export function typeOf(repr: Icmpv6Repr): number {
  switch (repr.kind) {
    case "echo-request":
      return T.ECHO_REQUEST;
    case "echo-reply":
      return T.ECHO_REPLY;
    case "dest-unreachable":
      return T.DEST_UNREACHABLE;
    case "packet-too-big":
      return T.PACKET_TOO_BIG;
    case "time-exceeded":
      return T.TIME_EXCEEDED;
    case "parameter-problem":
      return T.PARAMETER_PROBLEM;
    case "router-solicitation":
      return T.ROUTER_SOLICITATION;
    case "router-advertisement":
      return T.ROUTER_ADVERTISEMENT;
    case "neighbor-solicitation":
      return T.NEIGHBOR_SOLICITATION;
    case "neighbor-advertisement":
      return T.NEIGHBOR_ADVERTISEMENT;
    case "other":
      return repr.type;
  }
}

function ndpOptionLen(o: NdpOption): number {
  switch (o.kind) {
    case "source-link-addr":
    case "target-link-addr":
      return 2 + o.addr.length;
    case "prefix-info":
      return PREFIX_INFO_UNITS * NDP_UNIT;
    case "mtu":
      return MTU_UNITS * NDP_UNIT;
    case "unknown":
      return 2 + o.data.length;
  }
}

/**
 * Bytes an NDP option takes on the wire. Link-layer and unknown options whose data does not fill a multiple of
 * 8 bytes are padded with zeros (RFC 4861 §4.6.1).
 */
export function ndpOptionBufferLen(o: NdpOption): number {
  return (ndpOptionLen(o) + NDP_UNIT - 1) & ~(NDP_UNIT - 1);
}

function writeNdpOption(o: NdpOption, b: Uint8Array, i: number): number {
  const n = ndpOptionBufferLen(o);
  b.fill(0, i, i + n);
  b[i + 1] = n / NDP_UNIT;
  switch (o.kind) {
    case "source-link-addr":
    case "target-link-addr":
      b[i] = o.kind === "source-link-addr" ? O.SOURCE_LINK_ADDR : O.TARGET_LINK_ADDR;
      b.set(o.addr, i + 2);
      break;
    case "prefix-info":
      b[i] = O.PREFIX_INFO;
      b[i + PrefixField.PREFIX_LENGTH] = o.prefixLength;
      b[i + PrefixField.FLAGS] = o.flags;
      writeU32(b, i + PrefixField.VALID, o.validLifetime);
      writeU32(b, i + PrefixField.PREFERRED, o.preferredLifetime);
      writeU32(b, i + PrefixField.RESERVED2, o.reserved);
      b.set(o.prefix.subarray(0, IPV6_ADDR_LEN), i + PrefixField.PREFIX);
      break;
    case "mtu":
      b[i] = O.MTU;
      writeU16(b, i + MtuField.RESERVED, o.reserved);
      writeU32(b, i + MtuField.MTU, o.mtu);
      break;
    case "unknown":
      b[i] = o.type;
      b.set(o.data, i + 2);
      break;
  }
  return n;
}

function ndpOptionsLen(options: readonly NdpOption[]): number {
  let n = 0;
  for (const o of options) n += ndpOptionBufferLen(o);
  return n;
}

export function bufferLen(repr: Icmpv6Repr): number {
  switch (repr.kind) {
    case "echo-request":
    case "echo-reply":
    case "other":
      return ICMPV6_HEADER_LEN + repr.data.length;
    case "dest-unreachable":
    case "time-exceeded":
    case "packet-too-big":
    case "parameter-problem":
      return ICMPV6_HEADER_LEN + repr.embedded.length;
    case "router-solicitation":
      return NdpOptionsAt.ROUTER_SOLICITATION + ndpOptionsLen(repr.options);
    case "router-advertisement":
      return NdpOptionsAt.ROUTER_ADVERTISEMENT + ndpOptionsLen(repr.options);
    case "neighbor-solicitation":
    case "neighbor-advertisement":
      return NdpOptionsAt.NEIGHBOR + ndpOptionsLen(repr.options);
  }
}

function writeOptions(options: readonly NdpOption[], b: Uint8Array, i: number): void {
  for (const o of options) i += writeNdpOption(o, b, i);
}

/** Writes the message at buf[at..) with a correct checksum over `pseudo`, and returns its length. */
export function emitInto(repr: Icmpv6Repr, buf: Uint8Array, at: number, pseudo: PseudoHeader): number {
  const total = bufferLen(repr);
  buf[at + F.TYPE] = typeOf(repr);
  buf[at + F.CODE] = repr.code;
  const body = at + ICMPV6_HEADER_LEN;
  switch (repr.kind) {
    case "echo-request":
    case "echo-reply":
      writeU16(buf, at + F.ID, repr.id);
      writeU16(buf, at + F.SEQ, repr.seq);
      buf.set(repr.data, body);
      break;
    case "dest-unreachable":
    case "time-exceeded":
      writeU32(buf, at + F.REST, ((repr.length & 0xff) << 24) | (repr.unused & 0xffffff));
      buf.set(repr.embedded, body);
      break;
    case "packet-too-big":
      writeU32(buf, at + F.MTU, repr.mtu);
      buf.set(repr.embedded, body);
      break;
    case "parameter-problem":
      writeU32(buf, at + F.POINTER, repr.pointer);
      buf.set(repr.embedded, body);
      break;
    case "router-solicitation":
      writeU32(buf, at + F.REST, repr.reserved);
      writeOptions(repr.options, buf, at + NdpOptionsAt.ROUTER_SOLICITATION);
      break;
    case "router-advertisement":
      buf[at + F.CUR_HOP_LIMIT] = repr.curHopLimit;
      buf[at + F.RA_FLAGS] = repr.flags;
      writeU16(buf, at + F.ROUTER_LIFETIME, repr.routerLifetime);
      writeU32(buf, at + F.REACHABLE_TIME, repr.reachableTime);
      writeU32(buf, at + F.RETRANS_TIMER, repr.retransTimer);
      writeOptions(repr.options, buf, at + NdpOptionsAt.ROUTER_ADVERTISEMENT);
      break;
    case "neighbor-solicitation":
      writeU32(buf, at + F.REST, repr.reserved);
      buf.set(repr.target.subarray(0, IPV6_ADDR_LEN), at + F.TARGET);
      writeOptions(repr.options, buf, at + NdpOptionsAt.NEIGHBOR);
      break;
    case "neighbor-advertisement":
      writeU32(buf, at + F.REST, ((repr.flags & 0xff) << 24) | (repr.reserved & 0xffffff));
      buf.set(repr.target.subarray(0, IPV6_ADDR_LEN), at + F.TARGET);
      writeOptions(repr.options, buf, at + NdpOptionsAt.NEIGHBOR);
      break;
    case "other":
      writeU32(buf, at + F.REST, repr.rest);
      buf.set(repr.data, body);
      break;
  }
  fillChecksum(buf, at, total, pseudo);
  return total;
}

export function emit(repr: Icmpv6Repr, pseudo: PseudoHeader): Uint8Array {
  const out = new Uint8Array(bufferLen(repr));
  emitInto(repr, out, 0, pseudo);
  return out;
}

/** Offsets in the embedded IPv6 header (RFC 8200 §3) and its extension headers (§4). */
const Inner = {
  VERSION: 0,
  PAYLOAD_LENGTH: 4,
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  SRC: 8,
  DST: 24,
  EXT_NEXT_HEADER: 0,
  EXT_LENGTH: 1,
  FRAG_OFFSET: 2,
} as const;
const IPV6_HEADER_LEN = 40;
const FRAGMENT_HEADER_LEN = 8;
/** Extension headers `parseEmbedded` steps over (RFC 8200 §4; AH RFC 4302 §2.2). */
const Ext = { HOP_BY_HOP: 0, ROUTING: 43, FRAGMENT: 44, AH: 51, DEST_OPTS: 60 } as const;
const EMBEDDED_TRANSPORT_LEN = 8;

/** The offending packet as far as an ICMPv6 error carries it; addresses are offsets into the buffer. */
export interface EmbeddedIpv6 {
  readonly ipOffset: number;
  readonly srcOffset: number;
  readonly dstOffset: number;
  readonly trafficClass: number;
  readonly flowLabel: number;
  /** As the inner header claims; may exceed what is carried. */
  readonly payloadLength: number;
  readonly hopLimit: number;
  /** The upper-layer protocol found after the extension headers. */
  readonly protocol: number;
  readonly transportOffset: number;
  /** Bytes carried from the transport header on (at least 8). */
  readonly transportCarried: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly tcpSeq: number;
  readonly icmpType: number;
  readonly icmpCode: number;
  readonly icmpId: number;
}

/**
 * Reads the IPv6 header embedded at bytes[at..at+len), walks its extension headers as far as they are carried, and
 * reads the first 8 bytes of the transport header. Errors when those are not carried or the packet is a non-first
 * fragment (which has no transport header), as ipv6_skip_exthdr() callers in nf_conntrack_proto_icmpv6.c.
 */
export function parseEmbedded(bytes: Uint8Array, at = 0, len = bytes.length - at): Result<EmbeddedIpv6> {
  if (at < 0 || len < 0 || at + len > bytes.length) return err("icmpv6", "embedded", at, "range outside the buffer");
  if (len < IPV6_HEADER_LEN) return err("icmpv6", "embedded header", at + len, `${len} bytes cannot hold IPv6`);
  const version = bytes[at + Inner.VERSION] >>> 4;
  if (version !== 6) return err("icmpv6", "embedded version", at, `version ${version}, expected 6`);
  const end = at + len;
  let next = bytes[at + Inner.NEXT_HEADER];
  let i = at + IPV6_HEADER_LEN;
  for (;;) {
    let extLen: number;
    if (next === Ext.HOP_BY_HOP || next === Ext.ROUTING || next === Ext.DEST_OPTS) {
      if (i + 2 > end) return err("icmpv6", "embedded extension header", end, "extension header not carried");
      extLen = (bytes[i + Inner.EXT_LENGTH] + 1) * 8;
    } else if (next === Ext.AH) {
      if (i + 2 > end) return err("icmpv6", "embedded extension header", end, "extension header not carried");
      extLen = (bytes[i + Inner.EXT_LENGTH] + 2) * 4;
    } else if (next === Ext.FRAGMENT) {
      if (i + FRAGMENT_HEADER_LEN > end) {
        return err("icmpv6", "embedded fragment header", end, "fragment header not carried");
      }
      if ((readU16(bytes, i + Inner.FRAG_OFFSET) & 0xfff8) !== 0) {
        return err("icmpv6", "embedded fragment header", i + Inner.FRAG_OFFSET, "a non-first fragment has no ports");
      }
      extLen = FRAGMENT_HEADER_LEN;
    } else {
      break;
    }
    next = bytes[i + Inner.EXT_NEXT_HEADER];
    i += extLen;
  }
  if (i + EMBEDDED_TRANSPORT_LEN > end) {
    return err("icmpv6", "embedded transport", end, `needs ${i + EMBEDDED_TRANSPORT_LEN - at} bytes, ${len} carried`);
  }
  const first = readU32(bytes, at);
  return ok({
    ipOffset: at,
    srcOffset: at + Inner.SRC,
    dstOffset: at + Inner.DST,
    trafficClass: (first >>> 20) & 0xff,
    flowLabel: first & 0xfffff,
    payloadLength: readU16(bytes, at + Inner.PAYLOAD_LENGTH),
    hopLimit: bytes[at + Inner.HOP_LIMIT],
    protocol: next,
    transportOffset: i,
    transportCarried: end - i,
    srcPort: readU16(bytes, i),
    dstPort: readU16(bytes, i + 2),
    tcpSeq: readU32(bytes, i + 4),
    icmpType: bytes[i + F.TYPE],
    icmpCode: bytes[i + F.CODE],
    icmpId: readU16(bytes, i + F.ID),
  });
}
