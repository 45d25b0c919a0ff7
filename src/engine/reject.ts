// The packets a node builds itself in answer to another packet: the TCP reset and ICMP/ICMPv6 errors of nft's
// `reject` (net/ipv4/netfilter/nf_reject_ipv4.c, net/ipv6/netfilter/nf_reject_ipv6.c) and of routing (icmp_send
// for no route, TTL exceeded). They are built into fresh buffers: this is not the established fast path.

import type { Family, PacketMeta } from "./packet-meta.js";
import { NONE, Proto, TcpFlag } from "./packet-meta.js";
import { writeU16, writeU32 } from "../wire/bytes.js";
import { finishChecksum, internetChecksum, pseudoHeaderSumV4, pseudoHeaderSumV6, sumWords } from "../wire/checksum.js";
import { IPV4_HEADER_LEN, Ipv4Field } from "../wire/ipv4.js";
import { IPV6_HEADER_LEN, Ipv6Field } from "../wire/ipv6.js";
import { TCP_HEADER_LEN, TcpField } from "../wire/tcp.js";
import { Icmpv4Field } from "../wire/icmpv4.js";
import { Icmpv6Field } from "../wire/icmpv6.js";

/** sysctl net.ipv4.ip_default_ttl and IPv6's default hop limit. */
export const DEFAULT_TTL = 64;
/** icmp_send quotes as much of the offending packet as fits in 576 bytes (RFC 1812 §4.3.2.3). */
const ICMPV4_MAX_QUOTE = 576 - IPV4_HEADER_LEN - 8;
/** icmp6_send: the error must fit the IPv6 minimum MTU of 1280 bytes (RFC 4443 §2.4 (c)). */
const ICMPV6_MAX_QUOTE = 1280 - IPV6_HEADER_LEN - 8;
const ICMPV4_ERROR_HEADER = 8;
/** include/uapi/linux/ip.h: the TOS bits RT_TOS keeps, and the precedence icmp_send gives errors. */
const IPTOS_TOS_MASK = 0x1e;
const IPTOS_PREC_INTERNETCONTROL = 0xc0;

/** Writes an IPv4 header answering `meta` (source and destination swapped) and returns the header length. */
function ipv4Header(out: Uint8Array, src: number, dst: number, protocol: number, total: number, tos = 0): void {
  out[Ipv4Field.VER_IHL] = 0x45;
  out[Ipv4Field.DSCP_ECN] = tos;
  writeU16(out, Ipv4Field.LENGTH, total);
  // nf_reject_iphdr_put sets DF; icmp_send leaves it clear. Both use ident 0 here: Linux's per-destination
  // counter is not observable by any test of ours and a constant keeps traces deterministic.
  out[Ipv4Field.TTL] = DEFAULT_TTL;
  out[Ipv4Field.PROTOCOL] = protocol;
  writeU32(out, Ipv4Field.SRC, src);
  writeU32(out, Ipv4Field.DST, dst);
  writeU16(out, Ipv4Field.CHECKSUM, internetChecksum(out, 0, IPV4_HEADER_LEN));
}

function ipv6Header(out: Uint8Array, meta: PacketMeta, src: Uint32Array, nextHeader: number, payload: number): void {
  out[Ipv6Field.VER_TC_FL] = 0x60;
  writeU16(out, Ipv6Field.PAYLOAD_LEN, payload);
  out[Ipv6Field.NEXT_HEADER] = nextHeader;
  out[Ipv6Field.HOP_LIMIT] = DEFAULT_TTL;
  for (let w = 0; w < 4; w++) {
    writeU32(out, Ipv6Field.SRC + 4 * w, src[w]);
    writeU32(out, Ipv6Field.DST + 4 * w, meta.saddr[w]);
  }
}

/**
 * nf_send_reset / nf_send_reset6: a RST from the packet's destination back to its source. If the offending
 * segment carried ACK the reset takes its ack number as sequence number; otherwise it is seq 0 with ACK set and
 * acknowledges everything the segment occupied (nf_reject_ip_tcphdr_put). Null for non-TCP or RST input.
 */
