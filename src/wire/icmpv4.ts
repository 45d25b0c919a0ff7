// ICMP for IPv4 (RFC 792; next-hop MTU of RFC 1191; RFC 4884 length byte kept). Error messages carry the offending
// datagram's IP header and at least 8 bytes of what followed; `parseEmbedded` reads that inner header without
// expecting the inner datagram to be complete, which is what NAT (RFC 5508) and conntrack's RELATED need.

import { readU16, readU32, writeU16, writeU32 } from "./bytes.js";
import { finishChecksum, foldSum, internetChecksum, sumWords } from "./checksum.js";
import { IPV4_HEADER_LEN, Ipv4Field } from "./ipv4.js";
import { err, ok, type Result, type WireError } from "./result.js";

export const Icmpv4Field = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Echo, timestamp: identifier and sequence number. */
  ID: 4,
  SEQ: 6,
  /** The 4 "rest of header" bytes, whose meaning depends on the type. */
  REST: 4,
  /** Parameter problem: pointer to the offending octet. */
  POINTER: 4,
  /** Dest unreachable, time exceeded, parameter problem: original datagram length in words (RFC 4884 §4.1). */
  LENGTH: 5,
  /** Dest unreachable code 4 (RFC 1191 §4). */
  NEXT_HOP_MTU: 6,
  /** Parameter problem: the unused bytes 6–7. */
  REST_LOW: 6,
  /** Redirect: gateway address. */
  GATEWAY: 4,
  /** Errors: the offending datagram; echo: the data. */
  EMBEDDED: 8,
  DATA: 8,
  /** Timestamp and timestamp reply (RFC 792 p. 16). */
  ORIGINATE: 8,
  RECEIVE: 12,
  TRANSMIT: 16,
} as const;
const F = Icmpv4Field;

export const ICMPV4_HEADER_LEN = 8;
export const ICMPV4_TIMESTAMP_LEN = 20;
export const ICMPV4_PROTOCOL = 1;

export const Icmpv4Type = {
  ECHO_REPLY: 0,
  DEST_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  ROUTER_ADVERTISEMENT: 9,
  ROUTER_SOLICITATION: 10,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
  TIMESTAMP: 13,
  TIMESTAMP_REPLY: 14,
  INFO_REQUEST: 15,
  INFO_REPLY: 16,
  ADDRESS_MASK_REQUEST: 17,
  ADDRESS_MASK_REPLY: 18,
} as const;
const T = Icmpv4Type;

/** Destination unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
export const Icmpv4UnreachableCode = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAGMENTATION_NEEDED: 4,
  SOURCE_ROUTE_FAILED: 5,
  NET_UNKNOWN: 6,
  HOST_UNKNOWN: 7,
  SOURCE_HOST_ISOLATED: 8,
  NET_PROHIBITED: 9,
  HOST_PROHIBITED: 10,
  NET_TOS: 11,
  HOST_TOS: 12,
  ADMIN_PROHIBITED: 13,
  HOST_PRECEDENCE_VIOLATION: 14,
  PRECEDENCE_CUTOFF: 15,
} as const;

/** Time exceeded codes (RFC 792). */
export const Icmpv4TimeExceededCode = { TTL: 0, REASSEMBLY: 1 } as const;

/** The types that embed an offending datagram, as nf_conntrack_proto_icmp.c's icmp_is_error(). */
export function isIcmpv4Error(type: number): boolean {
  return (
    type === T.DEST_UNREACHABLE ||
    type === T.SOURCE_QUENCH ||
    type === T.REDIRECT ||
    type === T.TIME_EXCEEDED ||
    type === T.PARAMETER_PROBLEM
  );
}

interface Base {
  readonly code: number;
  /** As found by `parse`; `emit` writes the correct one. */
  readonly checksum: number;
}

