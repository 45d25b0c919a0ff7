// A Linux-like endpoint stack for one simulated node, sitting on top of the node's own Datapath: everything it
// receives has passed PREROUTING and INPUT, everything it sends goes through OUTPUT and POSTROUTING, so host
// firewalls apply exactly as on a real host. It answers the way net/ipv4/tcp_ipv4.c, tcp_input.c, udp.c and icmp.c
// do for the cases an attack can observe:
//   - TCP listeners (services) complete handshakes; SYN → SYN/ACK, ACK → ESTABLISHED, data → the service handler;
//   - a segment for no connection gets tcp_v4_send_reset's answer (RFC 9293 §3.10.7.1): RST seq=SEG.ACK when it
//     carried ACK, else RST/ACK with seq 0 and ack = SEG.SEQ+SEG.LEN(+SYN+FIN); a RST is never answered;
//   - active opens with SYN retransmission, simultaneous open (a SYN in SYN_SENT → SYN_RECEIVED + SYN/ACK, as
//     tcp_rcv_synsent_state_process), the FIN handshake and TIME_WAIT;
//   - UDP sockets (echo by default), ICMP port unreachable for closed UDP ports, echo replies;
//   - an ICMP destination unreachable quoting an opening connection's SYN aborts it (tcp_v4_err).
// Not modelled: data retransmission and congestion control (links are lossless; a segment a firewall drops after
// the handshake is simply lost), SYN/ACK retransmission, TCP options beyond MSS (no timestamps, SACK or window
// scaling, so windows are raw), delayed ACKs (an answer the application writes at once carries the ACK), ICMP rate
// limiting (icmp_ratelimit), and ICMP soft errors on established connections.

import type { Family, PacketMeta, Rng } from "../engine/index.js";
import { NONE, Proto, TcpFlag, buildIcmpError, buildTcpReset } from "../engine/index.js";
import type { Fib } from "../engine/route/index.js";
import { routeRejection } from "../engine/route/index.js";
import { Icmpv4Type, Icmpv4UnreachableCode } from "../wire/icmpv4.js";
import { Icmpv6UnreachableCode, Icmpv6Type } from "../wire/icmpv6.js";
import { readU16, readU32 } from "../wire/bytes.js";
import { Ipv4Field } from "../wire/ipv4.js";
import { IPV6_HEADER_LEN, Ipv6Field } from "../wire/ipv6.js";
import { TcpField } from "../wire/tcp.js";
import { UDP_HEADER_LEN } from "../wire/udp.js";
import { buildEchoReply, buildTcpSegment, buildUdpDatagram } from "./endpoint-packets.js";

/** RFC 9293 §3.3.2 connection states (LISTEN lives in the listener table, not in a connection). */
export const TcpState = {
  CLOSED: 0,
  SYN_SENT: 1,
  SYN_RECEIVED: 2,
  ESTABLISHED: 3,
  FIN_WAIT_1: 4,
  FIN_WAIT_2: 5,
  CLOSE_WAIT: 6,
  CLOSING: 7,
  LAST_ACK: 8,
  TIME_WAIT: 9,
} as const;
export type TcpState = (typeof TcpState)[keyof typeof TcpState];

export const TCP_STATE_NAMES: readonly string[] = [
  "CLOSED",
  "SYN_SENT",
  "SYN_RECEIVED",
  "ESTABLISHED",
  "FIN_WAIT_1",
  "FIN_WAIT_2",
  "CLOSE_WAIT",
  "CLOSING",
  "LAST_ACK",
  "TIME_WAIT",
];

/** Linux's defaults: MSS for a 1500-byte Ethernet MTU, and the initial receive window it advertises (10 × MSS, rounded). */
export const TCP_MSS = 1460;
export const TCP_WINDOW = 64240;
/** TCP_TIMEOUT_INIT (RFC 6298 §2.1): 1 s, doubled per retransmission. */
export const SYN_RTO_MS = 1000;
export const DEFAULT_SYN_RETRIES = 3;
/** TCP_TIMEWAIT_LEN: 60 s. */
export const TIME_WAIT_MS = 60_000;
/** net.ipv4.ip_local_port_range defaults. */
export const EPHEMERAL_MIN = 32768;
export const EPHEMERAL_MAX = 60999;
/** How many random ports connect() tries before it gives up (EADDRNOTAVAIL). */
const EPHEMERAL_TRIES = 64;

