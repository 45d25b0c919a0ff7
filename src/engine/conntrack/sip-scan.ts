// SIP header scanning as nf_conntrack_sip.c does it (ct_sip_get_header, ct_sip_parse_header_uri,
// ct_sip_parse_request and the parameter parsers), on the payload bytes rather than on a decoded string, so every
// offset is the kernel's `matchoff` and the NAT half (nat/helper-nat.ts) rewrites exactly the bytes Linux rewrites.
// The kernel's quirks are kept on purpose, each marked where it matters: a header whose name only starts with the
// one searched for ends the search; a value search skips the first character after a continuation; a Contact list
// is walked from offsets taken before the previous entry was rewritten. A message is `datalen` bytes from `base`;
// offsets returned are relative to `base`. A byte read at `base + datalen` (the kernel reads one past the message
// there) reads the packet's next byte, or 0 past the array.

import type { Family } from "../packet-meta.js";
import { parseIpv6 } from "../../wire/address.js";
import { readU32 } from "../../wire/bytes.js";

/** The headers of ct_sip_hdrs[] the helper and its NAT half look up. */
export const SipHeader = {
  CSEQ: 0,
  FROM: 1,
  TO: 2,
  CONTACT: 3,
  VIA_UDP: 4,
  VIA_TCP: 5,
  EXPIRES: 6,
  CONTENT_LENGTH: 7,
} as const;
export type SipHeader = (typeof SipHeader)[keyof typeof SipHeader];

/** How a header value's length is measured (the kernel's match_len callbacks). */
const MatchLen = { DIGITS: 0, EPADDR: 1, SKP_EPADDR: 2 } as const;
type MatchLen = (typeof MatchLen)[keyof typeof MatchLen];

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

interface HeaderDef {
  readonly name: Uint8Array;
  /** RFC 3261 §7.3.3 compact form, if any. */
  readonly cname: Uint8Array | null;
  /** What the value must contain before the part measured (e.g. "sip:"). */
  readonly search: Uint8Array | null;
  readonly match: MatchLen;
}

const def = (name: string, cname: string | null, search: string | null, match: MatchLen): HeaderDef => ({
  name: ascii(name),
  cname: cname === null ? null : ascii(cname),
  search: search === null ? null : ascii(search),
  match,
});

const HEADERS: readonly HeaderDef[] = [
  def("CSeq", null, null, MatchLen.DIGITS),
  def("From", "f", "sip:", MatchLen.SKP_EPADDR),
  def("To", "t", "sip:", MatchLen.SKP_EPADDR),
  def("Contact", "m", "sip:", MatchLen.SKP_EPADDR),
  def("Via", "v", "UDP ", MatchLen.EPADDR),
  def("Via", "v", "TCP ", MatchLen.EPADDR),
  def("Expires", null, null, MatchLen.DIGITS),
  def("Content-Length", "l", null, MatchLen.DIGITS),
];

export const SIP_DEFAULT_PORT = 5060;
const MIN_SIP_PORT = 1024;
const MAX_PORT = 65535;
const MAX_PORT_DIGITS = 5;
const U32_MAX = 0xffffffff;
/** sip_strtouint reads at most sizeof("4294967295") characters. */
const STRTOUINT_MAX_CHARS = 11;
const IPV4_OCTETS = 4;
const MAX_OCTET = 255;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;
const DOT = 0x2e;
const AT = 0x40;
const COMMA = ascii(",");
const SEMICOLON = ascii(";");
const SIP_URI = ascii("sip:");
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** isalpha() of the kernel's ctype table, which classes the Latin-1 letters as letters too. */
export function isAlpha(c: number): boolean {
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x7a) return true;
  return c >= 0xc0 && c !== 0xd7 && c !== 0xf7 && c <= 0xff;
}

export function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

function isHexLetter(c: number): boolean {
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66;
}

/** The byte at `i`, or 0 past the array (the kernel's one-past-the-message reads). */
function at(b: Uint8Array, i: number): number {
  return i < b.length ? b[i] : 0;
}

/** strncasecmp(b + i, needle, needle.length) === 0 for an ASCII needle. */
export function caseEq(b: Uint8Array, i: number, needle: Uint8Array): boolean {
  if (i + needle.length > b.length) return false;
  for (let k = 0; k < needle.length; k++) {
    const c = b[i + k];
    const n = needle[k];
    if (c !== n && !(isAlpha(n) && (c | 0x20) === (n | 0x20) && c < 0x80)) return false;
  }
  return true;
}