export type Icmpv4Repr =
  | (Base & {
      readonly kind: "echo-request" | "echo-reply";
      readonly id: number;
      readonly seq: number;
      readonly data: Uint8Array;
    })
  | (Base & {
      readonly kind: "dest-unreachable";
      /** Byte 4, zero on the wire. */
      readonly unused: number;
      /** RFC 4884 length of the original datagram in 32-bit words; 0 when there is no extension. */
      readonly length: number;
      /** RFC 1191 next-hop MTU (code 4); zero otherwise. */
      readonly nextHopMtu: number;
      readonly embedded: Uint8Array;
    })
  | (Base & { readonly kind: "source-quench"; readonly unused: number; readonly embedded: Uint8Array })
  | (Base & { readonly kind: "redirect"; readonly gateway: number; readonly embedded: Uint8Array })
  | (Base & {
      readonly kind: "time-exceeded";
      readonly length: number;
      /** Bytes 4, 6 and 7 as a 32-bit value whose length byte (bits 16–23) is zero. */
      readonly unused: number;
      readonly embedded: Uint8Array;
    })
  | (Base & {
      readonly kind: "parameter-problem";
      readonly pointer: number;
      readonly length: number;
      /** Bytes 6–7. */
      readonly unused: number;
      readonly embedded: Uint8Array;
    })
  | (Base & {
      readonly kind: "timestamp" | "timestamp-reply";
      readonly id: number;
      readonly seq: number;
      readonly originate: number;
      readonly receive: number;
      readonly transmit: number;
      /** Bytes after the 20-byte message, normally none. */
      readonly trailing: Uint8Array;
    })
  | (Base & { readonly kind: "other"; readonly type: number; readonly rest: number; readonly data: Uint8Array });

const LENGTH_MASK = 0x00ff0000;

/** Zero-copy view over an ICMP message at bytes[at..at+len). Call `check()` once before trusting getters. */
export class Icmpv4View {
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
  /** Echo / timestamp identifier (the "port" NAPT rewrites, RFC 5508 §3.1). */
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
    return ICMPV4_HEADER_LEN;
  }
  /** Absolute offset of the data (echo) or embedded datagram (errors). */
  get payloadOffset(): number {
    return this.at + ICMPV4_HEADER_LEN;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.at + ICMPV4_HEADER_LEN, this.at + this.len);
  }
  verifyChecksum(): boolean {
    return verifyChecksum(this.bytes, this.at, this.len);
  }
  fillChecksum(): void {
    fillChecksum(this.bytes, this.at, this.len);
  }
}

function checkHeader(b: Uint8Array, at: number, len: number): WireError | null {
  if (at < 0 || len < 0 || at + len > b.length) return err("icmpv4", "buffer", at, "range outside the buffer").error;
  if (len < ICMPV4_HEADER_LEN) {
    return err("icmpv4", "header", at + len, `message of ${len} bytes is shorter than the 8-byte header`).error;
  }
  return null;
}

/** True when the checksum of the message at bytes[at..at+len) is correct (no pseudo-header for ICMPv4). */
export function verifyChecksum(bytes: Uint8Array, at: number, len: number): boolean {
  return foldSum(sumWords(bytes, at, len)) === 0xffff;
}

export function fillChecksum(bytes: Uint8Array, at: number, len: number): void {
  writeU16(bytes, at + F.CHECKSUM, 0);
  writeU16(bytes, at + F.CHECKSUM, finishChecksum(sumWords(bytes, at, len)));
}

/** Parses the message at bytes[at..at+len). Does not check the checksum (see `verifyChecksum`). */
export function parse(bytes: Uint8Array, at = 0, len = bytes.length - at): Result<Icmpv4Repr> {
  const e = checkHeader(bytes, at, len);
  if (e) return { ok: false, error: e };
  const type = bytes[at + F.TYPE];
  const code = bytes[at + F.CODE];
  const checksum = readU16(bytes, at + F.CHECKSUM);
  const rest = readU32(bytes, at + F.REST);
  const body = bytes.subarray(at + ICMPV4_HEADER_LEN, at + len);
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
      return ok({
        kind: "dest-unreachable",
        code,
        checksum,
        unused: bytes[at + F.REST],
        length: bytes[at + F.LENGTH],
        nextHopMtu: readU16(bytes, at + F.NEXT_HOP_MTU),
        embedded: body,
      });
    case T.SOURCE_QUENCH:
      return ok({ kind: "source-quench", code, checksum, unused: rest, embedded: body });
    case T.REDIRECT:
      return ok({ kind: "redirect", code, checksum, gateway: rest, embedded: body });
    case T.TIME_EXCEEDED:
      return ok({
        kind: "time-exceeded",
        code,
        checksum,
        length: bytes[at + F.LENGTH],
        unused: (rest & ~LENGTH_MASK) >>> 0,
        embedded: body,
      });
    case T.PARAMETER_PROBLEM:
      return ok({
        kind: "parameter-problem",
        code,
        checksum,
        pointer: bytes[at + F.POINTER],
        length: bytes[at + F.LENGTH],
        unused: readU16(bytes, at + F.REST_LOW),
        embedded: body,
      });
    case T.TIMESTAMP:
    case T.TIMESTAMP_REPLY:
      if (len < ICMPV4_TIMESTAMP_LEN) {
        return err("icmpv4", "timestamp", at + len, `timestamp message of ${len} bytes is shorter than 20`);
      }
      return ok({
        kind: type === T.TIMESTAMP ? "timestamp" : "timestamp-reply",
        code,
        checksum,
        id: readU16(bytes, at + F.ID),
        seq: readU16(bytes, at + F.SEQ),
        originate: readU32(bytes, at + F.ORIGINATE),
        receive: readU32(bytes, at + F.RECEIVE),
        transmit: readU32(bytes, at + F.TRANSMIT),
        trailing: bytes.subarray(at + ICMPV4_TIMESTAMP_LEN, at + len),
      });
    default:
      return ok({ kind: "other", type, code, checksum, rest, data: body });
  }
}

