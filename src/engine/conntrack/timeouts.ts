// Per-state timeouts, in seconds as the sysctls name them (SEMANTICS.md §2.3–§2.4). Two built-in profiles: the
// kernel defaults (nf_conntrack_proto_{tcp,udp,icmp,generic}.c) and OpenWrt's overrides
// (package/kernel/linux/files/sysctl-nf-conntrack.conf).

/** TCP tracker states, numbered as enum tcp_conntrack (include/uapi/linux/netfilter/nf_conntrack_tcp.h). */
export const TcpState = {
  NONE: 0,
  SYN_SENT: 1,
  SYN_RECV: 2,
  ESTABLISHED: 3,
  FIN_WAIT: 4,
  CLOSE_WAIT: 5,
  LAST_ACK: 6,
  TIME_WAIT: 7,
  CLOSE: 8,
  SYN_SENT2: 9,
  /** sIV in the transition table: the packet is invalid. */
  INVALID: 10,
  /** sIG in the transition table: let the packet through without a state change. */
  IGNORE: 11,
} as const;

export const TCP_STATE_NAMES = [
  "NONE",
  "SYN_SENT",
  "SYN_RECV",
  "ESTABLISHED",
  "FIN_WAIT",
  "CLOSE_WAIT",
  "LAST_ACK",
  "TIME_WAIT",
  "CLOSE",
  "SYN_SENT2",
] as const;

/** Timeouts in seconds (`net.netfilter.nf_conntrack_*_timeout*`). */
export interface TimeoutTable {
  tcpSynSent: number;
  tcpSynRecv: number;
  tcpEstablished: number;
  tcpFinWait: number;
  tcpCloseWait: number;
  tcpLastAck: number;
  tcpTimeWait: number;
  tcpClose: number;
  tcpSynSent2: number;
  /** tcp_timeout_max_retrans: after `tcpMaxRetrans` retransmissions without an acceptable ACK. */
  tcpMaxRetrans: number;
  /** tcp_timeout_unacknowledged: data outstanding, loose pickups, out-of-window FIN/RST on ASSURED entries. */
  tcpUnacknowledged: number;
  udp: number;
  udpStream: number;
  icmp: number;
  icmpv6: number;
  generic: number;
}

export const LINUX_TIMEOUTS: Readonly<TimeoutTable> = {
  tcpSynSent: 120,
  tcpSynRecv: 60,
  tcpEstablished: 432000,
  tcpFinWait: 120,
  tcpCloseWait: 60,
  tcpLastAck: 30,
  tcpTimeWait: 120,
  tcpClose: 10,
  tcpSynSent2: 120,
  tcpMaxRetrans: 300,
  tcpUnacknowledged: 300,
  udp: 30,
  udpStream: 120,
  icmp: 30,
  icmpv6: 30,
  generic: 600,
};

export const OPENWRT_TIMEOUTS: Readonly<TimeoutTable> = {
  ...LINUX_TIMEOUTS,
  tcpEstablished: 7440,
  udp: 60,
  udpStream: 180,
};

export type TimeoutProfile = "linux" | "openwrt" | TimeoutTable;

export function resolveTimeouts(p: TimeoutProfile): Readonly<TimeoutTable> {
  if (p === "linux") return LINUX_TIMEOUTS;
  if (p === "openwrt") return OPENWRT_TIMEOUTS;
  return p;
}

const MS = 1000;

/** TCP timeouts in ms indexed by TcpState, plus the two special timers (nf_conntrack_proto_tcp.c tcp_timeouts[]). */
export class TcpTimeouts {
  readonly byState = new Float64Array(TcpState.SYN_SENT2 + 1);
  readonly retrans: number;
  readonly unack: number;

  constructor(t: Readonly<TimeoutTable>) {
    // timeouts[0] is unused by the kernel; it mirrors SYN_SENT (nf_conntrack_tcp_init_net).
    this.byState[TcpState.NONE] = t.tcpSynSent * MS;
    this.byState[TcpState.SYN_SENT] = t.tcpSynSent * MS;
    this.byState[TcpState.SYN_RECV] = t.tcpSynRecv * MS;
    this.byState[TcpState.ESTABLISHED] = t.tcpEstablished * MS;
    this.byState[TcpState.FIN_WAIT] = t.tcpFinWait * MS;
    this.byState[TcpState.CLOSE_WAIT] = t.tcpCloseWait * MS;
    this.byState[TcpState.LAST_ACK] = t.tcpLastAck * MS;
    this.byState[TcpState.TIME_WAIT] = t.tcpTimeWait * MS;
    this.byState[TcpState.CLOSE] = t.tcpClose * MS;
    this.byState[TcpState.SYN_SENT2] = t.tcpSynSent2 * MS;
    this.retrans = t.tcpMaxRetrans * MS;
    this.unack = t.tcpUnacknowledged * MS;
  }
}
