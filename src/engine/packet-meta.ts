// The per-packet facts every stage of the datapath reads: filled once from the bytes by the datapath's parser,
// then read (and, by NAT, updated) by routing, conntrack, NAT and the rule evaluator. One instance is reused for
// every packet (STYLE.md §5): it holds only integers and preallocated typed arrays, never per-packet objects.

/** Address family as nftables names it: `ip` (4) or `ip6` (6). */
export type Family = 4 | 6;

/** L4 protocol numbers the engine gives meaning to (IANA); any other value is carried as is. */
export const Proto = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  GRE: 47,
  ESP: 50,
  ICMPV6: 58,
  SCTP: 132,
} as const;

/** TCP header flag bits as they sit in byte 13 of the header (RFC 9293 §3.1). */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** Conntrack state bits as nftables' `ct state` sees them (a packet has exactly one). */
export const CtState = {
  INVALID: 1,
  ESTABLISHED: 2,
  RELATED: 4,
  NEW: 8,
  UNTRACKED: 64,
} as const;

/** Conntrack status bits (`ct status`), the subset of IPS_* the engine maintains (nf_conntrack_common.h). */
export const CtStatus = {
  EXPECTED: 1 << 0,
  SEEN_REPLY: 1 << 1,
  ASSURED: 1 << 2,
  CONFIRMED: 1 << 3,
  SRC_NAT: 1 << 4,
  DST_NAT: 1 << 5,
  SRC_NAT_DONE: 1 << 7,
  DST_NAT_DONE: 1 << 8,
  DYING: 1 << 9,
  /** IPS_SEQ_ADJUST: a helper resized a TCP payload; later segments are shifted (conntrack/seqadj.ts). */
  SEQ_ADJUST: 1 << 11,
} as const;

/** Which tuple of its conntrack entry a packet matched. */
export const CtDir = { ORIGINAL: 0, REPLY: 1 } as const;

/** No interface / no entry. */
export const NONE = -1;

export class PacketMeta {
  /** The packet's bytes; `l3` is where its IP header starts (the datapath works on L3 packets). */
  bytes: Uint8Array = new Uint8Array(0);
  l3 = 0;
  /** Offset of the transport header (after IPv6 extension headers), or NONE for a non-first fragment. */
  l4 = NONE;
  /** Total L3 length (IP header + payload) as carried by the packet. */
  length = 0;

  family: Family = 4;
  /** Source and destination addresses: IPv4 in word 0 (other words 0); IPv6 as four big-endian 32-bit words. */
  readonly saddr = new Uint32Array(4);
  readonly daddr = new Uint32Array(4);
  /** Upper-layer protocol (IPv4 protocol, or IPv6's final next-header). */
  proto = 0;
  ttl = 0;
  /** True for any fragment; `fragOffset` > 0 means the transport header is not in this packet. */
  isFragment = false;
  fragOffset = 0;

  /** TCP/UDP/SCTP ports; for ICMP/ICMPv6 echo the identifier is in `sport` and `dport` is 0. */
  sport = 0;
  dport = 0;
  /** ICMP/ICMPv6 type and code, NONE when not ICMP. */
  icmpType = NONE;
  icmpCode = NONE;
  /** For ICMP errors: offset of the embedded (offending) IP header, else NONE. */
  icmpInner = NONE;

  /** TCP fields: flags byte (TcpFlag bits), sequence/acknowledgement numbers, raw window, payload length. */
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  window = 0;
  /** Window-scale option value on SYN segments, NONE when absent. */
  wscale = NONE;
  /** Transport payload length in bytes (TCP data, UDP payload). */
  payloadLength = 0;

  /** Input and output interface indices of the node (NONE until known). */
  iif = NONE;
  oif = NONE;
  /** Packet mark (`meta mark`). */
  mark = 0;

  /** Conntrack verdict for this packet: one CtState bit, the entry index and the direction it matched. */
  ctState = 0;
  ctEntry = NONE;
  ctDir: number = CtDir.ORIGINAL;
  /** Set by the `notrack` statement in a raw-priority chain. */
  notrack = false;

  /** Resets everything but the preallocated arrays, for reuse with the next packet. */
  reset(): void {
    this.bytes = EMPTY;
    this.l3 = 0;
    this.l4 = NONE;
    this.length = 0;
    this.family = 4;
    clearAddress(this.saddr);
    clearAddress(this.daddr);
    this.proto = 0;
    this.ttl = 0;
    this.isFragment = false;
    this.fragOffset = 0;
    this.sport = 0;
    this.dport = 0;
    this.icmpType = NONE;
    this.icmpCode = NONE;
    this.icmpInner = NONE;
    this.tcpFlags = 0;
    this.seq = 0;
    this.ack = 0;
    this.window = 0;
    this.wscale = NONE;
    this.payloadLength = 0;
    this.iif = NONE;
    this.oif = NONE;
    this.mark = 0;
    this.ctState = 0;
    this.ctEntry = NONE;
    this.ctDir = CtDir.ORIGINAL;
    this.notrack = false;
  }
}

const EMPTY = new Uint8Array(0);

/** Zeroes a four-word address with plain stores (TypedArray.fill is a builtin call, too dear once per packet). */
export function clearAddress(a: Uint32Array): void {
  a[0] = 0;
  a[1] = 0;
  a[2] = 0;
  a[3] = 0;
}
