// The flow key of a packet for the datapath's hot path: addresses, protocol and ports read through a DataView
// into a reused `FiveTuple`, no allocation, no error objects. It makes the same validity decisions as the views'
// `check()` (EthernetView, Ipv4View, Ipv6View + `upperLayer`, TcpView, UdpView, Icmpv4View, Icmpv6View) for the
// fields it reads, and reports what was wrong as a small integer; the views and reprs remain the way to diagnose.
//
// Why a DataView and not the views: one bounds-checked 16/32-bit load per field is what gets under 10 ns per
// packet; the views' getters do not fit V8's inlining budget together (BENCHMARKS.md, wire section).

import { EtherType, EthernetField, ETHERNET_HEADER_LEN, VLAN_TAG_LEN } from "./ethernet.js";
import { IpProtocol, Ipv4Field, IPV4_HEADER_LEN, IPV4_VERSION } from "./ipv4.js";
import { Ipv6ExtField, Ipv6Field, Ipv6FragmentField, Ipv6NextHeader, IPV6_FRAGMENT_HEADER_LEN } from "./ipv6.js";
import { IPV6_HEADER_LEN, IPV6_VERSION } from "./ipv6.js";
import { Icmpv4Field, Icmpv4Type, ICMPV4_HEADER_LEN } from "./icmpv4.js";
import { Icmpv6Type, ICMPV6_HEADER_LEN } from "./icmpv6.js";
import { TcpField, TCP_HEADER_LEN } from "./tcp.js";
import { UdpField, UDP_HEADER_LEN } from "./udp.js";

/**
 * What `readFiveTuple` returns: OK (0), or what made the packet unusable as a flow key. NON_FIRST_FRAGMENT is the
 * one non-zero code after which `out` is meaningful: addresses, protocol, offsets and `end` are filled, ports are
 * 0, because a non-first fragment carries no transport header. The kernel reassembles before conntrack and, for
 * a fragment it still sees, finds no tuple (ipv4_get_l4proto / ipv6_get_l4proto in nf_conntrack_core.c): the
 * caller decides between reassembly and "untracked", so it is not reported as success with made-up ports.
 */
export const FiveTupleStatus = {
  OK: 0,
  /** `at`/`len` are not integers, negative, or run past the DataView. */
  BAD_SPAN: 1,
  /** Fewer than 14 bytes, or 18 for a frame whose ether type is 0x8100. */
  TRUNCATED_ETHERNET: 2,
  /** Neither IPv4 nor IPv6 (ARP, a second 802.1Q tag, ...). */
  UNSUPPORTED_ETHERTYPE: 3,
  TRUNCATED_IPV4: 4,
  /** Version nibble not 4 (on a raw link: neither 4 nor 6, since a raw packet that is not IPv6 is read as IPv4). */
  BAD_IPV4_VERSION: 5,
  /** IHL below 5, or a header longer than the bytes given. */
  BAD_IPV4_IHL: 6,
  /** Total length below the header length or past the bytes given. */
  BAD_IPV4_TOTAL_LENGTH: 7,
  TRUNCATED_IPV6: 8,
  BAD_IPV6_VERSION: 9,
  /** 40 + payload length runs past the bytes given, or a jumbogram (payload length 0 with Hop-by-Hop). */
  BAD_IPV6_PAYLOAD_LENGTH: 10,
  /** An extension header that runs past the payload length. */
  BAD_IPV6_EXTENSION: 11,
  NON_FIRST_FRAGMENT: 12,
  TRUNCATED_TCP: 13,
  /** Data offset below 5, or a header longer than the segment. */
  BAD_TCP_DATA_OFFSET: 14,
  TRUNCATED_UDP: 15,
  /** Length field below 8 or past the IP payload (so also a first fragment's: it covers the whole datagram). */
  BAD_UDP_LENGTH: 16,
  /** ICMP or ICMPv6 message shorter than its 8-byte header. */
  TRUNCATED_ICMP: 17,
} as const;
export type FiveTupleStatus = (typeof FiveTupleStatus)[keyof typeof FiveTupleStatus];

const STATUS_NAMES: readonly string[] = Object.keys(FiveTupleStatus).map((k) => k.toLowerCase().replaceAll("_", "-"));