export const SSH_BANNER = "SSH-2.0-OpenSSH_7.4\r\n";
export const HTTP_RESPONSE =
  "HTTP/1.1 200 OK\r\nServer: mallory-sim\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";

const encoder = new TextEncoder();
const SSH_BANNER_BYTES = encoder.encode(SSH_BANNER);
const HTTP_RESPONSE_BYTES = encoder.encode(HTTP_RESPONSE);

/** What the stack needs from its node: the clock, chance, the FIB (source selection) and the OUTPUT path. */
export interface StackEnv {
  now(): number;
  after(delayMs: number, fn: () => void): void;
  readonly rng: Rng;
  readonly fib: Fib;
  /** Hands a packet the stack built to the node's local output path (OUTPUT, POSTROUTING, a link). */
  output(bytes: Uint8Array): void;
}

export interface TcpHandler {
  /** The three-way handshake completed (accept() for services, connect() for clients). */
  onEstablished?(conn: TcpConnection): void;
  onData?(conn: TcpConnection, data: Uint8Array): void;
  /** The peer reset the connection (a RST accepted in SYN_SENT or in window). */
  onReset?(conn: TcpConnection): void;
  /** SYN retransmissions ran out without an answer. */
  onTimeout?(conn: TcpConnection): void;
  /** The connection is gone after an orderly close (or entered TIME_WAIT). */
  onClose?(conn: TcpConnection): void;
  /** An ICMP destination-unreachable aborted the connection attempt (tcp_v4_err in SYN_SENT: ECONNREFUSED etc.). */
  onUnreachable?(conn: TcpConnection, icmpType: number, icmpCode: number): void;
}

/** Chooses a connection's initial sequence number; the default draws it from the node's rng. */
export type IsnChooser = number | ((conn: TcpConnection) => number);

export interface UdpDatagram {
  readonly family: Family;
  readonly src: Uint32Array;
  readonly sport: number;
  readonly dst: Uint32Array;
  readonly dport: number;
  readonly payload: Uint8Array;
}

/** A UDP socket's receive callback; a returned payload is sent back from the socket to the datagram's source. */
export type UdpHandler = (d: UdpDatagram) => Uint8Array | null;

export type ServiceSpec =
  | { readonly protocol: "tcp"; readonly port: number; readonly name?: string; readonly handler?: TcpHandler }
  | { readonly protocol: "udp"; readonly port: number; readonly name?: string; readonly handler?: UdpHandler };

export interface ConnectOptions extends TcpHandler {
  /** Source port; default: a random free port of the ephemeral range. */
  readonly sport?: number;
  /** Initial sequence number; default from the stack's chooser or rng. */
  readonly isn?: number;
  /** Override the SYN retry count (default 3, retransmitted after 1 s, 2 s, 4 s). */
  readonly synRetries?: number;
}

export type ConnectResult =
  | { readonly ok: true; readonly value: TcpConnection }
  | { readonly ok: false; readonly error: "no-route" | "no-source-address" | "port-in-use" | "no-free-port" };

/** The built-in service behaviours, chosen by name as SCENARIOS.md names its services. */
export function serviceHandler(name: string | undefined): TcpHandler {
  switch (name) {
    case "ssh":
      // OpenSSH sends its identification string as soon as the connection is accepted (RFC 4253 §4.2).
      return { onEstablished: (c) => c.send(SSH_BANNER_BYTES) };
    case "http":
    case "https":
    case "web-admin":
      return { onData: (c) => c.send(HTTP_RESPONSE_BYTES) };
    default:
      return { onData: (c, data) => c.send(data.slice()) };
  }
}

/** SNMPv2c GetResponse for sysDescr.0 = "Linux s 3.10.0" with community "public" (RFC 3416 PDU, BER). */
export const SNMP_RESPONSE: Uint8Array = (() => {
  const tlv = (tag: number, content: number[]): number[] => [tag, content.length, ...content];
  const text = (s: string): number[] => [...encoder.encode(s)];
  const sysDescr0 = [0x2b, 6, 1, 2, 1, 1, 1, 0];
  const varbind = tlv(0x30, [...tlv(0x06, sysDescr0), ...tlv(0x04, text("Linux s 3.10.0"))]);
  const pdu = tlv(0xa2, [...tlv(0x02, [1]), ...tlv(0x02, [0]), ...tlv(0x02, [0]), ...tlv(0x30, varbind)]);
  return Uint8Array.from(tlv(0x30, [...tlv(0x02, [1]), ...tlv(0x04, text("public")), ...pdu]));
})();

