// DNS messages (RFC 1035 §4, AAAA from RFC 3596, the AD/CD bits of RFC 4035 §3.2): what the simulated resolver
// and Mallory's authoritative server (the DNS-rebinding attack) send and receive.
//
// Names are presentation-format strings ("example.com", root "."), case preserved, any label byte allowed: bytes
// outside printable ASCII, "." and "\" are escaped as in RFC 4343 §2.1 ("\DDD", "\.", "\\"), so a string maps to
// exactly one label sequence and back.
//
// Compression and exact round trips. Parse follows pointers (RFC 1035 §4.1.4) only strictly backwards, each one
// below the previous target (RFC 9267 §2), with bounded hops; so no input loops. Every parsed name also records
// how it was written (`nameWire`: labels written in place, then the pointer's target or -1). Emit compresses the
// standard way, as BIND and dnsmasq do: a name suffix already written (same bytes, case-sensitive) becomes a
// pointer to its first occurrence. When a name carries `nameWire`, emit writes it that way instead, then decodes
// every such name in the finished message; if one does not spell the intended name (the repr was edited so the
// target moved), the whole message is written again with standard compression. Hence:
//   - emit(parse(b)) = b for EVERY b that parse accepts (compressed or not, pointers anywhere backwards, pointers
//     inside raw rdata kept verbatim), since the recorded encodings decode identically in the same bytes;
//   - a repr without `nameWire` (the builders') is written with standard compression, e.g. a dnsmasq answer
//     "example.com A 93.184.216.34" whose answer name is the pointer 0xc00c to the question.
// Limits: A/AAAA are typed in class IN only, CNAME in any class; every other type keeps its rdata raw, so names
// inside NS/MX/SOA/PTR rdata are not decompressed (their bytes, pointers included, are kept as they are).

import { readU16, readU32, writeU16, writeU32 } from "./bytes.js";
import { err, ok } from "./result.js";
import type { Result, WireError } from "./result.js";

export const DnsField = { ID: 0, FLAGS: 2, QDCOUNT: 4, ANCOUNT: 6, NSCOUNT: 8, ARCOUNT: 10 } as const;
const F = DnsField;
export const DNS_HEADER_LEN = 12;

/** Header flag bits (RFC 1035 §4.1.1; Z, AD and CD per RFC 4035 §3.2 and RFC 6895 §2). */
export const DnsFlag = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  Z: 0x0040,
  AD: 0x0020,
  CD: 0x0010,
} as const;
const OPCODE_SHIFT = 11;
const OPCODE_MASK = 0xf;
const RCODE_MASK = 0xf;

export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

export const DnsClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

export const DnsOpcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

export const DnsRcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
} as const;

/** "A", "AAAA", ... or "TYPE65" for the rest (RFC 3597 §5): types are an open set. */
export function typeName(type: number): string {
  for (const [name, value] of Object.entries(DnsType)) if (value === type) return name;
  return `TYPE${type}`;
}

/** Question fixed part after the name (RFC 1035 §4.1.2). */
const Q = { TYPE: 0, CLASS: 2, LEN: 4 } as const;
/** Resource record fixed part after the name (RFC 1035 §4.1.3). */
const RR = { TYPE: 0, CLASS: 2, TTL: 4, RDLENGTH: 8, LEN: 10 } as const;
/** Label length byte: the top two bits select a plain label (00) or a compression pointer (11) (RFC 1035 §4.1.4). */
const Label = { KIND_MASK: 0xc0, POINTER: 0xc0, PLAIN: 0x00, MAX_LEN: 63, POINTER_LEN: 2 } as const;
const POINTER_LIMIT = 0x4000;
const MAX_NAME_WIRE_LEN = 255;
/** A 255-byte name has at most 127 labels; more hops than that cannot be a sane encoding. */
const MAX_POINTER_HOPS = 127;
const IPV4_LEN = 4;
const IPV6_LEN = 16;

/** How a parsed name was written: `inlineLabels` labels in place, then a pointer to `pointer` (-1: none). */
export interface DnsNameWire {
  readonly inlineLabels: number;
  /** Offset from the start of the message, as in the pointer itself. */
  readonly pointer: number;
}

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly nameWire?: DnsNameWire;
}

