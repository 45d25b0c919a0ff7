// STUN messages (RFC 8489) with the NAT-behaviour-discovery attributes of RFC 5780: what Mallory's STUN server
// answers and what the simulated hosts send to learn their public mapping before a hole punch.
//
// Attributes are an open set (STYLE.md §10): any type parses, and a known attribute becomes typed only when its
// value has exactly the canonical form (right length, known address family, reserved bits zero, valid UTF-8);
// anything else stays `raw` with its type, so emit(parse(b)) reproduces b byte for byte. The TLV padding bytes are
// kept too (RFC 5769's vectors pad with 0x20). MESSAGE-INTEGRITY(-SHA256) is carried raw: the pure wire layer has
// no HMAC, so `integrityInput` hands the exact bytes to hash to whoever has one. FINGERPRINT is always recomputed.

import { readU16, readU32, writeU16, writeU32 } from "./bytes.js";
import { crc32 } from "./crc32.js";
import { err, ok } from "./result.js";
import type { Result, WireError } from "./result.js";

export const StunField = { TYPE: 0, LENGTH: 2, COOKIE: 4, TRANSACTION_ID: 8 } as const;
const F = StunField;
export const STUN_HEADER_LEN = 20;
export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_TRANSACTION_ID_LEN = 12;
/** RFC 8489 §14.7: the CRC-32 is XORed with this so that FINGERPRINT differs from other protocols' CRCs. */
export const STUN_FINGERPRINT_XOR = 0x5354554e;

/** Attribute TLV layout (RFC 8489 §14). */
const A = { TYPE: 0, LENGTH: 2, VALUE: 4 } as const;
const ATTR_HEADER_LEN = 4;
const ALIGN = 4;
/** RFC 8489 §5: the two most significant bits of every STUN message are zero (demultiplexing from RTP etc.). */
const TYPE_TOP_BITS = 0xc000;

/** Message classes, the C1C0 bits of the message type (RFC 8489 §5). */
export const StunClass = { REQUEST: 0, INDICATION: 1, SUCCESS: 2, ERROR: 3 } as const;
export type StunClass = (typeof StunClass)[keyof typeof StunClass];

/** Methods (RFC 8489 §18.2; TURN's from RFC 8656 §17). */
export const StunMethod = {
  BINDING: 0x001,
  ALLOCATE: 0x003,
  REFRESH: 0x004,
  SEND: 0x006,
  DATA: 0x007,
  CREATE_PERMISSION: 0x008,
  CHANNEL_BIND: 0x009,
} as const;

/** Attribute types (RFC 8489 §18.3, RFC 5780 §7). */
export const StunAttr = {
  MAPPED_ADDRESS: 0x0001,
  CHANGE_REQUEST: 0x0003,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  PASSWORD_ALGORITHM: 0x001d,
  USERHASH: 0x001e,
  XOR_MAPPED_ADDRESS: 0x0020,
  RESPONSE_PORT: 0x0027,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  RESPONSE_ORIGIN: 0x802b,
  OTHER_ADDRESS: 0x802c,
} as const;

/** Address family codes inside address attributes (RFC 8489 §14.1). */
const Family = { V4: 0x01, V6: 0x02 } as const;
/** Address attribute value layout: reserved, family, port, address. */
const ADDR = { RESERVED: 0, FAMILY: 1, PORT: 2, ADDRESS: 4 } as const;
const ADDR_V4_LEN = 8;
const ADDR_V6_LEN = 20;
const IPV6_LEN = 16;
const COOKIE_LEN = 4;
/** ERROR-CODE value layout (RFC 8489 §14.8): 21 reserved bits, 3-bit class, 8-bit number, reason. */
const ERRC = { RESERVED: 0, CLASS: 2, NUMBER: 3, REASON: 4 } as const;
const ERROR_CLASS_MASK = 0x07;
const ERROR_NUMBER_LIMIT = 100;
/** CHANGE-REQUEST flag bits (RFC 5780 §7.2). */
const ChangeFlag = { IP: 0x4, PORT: 0x2 } as const;
const CHANGE_REQUEST_LEN = 4;
/** RESPONSE-PORT (RFC 5780 §7.5): a port then two bytes of padding inside the 4-byte value. */
const RESPONSE_PORT_LEN = 4;
const RPORT = { PORT: 0, PADDING: 2 } as const;
const FINGERPRINT_LEN = 4;