export function udpServiceHandler(name: string | undefined): UdpHandler {
  if (name === "snmp") return () => SNMP_RESPONSE;
  return (d) => d.payload.slice();
}

/** One TCP connection (a TCB, RFC 9293 §3.3.1). Sequence numbers are unsigned 32-bit, compared mod 2^32. */
export class TcpConnection {
  state: TcpState = TcpState.CLOSED;
  iss = 0;
  irs = 0;
  sndUna = 0;
  sndNxt = 0;
  rcvNxt = 0;
  /** Bytes of application data received and sent. */
  bytesIn = 0;
  bytesOut = 0;
  /** The connection's ip_select_ident counter. */
  ident = 0;
  synRetries = DEFAULT_SYN_RETRIES;
  /** Set by the stack while it processes a segment: whether anything carrying ACK went out meanwhile. */
  sentDuringInput = false;

  constructor(
    readonly stack: HostStack,
    readonly family: Family,
    readonly local: Uint32Array,
    readonly lport: number,
    readonly remote: Uint32Array,
    readonly rport: number,
    readonly passive: boolean,
    public handler: TcpHandler,
  ) {}

  /** False once the connection is gone (a handler may close or abort it mid-segment). */
  get open(): boolean {
    return this.state !== TcpState.CLOSED;
  }

  get stateName(): string {
    return TCP_STATE_NAMES[this.state];
  }

  /** Queues application data (sent at once: no congestion or flow control is modelled). */
  send(data: Uint8Array): boolean {
    if (this.state !== TcpState.ESTABLISHED && this.state !== TcpState.CLOSE_WAIT) return false;
    if (data.length === 0) return true;
    this.stack.transmit(this, TcpFlag.PSH | TcpFlag.ACK, data);
    this.bytesOut += data.length;
    return true;
  }

  /** close(): FIN after the data sent so far. */
  close(): void {
    switch (this.state) {
      case TcpState.ESTABLISHED:
        this.stack.transmit(this, TcpFlag.FIN | TcpFlag.ACK, null);
        this.state = TcpState.FIN_WAIT_1;
        return;
      case TcpState.CLOSE_WAIT:
        this.stack.transmit(this, TcpFlag.FIN | TcpFlag.ACK, null);
        this.state = TcpState.LAST_ACK;
        return;
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECEIVED:
        this.stack.forget(this, TcpState.CLOSED);
        return;
      default:
        return;
    }
  }

  /** abort() / SO_LINGER 0: a RST now (tcp_send_active_reset), and the connection is gone. */
  abort(): void {
    if (this.state === TcpState.CLOSED || this.state === TcpState.TIME_WAIT) return;
    if (this.state !== TcpState.SYN_SENT) this.stack.transmit(this, TcpFlag.RST | TcpFlag.ACK, null);
    this.stack.forget(this, TcpState.CLOSED);
  }
}

const IHL_MASK = 0x0f;
const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;

export class HostStack {
  /** Observes every packet delivered to this node (after INPUT), before the stack handles it: a copy. */
  sniff: ((packet: Uint8Array, now: number) => void) | null = null;

  private readonly tcpListeners = new Map<number, TcpHandler>();
  private readonly udpSockets = new Map<number, UdpHandler>();
  /** Connections by a 32-bit hash of their 4-tuple; collisions share a bucket and are compared exactly. */
  private readonly connections = new Map<number, TcpConnection[]>();
  private connectionCount = 0;
  private readonly isnChooser: IsnChooser | null;
  private readonly scratchLocal = new Uint32Array(4);
  private readonly scratchRemote = new Uint32Array(4);

  constructor(
    private readonly env: StackEnv,
    services: readonly ServiceSpec[] = [],
    isn: IsnChooser | null = null,
  ) {
    this.isnChooser = isn;
    for (const s of services) {
      if (s.protocol === "tcp") this.listenTcp(s.port, s.handler ?? serviceHandler(s.name));
      else this.bindUdp(s.port, s.handler ?? udpServiceHandler(s.name));
    }
  }