/** What the last scan found; one instance per user, overwritten by every call. */
export class SipScan {
  matchOff = 0;
  matchLen = 0;
  /** The address parsed (IPv4 in word 0), and its port (SIP_DEFAULT_PORT when the URI names none). */
  readonly addr = new Uint32Array(4);
  port = 0;
  /** ct_sip_parse_header_uri's `*dataoff` out: the offset just past the port, where the next search starts. */
  next = 0;
  /** A number read by sipStrtouint or ct_sip_parse_numerical_param, and where its digits ended (absolute). */
  value = 0;
  end = 0;
  /** `*shift` of skp_epaddr_len: how far the user part moved the match. */
  shift = 0;
  /** ct_sip_walk_headers' `*in_header`: inside a comma-separated list of values. */
  inHeader = false;
}

/** string_len: letters from `i`. */
function stringLen(b: Uint8Array, i: number, limit: number): number {
  let n = 0;
  while (i + n < limit && isAlpha(b[i + n])) n++;
  return n;
}

/** digits_len. */
function digitsLen(b: Uint8Array, i: number, limit: number): number {
  let n = 0;
  while (i + n < limit && isDigit(b[i + n])) n++;
  return n;
}

/**
 * sip_strtouint: the decimal number at `i` (up to `len` bytes, at most 11 digits read), 0 and no digits consumed
 * when it exceeds 2^32 - 1. Sets `s.value` and `s.end` (absolute).
 */
export function sipStrtouint(b: Uint8Array, i: number, len: number, s: SipScan): number {
  let budget = Math.min(len, STRTOUINT_MAX_CHARS);
  let rest = len;
  let p = i;
  let v = 0;
  while (rest > 0 && isDigit(at(b, p))) {
    if (budget === 0) {
      s.value = 0;
      s.end = i;
      return 0;
    }
    v = v * 10 + (b[p] - DIGIT_0);
    if (v > U32_MAX) {
      s.value = 0;
      s.end = i;
      return 0;
    }
    p++;
    budget--;
    rest--;
  }
  s.value = v;
  s.end = p;
  return v;
}

/**
 * in4_pton(cp, limit - cp, …, delim -1): four decimal octets, ended by anything that is not a hex digit or a dot
 * (a hex letter fails it), or by the limit. The end (absolute, at the character that ended it), or -1.
 */
function in4pton(b: Uint8Array, i: number, limit: number, out: Uint32Array): number {
  let octets = 0;
  let digits = 0;
  let w = 0;
  let word = 0;
  for (let p = i; ; p++) {
    const c = p < limit ? b[p] : 0;
    if (isDigit(c)) {
      w = w * 10 + (c - DIGIT_0);
      digits++;
      if (w > MAX_OCTET) return -1;
    } else if (isHexLetter(c)) {
      return -1;
    } else {
      if (digits === 0) return -1;
      word = ((word << 8) | w) >>> 0;
      octets++;
      w = 0;
      digits = 0;
      if (c !== DOT) {
        if (octets !== IPV4_OCTETS) return -1;
        out[0] = word;
        out[1] = 0;
        out[2] = 0;
        out[3] = 0;
        return p;
      }
    }
    if (octets >= IPV4_OCTETS) return -1;
  }
}

function isV6Char(c: number): boolean {
  return isDigit(c) || isHexLetter(c) || c === COLON || c === DOT;
}

/**
 * in6_pton(cp, limit - cp, …, delim -1), read as the longest run of hex digits, colons and dots that is an IPv6
 * address (RFC 4291 §2.2 text forms, an embedded IPv4 tail included). The end (absolute), or -1.
 */
function in6pton(b: Uint8Array, i: number, limit: number, out: Uint32Array): number {
  let end = i;
  while (end < limit && isV6Char(b[end])) end++;
  let text = "";
  for (let p = i; p < end; p++) text += String.fromCharCode(b[p]);
  const bytes = parseIpv6(text);
  if (bytes === null) return -1;
  for (let k = 0; k < 4; k++) out[k] = readU32(bytes, k * 4);
  return end;
}

/**
 * sip_parse_addr: an address of the entry's family at `i`; an IPv6 one inside brackets (required when `delim`).
 * Writes `out`; the end (absolute), or -1.
 */
