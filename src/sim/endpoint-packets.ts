// The packets a simulated host's own stack originates: TCP segments, UDP datagrams and ICMP echo replies, as a
// Linux endpoint writes them (TTL/hop limit 64, DF on TCP and UDP because sockets default to PMTU discovery,
// ip_select_ident: the socket's counter for connected sockets, 0 for DF packets without one). Each is built into a
// fresh buffer with correct checksums: the segment is handed to the node's datapath, which may rewrite it in place.

import type { Family, PacketMeta } from "../engine/index.js";
import { Proto } from "../engine/index.js";
import { writeU16, writeU32 } from "../wire/bytes.js";
import { finishChecksum, internetChecksum, pseudoHeaderSumV4, pseudoHeaderSumV6, sumWords } from "../wire/checksum.js";
import { Icmpv4Field, Icmpv4Type } from "../wire/icmpv4.js";
import { Icmpv6Type } from "../wire/icmpv6.js";
import { IPV4_HEADER_LEN, Ipv4Field } from "../wire/ipv4.js";
import { IPV6_HEADER_LEN, Ipv6Field } from "../wire/ipv6.js";
import { TCP_HEADER_LEN, TcpField, TcpOptionKind } from "../wire/tcp.js";
import { UDP_HEADER_LEN, UdpField } from "../wire/udp.js";

/** sysctl net.ipv4.ip_default_ttl / net.ipv6.conf.*.hop_limit. */
export const HOST_TTL = 64;
const IPV4_DF = 0x4000;
const IPV4_VERSION_IHL = 0x45;
const IPV6_VERSION_BYTE = 0x60;
/** The MSS option: kind, length 4, 16-bit value (RFC 9293 §3.2). */
const MSS_OPTION_LEN = 4;

export function ipHeaderLen(family: Family): number {
  return family === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
}

/** Writes the IP header at 0 and returns the pseudo-header sum for the L4 checksum. */
function writeIpHeader(
  out: Uint8Array,
  family: Family,
  src: Uint32Array,
  dst: Uint32Array,
  protocol: number,
  l4Len: number,
  ident: number,
  dontFragment: boolean,
): number {
  if (family === 4) {
    out[Ipv4Field.VER_IHL] = IPV4_VERSION_IHL;
    writeU16(out, Ipv4Field.LENGTH, IPV4_HEADER_LEN + l4Len);
    writeU16(out, Ipv4Field.IDENT, ident & 0xffff);
    writeU16(out, Ipv4Field.FLG_OFF, dontFragment ? IPV4_DF : 0);
    out[Ipv4Field.TTL] = HOST_TTL;
    out[Ipv4Field.PROTOCOL] = protocol;
    writeU32(out, Ipv4Field.SRC, src[0]);
    writeU32(out, Ipv4Field.DST, dst[0]);
    writeU16(out, Ipv4Field.CHECKSUM, internetChecksum(out, 0, IPV4_HEADER_LEN));
    return pseudoHeaderSumV4(src[0], dst[0], protocol, l4Len);
  }
  out[Ipv6Field.VER_TC_FL] = IPV6_VERSION_BYTE;
  writeU16(out, Ipv6Field.PAYLOAD_LEN, l4Len);
  out[Ipv6Field.NEXT_HEADER] = protocol;
  out[Ipv6Field.HOP_LIMIT] = HOST_TTL;
  for (let w = 0; w < 4; w++) {
    writeU32(out, Ipv6Field.SRC + 4 * w, src[w]);
    writeU32(out, Ipv6Field.DST + 4 * w, dst[w]);
  }
  return pseudoHeaderSumV6(out, Ipv6Field.SRC, out, Ipv6Field.DST, protocol, l4Len);
}

export interface TcpSegmentSpec {
  readonly family: Family;
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  readonly sport: number;
  readonly dport: number;
  readonly seq: number;
  readonly ack: number;
  /** TcpFlag bits. */
  readonly flags: number;
  readonly window: number;
  /** MSS option value for SYN segments, or 0 for no option. */
  readonly mss: number;
  readonly ident: number;
  readonly payload: Uint8Array | null;
}