export type DnsRdata =
  | { readonly kind: "a"; readonly address: number }
  | { readonly kind: "aaaa"; readonly address: Uint8Array }
  | { readonly kind: "cname"; readonly name: string; readonly nameWire?: DnsNameWire }
  | { readonly kind: "raw"; readonly bytes: Uint8Array };

export interface DnsRecord {
  readonly name: string;
  readonly type: number;
  /** The class; for OPT (RFC 6891 §6.1.2) the requestor's UDP payload size. */
  readonly class: number;
  /** Seconds, unsigned 32-bit; for OPT the extended rcode, version and flags. */
  readonly ttl: number;
  readonly data: DnsRdata;
  readonly nameWire?: DnsNameWire;
}

export interface DnsRepr {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly z: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
  readonly rcode: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
}

/** Zero-copy view over the 12-byte DNS header. */
export class DnsView {
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
    if (this.at < 0 || this.len < 0 || this.at + this.len > this.bytes.length)
      return {
        kind: "wire",
        protocol: "dns",
        field: "buffer",
        offset: this.at,
        message: "range lies outside the buffer",
      };
    if (this.len < DNS_HEADER_LEN)
      return {
        kind: "wire",
        protocol: "dns",
        field: "header",
        offset: this.at + this.len,
        message: `${this.len} bytes, a DNS header needs 12`,
      };
    return null;
  }
  get id(): number {
    return readU16(this.bytes, this.at + F.ID);
  }
  set id(v: number) {
    writeU16(this.bytes, this.at + F.ID, v);
  }
  get flags(): number {
    return readU16(this.bytes, this.at + F.FLAGS);
  }
  set flags(v: number) {
    writeU16(this.bytes, this.at + F.FLAGS, v);
  }
  get qr(): boolean {
    return (this.flags & DnsFlag.QR) !== 0;
  }
  get opcode(): number {
    return (this.flags >>> OPCODE_SHIFT) & OPCODE_MASK;
  }
  get aa(): boolean {
    return (this.flags & DnsFlag.AA) !== 0;
  }
  get tc(): boolean {
    return (this.flags & DnsFlag.TC) !== 0;
  }
  get rd(): boolean {
    return (this.flags & DnsFlag.RD) !== 0;
  }
  get ra(): boolean {
    return (this.flags & DnsFlag.RA) !== 0;
  }
  get rcode(): number {
    return this.flags & RCODE_MASK;
  }
  set rcode(v: number) {
    this.flags = (this.flags & ~RCODE_MASK) | (v & RCODE_MASK);
  }
  get qdcount(): number {
    return readU16(this.bytes, this.at + F.QDCOUNT);
  }
  set qdcount(v: number) {
    writeU16(this.bytes, this.at + F.QDCOUNT, v);
  }
  get ancount(): number {
    return readU16(this.bytes, this.at + F.ANCOUNT);
  }
  set ancount(v: number) {
    writeU16(this.bytes, this.at + F.ANCOUNT, v);
  }
  get nscount(): number {
    return readU16(this.bytes, this.at + F.NSCOUNT);
  }
  set nscount(v: number) {
    writeU16(this.bytes, this.at + F.NSCOUNT, v);
  }
  get arcount(): number {
    return readU16(this.bytes, this.at + F.ARCOUNT);
  }
  set arcount(v: number) {
    writeU16(this.bytes, this.at + F.ARCOUNT, v);
  }
  get headerLength(): number {
    return DNS_HEADER_LEN;
  }
  get payloadOffset(): number {
    return this.at + DNS_HEADER_LEN;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.at + DNS_HEADER_LEN, this.at + this.len);
  }
}

// ---- names ----

const Char = { BACKSLASH: 0x5c, DOT: 0x2e, PRINTABLE_FIRST: 0x21, PRINTABLE_LAST: 0x7e, SPACE: 0x20 } as const;
const DIGIT_0 = 0x30;
const DECIMAL_ESCAPE_DIGITS = 3;
const BYTE_MAX = 255;

function escapeLabel(b: Uint8Array, at: number, len: number): string {
  let s = "";
  for (let i = at; i < at + len; i++) {
    const c = b[i];
    if (c === Char.DOT || c === Char.BACKSLASH) s += "\\" + String.fromCharCode(c);
    else if (c >= Char.PRINTABLE_FIRST && c <= Char.PRINTABLE_LAST) s += String.fromCharCode(c);
    else s += "\\" + c.toString().padStart(DECIMAL_ESCAPE_DIGITS, "0");
  }
  return s;
}