export function parseAddr(
  b: Uint8Array,
  i: number,
  limit: number,
  family: Family,
  delim: boolean,
  out: Uint32Array,
): number {
  if (family === 4) return in4pton(b, i, limit, out);
  let p = i;
  if (p < limit && b[p] === LBRACKET) p++;
  else if (delim) return -1;
  let end = in6pton(b, p, limit, out);
  if (end < 0) return -1;
  if (end < limit && b[end] === RBRACKET) end++;
  else if (delim) return -1;
  return end;
}

/**
 * sip_parse_port: an optional `:port` at `i` (1024–65535, at most five digits, not running into the limit).
 * Sets `s.port` (SIP_DEFAULT_PORT without one) and returns the end (absolute), or -1.
 */
function parsePort(b: Uint8Array, i: number, limit: number, s: SipScan): number {
  if (i >= limit) return -1;
  if (b[i] !== COLON) {
    s.port = SIP_DEFAULT_PORT;
    return i;
  }
  let p = i + 1;
  let v = 0;
  let n = 0;
  while (p < limit && isDigit(b[p])) {
    v = v * 10 + (b[p] - DIGIT_0);
    p++;
    if (++n > MAX_PORT_DIGITS) return -1;
  }
  if (n === 0 || p >= limit || v < MIN_SIP_PORT || v > MAX_PORT) return -1;
  s.port = v;
  return p;
}

/** epaddr_len: the length of `address[:port]` at `i`, 0 when it is not one. */
function epaddrLen(b: Uint8Array, i: number, limit: number, family: Family, s: SipScan): number {
  const end = parseAddr(b, i, limit, family, true, s.addr);
  if (end < 0) return 0;
  const after = parsePort(b, end, limit, s);
  return after < 0 ? 0 : after - i;
}

/** skp_epaddr_len: epaddr_len after a `user@` part on the same line, if any; the skipped length goes to s.shift. */
function skpEpaddrLen(b: Uint8Array, i: number, limit: number, family: Family, s: SipScan): number {
  let p = i;
  let shift = s.shift;
  while (p < limit && b[p] !== AT && b[p] !== CR && b[p] !== LF) {
    shift++;
    p++;
  }
  if (p < limit && b[p] === AT) {
    s.shift = shift + 1;
    p++;
  } else p = i;
  return epaddrLen(b, p, limit, family, s);
}

function matchLen(kind: MatchLen, b: Uint8Array, i: number, limit: number, family: Family, s: SipScan): number {
  if (kind === MatchLen.DIGITS) return digitsLen(b, i, limit);
  if (kind === MatchLen.EPADDR) return epaddrLen(b, i, limit, family, s);
  return skpEpaddrLen(b, i, limit, family, s);
}

/** sip_follow_continuation: past a line end, the first non-blank of a continuation line, or -1 (no continuation). */
function followContinuation(b: Uint8Array, i: number, limit: number): number {
  let p = i + 1;
  if (p >= limit) return -1;
  if (b[p - 1] === CR && b[p] === LF) {
    if (++p >= limit) return -1;
  }
  if (b[p] !== SP && b[p] !== TAB) return -1;
  while (p < limit && (b[p] === SP || b[p] === TAB)) p++;
  return p;
}

/** sip_skip_whitespace: blanks, and one line end if a continuation follows; -1 at a line end without one. */
function skipWhitespace(b: Uint8Array, i: number, limit: number): number {
  let p = i;
  for (; p < limit; p++) {
    const c = b[p];
    if (c === SP || c === TAB) continue;
    if (c !== CR && c !== LF) break;
    return followContinuation(b, p, limit);
  }
  return p;
}

/**
 * ct_sip_header_search: `needle` (any case) within one header value and its continuation lines; the position
 * (absolute) or -1. Quirk kept: the character right after a continuation's blanks is never a match start.
 */
function headerSearch(b: Uint8Array, i: number, limit: number, needle: Uint8Array): number {
  const last = limit - needle.length;
  for (let p = i; p < last; p++) {
    const c = b[p];
    if (c === CR || c === LF) {
      p = followContinuation(b, p, last);
      if (p < 0) return -1;
      continue;
    }
    if (caseEq(b, p, needle)) return p;
  }
  return -1;
}