/** "ok", "truncated-tcp", ...: for logs and traces; `status-N` for a number that is not a status. */
export function fiveTupleStatusName(status: number): string {
  return STATUS_NAMES[status] ?? `status-${status}`;
}

/** Link types as pcap names them: LINKTYPE_ETHERNET (Ethernet II, optional 802.1Q tag) or LINKTYPE_RAW (IP). */
export type LinkType = "ethernet" | "raw";

/**
 * One packet's flow key, overwritten by every `readFiveTuple`. All fields are created in the constructor with
 * their final kinds so every instance shares one hidden class. Offsets are absolute within the DataView.
 */
export class FiveTuple {
  /** 4 or 6. */
  family = 0;
  /** IPv4 addresses as unsigned 32-bit integers; 0 for IPv6. */
  src = 0;
  dst = 0;
  /** IPv6 addresses as four big-endian 32-bit words; only written for IPv6 (stale after an IPv4 packet). */
  readonly src6 = new Uint32Array(4);
  readonly dst6 = new Uint32Array(4);
  /** IPv4 protocol, or the IPv6 upper-layer next header after the extension-header chain. */
  protocol = 0;
  /** TCP/UDP ports; ICMP/ICMPv6 echo: the identifier as `sport`. */
  sport = 0;
  /** TCP/UDP destination port; ICMP/ICMPv6: (type << 8) | code, as conntrack keeps them (icmp_pkt_to_tuple). */
  dport = 0;
  /** Where the IP header starts. */
  l3Offset = 0;
  /** Where the transport header (or a non-first fragment's data) starts. */
  l4Offset = 0;
  /** Just past the IP packet (IPv4 total length, IPv6 40 + payload length): link padding excluded. */
  end = 0;
  /** Any fragment: IPv4 MF or offset, or an IPv6 Fragment header. A first fragment still has its ports. */
  isFragment = false;
}

/** A DataView over exactly the bytes of `bytes` (STYLE.md §15: `.buffer` alone ignores byteOffset). */
export function dataViewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Module-private copies of the field offsets and constants the hot path reads.
const ETH_TYPE = EthernetField.ETHERTYPE;
const ETH_VLAN_TYPE = EthernetField.VLAN_ETHERTYPE;
const ETH_LEN = ETHERNET_HEADER_LEN;
const ETH_TAGGED_LEN = ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
const TYPE_IPV4 = EtherType.IPV4;
const TYPE_IPV6 = EtherType.IPV6;
const TYPE_VLAN = EtherType.VLAN;

const V4_VER_IHL = Ipv4Field.VER_IHL;
const V4_LENGTH = Ipv4Field.LENGTH;
const V4_FLG_OFF = Ipv4Field.FLG_OFF;
const V4_PROTOCOL = Ipv4Field.PROTOCOL;
const V4_SRC = Ipv4Field.SRC;
const V4_DST = Ipv4Field.DST;
const V4_MIN = IPV4_HEADER_LEN;
const V4_VERSION = IPV4_VERSION;
/** RFC 791 §3.1: MF is bit 13 of the flags/offset word, the offset its low 13 bits. */
const V4_MF_OFFSET = 0x3fff;
const V4_OFFSET = 0x1fff;
const VERSION_SHIFT = 4;
const IHL_MASK = 0x0f;
const WORD = 4;

const V6_PAYLOAD_LEN = Ipv6Field.PAYLOAD_LEN;
const V6_NEXT_HEADER = Ipv6Field.NEXT_HEADER;
const V6_SRC = Ipv6Field.SRC;
const V6_DST = Ipv6Field.DST;
const V6_LEN = IPV6_HEADER_LEN;
const V6_VERSION = IPV6_VERSION;
const V6_FRAG_LEN = IPV6_FRAGMENT_HEADER_LEN;
const V6_FRAG_OFFSET_FLAGS = Ipv6FragmentField.OFFSET_FLAGS;
const V6_FRAG_NEXT = Ipv6FragmentField.NEXT_HEADER;
const V6_EXT_NEXT = Ipv6ExtField.NEXT_HEADER;
const V6_EXT_LENGTH = Ipv6ExtField.LENGTH;
const V6_EXT_MIN = Ipv6ExtField.DATA;
/** RFC 8200 §4.5: the offset is the top 13 bits of the offset/flags word. */
const V6_FRAG_OFFSET_SHIFT = 3;
// RFC 8200 §4.3–4.6: 8-byte units beyond the first; AH (RFC 4302 §2.2): 4-byte units beyond the first two.
const EXT_UNIT = 8;
const AH_UNIT = 4;
const AH_EXTRA_UNITS = 2;
const NH_HOP_BY_HOP = Ipv6NextHeader.HOP_BY_HOP;
const NH_ROUTING = Ipv6NextHeader.ROUTING;
const NH_FRAGMENT = Ipv6NextHeader.FRAGMENT;
const NH_DESTINATION = Ipv6NextHeader.DESTINATION;
const NH_AH = Ipv6NextHeader.AH;