/** Labels → presentation name (root "."), escaping as RFC 4343 §2.1; the inverse of `encodeName`. */
export function nameFromLabels(labels: readonly Uint8Array[], from = 0): string {
  if (from >= labels.length) return ".";
  let s = "";
  for (let i = from; i < labels.length; i++) s += (i > from ? "." : "") + escapeLabel(labels[i], 0, labels[i].length);
  return s;
}

const isDigit = (c: number): boolean => c >= DIGIT_0 && c <= DIGIT_0 + 9;

/**
 * Presentation name → labels. Accepts an optional trailing dot, "\X" for any printable X and "\DDD"; rejects
 * empty labels, labels over 63 bytes, names over 255 bytes on the wire, and characters outside printable ASCII
 * (internationalised names must be given as A-labels, RFC 5890). Error offsets are character indices.
 */
export function encodeName(name: string): Result<Uint8Array[]> {
  if (name === ".") return ok([]);
  if (name === "") return err("dns", "name", 0, "empty name (the root is '.')");
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let wire = 1;
  const finish = (i: number): Result<null> => {
    if (cur.length === 0) return err("dns", "name", i, `empty label in "${name}"`);
    if (cur.length > Label.MAX_LEN) return err("dns", "name", i, `label of ${cur.length} bytes (at most 63)`);
    wire += cur.length + 1;
    if (wire > MAX_NAME_WIRE_LEN) return err("dns", "name", i, `name longer than 255 bytes on the wire`);
    labels.push(Uint8Array.from(cur));
    cur = [];
    return ok(null);
  };
  let i = 0;
  while (i < name.length) {
    const c = name.charCodeAt(i);
    if (c === Char.DOT) {
      const r = finish(i);
      if (!r.ok) return r;
      i++;
      continue;
    }
    if (c < Char.SPACE || c > Char.PRINTABLE_LAST)
      return err("dns", "name", i, `character ${c} is not printable ASCII`);
    if (c !== Char.BACKSLASH) {
      cur.push(c);
      i++;
      continue;
    }
    const next = name.charCodeAt(i + 1);
    if (Number.isNaN(next)) return err("dns", "name", i, "name ends inside an escape");
    if (isDigit(next)) {
      const digits = name.slice(i + 1, i + 1 + DECIMAL_ESCAPE_DIGITS);
      const v = Number(digits);
      if (!/^[0-9]{3}$/.test(digits) || v > BYTE_MAX) return err("dns", "name", i, `bad escape "\\${digits}"`);
      cur.push(v);
      i += 1 + DECIMAL_ESCAPE_DIGITS;
    } else {
      if (next < Char.SPACE || next > Char.PRINTABLE_LAST)
        return err("dns", "name", i + 1, "escaped character is not printable ASCII");
      cur.push(next);
      i += 2;
    }
  }
  // A name ending in an unescaped dot leaves no pending label: that dot only says "fully qualified".
  if (cur.length > 0) {
    const r = finish(name.length);
    if (!r.ok) return r;
  }
  return ok(labels);
}

interface NameRead {
  readonly name: string;
  /** Bytes the name occupies where it starts (up to and including its terminator or first pointer). */
  readonly wireLen: number;
  readonly wire: DnsNameWire;
}