export function buildTcpReset(meta: PacketMeta): Uint8Array | null {
  if (meta.proto !== Proto.TCP || meta.l4 === NONE || (meta.tcpFlags & TcpFlag.RST) !== 0) return null;
  const ipLen = meta.family === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
  const out = new Uint8Array(ipLen + TCP_HEADER_LEN);
  const t = ipLen;
  writeU16(out, t + TcpField.SRC_PORT, meta.dport);
  writeU16(out, t + TcpField.DST_PORT, meta.sport);
  if ((meta.tcpFlags & TcpFlag.ACK) !== 0) {
    writeU32(out, t + TcpField.SEQ, meta.ack);
    out[t + TcpField.FLAGS] = TcpFlag.RST;
  } else {
    const syn = (meta.tcpFlags & TcpFlag.SYN) !== 0 ? 1 : 0;
    const fin = (meta.tcpFlags & TcpFlag.FIN) !== 0 ? 1 : 0;
    writeU32(out, t + TcpField.ACK, (meta.seq + meta.payloadLength + syn + fin) >>> 0);
    out[t + TcpField.FLAGS] = TcpFlag.RST | TcpFlag.ACK;
  }
  out[t + TcpField.DATA_OFF] = (TCP_HEADER_LEN / 4) << 4;
  let sum: number;
  if (meta.family === 4) {
    ipv4Header(out, meta.daddr[0], meta.saddr[0], Proto.TCP, out.length);
    out[Ipv4Field.FLG_OFF] = 0x40; // DF, as nf_reject_iphdr_put
    writeU16(out, Ipv4Field.CHECKSUM, 0);
    writeU16(out, Ipv4Field.CHECKSUM, internetChecksum(out, 0, IPV4_HEADER_LEN));
    sum = pseudoHeaderSumV4(meta.daddr[0], meta.saddr[0], Proto.TCP, TCP_HEADER_LEN);
  } else {
    ipv6Header(out, meta, meta.daddr, Proto.TCP, TCP_HEADER_LEN);
    sum = pseudoHeaderSumV6(out, Ipv6Field.SRC, out, Ipv6Field.DST, Proto.TCP, TCP_HEADER_LEN);
  }
  writeU16(out, t + TcpField.CHECKSUM, finishChecksum(sumWords(out, t, TCP_HEADER_LEN, sum)));
  return out;
}

/**
 * icmp_send / icmp6_send: an ICMP error of `type`/`code` from `src` (the node's address on the interface the
 * error leaves by) to the offending packet's source, quoting the offending packet as far as the size limit allows.
 * `info` is the 32-bit rest-of-header (next-hop MTU, pointer), usually 0. Null when no error may be sent about
 * this packet (RFC 1812 §4.3.2.7 / RFC 4443 §2.4 (e): never about an ICMP error, nor a non-first fragment).
 */
export function buildIcmpError(
  meta: PacketMeta,
  src: Uint32Array,
  type: number,
  code: number,
  info = 0,
): Uint8Array | null {
  if (meta.icmpInner !== NONE) return null;
  if (meta.fragOffset > 0) return null;
  const family: Family = meta.family;
  const quoteMax = family === 4 ? ICMPV4_MAX_QUOTE : ICMPV6_MAX_QUOTE;
  const quote = Math.min(meta.length, quoteMax);
  const ipLen = family === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
  const icmpLen = ICMPV4_ERROR_HEADER + quote;
  const out = new Uint8Array(ipLen + icmpLen);
  const i = ipLen;
  out[i + Icmpv4Field.TYPE] = type;
  out[i + Icmpv4Field.CODE] = code;
  writeU32(out, i + Icmpv4Field.ID, info);
  out.set(meta.bytes.subarray(meta.l3, meta.l3 + quote), i + ICMPV4_ERROR_HEADER);
  if (family === 4) {
    // icmp_send: an error goes at precedence "internetwork control", keeping the offender's RT_TOS bits.
    const tos = (meta.bytes[meta.l3 + Ipv4Field.DSCP_ECN] & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL;
    ipv4Header(out, src[0], meta.saddr[0], Proto.ICMP, out.length, tos);
    writeU16(out, i + Icmpv4Field.CHECKSUM, internetChecksum(out, i, icmpLen));
  } else {
    ipv6Header(out, meta, src, Proto.ICMPV6, icmpLen);
    const sum = pseudoHeaderSumV6(out, Ipv6Field.SRC, out, Ipv6Field.DST, Proto.ICMPV6, icmpLen);
    writeU16(out, i + Icmpv6Field.CHECKSUM, finishChecksum(sumWords(out, i, icmpLen, sum)));
  }
  return out;
}
