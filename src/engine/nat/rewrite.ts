// In-place header rewriting for NAT (nf_nat_proto.c: nf_nat_ipv4_manip_pkt / nf_nat_ipv6_manip_pkt and the
// per-protocol l4 manips), with RFC 1624 incremental checksum updates so an established packet costs a few
// integer operations and no allocation. ICMP errors (RFC 5508 REQ-4/5, nf_nat_icmp_reply_translation) get their
// embedded header rewritten with the opposite manip and their ICMP checksum recomputed.

import { readU16, readU32, writeU16, writeU32 } from "../../wire/bytes.js";
import {
  finishChecksum,
  foldSum,
  internetChecksum,
  pseudoHeaderSumV6,
  sumWords,
  updateChecksum16,
} from "../../wire/checksum.js";
import { Icmpv4Field } from "../../wire/icmpv4.js";
import { Icmpv6Field } from "../../wire/icmpv6.js";
import { IPV4_HEADER_LEN, Ipv4Field } from "../../wire/ipv4.js";
import { IPV6_HEADER_LEN, Ipv6Field } from "../../wire/ipv6.js";
import { TCP_HEADER_LEN, TcpField } from "../../wire/tcp.js";
import { UdpField } from "../../wire/udp.js";
import type { Family } from "../packet-meta.js";
import { NONE, Proto } from "../packet-meta.js";

/** Which end of a packet a manip rewrites (nf_nat_manip_type). */
export const Manip = { SRC: 0, DST: 1 } as const;
export type Manip = (typeof Manip)[keyof typeof Manip];

/** A computed UDP checksum of 0 is sent as all ones (RFC 768); Linux writes CSUM_MANGLED_0. */
const CSUM_MANGLED_0 = 0xffff;
const UDP_NO_CHECKSUM = 0;
const SCTP_SRC_PORT = 0;
const SCTP_DST_PORT = 2;
const IHL_MASK = 0x0f;
const WORD = 4;
const V6_WORDS = 4;

/** ICMP queries whose identifier NAT rewrites (icmp_manip_pkt's switch; ICMPv6 echo in icmpv6_manip_pkt). */
function isIcmpQuery(family: Family, type: number): boolean {
  if (family === 6) return type === 128 || type === 129;
  return type === 0 || type === 8 || (type >= 13 && type <= 18);
}

/** Offset of the L4 checksum field for the pseudo-header-covering protocols, or NONE. */
function pseudoChecksumAt(family: Family, proto: number, l4: number): number {
  if (proto === Proto.TCP) return l4 + TcpField.CHECKSUM;
  if (proto === Proto.UDP) return l4 + UdpField.CHECKSUM;
  if (proto === Proto.ICMPV6 && family === 6) return l4 + Icmpv6Field.CHECKSUM;
  return NONE;
}

/**
 * Where the L4 checksum can be updated: NONE when there is no transport header, when it is UDP over IPv4 with no
 * checksum, or when a TCP header quoted inside an ICMP error is shorter than 20 bytes (tcp_manip_pkt: the checksum
 * is outside the 8 guaranteed bytes).
 */
function l4ChecksumAt(b: Uint8Array, family: Family, proto: number, l4: number, l4End: number): number {
  if (l4 === NONE) return NONE;
  const at = pseudoChecksumAt(family, proto, l4);
  if (at === NONE) return NONE;
  if (proto === Proto.TCP && l4End - l4 < TCP_HEADER_LEN) return NONE;
  if (proto === Proto.UDP && family === 4 && readU16(b, at) === UDP_NO_CHECKSUM) return NONE;
  return at;
}

function storeL4Checksum(b: Uint8Array, at: number, proto: number, sum: number): void {
  writeU16(b, at, proto === Proto.UDP && sum === 0 ? CSUM_MANGLED_0 : sum);
}

/**
 * Rewrites one end (source or destination) of the IP packet at `ip` to `addr`:`port` in place, updating the IPv4
 * header checksum and the transport checksum incrementally. `l4` is the transport header (NONE when absent, e.g.
 * a non-first fragment), `l4End` where the bytes end (shorter than the datagram for a quoted header). `port` is
 * NONE to leave ports alone. For ICMP queries the identifier is rewritten instead of a port, whichever end.
 */