  /** Live connections (any state but CLOSED). */
  get connectionsOpen(): number {
    return this.connectionCount;
  }

  listenTcp(port: number, handler: TcpHandler): void {
    this.tcpListeners.set(port, handler);
  }

  bindUdp(port: number, handler: UdpHandler): void {
    this.udpSockets.set(port, handler);
  }

  unbindUdp(port: number): void {
    this.udpSockets.delete(port);
  }

  /** The connection for a 4-tuple as this node sees it, or null. */
  find(family: Family, local: ArrayLike<number>, lport: number, remote: ArrayLike<number>, rport: number) {
    const bucket = this.connections.get(tupleHash(family, local, lport, remote, rport));
    if (bucket === undefined) return null;
    for (const c of bucket)
      if (
        c.family === family &&
        c.lport === lport &&
        c.rport === rport &&
        sameAddress(c.local, local) &&
        sameAddress(c.remote, remote)
      )
        return c;
    return null;
  }

  /** connect(): an active open from the address the route to `dst` selects. */
  connect(family: Family, dst: Uint32Array, dport: number, options: ConnectOptions = {}): ConnectResult {
    const route = this.env.fib.lookup(family, dst);
    if (route === null || routeRejection(family, route) !== null) return { ok: false, error: "no-route" };
    const local = this.env.fib.isLocalAddress(family, dst)
      ? dst
      : this.env.fib.sourceAddressFor(route.oif, family, route.gateway ?? dst);
    if (local === null) return { ok: false, error: "no-source-address" };
    let sport = options.sport ?? NONE;
    if (sport !== NONE) {
      if (this.find(family, local, sport, dst, dport) !== null) return { ok: false, error: "port-in-use" };
    } else {
      // RFC 6056 §3.3.1-style random ports; a 4-tuple in use is skipped as __inet_hash_connect does.
      for (let i = 0; i < EPHEMERAL_TRIES && sport === NONE; i++) {
        const p = EPHEMERAL_MIN + (this.env.rng.nextU32() % (EPHEMERAL_MAX - EPHEMERAL_MIN + 1));
        if (this.find(family, local, p, dst, dport) === null) sport = p;
      }
      if (sport === NONE) return { ok: false, error: "no-free-port" };
    }
    const c = new TcpConnection(
      this,
      family,
      Uint32Array.from(local),
      sport,
      Uint32Array.from(dst),
      dport,
      false,
      options,
    );
    if (options.synRetries !== undefined) c.synRetries = options.synRetries;
    c.iss = options.isn !== undefined ? options.isn >>> 0 : this.chooseIsn(c);
    c.ident = this.env.rng.nextU32() & 0xffff;
    c.sndUna = c.iss;
    c.sndNxt = c.iss;
    c.state = TcpState.SYN_SENT;
    this.insert(c);
    this.transmit(c, TcpFlag.SYN, null);
    this.armSynTimer(c, 0);
    return { ok: true, value: c };
  }

  /** sendto() on a UDP socket bound to `sport` (bind it first to hear answers). */
  sendUdp(family: Family, dst: Uint32Array, dport: number, sport: number, payload: Uint8Array): boolean {
    const route = this.env.fib.lookup(family, dst);
    if (route === null || routeRejection(family, route) !== null) return false;
    const local = this.env.fib.sourceAddressFor(route.oif, family, route.gateway ?? dst);
    if (local === null) return false;
    this.env.output(buildUdpDatagram(family, local, dst, sport, dport, payload));
    return true;
  }

  /** A raw socket (IP_HDRINCL): the bytes go out as written, through this node's OUTPUT path. */
  rawSend(packet: Uint8Array): void {
    this.env.output(packet.slice());
  }

