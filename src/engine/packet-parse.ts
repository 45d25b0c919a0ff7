// The per-packet parser of the engine: reads an L3 packet once into the reused PacketMeta that routing, conntrack,
// NAT and the rule evaluator all read. It allocates nothing on a well-formed packet (module-level views and the
// IPv6 chain walker's reused result); a malformed one yields a WireError value, never an exception.
//
// What it checks is what the kernel checks before netfilter sees a packet (ip_rcv_core: version, IHL, total
// length, header checksum; ipv6_rcv: version and payload length) plus the transport-header truncation that
// conntrack's L4 `error()` callbacks treat as INVALID (tcp_error, udp_error, icmp_error).

import { readU16, readU32 } from "../wire/bytes.js";
import { foldSum } from "../wire/checksum.js";
import { Icmpv4Field, isIcmpv4Error } from "../wire/icmpv4.js";
import { Icmpv6Field, isIcmpv6Error } from "../wire/icmpv6.js";
import { IPV4_HEADER_LEN, Ipv4Field, Ipv4View } from "../wire/ipv4.js";
import { IPV6_HEADER_LEN, Ipv6Field, Ipv6UpperLayer, Ipv6View, upperLayer } from "../wire/ipv6.js";
import { err } from "../wire/result.js";
import type { WireError } from "../wire/result.js";
import { findWindowScale, TCP_HEADER_LEN, TcpField } from "../wire/tcp.js";
import { UDP_HEADER_LEN, UdpField } from "../wire/udp.js";
import { NONE, Proto, TcpFlag, clearAddress } from "./packet-meta.js";
import type { PacketMeta } from "./packet-meta.js";

/** The ICMP header up to the identifier/sequence or the embedded datagram (RFC 792, RFC 4443 §2.1). */
const ICMP_HEADER_LEN = 8;
/** SCTP common header: ports, verification tag, checksum (RFC 9260 §3.1). */
const SCTP_COMMON_HEADER_LEN = 12;
const SCTP_SRC_PORT = 0;
const SCTP_DST_PORT = 2;
/** Transport bytes an ICMP error must carry after the embedded IP header (RFC 792; enough for both ports). */
const EMBEDDED_TRANSPORT_LEN = 8;

const FRAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;
const FRAG_UNIT = 8;
const IHL_MASK = 0x0f;
const WORD = 4;
const VERSION_SHIFT = 4;
const TCP_DATA_OFF_SHIFT = 4;
const BYTE_WEIGHT = 0x100;
/** The folded one's-complement sum of a header whose checksum verifies. */
const CHECKSUM_VERIFIES = 0xffff;

/** ICMPv4 query types whose identifier is the "port" of the flow (nf_conntrack_proto_icmp.c invmap). */
function isIcmpv4Query(type: number): boolean {
  return type === 0 || type === 8 || (type >= 13 && type <= 18);
}

/** ICMPv6 echo request/reply (128/129) carry the identifier (nf_conntrack_proto_icmpv6.c). */
function isIcmpv6Query(type: number): boolean {
  return type === 128 || type === 129;
}

const v4 = new Ipv4View();
const v6 = new Ipv6View();
const chain = new Ipv6UpperLayer();
const innerChain = new Ipv6UpperLayer();

/**
 * Fills `meta` from the L3 packet at bytes[l3..l3+len). Resets every parsed field first (not iif/oif/mark/ct).
 * Returns null on success; on a malformed header returns the error and leaves the fields read so far.
 */
export function fillPacketMeta(bytes: Uint8Array, l3: number, len: number, meta: PacketMeta): WireError | null {
  meta.bytes = bytes;
  meta.l3 = l3;
  meta.l4 = NONE;
  meta.length = 0;
  clearAddress(meta.saddr);
  clearAddress(meta.daddr);
  meta.proto = 0;
  meta.ttl = 0;
  meta.isFragment = false;
  meta.fragOffset = 0;
  meta.sport = 0;
  meta.dport = 0;
  meta.icmpType = NONE;
  meta.icmpCode = NONE;
  meta.icmpInner = NONE;
  meta.tcpFlags = 0;
  meta.seq = 0;
  meta.ack = 0;
  meta.window = 0;
  meta.wscale = NONE;
  meta.payloadLength = 0;
  if (l3 < 0 || len < 1 || l3 + len > bytes.length) return err("ip", "buffer", l3, "span outside the buffer").error;
  const version = bytes[l3] >>> VERSION_SHIFT;
  if (version === 4) return fillIpv4(bytes, l3, len, meta) ?? fillTransport(bytes, meta);
  if (version === 6) return fillIpv6(bytes, l3, len, meta) ?? fillTransport(bytes, meta);
  return err("ip", "version", l3, `version ${version} is neither 4 nor 6`).error;
}