const P_TCP = IpProtocol.TCP;
const P_UDP = IpProtocol.UDP;
const P_ICMP = IpProtocol.ICMP;
const P_ICMPV6 = IpProtocol.ICMPV6;
const TCP_PORTS = TcpField.SRC_PORT;
const TCP_DATA_OFF = TcpField.DATA_OFF;
const TCP_MIN = TCP_HEADER_LEN;
const DATA_OFF_SHIFT = 4;
const UDP_LENGTH = UdpField.LENGTH;
const UDP_MIN = UDP_HEADER_LEN;
const ICMP_TYPE_CODE = Icmpv4Field.TYPE;
const ICMP_ID = Icmpv4Field.ID;
const ICMP_MIN = ICMPV4_HEADER_LEN;
const ICMPV6_MIN = ICMPV6_HEADER_LEN;
const ECHO_REQUEST_V4 = Icmpv4Type.ECHO_REQUEST;
const ECHO_REPLY_V4 = Icmpv4Type.ECHO_REPLY;
const ECHO_REQUEST_V6 = Icmpv6Type.ECHO_REQUEST;
const ECHO_REPLY_V6 = Icmpv6Type.ECHO_REPLY;
const TYPE_SHIFT = 8;
const PORT_SHIFT = 16;
const U16_MASK = 0xffff;
const V6_WORDS = 4;

const S = FiveTupleStatus;

// The success path's constants as `const enum`s, which esbuild (tsx, vitest, the build) replaces with literals:
// a module-level const costs a context load and a TDZ check per use in the hot path (~3.5 ns per packet, measured).
// Split so no enum repeats a value; five-tuple.test.ts checks each against the field table it copies.
export const enum EthHot {
  TYPE = 12,
  HEADER_LEN = 14,
  IPV4 = 0x0800,
  /** Ether type 0x0800 followed by version nibble 4: the word at TYPE shifted right by 12. */
  IPV4_AND_VERSION = (0x0800 << 4) | 4,
}
export const enum V4Hot {
  VER_IHL = 0,
  LENGTH = 2,
  FLG_OFF = 6,
  PROTOCOL = 9,
  SRC = 12,
  DST = 16,
  MIN = 20,
  VERSION = 4,
  /** The 32-bit word at FLG_OFF: flags and fragment offset, TTL, protocol (its low byte, PROTOCOL = FLG_OFF + 3). */
  PROTOCOL_MASK = 0xff,
  /** MF and the fragment offset (RFC 791 §3.1) in the top half of the word at FLG_OFF. */
  MF_OFFSET_IN_WORD = 0x3fff0000,
  /** Ethernet header plus the minimum IPv4 header. */
  FRAME_MIN = 34,
}
export const enum L4Hot {
  PORTS = 0,
  UDP_LENGTH = 4,
  TCP = 6,
  UDP_MIN = 8,
  TCP_DATA_OFF = 12,
  UDP = 17,
  TCP_MIN = 20,
}
export const enum Hot {
  OK = 0,
  /** Version over IHL, data offset over reserved bits: the high nibble. */
  NIBBLE_SHIFT = 4,
  IHL_MASK = 0x0f,
  PORT_SHIFT = 16,
  U16_MASK = 0xffff,
  /** The 32-bit word at EthHot.TYPE is ether type, IPv4 version/IHL byte, TOS: where version and IHL sit in it. */
  TYPE_WORD_VERSION_SHIFT = 12,
  TYPE_WORD_IHL_SHIFT = 8,
}
export const enum TcpHot {
  /** The TCP data offset is the high nibble of the 16-bit word at L4Hot.TCP_DATA_OFF. */
  DATA_OFF_IN_WORD_SHIFT = 12,
}
/** IHL and TCP data offset count 32-bit words. */
const enum Word {
  BYTES = 4,
}