/** Decodes the name at absolute offset p of the message bytes[base..end). Never reads outside [base, end). */
function readName(b: Uint8Array, base: number, end: number, p: number): Result<NameRead> {
  let pos = p;
  let lowest = p;
  let hops = 0;
  let consumedEnd = -1;
  let inlineLabels = 0;
  let pointer = -1;
  let wire = 1;
  let name = "";
  for (;;) {
    if (pos >= end) return err("dns", "name", pos, "name runs past the end of the message");
    const lenByte = b[pos];
    const kind = lenByte & Label.KIND_MASK;
    if (kind === Label.POINTER) {
      if (pos + 1 >= end) return err("dns", "compression pointer", pos, "pointer cut off by the end of the message");
      const target = ((lenByte & ~Label.KIND_MASK) << 8) | b[pos + 1];
      // RFC 9267 §2: only strictly backwards, below every earlier jump of this name, so decoding always ends.
      if (base + target >= lowest)
        return err("dns", "compression pointer", pos, `pointer to ${target} does not point before ${lowest - base}`);
      if (++hops > MAX_POINTER_HOPS) return err("dns", "compression pointer", pos, "too many compression pointers");
      if (consumedEnd < 0) {
        consumedEnd = pos + Label.POINTER_LEN;
        pointer = target;
      }
      lowest = base + target;
      pos = lowest;
      continue;
    }
    if (kind !== Label.PLAIN)
      return err("dns", "label type", pos, `label type 0x${kind.toString(16)} is not supported (RFC 6891 §5)`);
    if (lenByte === 0) {
      if (consumedEnd < 0) consumedEnd = pos + 1;
      break;
    }
    if (pos + 1 + lenByte > end) return err("dns", "label", pos, `label of ${lenByte} bytes runs past the message end`);
    wire += lenByte + 1;
    if (wire > MAX_NAME_WIRE_LEN) return err("dns", "name", p, "name longer than 255 bytes");
    name += (name === "" ? "" : ".") + escapeLabel(b, pos + 1, lenByte);
    if (consumedEnd < 0) inlineLabels++;
    pos += 1 + lenByte;
  }
  return ok({ name: name === "" ? "." : name, wireLen: consumedEnd - p, wire: { inlineLabels, pointer } });
}

// ---- parse ----

interface Cursor {
  pos: number;
}

function parseQuestion(b: Uint8Array, base: number, end: number, c: Cursor): Result<DnsQuestion> {
  const n = readName(b, base, end, c.pos);
  if (!n.ok) return n;
  const p = c.pos + n.value.wireLen;
  if (p + Q.LEN > end) return err("dns", "question", p, "question type/class cut off by the end of the message");
  c.pos = p + Q.LEN;
  return ok({
    name: n.value.name,
    type: readU16(b, p + Q.TYPE),
    class: readU16(b, p + Q.CLASS),
    nameWire: n.value.wire,
  });
}

function parseRdata(
  b: Uint8Array,
  base: number,
  end: number,
  type: number,
  cls: number,
  at: number,
  len: number,
): Result<DnsRdata> {
  if (type === DnsType.A && cls === DnsClass.IN) {
    if (len !== IPV4_LEN) return err("dns", "rdlength", at - 2, `A record with ${len} bytes of data (must be 4)`);
    return ok({ kind: "a", address: readU32(b, at) });
  }
  if (type === DnsType.AAAA && cls === DnsClass.IN) {
    if (len !== IPV6_LEN) return err("dns", "rdlength", at - 2, `AAAA record with ${len} bytes of data (must be 16)`);
    return ok({ kind: "aaaa", address: b.subarray(at, at + IPV6_LEN) });
  }
  if (type === DnsType.CNAME) {
    const n = readName(b, base, end, at);
    if (!n.ok) return n;
    if (n.value.wireLen !== len)
      return err("dns", "rdlength", at - 2, `CNAME data of ${len} bytes holds a name of ${n.value.wireLen}`);
    return ok({ kind: "cname", name: n.value.name, nameWire: n.value.wire });
  }
  return ok({ kind: "raw", bytes: b.subarray(at, at + len) });
}

function parseRecord(b: Uint8Array, base: number, end: number, c: Cursor): Result<DnsRecord> {
  const n = readName(b, base, end, c.pos);
  if (!n.ok) return n;
  const p = c.pos + n.value.wireLen;
  if (p + RR.LEN > end) return err("dns", "record", p, "record header cut off by the end of the message");
  const type = readU16(b, p + RR.TYPE);
  const cls = readU16(b, p + RR.CLASS);
  const ttl = readU32(b, p + RR.TTL);
  const rdlength = readU16(b, p + RR.RDLENGTH);
  const rdAt = p + RR.LEN;
  if (rdAt + rdlength > end)
    return err("dns", "rdlength", p + RR.RDLENGTH, `${rdlength} bytes of data run past the end of the message`);
  const data = parseRdata(b, base, end, type, cls, rdAt, rdlength);
  if (!data.ok) return data;
  c.pos = rdAt + rdlength;
  return ok({ name: n.value.name, type, class: cls, ttl, data: data.value, nameWire: n.value.wire });
}