/**
 * The start of the line after a line end at `p` (CR, LF or CRLF), or -1 when none is there or the message ends
 * first: the kernel's "find beginning of line" step of ct_sip_get_header and ct_sip_get_sdp_header.
 */
function afterLineEnd(b: Uint8Array, p: number, limit: number): number {
  if (b[p] !== CR && b[p] !== LF) return -1;
  let q = p + 1;
  if (q >= limit) return -1;
  if (b[p] === CR && b[q] === LF && ++q >= limit) return -1;
  return q;
}

/**
 * ct_sip_get_header: the first header `type` at a line start after `dataoff`; 1 with s.matchOff/matchLen, 0 when
 * there is none, -1 when one is there but its value does not parse (s.matchOff then points at its value).
 * Quirk kept: a line whose name merely starts with the header's name (say `Tool:` for `To`) ends the search.
 */
export function getHeader(
  b: Uint8Array,
  base: number,
  dataoff: number,
  datalen: number,
  type: SipHeader,
  family: Family,
  s: SipScan,
): number {
  const h = HEADERS[type];
  const limit = base + datalen;
  s.shift = 0;
  for (let i = base + dataoff; i < limit; i++) {
    let p = afterLineEnd(b, i, limit);
    if (p < 0) {
      if (b[i] === CR || b[i] === LF) break;
      continue;
    }
    i = p;
    if (b[p] === SP || b[p] === TAB) continue;
    if (limit - p >= h.name.length && caseEq(b, p, h.name)) p += h.name.length;
    else if (
      h.cname !== null &&
      limit - p >= h.cname.length + 1 &&
      caseEq(b, p, h.cname) &&
      !isAlpha(b[p + h.cname.length])
    )
      p += h.cname.length;
    else continue;
    p = skipWhitespace(b, p, limit);
    if (p < 0) break;
    if (at(b, p) !== COLON || ++p >= limit) break;
    p = skipWhitespace(b, p, limit);
    if (p < 0) break;
    s.matchOff = p - base;
    if (h.search !== null) {
      p = headerSearch(b, p, limit, h.search);
      if (p < 0) return -1;
      p += h.search.length;
    }
    // Unparsable: s.matchOff stays at the value's start, where the caller resumes.
    s.matchLen = matchLen(h.match, b, p, limit, family, s);
    if (s.matchLen === 0) return -1;
    s.matchOff = p - base + s.shift;
    return 1;
  }
  return 0;
}

/** ct_sip_next_header: the next value of a comma-separated list, from `dataoff`; as getHeader. */
function nextHeader(
  b: Uint8Array,
  base: number,
  dataoff: number,
  datalen: number,
  type: SipHeader,
  family: Family,
  s: SipScan,
): number {
  const h = HEADERS[type];
  const search = h.search;
  if (search === null) return 0;
  const limit = base + datalen;
  s.shift = 0;
  let p = headerSearch(b, base + dataoff, limit, COMMA);
  if (p < 0) return 0;
  p = headerSearch(b, p, limit, search);
  if (p < 0) return 0;
  p += search.length;
  s.matchOff = p - base;
  s.matchLen = matchLen(h.match, b, p, limit, family, s);
  if (s.matchLen === 0) return -1;
  s.matchOff += s.shift;
  return 1;
}

/** ct_sip_walk_headers: the next parsable value of header `type`, across lists (s.inHeader) and repeated headers. */
function walkHeaders(
  b: Uint8Array,
  base: number,
  dataoff: number,
  datalen: number,
  type: SipHeader,
  family: Family,
  s: SipScan,
  list: boolean,
): number {
  let off = dataoff;
  if (list && s.inHeader) {
    for (;;) {
      const r = nextHeader(b, base, off, datalen, type, family, s);
      if (r > 0) return r;
      if (r === 0) break;
      off = s.matchOff;
    }
    s.inHeader = false;
  }
  for (;;) {
    const r = getHeader(b, base, off, datalen, type, family, s);
    if (r > 0) break;
    if (r === 0) return 0;
    off = s.matchOff;
  }
  if (list) s.inHeader = true;
  return 1;
}

/**
 * ct_sip_parse_header_uri: the address and port of header `type`'s URI, searched from `dataoff` (s.next after the
 * call, for walking a list when `list`, which also keeps s.inHeader). 1 found (s.matchOff/matchLen span
 * `address[:port]`, s.addr/port), 0 none, -1 unparsable.
 */