/**
 * Reads the flow key of the frame (linkType "ethernet") or IP packet ("raw") at view[at..at+len) into `out`.
 * Returns FiveTupleStatus.OK, or the code of the first check that failed (in the order the views check). Never
 * throws and never reads outside view[at..at+len). On a failure other than NON_FIRST_FRAGMENT, `out` holds
 * whatever was read before the failure. Other upper-layer protocols (GRE, ESP, SCTP, No Next Header, ...) are OK
 * with ports 0: a 3-tuple, as nf_conntrack_proto_generic.c tracks them.
 */
export function readFiveTuple(view: DataView, at: number, len: number, linkType: LinkType, out: FiveTuple): number {
  // Success path for the common case (untagged Ethernet, IPv4, not a fragment, TCP or UDP) in as few loads and
  // branches as possible, so that TurboFan inlines it into the caller's loop: one 32-bit read gives the ether type
  // and the IP version and IHL, one the fragment bits and the protocol. Anything else, and every failure, goes to
  // `readAny`, which decides from scratch (the views' `check()` have the same shape). `x >>> 0 === x` is "a
  // non-negative integer below 2^32" in one comparison.
  const bound = boundView;
  if (view !== bound.view) {
    bound.view = view;
    bound.length = view.byteLength;
  }
  if (
    linkType === "ethernet" &&
    len >= (V4Hot.FRAME_MIN as number) &&
    at >>> 0 === at &&
    len >>> 0 === len &&
    at + len <= bound.length
  ) {
    const ip = at + EthHot.HEADER_LEN;
    const typeWord = view.getUint32(at + EthHot.TYPE);
    const hl = ((typeWord >>> (Hot.TYPE_WORD_IHL_SHIFT as number)) & Hot.IHL_MASK) * Word.BYTES;
    const total = view.getUint16(ip + V4Hot.LENGTH);
    const l4 = ip + hl;
    const flagsProtocol = view.getUint32(ip + V4Hot.FLG_OFF);
    const protocol = flagsProtocol & V4Hot.PROTOCOL_MASK;
    // `total >= hl` is implied: transportHeaderFits needs at least 8 bytes past the IP header.
    if (
      typeWord >>> (Hot.TYPE_WORD_VERSION_SHIFT as number) === (EthHot.IPV4_AND_VERSION as number) &&
      hl >= (V4Hot.MIN as number) &&
      total <= len - EthHot.HEADER_LEN &&
      (flagsProtocol & V4Hot.MF_OFFSET_IN_WORD) === 0 &&
      transportHeaderFits(view, l4, total - hl, protocol)
    ) {
      const ports = view.getUint32(l4 + L4Hot.PORTS);
      out.family = V4Hot.VERSION;
      out.src = view.getUint32(ip + V4Hot.SRC);
      out.dst = view.getUint32(ip + V4Hot.DST);
      out.protocol = protocol;
      out.sport = ports >>> (Hot.PORT_SHIFT as number);
      out.dport = ports & Hot.U16_MASK;
      out.l3Offset = ip;
      out.l4Offset = l4;
      out.end = ip + total;
      out.isFragment = false;
      return Hot.OK;
    }
  }
  return readAny(view, at, len, linkType, out);
}

/**
 * TCP: data offset within [20, l4Len]; UDP: length field within [8, l4Len]; anything else: false. Written with
 * selects rather than a branch per protocol: the TCP/UDP mix of real traffic makes that branch unpredictable.
 */
function transportHeaderFits(view: DataView, l4: number, l4Len: number, protocol: number): boolean {
  const tcp = protocol === (L4Hot.TCP as number);
  const min: number = tcp ? L4Hot.TCP_MIN : L4Hot.UDP_MIN;
  if ((tcp || protocol === (L4Hot.UDP as number)) && l4Len >= min) {
    const field = view.getUint16(l4 + (tcp ? L4Hot.TCP_DATA_OFF : L4Hot.UDP_LENGTH));
    const headerOrLength = tcp ? (field >>> (TcpHot.DATA_OFF_IN_WORD_SHIFT as number)) * Word.BYTES : field;
    return headerOrLength >= min && headerOrLength <= l4Len;
  }
  return false;
}