/** Parses one DNS message filling bytes[at..at+len) exactly (trailing bytes are an error). Never throws. */
export function parse(bytes: Uint8Array, at = 0, len = bytes.length - at): Result<DnsRepr> {
  const headerError = new DnsView(bytes, at, len).check();
  if (headerError) return { ok: false, error: headerError };
  const end = at + len;
  const flags = readU16(bytes, at + F.FLAGS);
  const c: Cursor = { pos: at + DNS_HEADER_LEN };
  const questions: DnsQuestion[] = [];
  for (let i = readU16(bytes, at + F.QDCOUNT); i > 0; i--) {
    const q = parseQuestion(bytes, at, end, c);
    if (!q.ok) return q;
    questions.push(q.value);
  }
  const sections: DnsRecord[][] = [];
  for (const countField of [F.ANCOUNT, F.NSCOUNT, F.ARCOUNT]) {
    const records: DnsRecord[] = [];
    for (let i = readU16(bytes, at + countField); i > 0; i--) {
      const r = parseRecord(bytes, at, end, c);
      if (!r.ok) return r;
      records.push(r.value);
    }
    sections.push(records);
  }
  if (c.pos !== end) return err("dns", "message", c.pos, `${end - c.pos} bytes after the last record`);
  return ok({
    id: readU16(bytes, at + F.ID),
    qr: (flags & DnsFlag.QR) !== 0,
    opcode: (flags >>> OPCODE_SHIFT) & OPCODE_MASK,
    aa: (flags & DnsFlag.AA) !== 0,
    tc: (flags & DnsFlag.TC) !== 0,
    rd: (flags & DnsFlag.RD) !== 0,
    ra: (flags & DnsFlag.RA) !== 0,
    z: (flags & DnsFlag.Z) !== 0,
    ad: (flags & DnsFlag.AD) !== 0,
    cd: (flags & DnsFlag.CD) !== 0,
    rcode: flags & RCODE_MASK,
    questions,
    answers: sections[0],
    authorities: sections[1],
    additionals: sections[2],
  });
}

// ---- emit ----

function labelsOrThrow(name: string): Uint8Array[] {
  const r = encodeName(name);
  if (!r.ok) throw new RangeError(`DNS name "${name}": ${r.error.message}`);
  return r.value;
}

/** Exact binary key of labels[from..]: the compression table matches suffixes byte for byte (case-sensitive). */
function suffixKey(labels: readonly Uint8Array[], from: number): string {
  let k = "";
  for (let i = from; i < labels.length; i++) k += String.fromCharCode(labels[i].length, ...labels[i]);
  return k;
}

class NameWriter {
  readonly suffixes = new Map<string, number>();
  /** Names written as their nameWire said: (absolute start, intended name), checked once the message is done. */
  readonly hinted: { start: number; name: string }[] = [];
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly base: number,
    readonly useHints: boolean,
  ) {
    this.pos = base;
  }

  private label(l: Uint8Array, labels: readonly Uint8Array[], i: number): void {
    const rel = this.pos - this.base;
    const key = suffixKey(labels, i);
    if (rel < POINTER_LIMIT && !this.suffixes.has(key)) this.suffixes.set(key, rel);
    this.buf[this.pos] = l.length;
    this.buf.set(l, this.pos + 1);
    this.pos += 1 + l.length;
  }

  private pointer(target: number): void {
    writeU16(this.buf, this.pos, (Label.POINTER << 8) | target);
    this.pos += Label.POINTER_LEN;
  }

  write(name: string, hint: DnsNameWire | undefined): void {
    const labels = labelsOrThrow(name);
    const start = this.pos;
    if (this.useHints && hint && hint.inlineLabels >= 0 && hint.inlineLabels <= labels.length) {
      const target = hint.pointer;
      const pointerOk = target >= 0 && target < POINTER_LIMIT && this.base + target < start;
      if (target === -1 ? hint.inlineLabels === labels.length : pointerOk) {
        for (let i = 0; i < hint.inlineLabels; i++) this.label(labels[i], labels, i);
        if (target === -1) this.buf[this.pos++] = 0;
        else this.pointer(target);
        this.hinted.push({ start, name: nameFromLabels(labels) });
        return;
      }
    }
    // RFC 1035 §4.1.4: the longest suffix already in the message becomes a pointer.
    for (let i = 0; i < labels.length; i++) {
      const prior = this.suffixes.get(suffixKey(labels, i));
      if (prior !== undefined) {
        this.pointer(prior);
        return;
      }
      this.label(labels[i], labels, i);
    }
    this.buf[this.pos++] = 0;
  }
}