/** The type number a repr is written with. */
export function typeOf(repr: Icmpv4Repr): number {
  switch (repr.kind) {
    case "echo-request":
      return T.ECHO_REQUEST;
    case "echo-reply":
      return T.ECHO_REPLY;
    case "dest-unreachable":
      return T.DEST_UNREACHABLE;
    case "source-quench":
      return T.SOURCE_QUENCH;
    case "redirect":
      return T.REDIRECT;
    case "time-exceeded":
      return T.TIME_EXCEEDED;
    case "parameter-problem":
      return T.PARAMETER_PROBLEM;
    case "timestamp":
      return T.TIMESTAMP;
    case "timestamp-reply":
      return T.TIMESTAMP_REPLY;
    case "other":
      return repr.type;
  }
}

function bodyOf(repr: Icmpv4Repr): Uint8Array {
  switch (repr.kind) {
    case "echo-request":
    case "echo-reply":
    case "other":
      return repr.data;
    case "timestamp":
    case "timestamp-reply":
      return repr.trailing;
    default:
      return repr.embedded;
  }
}

export function bufferLen(repr: Icmpv4Repr): number {
  const fixed = repr.kind === "timestamp" || repr.kind === "timestamp-reply" ? ICMPV4_TIMESTAMP_LEN : ICMPV4_HEADER_LEN;
  return fixed + bodyOf(repr).length;
}

/** Writes the message at buf[at..) with a correct checksum and returns its length. */
export function emitInto(repr: Icmpv4Repr, buf: Uint8Array, at: number): number {
  const total = bufferLen(repr);
  buf[at + F.TYPE] = typeOf(repr);
  buf[at + F.CODE] = repr.code;
  switch (repr.kind) {
    case "echo-request":
    case "echo-reply":
      writeU16(buf, at + F.ID, repr.id);
      writeU16(buf, at + F.SEQ, repr.seq);
      break;
    case "dest-unreachable":
      buf[at + F.REST] = repr.unused;
      buf[at + F.LENGTH] = repr.length;
      writeU16(buf, at + F.NEXT_HOP_MTU, repr.nextHopMtu);
      break;
    case "source-quench":
      writeU32(buf, at + F.REST, repr.unused);
      break;
    case "redirect":
      writeU32(buf, at + F.GATEWAY, repr.gateway);
      break;
    case "time-exceeded":
      writeU32(buf, at + F.REST, ((repr.unused & ~LENGTH_MASK) | ((repr.length & 0xff) << 16)) >>> 0);
      break;
    case "parameter-problem":
      buf[at + F.POINTER] = repr.pointer;
      buf[at + F.LENGTH] = repr.length;
      writeU16(buf, at + F.REST_LOW, repr.unused);
      break;
    case "timestamp":
    case "timestamp-reply":
      writeU16(buf, at + F.ID, repr.id);
      writeU16(buf, at + F.SEQ, repr.seq);
      writeU32(buf, at + F.ORIGINATE, repr.originate);
      writeU32(buf, at + F.RECEIVE, repr.receive);
      writeU32(buf, at + F.TRANSMIT, repr.transmit);
      break;
    case "other":
      writeU32(buf, at + F.REST, repr.rest);
      break;
  }
  const body = bodyOf(repr);
  buf.set(body, at + total - body.length);
  fillChecksum(buf, at, total);
  return total;
}