export type StunAddress =
  | { readonly family: 4; readonly port: number; readonly address: number }
  | { readonly family: 6; readonly port: number; readonly address: Uint8Array };

/** Fields every attribute has: the TLV padding as received (zeros are written when it is absent). */
interface AttrBase {
  readonly padding?: Uint8Array;
}

export type StunAttribute =
  /** MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS, ALTERNATE-SERVER: the address in clear. */
  | (AttrBase & { readonly kind: "address"; readonly type: number; readonly address: StunAddress })
  /** XOR-MAPPED-ADDRESS (and TURN's XOR-PEER/RELAYED-ADDRESS): the repr holds the clear address; emit XORs it. */
  | (AttrBase & { readonly kind: "xor-address"; readonly type: number; readonly address: StunAddress })
  /** USERNAME, REALM, NONCE, SOFTWARE: UTF-8 text. */
  | (AttrBase & { readonly kind: "text"; readonly type: number; readonly text: string })
  /** ERROR-CODE: code = class × 100 + number (e.g. 401, 420). */
  | (AttrBase & { readonly kind: "error-code"; readonly code: number; readonly reason: string })
  | (AttrBase & { readonly kind: "unknown-attributes"; readonly types: readonly number[] })
  | (AttrBase & { readonly kind: "change-request"; readonly changeIp: boolean; readonly changePort: boolean })
  | (AttrBase & { readonly kind: "response-port"; readonly port: number })
  /** The stored CRC value; emit ignores it and writes the correct one. */
  | (AttrBase & { readonly kind: "fingerprint"; readonly value: number })
  /** MESSAGE-INTEGRITY(-SHA256), unknown types, and known types whose value is not in canonical form. */
  | (AttrBase & { readonly kind: "raw"; readonly type: number; readonly value: Uint8Array });

export interface StunRepr {
  readonly class: StunClass;
  readonly method: number;
  /** 12 bytes. */
  readonly transactionId: Uint8Array;
  readonly attributes: readonly StunAttribute[];
}

// The message type interleaves class and method bits: M11..M7 C1 M6..M4 C0 M3..M0 (RFC 8489 §5, figure 3).
const T = {
  M_LOW: 0x000f,
  C0: 0x0010,
  M_MID: 0x00e0,
  C1: 0x0100,
  M_HIGH: 0x3e00,
  C0_SHIFT: 4,
  C1_SHIFT: 7,
} as const;
const METHOD_MAX = 0xfff;

export function messageType(cls: StunClass, method: number): number {
  const m = method & METHOD_MAX;
  return (
    (m & T.M_LOW) |
    ((m << 1) & T.M_MID) |
    ((m << 2) & T.M_HIGH) |
    ((cls << T.C0_SHIFT) & T.C0) |
    ((cls << T.C1_SHIFT) & T.C1)
  );
}

export function classOf(type: number): StunClass {
  return (((type & T.C0) >> T.C0_SHIFT) | ((type & T.C1) >> T.C1_SHIFT)) as StunClass;
}

export function methodOf(type: number): number {
  return (type & T.M_LOW) | ((type & T.M_MID) >> 1) | ((type & T.M_HIGH) >> 2);
}

const padLen = (n: number): number => (ALIGN - (n % ALIGN)) % ALIGN;

/** Zero-copy view over a STUN header. */
export class StunView {
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
  /** Checks the header: size, zero top bits, magic cookie, and a length field that fills the buffer exactly. */
  check(): WireError | null {
    const r = checkHeader(this.bytes, this.at, this.len);
    return r.ok ? null : r.error;
  }
  get type(): number {
    return readU16(this.bytes, this.at + F.TYPE);
  }
  set type(v: number) {
    writeU16(this.bytes, this.at + F.TYPE, v);
  }
  get class(): StunClass {
    return classOf(this.type);
  }
  get method(): number {
    return methodOf(this.type);
  }
  /** The length field: bytes of attributes after the 20-byte header. */
  get length(): number {
    return readU16(this.bytes, this.at + F.LENGTH);
  }
  set length(v: number) {
    writeU16(this.bytes, this.at + F.LENGTH, v);
  }
  get cookie(): number {
    return readU32(this.bytes, this.at + F.COOKIE);
  }
  get transactionId(): Uint8Array {
    return this.bytes.subarray(this.at + F.TRANSACTION_ID, this.at + F.TRANSACTION_ID + STUN_TRANSACTION_ID_LEN);
  }
  get headerLength(): number {
    return STUN_HEADER_LEN;
  }
  get payloadOffset(): number {
    return this.at + STUN_HEADER_LEN;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.at + STUN_HEADER_LEN, this.at + this.len);
  }
}

