// nftables' symbolic constants, as `nft describe <type>` lists them, mapped to the numbers the kernel compares.

import { CtState, CtStatus, Proto } from "../packet-meta.js";

export type SymbolTable = ReadonlyMap<string, number>;

const table = (entries: Record<string, number>): SymbolTable => new Map(Object.entries(entries));

export const CT_STATE_SYMBOLS = table({
  invalid: CtState.INVALID,
  established: CtState.ESTABLISHED,
  related: CtState.RELATED,
  new: CtState.NEW,
  untracked: CtState.UNTRACKED,
});

export const CT_STATUS_SYMBOLS = table({
  expected: CtStatus.EXPECTED,
  "seen-reply": CtStatus.SEEN_REPLY,
  assured: CtStatus.ASSURED,
  confirmed: CtStatus.CONFIRMED,
  snat: CtStatus.SRC_NAT,
  dnat: CtStatus.DST_NAT,
  dying: CtStatus.DYING,
});

export const CT_DIRECTION_SYMBOLS = table({ original: 0, reply: 1 });

/** `inet_proto` names (/etc/protocols as nft resolves them). */
export const PROTO_SYMBOLS = table({
  icmp: Proto.ICMP,
  igmp: 2,
  tcp: Proto.TCP,
  udp: Proto.UDP,
  dccp: 33,
  gre: Proto.GRE,
  esp: Proto.ESP,
  ah: 51,
  icmpv6: Proto.ICMPV6,
  "ipv6-icmp": Proto.ICMPV6,
  sctp: Proto.SCTP,
  udplite: 136,
});

/** `nfproto`: NFPROTO_IPV4 and NFPROTO_IPV6 (include/uapi/linux/netfilter.h). */
export const NFPROTO_IPV4 = 2;
export const NFPROTO_IPV6 = 10;
export const NFPROTO_SYMBOLS = table({ ipv4: NFPROTO_IPV4, ipv6: NFPROTO_IPV6 });

export const TCP_FLAG_SYMBOLS = table({ fin: 1, syn: 2, rst: 4, psh: 8, ack: 16, urg: 32, ecn: 64, cwr: 128 });

/** `icmp_type` (RFC 792 and successors). */
export const ICMP_TYPE_SYMBOLS = table({
  "echo-reply": 0,
  "destination-unreachable": 3,
  "source-quench": 4,
  redirect: 5,
  "echo-request": 8,
  "router-advertisement": 9,
  "router-solicitation": 10,
  "time-exceeded": 11,
  "parameter-problem": 12,
  "timestamp-request": 13,
  "timestamp-reply": 14,
  "info-request": 15,
  "info-reply": 16,
  "address-mask-request": 17,
  "address-mask-reply": 18,
});

/** `icmp_code` (RFC 792, RFC 1812 §5.2.7.1). */
export const ICMP_CODE_SYMBOLS = table({
  "net-unreachable": 0,
  "host-unreachable": 1,
  "prot-unreachable": 2,
  "port-unreachable": 3,
  "frag-needed": 4,
  "net-prohibited": 9,
  "host-prohibited": 10,
  "admin-prohibited": 13,
});

/** `icmpv6_type` (RFC 4443, RFC 4861, RFC 2710/3810). */
export const ICMPV6_TYPE_SYMBOLS = table({
  "destination-unreachable": 1,
  "packet-too-big": 2,
  "time-exceeded": 3,
  "parameter-problem": 4,
  "echo-request": 128,
  "echo-reply": 129,
  "mld-listener-query": 130,
  "mld-listener-report": 131,
  "mld-listener-done": 132,
  "mld-listener-reduction": 132,
  "nd-router-solicit": 133,
  "nd-router-advert": 134,
  "nd-neighbor-solicit": 135,
  "nd-neighbor-advert": 136,
  "nd-redirect": 137,
  "router-renumbering": 138,
  "mld2-listener-report": 143,
});

/** `icmpv6_code` (RFC 4443 §3.1). */
export const ICMPV6_CODE_SYMBOLS = table({
  "no-route": 0,
  "admin-prohibited": 1,
  "addr-unreachable": 3,
  "port-unreachable": 4,
  "policy-fail": 5,
  "reject-route": 6,
});

/** `fib_addrtype`: the kernel's RTN_* route types (include/uapi/linux/rtnetlink.h). */
export const FIB_TYPE_SYMBOLS = table({
  unspec: 0,
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
});

/** NFTA_FIB_F_* bits (include/uapi/linux/netfilter/nf_tables.h). */
export const FibFlagBit = { saddr: 1, daddr: 2, mark: 4, iif: 8, oif: 16 } as const;

/** How `icmpx` reject codes translate per family (net/netfilter/nft_reject.c nft_reject_icmp_code/icmpv6_code). */
export const ICMPX_TO_ICMP: Readonly<Record<string, number>> = {
  "no-route": 0,
  "host-unreachable": 1,
  "port-unreachable": 3,
  "admin-prohibited": 13,
};
export const ICMPX_TO_ICMPV6: Readonly<Record<string, number>> = {
  "no-route": 0,
  "admin-prohibited": 1,
  "host-unreachable": 3,
  "port-unreachable": 4,
};

/** ICMP destination-unreachable types: 3 for ICMPv4 (RFC 792), 1 for ICMPv6 (RFC 4443). */
export const ICMP_DEST_UNREACH = 3;
export const ICMPV6_DEST_UNREACH = 1;