function fillIpv4(bytes: Uint8Array, l3: number, len: number, meta: PacketMeta): WireError | null {
  // The common case inline (fillPacketMeta has checked l3 >= 0 and l3 + len <= bytes.length): the view's success
  // test, then the header checksum summed straight from the bytes. Anything else takes the view's `check`, which
  // decides and names errors exactly as before.
  let hl = 0;
  let total = 0;
  if ((l3 | 0) === l3 && (len | 0) === len && len >= IPV4_HEADER_LEN) {
    const verIhl = bytes[l3 + Ipv4Field.VER_IHL];
    hl = (verIhl & IHL_MASK) * WORD;
    total = readU16(bytes, l3 + Ipv4Field.LENGTH);
    if (verIhl >>> VERSION_SHIFT !== 4 || hl < IPV4_HEADER_LEN || hl > total || total > len) hl = 0;
  }
  if (hl === 0) {
    const e = v4.wrap(bytes, l3, len).check();
    if (e !== null) return e;
    hl = (bytes[l3 + Ipv4Field.VER_IHL] & IHL_MASK) * WORD;
    total = readU16(bytes, l3 + Ipv4Field.LENGTH);
  }
  // ip_rcv_core drops a header with a bad checksum before any hook runs; the whole header sums to 0xffff when it
  // verifies (RFC 1071 §1). High and low bytes are summed apart (RFC 1071 §2(B)): 2^8·Σ high + Σ low.
  let high = 0;
  let low = 0;
  for (let i = l3; i < l3 + hl; i += 2) {
    high += bytes[i];
    low += bytes[i + 1];
  }
  if (foldSum(high * BYTE_WEIGHT + low) !== CHECKSUM_VERIFIES) {
    return err("ipv4", "checksum", l3 + Ipv4Field.CHECKSUM, "header checksum does not verify").error;
  }
  meta.family = 4;
  meta.length = total;
  meta.saddr[0] = readU32(bytes, l3 + Ipv4Field.SRC);
  meta.daddr[0] = readU32(bytes, l3 + Ipv4Field.DST);
  meta.proto = bytes[l3 + Ipv4Field.PROTOCOL];
  meta.ttl = bytes[l3 + Ipv4Field.TTL];
  const flagsOffset = readU16(bytes, l3 + Ipv4Field.FLG_OFF);
  meta.fragOffset = (flagsOffset & FRAG_OFFSET_MASK) * FRAG_UNIT;
  meta.isFragment = (flagsOffset & FRAG_MF) !== 0 || meta.fragOffset !== 0;
  meta.l4 = meta.fragOffset === 0 ? l3 + hl : NONE;
  return null;
}

function fillIpv6(bytes: Uint8Array, l3: number, len: number, meta: PacketMeta): WireError | null {
  const e = v6.wrap(bytes, l3, len).check();
  if (e !== null) return e;
  const at = upperLayer(bytes, l3, len, chain);
  if (chain.malformed) {
    return err("ipv6", "extension-header", l3 + IPV6_HEADER_LEN, "extension header chain is truncated").error;
  }
  meta.family = 6;
  meta.length = IPV6_HEADER_LEN + readU16(bytes, l3 + Ipv6Field.PAYLOAD_LEN);
  for (let w = 0; w < 4; w++) {
    meta.saddr[w] = readU32(bytes, l3 + Ipv6Field.SRC + WORD * w);
    meta.daddr[w] = readU32(bytes, l3 + Ipv6Field.DST + WORD * w);
  }
  meta.proto = chain.nextHeader;
  meta.ttl = bytes[l3 + Ipv6Field.HOP_LIMIT];
  meta.isFragment = chain.isFragment;
  meta.fragOffset = chain.fragmentOffset * FRAG_UNIT;
  meta.l4 = at < 0 ? NONE : at;
  return null;
}

function truncated(protocol: string, at: number, need: number, have: number): WireError {
  return err(protocol, "header", at, `${have} bytes, shorter than the ${need}-byte header`).error;
}

function fillTransport(bytes: Uint8Array, meta: PacketMeta): WireError | null {
  const l4 = meta.l4;
  if (l4 === NONE) return null;
  const avail = meta.l3 + meta.length - l4;
  switch (meta.proto) {
    case Proto.TCP: {
      if (avail < TCP_HEADER_LEN) return truncated("tcp", l4, TCP_HEADER_LEN, avail);
      const doff = (bytes[l4 + TcpField.DATA_OFF] >>> TCP_DATA_OFF_SHIFT) * WORD;
      if (doff < TCP_HEADER_LEN || doff > avail) {
        return err("tcp", "data-offset", l4 + TcpField.DATA_OFF, `data offset ${doff} outside 20..${avail}`).error;
      }
      meta.sport = readU16(bytes, l4 + TcpField.SRC_PORT);
      meta.dport = readU16(bytes, l4 + TcpField.DST_PORT);
      meta.seq = readU32(bytes, l4 + TcpField.SEQ);
      meta.ack = readU32(bytes, l4 + TcpField.ACK);
      meta.tcpFlags = bytes[l4 + TcpField.FLAGS];
      meta.window = readU16(bytes, l4 + TcpField.WINDOW);
      meta.payloadLength = avail - doff;
      if ((meta.tcpFlags & TcpFlag.SYN) !== 0) meta.wscale = findWindowScale(bytes, l4);
      return null;
    }
    case Proto.UDP: {
      if (avail < UDP_HEADER_LEN) return truncated("udp", l4, UDP_HEADER_LEN, avail);
      meta.sport = readU16(bytes, l4 + UdpField.SRC_PORT);
      meta.dport = readU16(bytes, l4 + UdpField.DST_PORT);
      const ulen = readU16(bytes, l4 + UdpField.LENGTH);
      // udp_error: the length field must fit the packet; a fragment carries only part of the datagram.
      if (meta.isFragment) {
        meta.payloadLength = avail - UDP_HEADER_LEN;
      } else if (ulen < UDP_HEADER_LEN || ulen > avail) {
        return err("udp", "length", l4 + UdpField.LENGTH, `length ${ulen} outside 8..${avail}`).error;
      } else {
        meta.payloadLength = ulen - UDP_HEADER_LEN;
      }
      return null;
    }
    case Proto.ICMP:
      if (meta.family !== 4) return null;
      return fillIcmpv4(bytes, meta, l4, avail);
    case Proto.ICMPV6:
      if (meta.family !== 6) return null;
      return fillIcmpv6(bytes, meta, l4, avail);
    case Proto.SCTP:
      if (avail < SCTP_COMMON_HEADER_LEN) return truncated("sctp", l4, SCTP_COMMON_HEADER_LEN, avail);
      meta.sport = readU16(bytes, l4 + SCTP_SRC_PORT);
      meta.dport = readU16(bytes, l4 + SCTP_DST_PORT);
      return null;
    default:
      return null;
  }
}