export function buildTcpSegment(s: TcpSegmentSpec): Uint8Array {
  const ip = ipHeaderLen(s.family);
  const hl = TCP_HEADER_LEN + (s.mss > 0 ? MSS_OPTION_LEN : 0);
  const payloadLen = s.payload?.length ?? 0;
  const l4Len = hl + payloadLen;
  const out = new Uint8Array(ip + l4Len);
  const sum = writeIpHeader(out, s.family, s.src, s.dst, Proto.TCP, l4Len, s.ident, true);
  writeU16(out, ip + TcpField.SRC_PORT, s.sport);
  writeU16(out, ip + TcpField.DST_PORT, s.dport);
  writeU32(out, ip + TcpField.SEQ, s.seq >>> 0);
  writeU32(out, ip + TcpField.ACK, s.ack >>> 0);
  out[ip + TcpField.DATA_OFF] = (hl / 4) << 4;
  out[ip + TcpField.FLAGS] = s.flags;
  writeU16(out, ip + TcpField.WINDOW, s.window);
  if (s.mss > 0) {
    out[ip + TcpField.OPTIONS] = TcpOptionKind.MSS;
    out[ip + TcpField.OPTIONS + 1] = MSS_OPTION_LEN;
    writeU16(out, ip + TcpField.OPTIONS + 2, s.mss);
  }
  if (s.payload !== null) out.set(s.payload, ip + hl);
  writeU16(out, ip + TcpField.CHECKSUM, finishChecksum(sumWords(out, ip, l4Len, sum)));
  return out;
}

export function buildUdpDatagram(
  family: Family,
  src: Uint32Array,
  dst: Uint32Array,
  sport: number,
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const ip = ipHeaderLen(family);
  const l4Len = UDP_HEADER_LEN + payload.length;
  const out = new Uint8Array(ip + l4Len);
  // ip_select_ident: an unconnected socket's DF datagram carries ident 0.
  const sum = writeIpHeader(out, family, src, dst, Proto.UDP, l4Len, 0, true);
  writeU16(out, ip + UdpField.SRC_PORT, sport);
  writeU16(out, ip + UdpField.DST_PORT, dport);
  writeU16(out, ip + UdpField.LENGTH, l4Len);
  out.set(payload, ip + UDP_HEADER_LEN);
  const c = finishChecksum(sumWords(out, ip, l4Len, sum));
  // RFC 768: a computed 0 is sent as all ones (0 means "no checksum").
  writeU16(out, ip + UdpField.CHECKSUM, c === 0 ? 0xffff : c);
  return out;
}

/**
 * icmp_echo / icmpv6_echo_reply: the request's identifier, sequence number and data sent back from the address
 * it was sent to. Null when `meta` is not an echo request.
 */
export function buildEchoReply(meta: PacketMeta, ident: number): Uint8Array | null {
  const family = meta.family;
  const request = family === 4 ? Icmpv4Type.ECHO_REQUEST : Icmpv6Type.ECHO_REQUEST;
  if (meta.icmpType !== request || meta.l4 < 0) return null;
  const l4Len = meta.l3 + meta.length - meta.l4;
  const ip = ipHeaderLen(family);
  const out = new Uint8Array(ip + l4Len);
  const protocol = family === 4 ? Proto.ICMP : Proto.ICMPV6;
  const sum = writeIpHeader(out, family, meta.daddr, meta.saddr, protocol, l4Len, ident, false);
  out.set(meta.bytes.subarray(meta.l4, meta.l4 + l4Len), ip);
  out[ip + Icmpv4Field.TYPE] = family === 4 ? Icmpv4Type.ECHO_REPLY : Icmpv6Type.ECHO_REPLY;
  out[ip + Icmpv4Field.CODE] = 0;
  writeU16(out, ip + Icmpv4Field.CHECKSUM, 0);
  // ICMPv4's checksum covers the message only; ICMPv6's adds the pseudo-header (RFC 4443 §2.3).
  const c = finishChecksum(sumWords(out, ip, l4Len, family === 4 ? 0 : sum));
  writeU16(out, ip + Icmpv4Field.CHECKSUM, c);
  return out;
}