export function manipPacket(
  b: Uint8Array,
  ip: number,
  family: Family,
  proto: number,
  l4: number,
  l4End: number,
  which: Manip,
  addr: Uint32Array,
  port: number,
): void {
  const csumAt = l4ChecksumAt(b, family, proto, l4, l4End);
  // RFC 1624 eqn. 3 for every changed word at once: ~HC + Σ(~m + m'), folded and complemented once at the end.
  // Folding between updates gives the same value: fold(fold(A) + B) = fold(A + B) for any A, B ≥ 0.
  let l4acc = csumAt === NONE ? 0 : ~readU16(b, csumAt) & 0xffff;
  if (family === 4) {
    const field = ip + (which === Manip.SRC ? Ipv4Field.SRC : Ipv4Field.DST);
    const old = readU32(b, field);
    const now = addr[0] >>> 0;
    if (old !== now) {
      writeU32(b, field, now);
      const delta = (~old & 0xffff) + (~(old >>> 16) & 0xffff) + (now & 0xffff) + (now >>> 16);
      const ipSumAt = ip + Ipv4Field.CHECKSUM;
      writeU16(b, ipSumAt, ~foldSum((~readU16(b, ipSumAt) & 0xffff) + delta) & 0xffff);
      l4acc += delta;
    }
  } else {
    const field = ip + (which === Manip.SRC ? Ipv6Field.SRC : Ipv6Field.DST);
    for (let w = 0; w < V6_WORDS; w++) {
      const old = readU32(b, field + WORD * w);
      const now = addr[w] >>> 0;
      if (old === now) continue;
      writeU32(b, field + WORD * w, now);
      l4acc += (~old & 0xffff) + (~(old >>> 16) & 0xffff) + (now & 0xffff) + (now >>> 16);
    }
  }
  if (port !== NONE && l4 !== NONE) {
    if (proto === Proto.TCP || proto === Proto.UDP || proto === Proto.SCTP) {
      const at = l4 + (which === Manip.SRC ? SCTP_SRC_PORT : SCTP_DST_PORT);
      const old = readU16(b, at);
      if (old !== port) {
        writeU16(b, at, port);
        l4acc += (~old & 0xffff) + (port & 0xffff);
      }
    } else if ((proto === Proto.ICMP && family === 4) || (proto === Proto.ICMPV6 && family === 6)) {
      const type = b[l4];
      if (isIcmpQuery(family, type)) {
        const idAt = l4 + (family === 4 ? Icmpv4Field.ID : Icmpv6Field.ID);
        const old = readU16(b, idAt);
        if (old !== port) {
          writeU16(b, idAt, port);
          if (family === 4) {
            const c = l4 + Icmpv4Field.CHECKSUM;
            writeU16(b, c, updateChecksum16(readU16(b, c), old, port));
          } else {
            l4acc += (~old & 0xffff) + (port & 0xffff);
          }
        }
      }
    }
  }
  if (csumAt !== NONE) storeL4Checksum(b, csumAt, proto, ~foldSum(l4acc) & 0xffff);
}

/** Transport header of an embedded (quoted) IP packet: after the IPv4 IHL or the IPv6 fixed header. */
export function embeddedTransportAt(b: Uint8Array, inner: number, family: Family): number {
  return family === 4 ? inner + (b[inner] & IHL_MASK) * WORD : inner + IPV6_HEADER_LEN;
}

/** The embedded packet's protocol (no extension-header walk: quoted IPv6 packets are taken as plain). */
export function embeddedProtocol(b: Uint8Array, inner: number, family: Family): number {
  return family === 4 ? b[inner + Ipv4Field.PROTOCOL] : b[inner + Ipv6Field.NEXT_HEADER];
}

/**
 * Recomputes the ICMP/ICMPv6 checksum of the message at `l4` (what nf_nat_icmp_reply_translation does after
 * rewriting the quoted packet), over `len` bytes; ICMPv6 includes the pseudo-header of the outer addresses.
 */
export function refreshIcmpChecksum(b: Uint8Array, ip: number, family: Family, l4: number, len: number): void {
  const at = l4 + Icmpv4Field.CHECKSUM;
  writeU16(b, at, 0);
  if (family === 4) {
    writeU16(b, at, internetChecksum(b, l4, len));
    return;
  }
  const sum = pseudoHeaderSumV6(b, ip + Ipv6Field.SRC, b, ip + Ipv6Field.DST, Proto.ICMPV6, len);
  writeU16(b, at, finishChecksum(sumWords(b, l4, len, sum)));
}

/** True when the embedded IPv4 header's checksum verifies (RFC 5508 REQ-3). */
export function embeddedHeaderValid(b: Uint8Array, inner: number, family: Family): boolean {
  if (family === 6) return true;
  const hl = (b[inner] & IHL_MASK) * WORD;
  return hl >= IPV4_HEADER_LEN && internetChecksum(b, inner, hl) === 0;
}
