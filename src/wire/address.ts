// IPv4/IPv6 addresses and prefixes as text, for everything off the hot path: config, tests, printing. The engine
// itself keeps IPv4 addresses as unsigned 32-bit integers and IPv6 addresses as four big-endian 32-bit words
// (`ipv6ToWords`), so this module is where text meets those integers. Hand-written rather than ipaddr.js because
// the accepted forms must be exact: strict dotted quads (no octal, no shorthand such as `10.1`), RFC 4291 §2.2
// IPv6 text, no zone ids.

import { readU32, writeU32 } from "./bytes.js";

export const IPV4_BITS = 32;
export const IPV6_BITS = 128;
export const IPV6_BYTES = 16;

/** An IP address of either family: IPv4 as an unsigned 32-bit integer, IPv6 as 16 bytes. */
export type IpAddress = { readonly family: 4; readonly v4: number } | { readonly family: 6; readonly v6: Uint8Array };

/** A prefix: address (host bits always zero) and length in bits. */
export type IpPrefix =
  | { readonly family: 4; readonly addr: number; readonly len: number }
  | { readonly family: 6; readonly addr: Uint8Array; readonly len: number };

/** A parsed prefix; `hostBitsSet` says the text had bits set past the length (`10.1.2.3/8`), now cleared. */
export interface ParsedPrefix {
  readonly prefix: IpPrefix;
  readonly hostBitsSet: boolean;
}

const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const PREFIX_LEN = /^(?:0|[1-9][0-9]{0,2})$/;
const IPV6_GROUPS = 8;

/** Dotted-quad IPv4 (`192.0.2.1`) → unsigned 32-bit integer; null for anything else (leading zeros included, as inet_pton). */
export function parseIpv4(s: string): number | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!DEC_OCTET.test(p)) return null;
    const v = Number(p);
    if (v > 0xff) return null;
    n = n * 0x100 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** Appends the 16-bit groups of one side of `::` to `words`; false when a group is malformed. */
function parseGroups(side: string, words: number[], allowV4Tail: boolean): boolean {
  if (side === "") return true;
  const groups = side.split(":");
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (HEX_GROUP.test(g)) {
      words.push(parseInt(g, 16));
      continue;
    }
    // RFC 4291 §2.2 form 3: the last 32 bits may be written as a dotted quad.
    if (allowV4Tail && i === groups.length - 1) {
      const v4 = parseIpv4(g);
      if (v4 === null) return false;
      words.push(v4 >>> 16, v4 & 0xffff);
      continue;
    }
    return false;
  }
  return true;
}

/** RFC 4291 §2.2 text (full, `::`-compressed, embedded IPv4) → 16 bytes; null for anything else, zone ids included. */
export function parseIpv6(s: string): Uint8Array | null {
  const dc = s.indexOf("::");
  const head: number[] = [];
  const tail: number[] = [];
  if (dc < 0) {
    if (!parseGroups(s, head, true) || head.length !== IPV6_GROUPS) return null;
  } else {
    if (s.indexOf("::", dc + 1) >= 0) return null;
    const left = s.slice(0, dc);
    const right = s.slice(dc + 2);
    if (!parseGroups(left, head, false) || !parseGroups(right, tail, true)) return null;
    // `::` stands for one or more zero groups, so at most seven are written.
    if (head.length + tail.length > IPV6_GROUPS - 1) return null;
  }
  const out = new Uint8Array(IPV6_BYTES);
  for (let i = 0; i < head.length; i++) {
    out[2 * i] = head[i] >>> 8;
    out[2 * i + 1] = head[i] & 0xff;
  }
  const tailAt = IPV6_GROUPS - tail.length;
  for (let i = 0; i < tail.length; i++) {
    out[2 * (tailAt + i)] = tail[i] >>> 8;
    out[2 * (tailAt + i) + 1] = tail[i] & 0xff;
  }
  return out;
}

/** True for ::ffff:0:0/96, printed with a dotted tail as RFC 5952 §5 recommends (and glibc inet_ntop does). */
function isV4Mapped(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < 10; i++) if (b[at + i] !== 0) return false;
  return b[at + 10] === 0xff && b[at + 11] === 0xff;
}

/** RFC 5952 canonical text: lowercase, no leading zeros, the longest run (first on a tie) of ≥ 2 zero groups as `::`. */
export function formatIpv6(b: Uint8Array, at = 0): string {
  if (isV4Mapped(b, at)) return `::ffff:${formatIpv4(readU32(b, at + 12))}`;
  let bestAt = -1;
  let bestLen = 1; // RFC 5952 §4.2.2: a single zero group is not compressed
  let runAt = -1;
  for (let i = 0; i <= IPV6_GROUPS; i++) {
    const zero = i < IPV6_GROUPS && b[at + 2 * i] === 0 && b[at + 2 * i + 1] === 0;
    if (zero) {
      if (runAt < 0) runAt = i;
    } else if (runAt >= 0) {
      if (i - runAt > bestLen) {
        bestAt = runAt;
        bestLen = i - runAt;
      }
      runAt = -1;
    }
  }
  let s = "";
  for (let i = 0; i < IPV6_GROUPS; i++) {
    if (i === bestAt) {
      s += "::";
      i += bestLen - 1;
      continue;
    }
    if (s !== "" && !s.endsWith(":")) s += ":";
    s += ((b[at + 2 * i] << 8) | b[at + 2 * i + 1]).toString(16);
  }
  return s;
}

/** 16 address bytes at b[at..] → four big-endian 32-bit words, as the engine stores addresses. */
export function ipv6ToWords(b: Uint8Array, at: number, out: Uint32Array): void {
  out[0] = readU32(b, at);
  out[1] = readU32(b, at + 4);
  out[2] = readU32(b, at + 8);
  out[3] = readU32(b, at + 12);
}