export function parseHeaderUri(
  b: Uint8Array,
  base: number,
  dataoff: number,
  datalen: number,
  type: SipHeader,
  family: Family,
  s: SipScan,
  list = false,
): number {
  const limit = base + datalen;
  if (walkHeaders(b, base, dataoff, datalen, type, family, s, list) === 0) return 0;
  const end = parseAddr(b, base + s.matchOff, limit, family, true, s.addr);
  if (end < 0) return -1;
  const after = parsePort(b, end, limit, s);
  if (after < 0) return -1;
  s.next = after - base;
  return 1;
}

/**
 * ct_sip_parse_request: the address in the Request-URI (`METHOD sip:[user@]addr[:port] SIP/2.0`); 1 with
 * s.matchOff/matchLen/addr/port, 0 when there is none, -1 when it does not parse.
 */
export function parseRequest(b: Uint8Array, base: number, datalen: number, family: Family, s: SipScan): number {
  const limit = base + datalen;
  let p = base;
  const mlen = stringLen(b, p, limit);
  if (mlen === 0) return 0;
  p += mlen;
  if (++p >= limit) return 0;
  for (; p < limit - SIP_URI.length; p++) {
    if (b[p] === CR || b[p] === LF) return -1;
    if (caseEq(b, p, SIP_URI)) {
      p += SIP_URI.length;
      break;
    }
  }
  s.shift = 0;
  if (skpEpaddrLen(b, p, limit, family, s) === 0) return 0;
  p += s.shift;
  const end = parseAddr(b, p, limit, family, true, s.addr);
  if (end < 0) return -1;
  const after = parsePort(b, end, limit, s);
  if (after < 0) return -1;
  if (after === p) return 0;
  s.matchOff = p - base;
  s.matchLen = after - p;
  return 1;
}

/**
 * Where parameter `name`'s value starts (absolute) in the list value that goes on from `dataoff`, or -1; the value's
 * end — the header's next comma, else the message's end — goes to s.end.
 */
function paramAt(b: Uint8Array, base: number, dataoff: number, datalen: number, name: Uint8Array, s: SipScan): number {
  const comma = headerSearch(b, base + dataoff, base + datalen, COMMA);
  const limit = comma < 0 ? base + datalen : comma;
  s.end = limit;
  const start = headerSearch(b, base + dataoff, limit, name);
  return start < 0 ? -1 : start + name.length;
}

/** ct_sip_parse_param: `name` (e.g. "transport=") after `dataoff` in this value; 1 with s.matchOff/matchLen, or 0. */
export function parseParam(
  b: Uint8Array,
  base: number,
  dataoff: number,
  datalen: number,
  name: Uint8Array,
  s: SipScan,
): number {
  const start = paramAt(b, base, dataoff, datalen, name, s);
  if (start < 0) return 0;
  const limit = s.end;
  let end = headerSearch(b, start, limit, SEMICOLON);
  if (end < 0) end = limit;
  s.matchOff = start - base;
  s.matchLen = end - start;
  return 1;
}

/** ct_sip_parse_address_param: an address parameter (maddr=, received=); 1 with s.matchOff/matchLen/addr, or 0. */
export function parseAddressParam(
  b: Uint8Array,
  base: number,
  dataoff: number,
  datalen: number,
  name: Uint8Array,
  family: Family,
  delim: boolean,
  s: SipScan,
): number {
  const start = paramAt(b, base, dataoff, datalen, name, s);
  if (start < 0) return 0;
  const end = parseAddr(b, start, s.end, family, delim, s.addr);
  if (end < 0) return 0;
  s.matchOff = start - base;
  s.matchLen = end - start;
  return 1;
}

/** ct_sip_parse_numerical_param: a number parameter (rport=, expires=); 1 with s.value/matchOff/matchLen, 0, -1. */
export function parseNumericalParam(
  b: Uint8Array,
  base: number,
  dataoff: number,
  datalen: number,
  name: Uint8Array,
  s: SipScan,
): number {
  const start = paramAt(b, base, dataoff, datalen, name, s);
  if (start < 0) return 0;
  sipStrtouint(b, start, s.end - start, s);
  if (s.end === start) return -1;
  s.matchOff = start - base;
  s.matchLen = s.end - start;
  return 1;
}