export function emit(repr: Icmpv4Repr): Uint8Array {
  const out = new Uint8Array(bufferLen(repr));
  emitInto(repr, out, 0);
  return out;
}

const Inner = Ipv4Field;
const INNER_MIN_HEADER = IPV4_HEADER_LEN;
/** RFC 792: "the internet header plus the first 64 bits of the original datagram's data". */
export const EMBEDDED_TRANSPORT_LEN = 8;

/**
 * The offending datagram as far as an ICMP error carries it. The transport words are raw: for TCP, UDP, SCTP and
 * DCCP they are the ports (and TCP's sequence number); for an inner ICMP message, type, code and identifier.
 */
export interface EmbeddedIpv4 {
  /** Absolute offsets of the inner IP header and of its transport header. */
  readonly ipOffset: number;
  readonly transportOffset: number;
  readonly headerLength: number;
  /** As the inner header claims; usually larger than what the error carries. */
  readonly totalLength: number;
  readonly identification: number;
  readonly flagsFragment: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly headerChecksum: number;
  /** RFC 5508 REQ-3: a NAT drops an error whose embedded IP checksum is bad. */
  readonly headerChecksumValid: boolean;
  readonly src: number;
  readonly dst: number;
  /** Bytes carried after the inner IP header (at least 8). */
  readonly transportCarried: number;
  readonly srcPort: number;
  readonly dstPort: number;
  /** Bytes 4–7 of the transport header: the TCP sequence number (RFC 5927 checks it). */
  readonly tcpSeq: number;
  readonly icmpType: number;
  readonly icmpCode: number;
  readonly icmpId: number;
}

/**
 * Reads the IPv4 header and first 8 transport bytes embedded at bytes[at..at+len) (an error's `embedded`, or the
 * view's payload range). The inner datagram may be truncated; its header and 8 transport bytes may not.
 */
export function parseEmbedded(bytes: Uint8Array, at = 0, len = bytes.length - at): Result<EmbeddedIpv4> {
  if (at < 0 || len < 0 || at + len > bytes.length) return err("icmpv4", "embedded", at, "range outside the buffer");
  if (len < INNER_MIN_HEADER) {
    return err("icmpv4", "embedded header", at + len, `${len} bytes cannot hold an IPv4 header`);
  }
  const vihl = bytes[at + Inner.VER_IHL];
  if (vihl >>> 4 !== 4) return err("icmpv4", "embedded version", at, `version ${vihl >>> 4}, expected 4`);
  const hl = (vihl & 0x0f) * 4;
  if (hl < INNER_MIN_HEADER) return err("icmpv4", "embedded ihl", at, `header length ${hl} is below 20`);
  if (hl + EMBEDDED_TRANSPORT_LEN > len) {
    return err("icmpv4", "embedded transport", at + len, `needs ${hl + EMBEDDED_TRANSPORT_LEN} bytes, ${len} carried`);
  }
  const t = at + hl;
  return ok({
    ipOffset: at,
    transportOffset: t,
    headerLength: hl,
    totalLength: readU16(bytes, at + Inner.LENGTH),
    identification: readU16(bytes, at + Inner.IDENT),
    flagsFragment: readU16(bytes, at + Inner.FLG_OFF),
    ttl: bytes[at + Inner.TTL],
    protocol: bytes[at + Inner.PROTOCOL],
    headerChecksum: readU16(bytes, at + Inner.CHECKSUM),
    headerChecksumValid: internetChecksum(bytes, at, hl) === 0,
    src: readU32(bytes, at + Inner.SRC),
    dst: readU32(bytes, at + Inner.DST),
    transportCarried: len - hl,
    srcPort: readU16(bytes, t),
    dstPort: readU16(bytes, t + 2),
    tcpSeq: readU32(bytes, t + 4),
    icmpType: bytes[t + F.TYPE],
    icmpCode: bytes[t + F.CODE],
    icmpId: readU16(bytes, t + F.ID),
  });
}