/** Uncompressed length, plus one: a recorded encoding may end in a 2-byte pointer where a 1-byte root would do. */
function nameMaxLen(name: string): number {
  let n = 1 + 1;
  for (const l of labelsOrThrow(name)) n += 1 + l.length;
  return n;
}

function rdataMaxLen(d: DnsRdata): number {
  switch (d.kind) {
    case "a":
      return IPV4_LEN;
    case "aaaa":
      return IPV6_LEN;
    case "cname":
      return nameMaxLen(d.name);
    case "raw":
      return d.bytes.length;
  }
}

const allRecords = (r: DnsRepr): DnsRecord[] => [...r.answers, ...r.authorities, ...r.additionals];

/** An upper bound on the emitted length (names uncompressed). Throws RangeError on an invalid name. */
export function maxBufferLen(repr: DnsRepr): number {
  let n = DNS_HEADER_LEN;
  for (const q of repr.questions) n += nameMaxLen(q.name) + Q.LEN;
  for (const r of allRecords(repr)) n += nameMaxLen(r.name) + RR.LEN + rdataMaxLen(r.data);
  return n;
}

function flagsOf(r: DnsRepr): number {
  return (
    (r.qr ? DnsFlag.QR : 0) |
    ((r.opcode & OPCODE_MASK) << OPCODE_SHIFT) |
    (r.aa ? DnsFlag.AA : 0) |
    (r.tc ? DnsFlag.TC : 0) |
    (r.rd ? DnsFlag.RD : 0) |
    (r.ra ? DnsFlag.RA : 0) |
    (r.z ? DnsFlag.Z : 0) |
    (r.ad ? DnsFlag.AD : 0) |
    (r.cd ? DnsFlag.CD : 0) |
    (r.rcode & RCODE_MASK)
  );
}

function writeRdata(w: NameWriter, d: DnsRdata): void {
  switch (d.kind) {
    case "a":
      writeU32(w.buf, w.pos, d.address);
      w.pos += IPV4_LEN;
      return;
    case "aaaa":
      w.buf.set(d.address.subarray(0, IPV6_LEN), w.pos);
      w.pos += IPV6_LEN;
      return;
    case "cname":
      w.write(d.name, d.nameWire);
      return;
    case "raw":
      w.buf.set(d.bytes, w.pos);
      w.pos += d.bytes.length;
      return;
  }
}

/** Writes the message into buf (room for maxBufferLen) from its start; returns the length. */
function writeMessage(repr: DnsRepr, buf: Uint8Array, useHints: boolean): number {
  const w = new NameWriter(buf, 0, useHints);
  writeU16(buf, F.ID, repr.id);
  writeU16(buf, F.FLAGS, flagsOf(repr));
  writeU16(buf, F.QDCOUNT, repr.questions.length);
  writeU16(buf, F.ANCOUNT, repr.answers.length);
  writeU16(buf, F.NSCOUNT, repr.authorities.length);
  writeU16(buf, F.ARCOUNT, repr.additionals.length);
  w.pos = DNS_HEADER_LEN;
  for (const q of repr.questions) {
    w.write(q.name, q.nameWire);
    writeU16(buf, w.pos + Q.TYPE, q.type);
    writeU16(buf, w.pos + Q.CLASS, q.class);
    w.pos += Q.LEN;
  }
  for (const r of allRecords(repr)) {
    w.write(r.name, r.nameWire);
    const p = w.pos;
    writeU16(buf, p + RR.TYPE, r.type);
    writeU16(buf, p + RR.CLASS, r.class);
    writeU32(buf, p + RR.TTL, r.ttl);
    w.pos = p + RR.LEN;
    writeRdata(w, r.data);
    writeU16(buf, p + RR.RDLENGTH, w.pos - p - RR.LEN);
  }
  if (!useHints) return w.pos;
  // A recorded encoding is trusted only if it still spells its name in the finished message.
  for (const h of w.hinted) {
    const n = readName(buf, 0, w.pos, h.start);
    if (!n.ok || n.value.name !== h.name) return -1;
  }
  return w.pos;
}