// `view.byteLength` is a builtin call in Node 20's TurboFan (~3 ns per packet, measured): read it once per
// DataView (the slow path reads it afresh). Only a resizable buffer shrunk or a buffer detached between two
// calls with the same DataView could make a read throw: both are caller errors, not packet contents.
const boundView: { view: DataView | null; length: number } = { view: null, length: 0 };

/** The whole decision, for every link type, family and protocol, with the exact failure. */
function readAny(view: DataView, at: number, len: number, linkType: LinkType, out: FiveTuple): number {
  if ((at | 0) !== at || (len | 0) !== len || at < 0 || len < 0 || at + len > view.byteLength) return S.BAD_SPAN;
  const end = at + len;
  let ip = at;
  let v6 = false;
  if (linkType === "ethernet") {
    if (len < ETH_LEN) return S.TRUNCATED_ETHERNET;
    let type = view.getUint16(at + ETH_TYPE);
    ip = at + ETH_LEN;
    if (type === TYPE_VLAN) {
      if (len < ETH_TAGGED_LEN) return S.TRUNCATED_ETHERNET;
      type = view.getUint16(at + ETH_VLAN_TYPE);
      ip = at + ETH_TAGGED_LEN;
    }
    if (type === TYPE_IPV6) v6 = true;
    else if (type !== TYPE_IPV4) return S.UNSUPPORTED_ETHERTYPE;
  } else if (len > 0 && view.getUint8(at) >>> VERSION_SHIFT === V6_VERSION) {
    v6 = true;
  }
  return v6 ? readIpv6(view, ip, end - ip, out) : readIpv4(view, ip, end - ip, out);
}

/** IPv4 (RFC 791 §3.1) as Ipv4View.check validates it, then the transport header. */
function readIpv4(view: DataView, ip: number, len: number, out: FiveTuple): number {
  if (len < V4_MIN) return S.TRUNCATED_IPV4;
  const verIhl = view.getUint8(ip + V4_VER_IHL);
  if (verIhl >>> VERSION_SHIFT !== V4_VERSION) return S.BAD_IPV4_VERSION;
  const hl = (verIhl & IHL_MASK) * WORD;
  if (hl < V4_MIN || hl > len) return S.BAD_IPV4_IHL;
  const total = view.getUint16(ip + V4_LENGTH);
  if (total < hl || total > len) return S.BAD_IPV4_TOTAL_LENGTH;
  const frag = view.getUint16(ip + V4_FLG_OFF) & V4_MF_OFFSET;
  const protocol = view.getUint8(ip + V4_PROTOCOL);
  const l4 = ip + hl;
  out.family = V4_VERSION;
  out.src = view.getUint32(ip + V4_SRC);
  out.dst = view.getUint32(ip + V4_DST);
  out.protocol = protocol;
  out.l3Offset = ip;
  out.l4Offset = l4;
  out.end = ip + total;
  out.isFragment = frag !== 0;
  if ((frag & V4_OFFSET) !== 0) {
    out.sport = 0;
    out.dport = 0;
    return S.NON_FIRST_FRAGMENT;
  }
  return readTransport(view, l4, total - hl, protocol, P_ICMP, ECHO_REQUEST_V4, ECHO_REPLY_V4, out);
}