function fillIcmpv4(bytes: Uint8Array, meta: PacketMeta, l4: number, avail: number): WireError | null {
  if (avail < ICMP_HEADER_LEN) return truncated("icmpv4", l4, ICMP_HEADER_LEN, avail);
  const type = bytes[l4 + Icmpv4Field.TYPE];
  meta.icmpType = type;
  meta.icmpCode = bytes[l4 + Icmpv4Field.CODE];
  meta.payloadLength = avail - ICMP_HEADER_LEN;
  if (isIcmpv4Query(type)) {
    meta.sport = readU16(bytes, l4 + Icmpv4Field.ID);
  } else if (isIcmpv4Error(type)) {
    // The embedded header is usable when its IP header and the first 8 transport bytes are present
    // (nf_ct_get_tuplepr needs both); otherwise icmpInner stays NONE and conntrack finds nothing RELATED.
    const inner = l4 + Icmpv4Field.EMBEDDED;
    const innerAvail = avail - Icmpv4Field.EMBEDDED;
    if (innerAvail >= IPV4_HEADER_LEN && bytes[inner] >>> VERSION_SHIFT === 4) {
      const ihl = (bytes[inner] & IHL_MASK) * WORD;
      if (ihl >= IPV4_HEADER_LEN && ihl + EMBEDDED_TRANSPORT_LEN <= innerAvail) meta.icmpInner = inner;
    }
  }
  return null;
}

function fillIcmpv6(bytes: Uint8Array, meta: PacketMeta, l4: number, avail: number): WireError | null {
  if (avail < ICMP_HEADER_LEN) return truncated("icmpv6", l4, ICMP_HEADER_LEN, avail);
  const type = bytes[l4 + Icmpv6Field.TYPE];
  meta.icmpType = type;
  meta.icmpCode = bytes[l4 + Icmpv6Field.CODE];
  meta.payloadLength = avail - ICMP_HEADER_LEN;
  if (isIcmpv6Query(type)) {
    meta.sport = readU16(bytes, l4 + Icmpv6Field.ID);
  } else if (isIcmpv6Error(type)) {
    const inner = l4 + Icmpv6Field.EMBEDDED;
    const innerAvail = avail - Icmpv6Field.EMBEDDED;
    if (innerAvail >= IPV6_HEADER_LEN && bytes[inner] >>> VERSION_SHIFT === 6) {
      // The embedded packet is truncated by design: walk its chain over what is present only.
      const innerL4 = embeddedUpperLayer(bytes, inner, innerAvail);
      if (innerL4 !== NONE && innerL4 + EMBEDDED_TRANSPORT_LEN <= inner + innerAvail) meta.icmpInner = inner;
    }
  }
  return null;
}

/**
 * Offset of the transport header of an embedded IPv6 packet whose payload length may exceed what was quoted:
 * the walk runs over the bytes present (ipv6_skip_exthdr on the quoted data).
 */
function embeddedUpperLayer(bytes: Uint8Array, inner: number, innerAvail: number): number {
  const plen = readU16(bytes, inner + Ipv6Field.PAYLOAD_LEN);
  const present = innerAvail - IPV6_HEADER_LEN;
  if (plen <= present) {
    const at = upperLayer(bytes, inner, innerAvail, innerChain);
    return at < 0 ? NONE : at;
  }
  // Quoted packets are cut short: only a transport header right after the fixed header is read here.
  const nh = bytes[inner + Ipv6Field.NEXT_HEADER];
  return nh === Proto.TCP || nh === Proto.UDP || nh === Proto.ICMPV6 || nh === Proto.SCTP
    ? inner + IPV6_HEADER_LEN
    : NONE;
}