/**
 * repr → bytes. Names with `nameWire` are written as recorded when that still decodes correctly, others with
 * standard compression (see the module comment). Throws RangeError on a name that cannot be encoded (use
 * `validate` or the builders, which return errors as values, for names from outside).
 */
export function emit(repr: DnsRepr): Uint8Array {
  const buf = new Uint8Array(maxBufferLen(repr));
  let n = writeMessage(repr, buf, true);
  if (n < 0) {
    buf.fill(0);
    n = writeMessage(repr, buf, false);
  }
  return buf.slice(0, n);
}

/** Writes the message at buf[at..]; returns its length. Throws RangeError when it does not fit. */
export function emitInto(repr: DnsRepr, buf: Uint8Array, at: number): number {
  const b = emit(repr);
  if (at < 0 || at + b.length > buf.length) throw new RangeError(`DNS message needs ${b.length} bytes at offset ${at}`);
  buf.set(b, at);
  return b.length;
}

/** The exact number of bytes emit writes. */
export function bufferLen(repr: DnsRepr): number {
  return emit(repr).length;
}

/** Checks that every name in the repr can be encoded; the first bad one is reported (offset: character index). */
export function validate(repr: DnsRepr): Result<null> {
  const names = [
    ...repr.questions.map((q) => q.name),
    ...allRecords(repr).flatMap((r) => (r.data.kind === "cname" ? [r.name, r.data.name] : [r.name])),
  ];
  for (const n of names) {
    const r = encodeName(n);
    if (!r.ok) return err("dns", `name "${n}"`, r.error.offset, r.error.message);
  }
  return ok(null);
}

// ---- builders ----

/** A standard query (RFC 1035 §4.1) for one name and type, recursion desired by default. */
export function query(
  id: number,
  name: string,
  type: number,
  opts: { readonly rd?: boolean; readonly class?: number } = {},
): Result<DnsRepr> {
  const repr: DnsRepr = {
    id,
    qr: false,
    opcode: DnsOpcode.QUERY,
    aa: false,
    tc: false,
    rd: opts.rd ?? true,
    ra: false,
    z: false,
    ad: false,
    cd: false,
    rcode: DnsRcode.NOERROR,
    questions: [{ name, type, class: opts.class ?? DnsClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
  };
  const v = validate(repr);
  return v.ok ? ok(repr) : v;
}

export interface AnswerOptions {
  /** Authoritative answer: true for Mallory's own zone, false for a forwarding resolver. */
  readonly aa?: boolean;
  /** Recursion available; a resolver sets it, an authoritative-only server does not. Default true. */
  readonly ra?: boolean;
  readonly rcode?: number;
  readonly authorities?: readonly DnsRecord[];
  readonly additionals?: readonly DnsRecord[];
}

/** The response to `q` (RFC 1035 §4.1.1): same id, opcode, RD and questions, QR set, the given records. */
export function answer(q: DnsRepr, records: readonly DnsRecord[], opts: AnswerOptions = {}): Result<DnsRepr> {
  const repr: DnsRepr = {
    id: q.id,
    qr: true,
    opcode: q.opcode,
    aa: opts.aa ?? false,
    tc: false,
    rd: q.rd,
    ra: opts.ra ?? true,
    z: false,
    ad: false,
    cd: q.cd,
    rcode: opts.rcode ?? DnsRcode.NOERROR,
    // Drop the query's recorded encodings: the response is laid out afresh.
    questions: q.questions.map((x) => ({ name: x.name, type: x.type, class: x.class })),
    answers: records,
    authorities: opts.authorities ?? [],
    additionals: opts.additionals ?? [],
  };
  const v = validate(repr);
  return v.ok ? ok(repr) : v;
}

/** An IN A record; `address` is the IPv4 address as an unsigned 32-bit integer. */
export function aRecord(name: string, address: number, ttl: number): DnsRecord {
  return { name, type: DnsType.A, class: DnsClass.IN, ttl, data: { kind: "a", address } };
}

export function aaaaRecord(name: string, address: Uint8Array, ttl: number): DnsRecord {
  return { name, type: DnsType.AAAA, class: DnsClass.IN, ttl, data: { kind: "aaaa", address } };
}

export function cnameRecord(name: string, target: string, ttl: number): DnsRecord {
  return { name, type: DnsType.CNAME, class: DnsClass.IN, ttl, data: { kind: "cname", name: target } };
}