  /** The datapath delivered a packet to this node; `meta` is valid only during the call. */
  deliver(meta: PacketMeta): void {
    if (this.sniff !== null) this.sniff(meta.bytes.slice(meta.l3, meta.l3 + meta.length), this.env.now());
    if (meta.l4 === NONE) return; // non-first fragments: no reassembly is modelled
    switch (meta.proto) {
      case Proto.TCP:
        this.tcpInput(meta);
        return;
      case Proto.UDP:
        this.udpInput(meta);
        return;
      case Proto.ICMP:
      case Proto.ICMPV6: {
        if (meta.icmpInner !== NONE) {
          this.icmpErrorInput(meta);
          return;
        }
        const reply = buildEchoReply(meta, this.env.rng.nextU32() & 0xffff);
        if (reply !== null) this.env.output(reply);
        return;
      }
      default:
        // icmp_unreach for an unknown protocol (ip_local_deliver_finish → icmp_send PROT_UNREACH), IPv4 only.
        if (meta.family === 4) this.icmpUnreachable(meta, Icmpv4UnreachableCode.PROTOCOL);
        return;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Internals used by TcpConnection.

  /** Sends one segment of `c` from SND.NXT (or ISS for a SYN), advancing SND.NXT by what it occupies. */
  transmit(c: TcpConnection, flags: number, payload: Uint8Array | null): void {
    const syn = (flags & TcpFlag.SYN) !== 0;
    const seq = syn ? c.iss : c.sndNxt;
    const bytes = buildTcpSegment({
      family: c.family,
      src: c.local,
      dst: c.remote,
      sport: c.lport,
      dport: c.rport,
      seq,
      ack: (flags & TcpFlag.ACK) !== 0 ? c.rcvNxt : 0,
      flags,
      window: (flags & TcpFlag.RST) !== 0 ? 0 : TCP_WINDOW,
      mss: syn ? TCP_MSS : 0,
      ident: syn && c.passive ? 0 : c.ident,
      payload,
    });
    // ip_build_and_send_pkt gives a SYN/ACK ident 0; a connected socket counts its own.
    if (!(syn && c.passive)) c.ident = (c.ident + 1) & 0xffff;
    const occupied = (payload?.length ?? 0) + (syn ? 1 : 0) + ((flags & TcpFlag.FIN) !== 0 ? 1 : 0);
    const end = (seq + occupied) >>> 0;
    if (seqLt(c.sndNxt, end)) c.sndNxt = end;
    if ((flags & TcpFlag.ACK) !== 0) c.sentDuringInput = true;
    this.env.output(bytes);
  }

  /** Removes a connection; TIME_WAIT lingers for 2MSL first. */
  forget(c: TcpConnection, final: TcpState): void {
    if (final === TcpState.TIME_WAIT) {
      c.state = TcpState.TIME_WAIT;
      this.env.after(TIME_WAIT_MS, () => {
        if (c.state === TcpState.TIME_WAIT) this.remove(c);
      });
      return;
    }
    this.remove(c);
  }

  // -------------------------------------------------------------------------------------------------------------

  private chooseIsn(c: TcpConnection): number {
    const chooser = this.isnChooser;
    if (chooser === null) return this.env.rng.nextU32();
    return (typeof chooser === "number" ? chooser : chooser(c)) >>> 0;
  }

  private armSynTimer(c: TcpConnection, attempt: number): void {
    this.env.after(SYN_RTO_MS * 2 ** attempt, () => {
      if (c.state !== TcpState.SYN_SENT) return;
      if (attempt >= c.synRetries) {
        this.remove(c);
        c.handler.onTimeout?.(c);
        return;
      }
      this.transmit(c, TcpFlag.SYN, null);
      this.armSynTimer(c, attempt + 1);
    });
  }

  private insert(c: TcpConnection): void {
    const h = tupleHash(c.family, c.local, c.lport, c.remote, c.rport);
    const bucket = this.connections.get(h);
    if (bucket === undefined) this.connections.set(h, [c]);
    else bucket.push(c);
    this.connectionCount++;
  }

  private remove(c: TcpConnection): void {
    const h = tupleHash(c.family, c.local, c.lport, c.remote, c.rport);
    const bucket = this.connections.get(h);
    c.state = TcpState.CLOSED;
    if (bucket === undefined) return;
    const i = bucket.indexOf(c);
    if (i < 0) return;
    this.connectionCount--;
    if (bucket.length === 1) this.connections.delete(h);
    else bucket.splice(i, 1);
  }

  private tcpInput(meta: PacketMeta): void {
    const c = this.find(meta.family, meta.daddr, meta.dport, meta.saddr, meta.sport);
    if (c === null || c.state === TcpState.CLOSED) {
      this.tcpNoConnection(meta);
      return;
    }
    c.sentDuringInput = false;
    if (c.state === TcpState.SYN_SENT) this.synSent(c, meta);
    else this.synchronized(c, meta);
  }

  /** tcp_v4_rcv with no established socket: a listener, or tcp_v4_send_reset. */
  private tcpNoConnection(meta: PacketMeta): void {
    const flags = meta.tcpFlags;
    if ((flags & TcpFlag.RST) !== 0) return;
    const listener = this.tcpListeners.get(meta.dport);
    if (listener === undefined || (flags & TcpFlag.ACK) !== 0) {
      // tcp_rcv_state_process in LISTEN answers an ACK with a reset too.
      const rst = buildTcpReset(meta);
      if (rst !== null) this.env.output(rst);
      return;
    }
    if ((flags & TcpFlag.SYN) === 0 || (flags & TcpFlag.FIN) !== 0) return;
    const c = new TcpConnection(
      this,
      meta.family,
      Uint32Array.from(meta.daddr),
      meta.dport,
      Uint32Array.from(meta.saddr),
      meta.sport,
      true,
      listener,
    );
    c.irs = meta.seq;
    c.rcvNxt = (meta.seq + 1) >>> 0;
    c.iss = this.chooseIsn(c);
    c.sndUna = c.iss;
    c.sndNxt = c.iss;
    c.ident = this.env.rng.nextU32() & 0xffff;
    c.state = TcpState.SYN_RECEIVED;
    this.insert(c);
    this.transmit(c, TcpFlag.SYN | TcpFlag.ACK, null);
  }

  /** RFC 9293 §3.10.7.3 as tcp_rcv_synsent_state_process. */
  private synSent(c: TcpConnection, meta: PacketMeta): void {
    const flags = meta.tcpFlags;
    const hasAck = (flags & TcpFlag.ACK) !== 0;
    if (hasAck && meta.ack !== c.sndNxt) {
      if ((flags & TcpFlag.RST) === 0) {
        const rst = buildTcpReset(meta);
        if (rst !== null) this.env.output(rst);
      }
      return;
    }
    if ((flags & TcpFlag.RST) !== 0) {
      if (!hasAck) return;
      this.remove(c);
      c.handler.onReset?.(c);
      return;
    }
    if ((flags & TcpFlag.SYN) === 0) return;
    c.irs = meta.seq;
    c.rcvNxt = (meta.seq + 1) >>> 0;
    if (hasAck) {
      c.sndUna = meta.ack;
      c.state = TcpState.ESTABLISHED;
      this.transmit(c, TcpFlag.ACK, null);
      c.handler.onEstablished?.(c);
      return;
    }
    // Simultaneous open (RFC 9293 §3.5, Figure 8): SYN_RECEIVED, and our SYN again with an ACK of theirs.
    c.state = TcpState.SYN_RECEIVED;
    this.transmit(c, TcpFlag.SYN | TcpFlag.ACK, null);
  }

  /** RFC 9293 §3.10.7.4 for SYN_RECEIVED and every synchronized state, in tcp_validate_incoming's order. */
  private synchronized(c: TcpConnection, meta: PacketMeta): void {
    const flags = meta.tcpFlags;
    const seq = meta.seq;
    const len = meta.payloadLength;
    const end = (seq + len + ((flags & TcpFlag.SYN) !== 0 ? 1 : 0) + ((flags & TcpFlag.FIN) !== 0 ? 1 : 0)) >>> 0;

    // tcp_sequence: acceptable when it ends at or after RCV.NXT and starts inside the window.
    if (seqLt(end, c.rcvNxt) || seqLt((c.rcvNxt + TCP_WINDOW) >>> 0, seq)) {
      if ((flags & TcpFlag.RST) === 0) this.transmit(c, TcpFlag.ACK, null);
      return;
    }
    if ((flags & TcpFlag.RST) !== 0) {
      // RFC 5961 §3.2: only an exact RST resets; any other in-window RST draws a challenge ACK.
      if (seq !== c.rcvNxt) {
        this.transmit(c, TcpFlag.ACK, null);
        return;
      }
      const pending = c.passive && c.state === TcpState.SYN_RECEIVED;
      this.remove(c);
      // A reset embryonic passive connection just disappears (the request sock is dropped, nobody accepted it).
      if (!pending) c.handler.onReset?.(c);
      return;
    }
    if ((flags & TcpFlag.SYN) !== 0) {
      const simultaneousSynAck =
        c.state === TcpState.SYN_RECEIVED &&
        (flags & TcpFlag.ACK) !== 0 &&
        (seq + 1) >>> 0 === c.rcvNxt &&
        meta.ack === c.sndNxt;
      if (!simultaneousSynAck) {
        if (c.state === TcpState.SYN_RECEIVED && c.passive && seq === c.irs) {
          // A retransmitted SYN for a pending connection: the SYN/ACK again (tcp_check_req).
          this.transmit(c, TcpFlag.SYN | TcpFlag.ACK, null);
        } else {
          this.transmit(c, TcpFlag.ACK, null); // RFC 5961 §4.2 challenge ACK
        }
        return;
      }
    }
    if ((flags & TcpFlag.ACK) === 0) return;

    // Step 5: the ACK field.
    const ack = meta.ack;
    if (c.state === TcpState.SYN_RECEIVED) {
      if (ack !== c.sndNxt) {
        const rst = buildTcpReset(meta);
        if (rst !== null) this.env.output(rst);
        return;
      }
      c.sndUna = ack;
      c.state = TcpState.ESTABLISHED;
      c.handler.onEstablished?.(c);
      if (!c.open) return;
    } else {
      if (seqLt(c.sndNxt, ack)) return; // tcp_ack: acknowledges unsent data, discarded
      if (seqLt(c.sndUna, ack)) c.sndUna = ack;
    }
    const finAcked = c.sndUna === c.sndNxt;
    if (finAcked) {
      if (c.state === TcpState.FIN_WAIT_1) c.state = TcpState.FIN_WAIT_2;
      else if (c.state === TcpState.CLOSING) {
        this.forget(c, TcpState.TIME_WAIT);
        c.handler.onClose?.(c);
        return;
      } else if (c.state === TcpState.LAST_ACK) {
        this.remove(c);
        c.handler.onClose?.(c);
        return;
      }
    }

    // Step 7: segment text, in order only.
    let needAck = false;
    if ((flags & TcpFlag.SYN) !== 0) needAck = true; // the old SYN of a simultaneous open is re-acknowledged
    if (len > 0) {
      needAck = true;
      const receiving =
        c.state === TcpState.ESTABLISHED || c.state === TcpState.FIN_WAIT_1 || c.state === TcpState.FIN_WAIT_2;
      if (receiving && seq === c.rcvNxt) {
        c.rcvNxt = (c.rcvNxt + len) >>> 0;
        c.bytesIn += len;
        const at = meta.l4 + (meta.bytes[meta.l4 + TcpField.DATA_OFF] >>> 4) * 4;
        c.handler.onData?.(c, meta.bytes.slice(at, at + len));
        if (!c.open) return;
      }
    }

    // Step 8: FIN, once everything before it has arrived.
    const fin = (flags & TcpFlag.FIN) !== 0;
    if (fin && (seq + len) >>> 0 === c.rcvNxt) {
      c.rcvNxt = (c.rcvNxt + 1) >>> 0;
      needAck = true;
      switch (c.state) {
        case TcpState.ESTABLISHED:
          // The application reads end-of-file and closes, as servers and our clients do: FIN/ACK at once.
          c.state = TcpState.CLOSE_WAIT;
          c.close();
          break;
        case TcpState.FIN_WAIT_1:
          c.state = TcpState.CLOSING;
          break;
        case TcpState.FIN_WAIT_2:
          this.transmit(c, TcpFlag.ACK, null);
          this.forget(c, TcpState.TIME_WAIT);
          c.handler.onClose?.(c);
          return;
        default:
          break;
      }
    } else if (fin && (seq + len + 1) >>> 0 === c.rcvNxt) {
      // A retransmitted FIN is acknowledged again (tcp_timewait_state_process, tcp_data_queue's duplicate path).
      needAck = true;
    }
    if (needAck && !c.sentDuringInput) this.transmit(c, TcpFlag.ACK, null);
  }

  /**
   * tcp_v4_err / tcp_v6_err for destination unreachable: a connection still opening whose quoted segment lies in
   * [SND.UNA, SND.NXT] is aborted, whatever the code (errors on established connections are soft, so ignored).
   */
  private icmpErrorInput(meta: PacketMeta): void {
    const unreachable = meta.family === 4 ? Icmpv4Type.DEST_UNREACHABLE : Icmpv6Type.DEST_UNREACHABLE;
    if (meta.icmpType !== unreachable) return;
    const b = meta.bytes;
    const inner = meta.icmpInner;
    const end = meta.l3 + meta.length;
    let protocol: number;
    let l4: number;
    const local = this.scratchLocal;
    const remote = this.scratchRemote;
    local.fill(0);
    remote.fill(0);
    if (meta.family === 4) {
      protocol = b[inner + Ipv4Field.PROTOCOL];
      l4 = inner + (b[inner + Ipv4Field.VER_IHL] & IHL_MASK) * 4;
      local[0] = readU32(b, inner + Ipv4Field.SRC);
      remote[0] = readU32(b, inner + Ipv4Field.DST);
    } else {
      protocol = b[inner + Ipv6Field.NEXT_HEADER];
      l4 = inner + IPV6_HEADER_LEN;
      for (let w = 0; w < 4; w++) {
        local[w] = readU32(b, inner + Ipv6Field.SRC + 4 * w);
        remote[w] = readU32(b, inner + Ipv6Field.DST + 4 * w);
      }
    }
    if (protocol !== Proto.TCP || l4 + TcpField.ACK > end) return;
    const c = this.find(
      meta.family,
      local,
      readU16(b, l4 + TcpField.SRC_PORT),
      remote,
      readU16(b, l4 + TcpField.DST_PORT),
    );
    if (c === null || c.passive || (c.state !== TcpState.SYN_SENT && c.state !== TcpState.SYN_RECEIVED)) return;
    const seq = readU32(b, l4 + TcpField.SEQ);
    if (seqLt(seq, c.sndUna) || seqLt(c.sndNxt, seq)) return;
    this.remove(c);
    c.handler.onUnreachable?.(c, meta.icmpType, meta.icmpCode);
  }

  private udpInput(meta: PacketMeta): void {
    const handler = this.udpSockets.get(meta.dport);
    if (handler === undefined) {
      // __udp4_lib_rcv: no socket → ICMP port unreachable (icmpv6 port unreachable for IPv6).
      this.icmpUnreachable(meta, meta.family === 4 ? Icmpv4UnreachableCode.PORT : Icmpv6UnreachableCode.PORT);
      return;
    }
    const at = meta.l4 + UDP_HEADER_LEN;
    const d: UdpDatagram = {
      family: meta.family,
      src: Uint32Array.from(meta.saddr),
      sport: meta.sport,
      dst: Uint32Array.from(meta.daddr),
      dport: meta.dport,
      payload: meta.bytes.slice(at, at + meta.payloadLength),
    };
    const reply = handler(d);
    if (reply !== null) this.env.output(buildUdpDatagram(d.family, d.dst, d.src, d.dport, d.sport, reply));
  }

  private icmpUnreachable(meta: PacketMeta, code: number): void {
    const type = meta.family === 4 ? Icmpv4Type.DEST_UNREACHABLE : Icmpv6Type.DEST_UNREACHABLE;
    const err = buildIcmpError(meta, meta.daddr, type, code);
    if (err !== null) this.env.output(err);
  }
}

function sameAddress(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/** A 32-bit mix of a 4-tuple (murmur3's finaliser steps); only spreads buckets, equality is checked exactly. */
function tupleHash(
  family: Family,
  local: ArrayLike<number>,
  lport: number,
  remote: ArrayLike<number>,
  rport: number,
): number {
  let h = family === 4 ? 0x9747b28c : 0x1b873593;
  for (let w = 0; w < (family === 4 ? 1 : 4); w++) {
    h = Math.imul(h ^ local[w], 0xcc9e2d51);
    h = Math.imul(h ^ remote[w], 0x85ebca6b);
  }
  h = Math.imul(h ^ ((lport << 16) | rport), 0xc2b2ae35);
  return (h ^ (h >>> 15)) >>> 0;
}