function checkHeader(bytes: Uint8Array, at: number, len: number): Result<null> {
  if (at < 0 || len < 0 || at + len > bytes.length) return err("stun", "buffer", at, "range lies outside the buffer");
  if (len < STUN_HEADER_LEN) return err("stun", "header", at + len, `${len} bytes, a STUN header needs 20`);
  const type = readU16(bytes, at + F.TYPE);
  if (type & TYPE_TOP_BITS) return err("stun", "type", at + F.TYPE, "the two top bits of a STUN message must be 0");
  const length = readU16(bytes, at + F.LENGTH);
  if (length % ALIGN !== 0) return err("stun", "length", at + F.LENGTH, `length ${length} is not a multiple of 4`);
  if (readU32(bytes, at + F.COOKIE) !== STUN_MAGIC_COOKIE)
    return err("stun", "cookie", at + F.COOKIE, "magic cookie is not 0x2112a442 (RFC 3489 STUN is not supported)");
  // Over UDP a message is the whole datagram; stream users pass len = 20 + the length field.
  if (length !== len - STUN_HEADER_LEN)
    return err(
      "stun",
      "length",
      at + F.LENGTH,
      `length ${length} but ${len - STUN_HEADER_LEN} bytes follow the header`,
    );
  return ok(null);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** The text of b, or null when it is not valid UTF-8 (then the attribute stays raw so its bytes survive). */
function decodeText(b: Uint8Array): string | null {
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

function xorKey(i: number, txId: Uint8Array): number {
  // RFC 8489 §14.2: the address is XORed with the cookie, then (IPv6) with the transaction id.
  return i < COOKIE_LEN ? (STUN_MAGIC_COOKIE >>> (8 * (COOKIE_LEN - 1 - i))) & 0xff : txId[i - COOKIE_LEN];
}

function parseAddress(v: Uint8Array, xor: boolean, txId: Uint8Array): StunAddress | null {
  if (v.length < ADDR.ADDRESS || v[ADDR.RESERVED] !== 0) return null;
  const portMask = xor ? STUN_MAGIC_COOKIE >>> 16 : 0;
  const port = readU16(v, ADDR.PORT) ^ portMask;
  if (v[ADDR.FAMILY] === Family.V4 && v.length === ADDR_V4_LEN) {
    return { family: 4, port, address: (readU32(v, ADDR.ADDRESS) ^ (xor ? STUN_MAGIC_COOKIE : 0)) >>> 0 };
  }
  if (v[ADDR.FAMILY] === Family.V6 && v.length === ADDR_V6_LEN) {
    const address = new Uint8Array(IPV6_LEN);
    for (let i = 0; i < IPV6_LEN; i++) address[i] = v[ADDR.ADDRESS + i] ^ (xor ? xorKey(i, txId) : 0);
    return { family: 6, port, address };
  }
  return null;
}

function typedAttribute(type: number, v: Uint8Array, txId: Uint8Array): StunAttribute | null {
  switch (type) {
    case StunAttr.MAPPED_ADDRESS:
    case StunAttr.RESPONSE_ORIGIN:
    case StunAttr.OTHER_ADDRESS:
    case StunAttr.ALTERNATE_SERVER: {
      const address = parseAddress(v, false, txId);
      return address && { kind: "address", type, address };
    }
    case StunAttr.XOR_MAPPED_ADDRESS: {
      const address = parseAddress(v, true, txId);
      return address && { kind: "xor-address", type, address };
    }
    case StunAttr.USERNAME:
    case StunAttr.REALM:
    case StunAttr.NONCE:
    case StunAttr.SOFTWARE: {
      const text = decodeText(v);
      return text === null ? null : { kind: "text", type, text };
    }
    case StunAttr.ERROR_CODE: {
      if (v.length < ERRC.REASON || v[ERRC.RESERVED] !== 0 || v[ERRC.RESERVED + 1] !== 0) return null;
      if (v[ERRC.CLASS] & ~ERROR_CLASS_MASK || v[ERRC.NUMBER] >= ERROR_NUMBER_LIMIT) return null;
      const reason = decodeText(v.subarray(ERRC.REASON));
      if (reason === null) return null;
      return { kind: "error-code", code: v[ERRC.CLASS] * ERROR_NUMBER_LIMIT + v[ERRC.NUMBER], reason };
    }
    case StunAttr.UNKNOWN_ATTRIBUTES: {
      if (v.length % 2 !== 0) return null;
      const types: number[] = [];
      for (let i = 0; i < v.length; i += 2) types.push(readU16(v, i));
      return { kind: "unknown-attributes", types };
    }
    case StunAttr.CHANGE_REQUEST: {
      if (v.length !== CHANGE_REQUEST_LEN) return null;
      const flags = readU32(v, 0);
      if (flags & ~(ChangeFlag.IP | ChangeFlag.PORT)) return null;
      return {
        kind: "change-request",
        changeIp: (flags & ChangeFlag.IP) !== 0,
        changePort: (flags & ChangeFlag.PORT) !== 0,
      };
    }
    case StunAttr.RESPONSE_PORT:
      if (v.length !== RESPONSE_PORT_LEN || readU16(v, RPORT.PADDING) !== 0) return null;
      return { kind: "response-port", port: readU16(v, RPORT.PORT) };
    case StunAttr.FINGERPRINT:
      return v.length === FINGERPRINT_LEN ? { kind: "fingerprint", value: readU32(v, 0) } : null;
    default:
      return null;
  }
}

/** Parses one STUN message filling bytes[at..at+len) exactly. Never throws. */
export function parse(bytes: Uint8Array, at = 0, len = bytes.length - at): Result<StunRepr> {
  const h = checkHeader(bytes, at, len);
  if (!h.ok) return h;
  const type = readU16(bytes, at + F.TYPE);
  const transactionId = bytes.subarray(at + F.TRANSACTION_ID, at + F.TRANSACTION_ID + STUN_TRANSACTION_ID_LEN);
  const attributes: StunAttribute[] = [];
  const end = at + len;
  let p = at + STUN_HEADER_LEN;
  while (p < end) {
    // The header length is a multiple of 4 and so is every padded attribute, so 4 header bytes always remain here.
    const atype = readU16(bytes, p + A.TYPE);
    const vlen = readU16(bytes, p + A.LENGTH);
    const vstart = p + A.VALUE;
    const pad = padLen(vlen);
    if (vstart + vlen + pad > end)
      return err(
        "stun",
        "attribute length",
        p + A.LENGTH,
        `attribute 0x${atype.toString(16)} of ${vlen} bytes runs past the message end`,
      );
    const value = bytes.subarray(vstart, vstart + vlen);
    const padding = bytes.subarray(vstart + vlen, vstart + vlen + pad);
    const typed = typedAttribute(atype, value, transactionId);
    attributes.push(typed ? { ...typed, padding } : { kind: "raw", type: atype, value, padding });
    p = vstart + vlen + pad;
  }
  return ok({ class: classOf(type), method: methodOf(type), transactionId, attributes });
}

function attributeType(a: StunAttribute): number {
  switch (a.kind) {
    case "address":
    case "xor-address":
    case "text":
    case "raw":
      return a.type;
    case "error-code":
      return StunAttr.ERROR_CODE;
    case "unknown-attributes":
      return StunAttr.UNKNOWN_ATTRIBUTES;
    case "change-request":
      return StunAttr.CHANGE_REQUEST;
    case "response-port":
      return StunAttr.RESPONSE_PORT;
    case "fingerprint":
      return StunAttr.FINGERPRINT;
  }
}

function valueLength(a: StunAttribute): number {
  switch (a.kind) {
    case "address":
    case "xor-address":
      return a.address.family === 4 ? ADDR_V4_LEN : ADDR_V6_LEN;
    case "text":
      return utf8Encoder.encode(a.text).length;
    case "error-code":
      return ERRC.REASON + utf8Encoder.encode(a.reason).length;
    case "unknown-attributes":
      return 2 * a.types.length;
    case "change-request":
      return CHANGE_REQUEST_LEN;
    case "response-port":
      return RESPONSE_PORT_LEN;
    case "fingerprint":
      return FINGERPRINT_LEN;
    case "raw":
      return a.value.length;
  }
}

/** Bytes emit writes for this repr. */
export function bufferLen(repr: StunRepr): number {
  let n = STUN_HEADER_LEN;
  for (const a of repr.attributes) {
    const v = valueLength(a);
    n += ATTR_HEADER_LEN + v + padLen(v);
  }
  return n;
}

function writeAddress(buf: Uint8Array, p: number, addr: StunAddress, xor: boolean, txId: Uint8Array): void {
  buf[p + ADDR.RESERVED] = 0;
  buf[p + ADDR.FAMILY] = addr.family === 4 ? Family.V4 : Family.V6;
  writeU16(buf, p + ADDR.PORT, addr.port ^ (xor ? STUN_MAGIC_COOKIE >>> 16 : 0));
  if (addr.family === 4) {
    writeU32(buf, p + ADDR.ADDRESS, (addr.address ^ (xor ? STUN_MAGIC_COOKIE : 0)) >>> 0);
  } else {
    for (let i = 0; i < IPV6_LEN; i++) buf[p + ADDR.ADDRESS + i] = addr.address[i] ^ (xor ? xorKey(i, txId) : 0);
  }
}

function writeValue(buf: Uint8Array, p: number, a: StunAttribute, txId: Uint8Array): void {
  switch (a.kind) {
    case "address":
      writeAddress(buf, p, a.address, false, txId);
      return;
    case "xor-address":
      writeAddress(buf, p, a.address, true, txId);
      return;
    case "text":
      buf.set(utf8Encoder.encode(a.text), p);
      return;
    case "error-code":
      buf[p + ERRC.RESERVED] = 0;
      buf[p + ERRC.RESERVED + 1] = 0;
      buf[p + ERRC.CLASS] = Math.floor(a.code / ERROR_NUMBER_LIMIT) & ERROR_CLASS_MASK;
      buf[p + ERRC.NUMBER] = a.code % ERROR_NUMBER_LIMIT;
      buf.set(utf8Encoder.encode(a.reason), p + ERRC.REASON);
      return;
    case "unknown-attributes":
      a.types.forEach((t, i) => {
        writeU16(buf, p + 2 * i, t);
      });
      return;
    case "change-request":
      writeU32(buf, p, (a.changeIp ? ChangeFlag.IP : 0) | (a.changePort ? ChangeFlag.PORT : 0));
      return;
    case "response-port":
      writeU16(buf, p + RPORT.PORT, a.port);
      writeU16(buf, p + RPORT.PADDING, 0);
      return;
    case "fingerprint":
      return; // written once the bytes before it are final, in emitInto
    case "raw":
      buf.set(a.value, p);
      return;
  }
}

/**
 * Writes the message at buf[at..]; returns its length. FINGERPRINT values are computed over the message as
 * written (header length covering the whole message). Throws RangeError on a transaction id that is not 12 bytes
 * or a buffer shorter than bufferLen(repr) — both programming errors, never wire input.
 */
export function emitInto(repr: StunRepr, buf: Uint8Array, at: number): number {
  if (repr.transactionId.length !== STUN_TRANSACTION_ID_LEN)
    throw new RangeError("STUN transaction id must be 12 bytes");
  const total = bufferLen(repr);
  if (at < 0 || at + total > buf.length) throw new RangeError(`STUN message needs ${total} bytes at offset ${at}`);
  writeU16(buf, at + F.TYPE, messageType(repr.class, repr.method));
  writeU16(buf, at + F.LENGTH, total - STUN_HEADER_LEN);
  writeU32(buf, at + F.COOKIE, STUN_MAGIC_COOKIE);
  buf.set(repr.transactionId, at + F.TRANSACTION_ID);
  let p = at + STUN_HEADER_LEN;
  for (const a of repr.attributes) {
    const vlen = valueLength(a);
    const pad = padLen(vlen);
    writeU16(buf, p + A.TYPE, attributeType(a));
    writeU16(buf, p + A.LENGTH, vlen);
    writeValue(buf, p + A.VALUE, a, repr.transactionId);
    const padAt = p + A.VALUE + vlen;
    for (let i = 0; i < pad; i++) buf[padAt + i] = a.padding?.length === pad ? a.padding[i] : 0;
    if (a.kind === "fingerprint") writeU32(buf, p + A.VALUE, fingerprintOf(buf, at, p - at));
    p = padAt + pad;
  }
  return total;
}

export function emit(repr: StunRepr): Uint8Array {
  const buf = new Uint8Array(bufferLen(repr));
  emitInto(repr, buf, 0);
  return buf;
}

/** RFC 8489 §14.7: CRC-32 of the first `prefixLen` message bytes, XOR 0x5354554e. */
export function fingerprintOf(bytes: Uint8Array, at: number, prefixLen: number): number {
  return (crc32(bytes, at, prefixLen) ^ STUN_FINGERPRINT_XOR) >>> 0;
}

/** Finds the first attribute of `type`; returns its offset (absolute), or -1. Assumes the header was checked. */
function findAttribute(bytes: Uint8Array, at: number, len: number, type: number): number {
  const end = at + len;
  let p = at + STUN_HEADER_LEN;
  while (p + ATTR_HEADER_LEN <= end) {
    if (readU16(bytes, p + A.TYPE) === type) return p;
    const vlen = readU16(bytes, p + A.LENGTH);
    p += ATTR_HEADER_LEN + vlen + padLen(vlen);
  }
  return -1;
}

/**
 * True when the message has a FINGERPRINT as its last attribute and its value is the CRC of everything before
 * it (RFC 8489 §14.7). False on malformed messages, never throws.
 */
export function verifyFingerprint(bytes: Uint8Array, at = 0, len = bytes.length - at): boolean {
  if (!checkHeader(bytes, at, len).ok) return false;
  const p = findAttribute(bytes, at, len, StunAttr.FINGERPRINT);
  if (p < 0 || p + ATTR_HEADER_LEN + FINGERPRINT_LEN !== at + len) return false;
  if (readU16(bytes, p + A.LENGTH) !== FINGERPRINT_LEN) return false;
  return readU32(bytes, p + A.VALUE) === fingerprintOf(bytes, at, p - at);
}

/**
 * The exact bytes MESSAGE-INTEGRITY (type 0x0008) or MESSAGE-INTEGRITY-SHA256 (0x001C) is the HMAC of (RFC 8489
 * §14.5/§14.6): a copy of the message up to that attribute, with the header length field rewritten to end just
 * after it, so attributes that follow (FINGERPRINT) are excluded. Also returns the stored HMAC (a subarray).
 */
export function integrityInput(
  bytes: Uint8Array,
  at = 0,
  len = bytes.length - at,
  type: number = StunAttr.MESSAGE_INTEGRITY,
): Result<{ input: Uint8Array; hmac: Uint8Array }> {
  const h = checkHeader(bytes, at, len);
  if (!h.ok) return h;
  const p = findAttribute(bytes, at, len, type);
  if (p < 0) return err("stun", "message integrity", at + len, `no attribute 0x${type.toString(16)} in the message`);
  const vlen = readU16(bytes, p + A.LENGTH);
  const attrEnd = p + ATTR_HEADER_LEN + vlen + padLen(vlen);
  if (attrEnd > at + len) return err("stun", "attribute length", p + A.LENGTH, "attribute runs past the message end");
  const input = bytes.slice(at, p);
  writeU16(input, F.LENGTH, attrEnd - at - STUN_HEADER_LEN);
  return ok({ input, hmac: bytes.subarray(p + A.VALUE, p + A.VALUE + vlen) });
}

/** The mapped address a response carries: XOR-MAPPED-ADDRESS first, else MAPPED-ADDRESS (RFC 8489 §14.1). */
export function mappedAddress(repr: StunRepr): StunAddress | undefined {
  let plain: StunAddress | undefined;
  for (const a of repr.attributes) {
    if (a.kind === "xor-address" && a.type === StunAttr.XOR_MAPPED_ADDRESS) return a.address;
    if (a.kind === "address" && a.type === StunAttr.MAPPED_ADDRESS) plain ??= a.address;
  }
  return plain;
}

/** A Binding request (RFC 8489 §6.1) with the given attributes (e.g. CHANGE-REQUEST for RFC 5780 tests). */
export function bindingRequest(transactionId: Uint8Array, attributes: readonly StunAttribute[] = []): StunRepr {
  return { class: StunClass.REQUEST, method: StunMethod.BINDING, transactionId, attributes };
}

/** A Binding success response carrying XOR-MAPPED-ADDRESS, then any further attributes (RFC 8489 §6.3.1). */
export function bindingSuccess(
  transactionId: Uint8Array,
  mapped: StunAddress,
  attributes: readonly StunAttribute[] = [],
): StunRepr {
  return {
    class: StunClass.SUCCESS,
    method: StunMethod.BINDING,
    transactionId,
    attributes: [{ kind: "xor-address", type: StunAttr.XOR_MAPPED_ADDRESS, address: mapped }, ...attributes],
  };
}
