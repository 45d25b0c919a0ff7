// How nf_conntrack_ftp.c reads a segment (find_pattern and its try_* parsers), on the payload bytes: only the
// segment's start is looked at; PORT and EPRT from the client, 227 and 229 from the server; numbers are read the
// kernel's way (u32 arithmetic, so an octet past 255 spills into the next one and the port keeps its low 16 bits);
// and a command that begins like one but cannot be read to its end counts as cut short ("partial"), which the
// helper answers by dropping the segment.

import type { Family } from "../packet-meta.js";
import { caseEq, isDigit, parseAddr, sipBytes } from "./sip-scan.js";

/** What was announced (nf_ct_ftp_type): the NAT half writes its replacement in the same form. */
export const FtpKind = { PORT: 0, EPRT: 1, PASV: 2, EPSV: 3 } as const;
export type FtpKind = (typeof FtpKind)[keyof typeof FtpKind];

/** A search of search[dir][]: pattern, the character to skip to (0: none), the terminator, the parser. */
interface FtpSearch {
  readonly kind: FtpKind;
  readonly pattern: Uint8Array;
  readonly name: string;
  readonly skip: number;
  readonly term: number;
}

const search = (kind: FtpKind, name: string, skip: string, term: string): FtpSearch => ({
  kind,
  pattern: sipBytes(name),
  name,
  skip: skip === "" ? 0 : skip.charCodeAt(0),
  term: term === "" ? 0 : term.charCodeAt(0),
});

/** search[IP_CT_DIR_ORIGINAL] and search[IP_CT_DIR_REPLY]. */
const FROM_CLIENT = [search(FtpKind.PORT, "PORT", " ", "\r"), search(FtpKind.EPRT, "EPRT", " ", "\r")];
const FROM_SERVER = [search(FtpKind.PASV, "227 ", "", ""), search(FtpKind.EPSV, "229 ", "(", ")")];

const COMMA = 0x2c;
const DOT = 0x2e;
const RFC959_NUMBERS = 6;
const IPV4_NUMBERS = 4;
/** try_eprt/try_epsv_response: a delimiter is a printable character other than a digit. */
const DELIM_MIN = 33;
const DELIM_MAX = 126;
const U16 = 0xffff;

/** What find_pattern found: the announcement and where its argument lies (matchoff/matchlen, from the payload). */
export class FtpMatch {
  kind: FtpKind = FtpKind.PORT;
  /** The address announced; the sender's own where the form names none (229). */
  readonly addr = new Uint32Array(4);
  port = 0;
  matchOff = 0;
  matchLen = 0;
  /** The pattern matched or partly matched, for the helper's log line. */
  pattern = "";
}

const NUMBERS = new Uint32Array(RFC959_NUMBERS);

/**
 * try_number: `size` decimal numbers separated by `sep` from `i` (u32 arithmetic), ended by `term` (or anything
 * when `term` is 0) right after the last one. Their length, or 0.
 */
function tryNumber(b: Uint8Array, i: number, dlen: number, size: number, sep: number, term: number): number {
  NUMBERS.fill(0);
  let n = 0;
  for (let len = 0; len < dlen && n < size; len++) {
    const c = b[i + len];
    if (isDigit(c)) NUMBERS[n] = NUMBERS[n] * 10 + (c - 0x30);
    else if (c === sep) n++;
    else return (c === term || term === 0) && n === size - 1 ? len : 0;
  }
  return 0;
}

/** The four numbers just read as an address, the kernel's way: each shifted into place and OR-ed. */
function numbersAddress(): number {
  return ((NUMBERS[0] << 24) | (NUMBERS[1] << 16) | (NUMBERS[2] << 8) | NUMBERS[3]) >>> 0;
}

/** try_rfc959: `h1,h2,h3,h4,p1,p2`. */
function tryRfc959(b: Uint8Array, i: number, dlen: number, term: number, m: FtpMatch): number {
  const length = tryNumber(b, i, dlen, RFC959_NUMBERS, COMMA, term);
  if (length === 0) return 0;
  m.addr[0] = numbersAddress();
  m.port = ((NUMBERS[4] << 8) | NUMBERS[5]) & U16;
  return length;
}