const TRANSPORT = ascii("transport=");
const TCP_NAME = ascii("TCP");
const UDP_NAME = ascii("UDP");
const PROTO_TCP = 6;
const PROTO_UDP = 17;

/**
 * ct_sip_parse_transport: the URI's `transport=` (TCP or UDP, and then only the entry's own protocol), else the
 * entry's protocol. The protocol, or 0 when the URI names another or an unknown one.
 */
export function parseTransport(
  b: Uint8Array,
  base: number,
  dataoff: number,
  datalen: number,
  proto: number,
  s: SipScan,
): number {
  if (parseParam(b, base, dataoff, datalen, TRANSPORT, s) === 0) return proto;
  const p = base + s.matchOff;
  const named = caseEq(b, p, TCP_NAME) ? PROTO_TCP : caseEq(b, p, UDP_NAME) ? PROTO_UDP : 0;
  return named === proto ? named : 0;
}

/** The SDP lines of ct_sdp_hdrs_v4/v6 (RFC 4566 §5) the helper reads; NONE as a search's `term`: no end line. */
export const SdpLine = { NONE: -1, VERSION: 0, OWNER: 1, CONNECTION: 2, MEDIA: 3 } as const;
export type SdpLine = (typeof SdpLine)[keyof typeof SdpLine];

const SDP_NAMES = [ascii("v="), ascii("o="), ascii("c="), ascii("m=")];
const SDP_IN_IP4 = ascii("IN IP4 ");
const SDP_IN_IP6 = ascii("IN IP6 ");

/** ct_sdp_header_search: `needle` (exact case) before the end of the line; the position (absolute) or -1. */
function sdpHeaderSearch(b: Uint8Array, i: number, limit: number, needle: Uint8Array): number {
  const last = limit - needle.length;
  for (let p = i; p < last; p++) {
    if (b[p] === CR || b[p] === LF) return -1;
    let same = true;
    for (let k = 0; k < needle.length && same; k++) same = b[p + k] === needle[k];
    if (same) return p;
  }
  return -1;
}

/** media_len: `type port` (letters, one blank, digits), 0 when it is not that. */
function mediaLen(b: Uint8Array, i: number, limit: number): number {
  const n = stringLen(b, i, limit);
  const p = i + n;
  if (p >= limit || b[p] !== SP) return 0;
  return n + 1 + digitsLen(b, p + 1, limit);
}

/**
 * ct_sip_get_sdp_header: line `type` at a line start after `dataoff`, stopping at the first `term` line (unless
 * SdpLine.NONE). 1 with s.matchOff/matchLen (the address of o=/c=, `type port` of m=, the digits of v=), 0 none,
 * -1 unparsable. For o=/c=, s.addr holds the address.
 */
export function getSdpHeader(
  b: Uint8Array,
  base: number,
  dataoff: number,
  datalen: number,
  type: SdpLine,
  term: SdpLine,
  family: Family,
  s: SipScan,
): number {
  const name = SDP_NAMES[type];
  const limit = base + datalen;
  for (let i = base + dataoff; i < limit; i++) {
    let p = afterLineEnd(b, i, limit);
    if (p < 0) {
      if (b[i] === CR || b[i] === LF) break;
      continue;
    }
    i = p;
    if (term !== SdpLine.NONE && limit - p >= SDP_NAMES[term].length && caseEq(b, p, SDP_NAMES[term])) break;
    if (limit - p >= name.length && caseEq(b, p, name)) p += name.length;
    else continue;
    s.matchOff = p - base;
    let len: number;
    if (type === SdpLine.OWNER || type === SdpLine.CONNECTION) {
      const search = family === 4 ? SDP_IN_IP4 : SDP_IN_IP6;
      p = sdpHeaderSearch(b, p, limit, search);
      if (p < 0) return -1;
      p += search.length;
      // sdp_addr_len: a bare address of the entry's family.
      const end = family === 4 ? in4pton(b, p, limit, s.addr) : in6pton(b, p, limit, s.addr);
      len = end < 0 ? 0 : end - p;
    } else len = type === SdpLine.MEDIA ? mediaLen(b, p, limit) : digitsLen(b, p, limit);
    if (len === 0) return -1;
    s.matchLen = len;
    s.matchOff = p - base;
    return 1;
  }
  return 0;
}

export { ascii as sipBytes };