/** IPv6 (RFC 8200) as Ipv6View.check and `upperLayer` validate it, walking the chain as ipv6_skip_exthdr does. */
function readIpv6(view: DataView, ip: number, len: number, out: FiveTuple): number {
  if (len < V6_LEN) return S.TRUNCATED_IPV6;
  if (view.getUint8(ip) >>> VERSION_SHIFT !== V6_VERSION) return S.BAD_IPV6_VERSION;
  const plen = view.getUint16(ip + V6_PAYLOAD_LEN);
  let nh = view.getUint8(ip + V6_NEXT_HEADER);
  // RFC 2675 jumbograms (payload length 0 behind Hop-by-Hop) are not supported, as in ipv6.ts.
  if (V6_LEN + plen > len || (plen === 0 && nh === NH_HOP_BY_HOP)) return S.BAD_IPV6_PAYLOAD_LENGTH;
  const end = ip + V6_LEN + plen;
  out.family = V6_VERSION;
  out.src = 0;
  out.dst = 0;
  const src6 = out.src6;
  const dst6 = out.dst6;
  for (let w = 0; w < V6_WORDS; w++) {
    src6[w] = view.getUint32(ip + V6_SRC + w * WORD);
    dst6[w] = view.getUint32(ip + V6_DST + w * WORD);
  }
  out.l3Offset = ip;
  out.end = end;
  out.isFragment = false;
  let p = ip + V6_LEN;
  // Each extension header is at least 8 bytes and must end within the payload, so the walk ends.
  while (true) {
    if (nh === NH_FRAGMENT) {
      if (p + V6_FRAG_LEN > end) return S.BAD_IPV6_EXTENSION;
      out.isFragment = true;
      const offset = view.getUint16(p + V6_FRAG_OFFSET_FLAGS) >>> V6_FRAG_OFFSET_SHIFT;
      nh = view.getUint8(p + V6_FRAG_NEXT);
      p += V6_FRAG_LEN;
      if (offset !== 0) {
        out.protocol = nh;
        out.l4Offset = p;
        out.sport = 0;
        out.dport = 0;
        return S.NON_FIRST_FRAGMENT;
      }
    } else if (nh === NH_HOP_BY_HOP || nh === NH_ROUTING || nh === NH_DESTINATION || nh === NH_AH) {
      if (p + V6_EXT_MIN > end) return S.BAD_IPV6_EXTENSION;
      const lenField = view.getUint8(p + V6_EXT_LENGTH);
      const hlen = nh === NH_AH ? (lenField + AH_EXTRA_UNITS) * AH_UNIT : (lenField + 1) * EXT_UNIT;
      if (p + hlen > end) return S.BAD_IPV6_EXTENSION;
      nh = view.getUint8(p + V6_EXT_NEXT);
      p += hlen;
    } else break;
  }
  out.protocol = nh;
  out.l4Offset = p;
  return readTransport(view, p, end - p, nh, P_ICMPV6, ECHO_REQUEST_V6, ECHO_REPLY_V6, out);
}

/**
 * Ports of the transport header at view[l4..l4+l4Len), checked as TcpView/UdpView/Icmp*View.check do. `icmp`
 * and the echo types are the family's (ICMPv4 over IPv4, ICMPv6 over IPv6).
 */
function readTransport(
  view: DataView,
  l4: number,
  l4Len: number,
  protocol: number,
  icmp: number,
  echoRequest: number,
  echoReply: number,
  out: FiveTuple,
): number {
  if (protocol === P_TCP) {
    if (l4Len < TCP_MIN) return S.TRUNCATED_TCP;
    const thl = (view.getUint8(l4 + TCP_DATA_OFF) >>> DATA_OFF_SHIFT) * WORD;
    if (thl < TCP_MIN || thl > l4Len) return S.BAD_TCP_DATA_OFFSET;
  } else if (protocol === P_UDP) {
    if (l4Len < UDP_MIN) return S.TRUNCATED_UDP;
    const ulen = view.getUint16(l4 + UDP_LENGTH);
    if (ulen < UDP_MIN || ulen > l4Len) return S.BAD_UDP_LENGTH;
  } else if (protocol === icmp) {
    if (l4Len < (icmp === P_ICMP ? ICMP_MIN : ICMPV6_MIN)) return S.TRUNCATED_ICMP;
    const typeCode = view.getUint16(l4 + ICMP_TYPE_CODE);
    const type = typeCode >>> TYPE_SHIFT;
    out.sport = type === echoRequest || type === echoReply ? view.getUint16(l4 + ICMP_ID) : 0;
    out.dport = typeCode;
    return S.OK;
  } else {
    out.sport = 0;
    out.dport = 0;
    return S.OK;
  }
  // TCP and UDP both begin with the source port, then the destination port.
  const ports = view.getUint32(l4 + TCP_PORTS);
  out.sport = ports >>> PORT_SHIFT;
  out.dport = ports & U16_MASK;
  return S.OK;
}