/** Four big-endian 32-bit words → 16 address bytes at out[at..]. */
export function wordsToIpv6(words: Uint32Array, out: Uint8Array, at: number): void {
  writeU32(out, at, words[0]);
  writeU32(out, at + 4, words[1]);
  writeU32(out, at + 8, words[2]);
  writeU32(out, at + 12, words[3]);
}

/** Either family: a dotted quad is IPv4, anything else must be IPv6 text. */
export function parseIp(s: string): IpAddress | null {
  const v4 = parseIpv4(s);
  if (v4 !== null) return { family: 4, v4 };
  const v6 = parseIpv6(s);
  return v6 === null ? null : { family: 6, v6 };
}

export function formatIp(a: IpAddress): string {
  return a.family === 4 ? formatIpv4(a.v4) : formatIpv6(a.v6);
}

/** The IPv4 netmask of a prefix length 0..32 as an unsigned integer (maskV4(24) = 0xffffff00). */
export function maskV4(len: number): number {
  return len <= 0 ? 0 : len >= IPV4_BITS ? 0xffffffff : (0xffffffff << (IPV4_BITS - len)) >>> 0;
}

/** The mask byte for byte `i` of an IPv6 prefix of length `len`. */
function maskByteV6(len: number, i: number): number {
  const bits = len - 8 * i;
  return bits >= 8 ? 0xff : bits <= 0 ? 0 : (0xff << (8 - bits)) & 0xff;
}

/**
 * `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128). Host bits past the length are cleared and
 * reported through `hostBitsSet`, not rejected: the caller decides whether that deserves a warning.
 */
export function parsePrefix(s: string): ParsedPrefix | null {
  const slash = s.indexOf("/");
  const addrText = slash < 0 ? s : s.slice(0, slash);
  const lenText = slash < 0 ? null : s.slice(slash + 1);
  if (lenText !== null && !PREFIX_LEN.test(lenText)) return null;
  const a = parseIp(addrText);
  if (a === null) return null;
  if (a.family === 4) {
    const len = lenText === null ? IPV4_BITS : Number(lenText);
    if (len > IPV4_BITS) return null;
    const addr = (a.v4 & maskV4(len)) >>> 0;
    return { prefix: { family: 4, addr, len }, hostBitsSet: addr !== a.v4 };
  }
  const len = lenText === null ? IPV6_BITS : Number(lenText);
  if (len > IPV6_BITS) return null;
  let hostBitsSet = false;
  const addr = a.v6;
  for (let i = 0; i < IPV6_BYTES; i++) {
    const masked = addr[i] & maskByteV6(len, i);
    if (masked !== addr[i]) hostBitsSet = true;
    addr[i] = masked;
  }
  return { prefix: { family: 6, addr, len }, hostBitsSet };
}

export function formatPrefix(p: IpPrefix): string {
  return `${p.family === 4 ? formatIpv4(p.addr) : formatIpv6(p.addr)}/${p.len}`;
}

/** True when `a` lies inside `p`; addresses of the other family never do. */
export function prefixContains(p: IpPrefix, a: IpAddress): boolean {
  if (p.family === 4) return a.family === 4 && prefixContainsV4(p.addr, p.len, a.v4);
  return a.family === 6 && prefixContainsV6(p.addr, p.len, a.v6, 0);
}

export function prefixContainsV4(prefixAddr: number, len: number, a: number): boolean {
  const m = maskV4(len);
  return (a & m) >>> 0 === (prefixAddr & m) >>> 0;
}

export function prefixContainsV6(prefixAddr: Uint8Array, len: number, b: Uint8Array, at: number): boolean {
  for (let i = 0; i < IPV6_BYTES; i++) {
    const m = maskByteV6(len, i);
    if (m === 0) return true;
    if ((b[at + i] & m) !== (prefixAddr[i] & m)) return false;
  }
  return true;
}

function inV4(a: number, net: number, len: number): boolean {
  return prefixContainsV4(net, len, a);
}

/** RFC 1918 private space: 10/8, 172.16/12, 192.168/16. */
export function isPrivateV4(a: number): boolean {
  return inV4(a, 0x0a000000, 8) || inV4(a, 0xac100000, 12) || inV4(a, 0xc0a80000, 16);
}

/** RFC 6598 shared address space 100.64/10, used between a carrier-grade NAT and its subscribers. */
export function isSharedV4(a: number): boolean {
  return inV4(a, 0x64400000, 10);
}

/** RFC 5737 documentation ranges: TEST-NET-1/2/3 (192.0.2/24, 198.51.100/24, 203.0.113/24). */
export function isDocumentationV4(a: number): boolean {
  return inV4(a, 0xc0000200, 24) || inV4(a, 0xc6336400, 24) || inV4(a, 0xcb007100, 24);
}

/** RFC 3849 2001:db8::/32 and RFC 9637 3fff::/20. */
export function isDocumentationV6(b: Uint8Array, at = 0): boolean {
  return (
    (b[at] === 0x20 && b[at + 1] === 0x01 && b[at + 2] === 0x0d && b[at + 3] === 0xb8) ||
    (b[at] === 0x3f && b[at + 1] === 0xff && (b[at + 2] & 0xf0) === 0)
  );
}

/** RFC 4193 unique local addresses, fc00::/7. */
export function isUlaV6(b: Uint8Array, at = 0): boolean {
  return (b[at] & 0xfe) === 0xfc;
}

/** RFC 4291 §2.5.6 link-local unicast, fe80::/10. */
export function isLinkLocalV6(b: Uint8Array, at = 0): boolean {
  return b[at] === 0xfe && (b[at + 1] & 0xc0) === 0x80;
}