/** get_port: digits up to `delim` (a u16, which must not be 0); the offset past the delimiter, or 0. */
function getPort(b: Uint8Array, i: number, start: number, dlen: number, delim: number, m: FtpMatch): number {
  let port = 0;
  for (let k = start; k < dlen; k++) {
    const c = b[i + k];
    if (c === delim) {
      if (port === 0) return 0;
      m.port = port;
      return k + 1;
    }
    if (!isDigit(c)) return 0;
    port = (port * 10 + (c - 0x30)) & U16;
  }
  return 0;
}

function isDelimiter(c: number): boolean {
  return !isDigit(c) && c >= DELIM_MIN && c <= DELIM_MAX;
}

/** try_eprt: `|1|a.b.c.d|port|` or `|2|v6|port|` with any delimiter; the family must be the connection's. */
function tryEprt(b: Uint8Array, i: number, dlen: number, family: Family, m: FtpMatch): number {
  if (dlen <= 3) return 0;
  const delim = b[i];
  if (!isDelimiter(delim) || b[i + 2] !== delim) return 0;
  const net = b[i + 1];
  if (net !== (family === 4 ? 0x31 : 0x32)) return 0;
  let length: number;
  if (family === 4) {
    length = tryNumber(b, i + 3, dlen - 3, IPV4_NUMBERS, DOT, delim);
    if (length !== 0) m.addr[0] = numbersAddress();
  } else {
    // get_ipv6_addr: in6_pton up to the delimiter.
    const end = parseAddr(b, i + 3, i + dlen, 6, false, m.addr);
    length = end >= 0 && b[end] === delim ? end - (i + 3) : 0;
  }
  if (length === 0) return 0;
  return getPort(b, i, 3 + length + 1, dlen, delim, m);
}

/** try_epsv_response: `|||port|`. */
function tryEpsv(b: Uint8Array, i: number, dlen: number, m: FtpMatch): number {
  if (dlen <= 3) return 0;
  const delim = b[i];
  if (!isDelimiter(delim) || b[i + 1] !== delim || b[i + 2] !== delim) return 0;
  return getPort(b, i, 3, dlen, delim, m);
}

/** One search of find_pattern: 1 found, 0 not this one, -1 begun but cut short. */
function findPattern(b: Uint8Array, at: number, dlen: number, s: FtpSearch, family: Family, m: FtpMatch): number {
  const plen = s.pattern.length;
  if (dlen <= plen) return caseEq(b, at, s.pattern.subarray(0, dlen)) ? -1 : 0;
  if (!caseEq(b, at, s.pattern)) return 0;
  let i = plen;
  if (s.skip !== 0) {
    for (; b[at + i] !== s.skip; i++) if (i === dlen - 1) return -1;
    i++;
  }
  let len: number;
  if (s.kind === FtpKind.PASV) {
    // try_rfc1123: RFC 1123 §4.1.2.6 — the 227 reply's numbers start at its first digit, parentheses or not.
    let d = i;
    while (d < dlen && !isDigit(b[at + d])) d++;
    len = d === dlen ? 0 : tryRfc959(b, at + d, dlen - d, 0, m);
    i = d;
  } else if (s.kind === FtpKind.PORT) len = tryRfc959(b, at + i, dlen - i, s.term, m);
  else if (s.kind === FtpKind.EPRT) len = tryEprt(b, at + i, dlen - i, family, m);
  else len = tryEpsv(b, at + i, dlen - i, m);
  if (len === 0) return -1;
  m.matchOff = i;
  m.matchLen = len;
  return 1;
}

/**
 * The FTP helper's reading of the segment payload at bytes [at, at + dlen), sent by the client (`fromServer`
 * false) or the server: 1 with `m` filled, 0 when it announces nothing, -1 when it begins an announcement it does
 * not complete (the kernel drops such a segment). `own` is the sender's address, what a 229 reply means.
 */
export function findFtp(
  b: Uint8Array,
  at: number,
  dlen: number,
  fromServer: boolean,
  family: Family,
  own: Uint32Array,
  m: FtpMatch,
): number {
  m.addr.set(own);
  for (const s of fromServer ? FROM_SERVER : FROM_CLIENT) {
    m.kind = s.kind;
    m.pattern = s.name;
    const found = findPattern(b, at, dlen, s, family, m);
    if (found !== 0) return found;
  }
  return 0;
}
