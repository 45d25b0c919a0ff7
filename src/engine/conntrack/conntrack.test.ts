// Conntrack behaviour, packet in → state out: real IPv4 packets built with the wire emitters and parsed by
// fillPacketMeta, run through track/confirm as the datapath would (SEMANTICS.md §2.1–§2.5, SCENARIOS.md).
import { describe, expect, it } from "vitest";
import { CtDir, CtState, CtStatus, NONE, PacketMeta, Proto, TcpFlag } from "../packet-meta.js";
import { fillPacketMeta } from "../packet-parse.js";
import { ipv4Packet } from "../../wire/ipv4.fixture.js";
import * as tcp from "../../wire/tcp.js";
import * as udp from "../../wire/udp.js";
import { internetChecksum } from "../../wire/checksum.js";
import { parseIpv4 } from "../../wire/address.js";
import { writeU16 } from "../../wire/bytes.js";
import { Conntrack, CtCause, CtDrop, CtHelper, ExpectClass, ExpectFail, TcpState } from "./index.js";
import type { ConntrackOptions } from "./index.js";

const ip = (s: string): number => parseIpv4(s)!;
const U = ip("192.168.1.10"); // inside client
const S = ip("192.168.1.20"); // inside server
const M = ip("203.0.113.66"); // Mallory
const R = ip("198.51.100.2"); // some other outside host
const SEC = 1000;
const { SYN, ACK, FIN, RST, PSH, URG } = TcpFlag;

interface TcpOpts {
  win?: number;
  data?: string;
  wscale?: number;
}

function tcpBytes(
  src: number,
  sport: number,
  dst: number,
  dport: number,
  flags: number,
  seq: number,
  ack: number,
  o: TcpOpts = {},
): Uint8Array {
  const payload = new TextEncoder().encode(o.data ?? "");
  const seg = tcp.emit(
    {
      srcPort: sport,
      dstPort: dport,
      seq: seq >>> 0,
      ack: ack >>> 0,
      flags,
      window: o.win ?? 65535,
      checksum: 0,
      urgent: 0,
      options: o.wscale === undefined ? [] : [{ kind: "window-scale", shift: o.wscale }, { kind: "nop" }],
      payload,
    },
    { family: 4, src, dst },
  );
  return ipv4Packet(src, dst, Proto.TCP, seg);
}

function meta(bytes: Uint8Array): PacketMeta {
  const m = new PacketMeta();
  const e = fillPacketMeta(bytes, 0, bytes.length, m);
  expect(e).toBeNull();
  return m;
}

function tcpPkt(
  src: number,
  sport: number,
  dst: number,
  dport: number,
  flags: number,
  seq: number,
  ack: number,
  o: TcpOpts = {},
): PacketMeta {
  return meta(tcpBytes(src, sport, dst, dport, flags, seq, ack, o));
}

function udpPkt(src: number, sport: number, dst: number, dport: number, data = "x"): PacketMeta {
  const seg = udp.emit(
    { srcPort: sport, dstPort: dport, checksum: 0, payload: new TextEncoder().encode(data) },
    { family: 4, src, dst },
  );
  return meta(ipv4Packet(src, dst, Proto.UDP, seg));
}

function icmpBytes(type: number, code: number, rest: number, body: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + body.length);
  b[0] = type;
  b[1] = code;
  writeU16(b, 4, rest >>> 16);
  writeU16(b, 6, rest & 0xffff);
  b.set(body, 8);
  writeU16(b, 2, internetChecksum(b, 0, b.length));
  return b;
}

function echo(src: number, dst: number, type: number, id: number): PacketMeta {
  return meta(ipv4Packet(src, dst, Proto.ICMP, icmpBytes(type, 0, (id << 16) | 1, new Uint8Array(8))));
}

/** An ICMP error from `src` to `dst` quoting the first 28 bytes of `offending`. */
function icmpError(src: number, dst: number, type: number, code: number, offending: Uint8Array): PacketMeta {
  return meta(ipv4Packet(src, dst, Proto.ICMP, icmpBytes(type, code, 0, offending.subarray(0, 28))));
}

function conntrack(o: Partial<ConntrackOptions> = {}): Conntrack {
  return new Conntrack({ maxEntries: 64, profile: "linux", ...o });
}

/** track + confirm, as a packet crossing the node with every hook accepting. Returns the ct state bit. */
function pass(ct: Conntrack, m: PacketMeta, now: number): number {
  const drop = ct.track(m, now);
  if (drop !== CtDrop.NONE) return 0;
  expect(ct.confirm(m, now)).toBe(true);
  return m.ctState;
}

/** A handshake U:40000 → M:`port` with ISNs 1000 (client) and 5000 (server); returns the entry. */
function handshake(ct: Conntrack, now = 0, port = 80): number {
  expect(pass(ct, tcpPkt(U, 40000, M, port, SYN, 1000, 0), now)).toBe(CtState.NEW);
  expect(pass(ct, tcpPkt(M, port, U, 40000, SYN | ACK, 5000, 1001), now)).toBe(CtState.ESTABLISHED);
  const m = tcpPkt(U, 40000, M, port, ACK, 1001, 5001);
  expect(pass(ct, m, now)).toBe(CtState.ESTABLISHED);
  return m.ctEntry;
}

describe("TCP state machine (nf_conntrack_proto_tcp.c)", () => {
  it("walks SYN → SYN_RECV → ESTABLISHED, sets ASSURED and the per-state timeouts", () => {
    const ct = conntrack();
    const syn = tcpPkt(U, 40000, M, 80, SYN, 1000, 0);
    expect(pass(ct, syn, 0)).toBe(CtState.NEW);
    const e = syn.ctEntry;
    expect(syn.ctDir).toBe(CtDir.ORIGINAL);
    expect(ct.state(e)).toBe(TcpState.SYN_SENT);
    expect(ct.timeoutAt(e)).toBe(120 * SEC);
    const synack = tcpPkt(M, 80, U, 40000, SYN | ACK, 5000, 1001);
    expect(pass(ct, synack, 1 * SEC)).toBe(CtState.ESTABLISHED);
    expect(synack.ctEntry).toBe(e);
    expect(synack.ctDir).toBe(CtDir.REPLY);
    expect(ct.state(e)).toBe(TcpState.SYN_RECV);
    expect(ct.timeoutAt(e)).toBe(61 * SEC);
    expect(ct.status(e) & CtStatus.ASSURED).toBe(0);
    expect(pass(ct, tcpPkt(U, 40000, M, 80, ACK, 1001, 5001), 2 * SEC)).toBe(CtState.ESTABLISHED);
    expect(ct.state(e)).toBe(TcpState.ESTABLISHED);
    expect(ct.status(e) & CtStatus.ASSURED).toBe(CtStatus.ASSURED);
    expect(ct.timeoutAt(e)).toBe(2 * SEC + 432000 * SEC);
    expect(ct.count()).toBe(1);
  });

  it("closes through FIN_WAIT, CLOSE_WAIT, LAST_ACK and TIME_WAIT", () => {
    const ct = conntrack();
    const e = handshake(ct);
    pass(ct, tcpPkt(U, 40000, M, 80, FIN | ACK, 1001, 5001), 0);
    expect(ct.state(e)).toBe(TcpState.FIN_WAIT);
    expect(ct.timeoutAt(e)).toBe(120 * SEC);
    pass(ct, tcpPkt(M, 80, U, 40000, ACK, 5001, 1002), 0);
    expect(ct.state(e)).toBe(TcpState.CLOSE_WAIT);
    expect(ct.timeoutAt(e)).toBe(60 * SEC);
    pass(ct, tcpPkt(M, 80, U, 40000, FIN | ACK, 5001, 1002), 0);
    expect(ct.state(e)).toBe(TcpState.LAST_ACK);
    expect(ct.timeoutAt(e)).toBe(30 * SEC);
    pass(ct, tcpPkt(U, 40000, M, 80, ACK, 1002, 5002), 0);
    expect(ct.state(e)).toBe(TcpState.TIME_WAIT);
    expect(ct.timeoutAt(e)).toBe(120 * SEC);
  });

  it("reopens from TIME_WAIT: the old entry dies and the SYN starts a NEW one", () => {
    const ct = conntrack();
    const e = handshake(ct);
    pass(ct, tcpPkt(U, 40000, M, 80, FIN | ACK, 1001, 5001), 0);
    pass(ct, tcpPkt(M, 80, U, 40000, FIN | ACK, 5001, 1002), 0);
    pass(ct, tcpPkt(U, 40000, M, 80, ACK, 1002, 5002), 0);
    expect(ct.state(e)).toBe(TcpState.TIME_WAIT);
    const destroyed: number[] = [];
    ct.onDestroy = (x) => destroyed.push(x);
    const syn = tcpPkt(U, 40000, M, 80, SYN, 900000, 0);
    expect(pass(ct, syn, 5 * SEC)).toBe(CtState.NEW);
    expect(destroyed).toEqual([e]);
    expect(ct.state(syn.ctEntry)).toBe(TcpState.SYN_SENT);
    expect(ct.status(syn.ctEntry) & CtStatus.SEEN_REPLY).toBe(0);
    expect(ct.count()).toBe(1);
  });

  it("simultaneous open: a SYN in the reply direction gives SYN_SENT2, then SYN_RECV, then ESTABLISHED", () => {
    const ct = conntrack();
    const a = tcpPkt(U, 5000, M, 6000, SYN, 100, 0);
    pass(ct, a, 0);
    const e = a.ctEntry;
    const b = tcpPkt(M, 6000, U, 5000, SYN, 700, 0);
    expect(pass(ct, b, 0)).toBe(CtState.ESTABLISHED);
    expect(ct.state(e)).toBe(TcpState.SYN_SENT2);
    pass(ct, tcpPkt(U, 5000, M, 6000, SYN | ACK, 100, 701), 0);
    expect(ct.state(e)).toBe(TcpState.SYN_RECV);
    pass(ct, tcpPkt(M, 6000, U, 5000, SYN | ACK, 700, 101), 0);
    pass(ct, tcpPkt(M, 6000, U, 5000, ACK, 701, 101), 0);
    expect(ct.state(e)).toBe(TcpState.ESTABLISHED);
  });

  it("split handshake (§6.9) keeps ORIGINAL = the client", () => {
    const ct = conntrack();
    const syn = tcpPkt(U, 41000, M, 443, SYN, 1000, 0);
    pass(ct, syn, 0);
    const e = syn.ctEntry;
    pass(ct, tcpPkt(M, 443, U, 41000, SYN, 9000, 0), 0);
    expect(ct.state(e)).toBe(TcpState.SYN_SENT2);
    pass(ct, tcpPkt(U, 41000, M, 443, SYN | ACK, 1000, 9001), 0);
    expect(ct.state(e)).toBe(TcpState.SYN_RECV);
    pass(ct, tcpPkt(M, 443, U, 41000, ACK, 9001, 1001), 0);
    expect(ct.state(e)).toBe(TcpState.ESTABLISHED);
    const src = new Uint32Array(4);
    ct.src(e, CtDir.ORIGINAL, src);
    expect(src[0]).toBe(U);
    expect(ct.sport(e, CtDir.ORIGINAL)).toBe(41000);
  });

  it("picks up a bare ACK mid-stream (tcp_loose=1) with the unacknowledged timeout; loose=0 makes it INVALID", () => {
    const ct = conntrack();
    const m = tcpPkt(U, 42000, M, 22, ACK, 77777, 88888);
    expect(pass(ct, m, 0)).toBe(CtState.NEW);
    expect(ct.state(m.ctEntry)).toBe(TcpState.ESTABLISHED);
    expect(ct.timeoutAt(m.ctEntry)).toBe(300 * SEC);
    const strict = conntrack({ tcpLoose: false });
    const m2 = tcpPkt(U, 42000, M, 22, ACK, 77777, 88888);
    expect(pass(strict, m2, 0)).toBe(CtState.INVALID);
    expect(m2.ctEntry).toBe(NONE);
    expect(strict.lastCause).toBe(CtCause.TCP_NEW_INVALID);
    expect(strict.count()).toBe(0);
  });

  it.each([
    ["NULL", 0],
    ["FIN only", FIN],
    ["XMAS", FIN | PSH | URG],
    ["SYN|FIN", SYN | FIN],
    ["SYN|RST", SYN | RST],
  ])("marks %s INVALID without creating an entry", (_name, flags) => {
    const ct = conntrack();
    const m = tcpPkt(M, 1234, U, 80, flags, 1, 0);
    expect(pass(ct, m, 0)).toBe(CtState.INVALID);
    expect(ct.lastCause).toBe(CtCause.TCP_FLAGS);
    expect(ct.count()).toBe(0);
  });

  it("marks a first SYN/ACK, FIN/ACK or RST INVALID (tcp_new)", () => {
    const ct = conntrack();
    for (const f of [SYN | ACK, FIN | ACK, RST, RST | ACK]) {
      const m = tcpPkt(M, 1234, U, 80, f, 1, 1);
      expect(pass(ct, m, 0)).toBe(CtState.INVALID);
      expect(ct.lastCause).toBe(CtCause.TCP_NEW_INVALID);
    }
    expect(ct.count()).toBe(0);
  });

  it("an in-window RST closes with the 10 s timeout", () => {
    const ct = conntrack();
    const e = handshake(ct);
    pass(ct, tcpPkt(M, 80, U, 40000, RST, 5001, 0), 1 * SEC);
    expect(ct.state(e)).toBe(TcpState.CLOSE);
    expect(ct.timeoutAt(e)).toBe(11 * SEC);
  });

  it("a RST below the peer's max ACK is INVALID and leaves the state alone", () => {
    const ct = conntrack();
    const e = handshake(ct);
    pass(ct, tcpPkt(U, 40000, M, 80, ACK | PSH, 1001, 5001, { data: "hello" }), 0);
    pass(ct, tcpPkt(M, 80, U, 40000, ACK, 5001, 1006), 0);
    const rst = tcpPkt(M, 80, U, 40000, RST, 4000, 0);
    expect(pass(ct, rst, 0)).toBe(CtState.INVALID);
    expect(ct.state(e)).toBe(TcpState.ESTABLISHED);
    const ignoring = conntrack({ tcpIgnoreInvalidRst: true });
    const e2 = handshake(ignoring);
    pass(ignoring, tcpPkt(U, 40000, M, 80, ACK | PSH, 1001, 5001, { data: "hello" }), 0);
    pass(ignoring, tcpPkt(M, 80, U, 40000, ACK, 5001, 1006), 0);
    expect(pass(ignoring, tcpPkt(M, 80, U, 40000, RST, 4000, 0), 0)).toBe(CtState.ESTABLISHED);
    expect(ignoring.state(e2)).toBe(TcpState.ESTABLISHED);
  });

  it("an inexact in-window RST keeps ESTABLISHED (RFC 5961 challenge ACK)", () => {
    const ct = conntrack();
    const e = handshake(ct);
    pass(ct, tcpPkt(M, 80, U, 40000, ACK, 5001, 1001), 0);
    expect(pass(ct, tcpPkt(M, 80, U, 40000, RST, 5100, 0), 0)).toBe(CtState.ESTABLISHED);
    expect(ct.state(e)).toBe(TcpState.ESTABLISHED);
  });

  it("deletes the entry at once when the only reply is a RST", () => {
    const ct = conntrack();
    const destroyed: number[] = [];
    ct.onDestroy = (x) => destroyed.push(x);
    const syn = tcpPkt(U, 40000, S, 23, SYN, 1000, 0);
    pass(ct, syn, 0);
    const rst = tcpPkt(S, 23, U, 40000, RST | ACK, 0, 1001);
    expect(pass(ct, rst, 0)).toBe(CtState.ESTABLISHED);
    expect(ct.lastCause).toBe(CtCause.TCP_RST_KILL);
    expect(destroyed).toEqual([syn.ctEntry]);
    expect(ct.count()).toBe(0);
    expect(pass(ct, tcpPkt(U, 40000, S, 23, SYN, 2000, 0), 1)).toBe(CtState.NEW);
  });

  it("data beyond the receiver's window is INVALID; be_liberal lets it through", () => {
    for (const liberal of [false, true]) {
      const ct = conntrack({ tcpBeLiberal: liberal });
      const e = handshake(ct);
      // The server advertised 65535 bytes: a segment starting 200000 bytes ahead is over td_maxend.
      const m = tcpPkt(U, 40000, M, 80, ACK, 1001 + 200000, 5001, { data: "x" });
      expect(pass(ct, m, 0)).toBe(liberal ? CtState.ESTABLISHED : CtState.INVALID);
      if (!liberal) expect(ct.lastCause).toBe(CtCause.TCP_WINDOW);
      expect(ct.state(e)).toBe(TcpState.ESTABLISHED);
    }
  });

  it("an ACK for data never sent is INVALID", () => {
    const ct = conntrack();
    handshake(ct);
    expect(pass(ct, tcpPkt(M, 80, U, 40000, ACK, 5001, 1001 + 500000), 0)).toBe(CtState.INVALID);
  });

  it("counts retransmissions and drops to the max_retrans timeout after tcp_max_retrans", () => {
    const ct = conntrack();
    const e = handshake(ct);
    const seg = (): PacketMeta => tcpPkt(U, 40000, M, 80, ACK | PSH, 1001, 5001, { data: "payload" });
    pass(ct, seg(), 0);
    expect(ct.timeoutAt(e)).toBe(300 * SEC); // unacknowledged data
    for (let i = 1; i <= 3; i++) pass(ct, seg(), i * SEC);
    expect(ct.tcpRetrans(e)).toBe(3);
    expect(ct.timeoutAt(e)).toBe(3 * SEC + 300 * SEC);
  });
});

describe("THE ISN RULE (SCENARIOS.md spoofed-source TCP)", () => {
  // The forged SYN from inside (S:22 → M:80, seq X) makes SYN_SENT; Mallory's SYN from port 80 travels in the reply
  // direction (SYN_SENT2). S answers Mallory's SYN with a SYN/ACK (seq Y, ack Z+1) in the ORIGINAL direction.
  // tcp_in_window: seen[ORIG].td_maxend = X+1 (from tcp_new; the reply SYN returned before updating the receiver),
  // so check I passes iff before(Y, td_maxend + 1) = before(Y, X+2), i.e. Y "≤" X+1 mod 2^32.
  const X = 0x7ffffff0;
  const Z = 0x12345678;

  function trial(
    y: number,
    o: Partial<ConntrackOptions> = {},
  ): { state: number; tcp: number; ct: Conntrack; e: number } {
    const ct = conntrack(o);
    const forged = tcpPkt(S, 22, M, 80, SYN, X, 0);
    pass(ct, forged, 0);
    const e = forged.ctEntry;
    expect(ct.state(e)).toBe(TcpState.SYN_SENT);
    pass(ct, tcpPkt(M, 80, S, 22, SYN, Z, 0), 1);
    expect(ct.state(e)).toBe(TcpState.SYN_SENT2);
    const synack = tcpPkt(S, 22, M, 80, SYN | ACK, y >>> 0, (Z + 1) >>> 0);
    const state = pass(ct, synack, 2);
    return { state, tcp: ct.state(e), ct, e };
  }

  it.each([
    ["X + 1 (the boundary, inside)", X + 1],
    ["X", X],
    ["X − 60,000 (within Mallory's window)", X - 60_000],
  ])("S's ISN Y = %s passes and advances to SYN_RECV", (_n, y) => {
    const t = trial(y);
    expect(t.state).toBe(CtState.ESTABLISHED);
    expect(t.tcp).toBe(TcpState.SYN_RECV);
  });

  it.each([
    ["X − 1,000,000", X - 1_000_000],
    ["X + 2 − 2^31 (farthest 'before')", X + 2 - 0x80000000],
  ])("S's ISN Y = %s passes as 'already ACKed data' (ignored): the entry stays SYN_SENT2", (_n, y) => {
    const t = trial(y);
    expect(t.state).toBe(CtState.ESTABLISHED);
    expect(t.ct.lastCause).toBe(CtCause.TCP_IGNORED);
    expect(t.tcp).toBe(TcpState.SYN_SENT2);
    // Mallory's packets (reply direction) keep passing; S's later packets (ORIGINAL ACKs in SYN_SENT2) are INVALID.
    expect(pass(t.ct, tcpPkt(M, 80, S, 22, ACK | PSH, Z + 1, (y + 1) >>> 0, { data: "id\n" }), 3)).toBe(
      CtState.ESTABLISHED,
    );
    expect(pass(t.ct, tcpPkt(S, 22, M, 80, ACK | PSH, (y + 1) >>> 0, Z + 4, { data: "SSH-2.0" }), 4)).toBe(
      CtState.INVALID,
    );
  });

  it.each([
    ["X + 2^31 (far after)", X + 0x80000000],
    ["X + 1,000,000 (after, beyond Mallory's window)", X + 1_000_000],
  ])("S's ISN Y = %s fails: the SYN/ACK is INVALID (and would leak untranslated)", (_n, y) => {
    const t = trial(y);
    expect(t.state).toBe(CtState.INVALID);
    expect(t.tcp).toBe(TcpState.SYN_SENT2);
  });

  it("just after the boundary (X + 2) is an overshoot within the window: let through without a state change", () => {
    const t = trial(X + 2);
    expect(t.state).toBe(CtState.ESTABLISHED);
    expect(t.ct.lastCause).toBe(CtCause.TCP_IGNORED);
    expect(t.tcp).toBe(TcpState.SYN_SENT2);
  });

  it("with be_liberal every ISN passes", () => {
    const t = trial(X + 0x80000000, { tcpBeLiberal: true });
    expect(t.tcp).toBe(TcpState.SYN_RECV);
  });

  it("when it passes, Mallory's ACK completes the handshake (ESTABLISHED via the simultaneous-open rule)", () => {
    const y = X - 1000;
    const t = trial(y);
    pass(t.ct, tcpPkt(M, 80, S, 22, ACK, Z + 1, (y + 1) >>> 0), 3);
    expect(t.ct.state(t.e)).toBe(TcpState.ESTABLISHED);
  });
});

describe("UDP (nf_conntrack_proto_udp.c)", () => {
  it("keeps a query/response at the unreplied timeout, then streams and is ASSURED after 2 s", () => {
    const ct = conntrack();
    const q = udpPkt(U, 5353, M, 53);
    expect(pass(ct, q, 0)).toBe(CtState.NEW);
    const e = q.ctEntry;
    expect(ct.timeoutAt(e)).toBe(30 * SEC);
    const r = udpPkt(M, 53, U, 5353);
    expect(pass(ct, r, 100)).toBe(CtState.ESTABLISHED);
    expect(ct.timeoutAt(e)).toBe(100 + 30 * SEC);
    expect(ct.status(e) & CtStatus.ASSURED).toBe(0);
    expect(pass(ct, udpPkt(U, 5353, M, 53), 1500)).toBe(CtState.ESTABLISHED);
    expect(ct.timeoutAt(e)).toBe(1500 + 30 * SEC);
    pass(ct, udpPkt(M, 53, U, 5353), 3 * SEC);
    expect(ct.timeoutAt(e)).toBe(3 * SEC + 120 * SEC);
    expect(ct.status(e) & CtStatus.ASSURED).toBe(CtStatus.ASSURED);
  });

  it("uses OpenWrt's 60/180 s", () => {
    const ct = conntrack({ profile: "openwrt" });
    const q = udpPkt(U, 5353, M, 53);
    pass(ct, q, 0);
    expect(ct.timeoutAt(q.ctEntry)).toBe(60 * SEC);
    pass(ct, udpPkt(M, 53, U, 5353), 100);
    pass(ct, udpPkt(M, 53, U, 5353), 3 * SEC);
    expect(ct.timeoutAt(q.ctEntry)).toBe(3 * SEC + 180 * SEC);
  });

  it("an expired entry is gone: the next packet is NEW", () => {
    const ct = conntrack();
    pass(ct, udpPkt(U, 5353, M, 53), 0);
    expect(pass(ct, udpPkt(M, 53, U, 5353), 30 * SEC)).toBe(CtState.NEW);
    ct.gc(31 * SEC);
    expect(ct.count()).toBe(1);
    ct.gc(61 * SEC);
    expect(ct.count()).toBe(0);
  });
});

describe("timeout profiles", () => {
  it("ESTABLISHED lasts 5 days on Linux and 7440 s on OpenWrt", () => {
    expect(conntrack().timeoutAt(handshake(conntrack()))).toBe(0); // a fresh table knows nothing of another's entry
    const linux = conntrack();
    expect(linux.timeoutAt(handshake(linux))).toBe(432000 * SEC);
    const owrt = conntrack({ profile: "openwrt" });
    expect(owrt.timeoutAt(handshake(owrt))).toBe(7440 * SEC);
  });

  it("OpenWrt does not verify checksums; Linux does at PREROUTING only", () => {
    const bytes = tcpBytes(M, 1234, U, 80, SYN, 1, 0);
    bytes[20 + 16] ^= 0xff; // corrupt the TCP checksum
    const linux = conntrack();
    expect(pass(linux, meta(bytes), 0)).toBe(CtState.INVALID);
    expect(linux.lastCause).toBe(CtCause.BAD_CHECKSUM);
    expect(linux.track(meta(bytes), 0, 1)).toBe(CtDrop.NONE);
    const owrt = conntrack({ profile: "openwrt" });
    expect(pass(owrt, meta(bytes), 0)).toBe(CtState.NEW);
  });
});

describe("ICMP (nf_conntrack_proto_icmp.c)", () => {
  it("an echo request creates, its reply is ESTABLISHED; a reply without request is INVALID", () => {
    const ct = conntrack();
    const req = echo(U, M, 8, 77);
    expect(pass(ct, req, 0)).toBe(CtState.NEW);
    expect(ct.timeoutAt(req.ctEntry)).toBe(30 * SEC);
    const rep = echo(M, U, 0, 77);
    expect(pass(ct, rep, 0)).toBe(CtState.ESTABLISHED);
    expect(rep.ctEntry).toBe(req.ctEntry);
    const stray = echo(M, U, 0, 78);
    expect(pass(ct, stray, 0)).toBe(CtState.INVALID);
    expect(ct.lastCause).toBe(CtCause.ICMP_NEW_INVALID);
    expect(ct.count()).toBe(1);
  });

  it("an error quoting a tracked flow is RELATED; wrong outer destination or unknown flow is INVALID", () => {
    const ct = conntrack();
    const out = udpPkt(U, 5353, M, 9999);
    pass(ct, out, 0);
    const quoted = ipv4Packet(
      U,
      M,
      Proto.UDP,
      udp.emit(
        { srcPort: 5353, dstPort: 9999, checksum: 0, payload: new Uint8Array(4) },
        { family: 4, src: U, dst: M },
      ),
    );
    const err = icmpError(M, U, 3, 3, quoted);
    expect(pass(ct, err, 1)).toBe(CtState.RELATED);
    expect(err.ctEntry).toBe(out.ctEntry);
    expect(err.ctDir).toBe(CtDir.REPLY);
    expect(ct.timeoutAt(out.ctEntry)).toBe(30 * SEC); // errors do not refresh their master (REQ-6)
    const misdirected = icmpError(M, S, 3, 3, quoted);
    expect(pass(ct, misdirected, 1)).toBe(CtState.INVALID);
    expect(ct.lastCause).toBe(CtCause.ICMP_ERROR_OUTER_DADDR);
    const other = ipv4Packet(
      U,
      M,
      Proto.UDP,
      udp.emit(
        { srcPort: 5354, dstPort: 9999, checksum: 0, payload: new Uint8Array(4) },
        { family: 4, src: U, dst: M },
      ),
    );
    expect(pass(ct, icmpError(M, U, 11, 0, other), 1)).toBe(CtState.INVALID);
    expect(ct.lastCause).toBe(CtCause.ICMP_ERROR_NO_MATCH);
  });

  it("types above 18 are INVALID; redirects and other non-request types cannot create", () => {
    const ct = conntrack();
    expect(pass(ct, echo(M, U, 40, 1), 0)).toBe(CtState.INVALID);
    expect(ct.lastCause).toBe(CtCause.ICMP_TYPE);
    expect(pass(ct, echo(M, U, 9, 1), 0)).toBe(CtState.INVALID);
  });
});

describe("table, confirmation, early drop", () => {
  it("an unconfirmed entry is invisible; the second copy clashes at confirm; discard frees", () => {
    const ct = conntrack();
    const a = tcpPkt(U, 40000, M, 80, SYN, 1000, 0);
    const b = tcpPkt(U, 40000, M, 80, SYN, 1000, 0);
    expect(ct.track(a, 0)).toBe(CtDrop.NONE);
    expect(ct.track(b, 0)).toBe(CtDrop.NONE);
    expect(b.ctState).toBe(CtState.NEW);
    expect(b.ctEntry).not.toBe(a.ctEntry);
    expect(ct.count()).toBe(2);
    expect(ct.confirm(a, 0)).toBe(true);
    expect(ct.confirm(b, 0)).toBe(false);
    expect(ct.count()).toBe(1);
    const c = udpPkt(U, 1, M, 2);
    ct.track(c, 0);
    ct.discard(c);
    expect(ct.count()).toBe(1);
    expect(pass(ct, udpPkt(M, 2, U, 1), 0)).toBe(CtState.NEW); // nothing survived the dropped packet
  });

  it("a full table early-drops an unassured entry; when every entry is ASSURED the packet is dropped", () => {
    const ct = conntrack({ maxEntries: 2 });
    const x = udpPkt(U, 1, M, 53);
    pass(ct, x, 0);
    pass(ct, udpPkt(U, 2, M, 53), 0);
    expect(ct.count()).toBe(2);
    const destroyed: number[] = [];
    ct.onDestroy = (e) => destroyed.push(e);
    expect(pass(ct, udpPkt(U, 3, M, 53), 0)).toBe(CtState.NEW);
    expect(destroyed).toHaveLength(1);
    expect(ct.count()).toBe(2);

    const full = conntrack({ maxEntries: 2 });
    handshake(full);
    pass(full, tcpPkt(U, 40001, M, 80, SYN, 1, 0), 0);
    pass(full, tcpPkt(M, 80, U, 40001, SYN | ACK, 9, 2), 0);
    pass(full, tcpPkt(U, 40001, M, 80, ACK, 2, 10), 0);
    const m = tcpPkt(U, 40002, M, 80, SYN, 1, 0);
    expect(full.track(m, 0)).toBe(CtDrop.TABLE_FULL);
    expect(full.lastCause).toBe(CtCause.TABLE_FULL);
    expect(full.count()).toBe(2);
  });

  it("tupleTaken sees both directions of confirmed entries only; setReplyTuple moves the reply", () => {
    const ct = conntrack();
    const syn = tcpPkt(U, 40000, M, 80, SYN, 1000, 0);
    ct.track(syn, 0);
    const e = syn.ctEntry;
    const w = (a: number): Uint32Array => Uint32Array.of(a, 0, 0, 0);
    expect(ct.tupleTaken(4, Proto.TCP, w(M), 80, w(U), 40000)).toBe(false);
    ct.setReplyTuple(e, w(M), 80, w(R), 61000);
    ct.setStatus(e, CtStatus.SRC_NAT);
    ct.confirm(syn, 0);
    expect(ct.tupleTaken(4, Proto.TCP, w(M), 80, w(R), 61000)).toBe(true);
    expect(ct.tupleTaken(4, Proto.TCP, w(M), 80, w(R), 61000, e)).toBe(false);
    expect(ct.tupleTaken(4, Proto.TCP, w(U), 40000, w(M), 80)).toBe(true);
    expect(ct.tupleTaken(4, Proto.TCP, w(M), 80, w(U), 40000)).toBe(false);
    const reply = tcpPkt(M, 80, R, 61000, SYN | ACK, 5000, 1001);
    expect(pass(ct, reply, 0)).toBe(CtState.ESTABLISHED);
    expect(reply.ctEntry).toBe(e);
    expect(ct.list()[0]).toMatchObject({
      state: "SYN_RECV",
      reply: { src: "203.0.113.66", dst: "198.51.100.2", dport: 61000 },
    });
  });

  it("notrack packets are UNTRACKED", () => {
    const ct = conntrack();
    const m = udpPkt(U, 1, M, 2);
    m.notrack = true;
    expect(pass(ct, m, 0)).toBe(CtState.UNTRACKED);
    expect(ct.count()).toBe(0);
  });
});

describe("expectations (ALG helpers)", () => {
  it("FTP PORT: the server's data connection is RELATED with status EXPECTED", () => {
    const ct = conntrack();
    const e = handshakeFtp(ct);
    const port = tcpPkt(U, 40000, M, 21, ACK | PSH, FTP_CLIENT_LINE, FTP_SERVER_LINE, {
      data: "PORT 192,168,1,10,4,1\r\n",
    });
    pass(ct, port, 0);
    ct.help(port, 0);
    expect(ct.listExpectations()).toMatchObject([
      { master: e, src: "203.0.113.66", sport: 0, dst: "192.168.1.10", dport: 1025 },
    ]);
    const data = tcpPkt(M, 20, U, 1025, SYN, 1, 0);
    expect(pass(ct, data, 1)).toBe(CtState.RELATED);
    expect(ct.status(data.ctEntry) & CtStatus.EXPECTED).toBe(CtStatus.EXPECTED);
    expect(ct.master(data.ctEntry)).toBe(e);
    expect(ct.listExpectations()).toHaveLength(0);
  });

  it("FTP: only a segment starting where a line of its direction ended is parsed, never the first", () => {
    const ct = conntrack();
    ct.setHelper(handshake(ct, 0, 21), CtHelper.FTP);
    // The client's first data segment is a PORT: not parsed (no line start known yet), but it ends a line.
    const first = tcpPkt(U, 40000, M, 21, ACK | PSH, 1001, 5001, { data: "PORT 192,168,1,10,4,1\r\n" });
    pass(ct, first, 0);
    ct.help(first, 0);
    expect(ct.listExpectations()).toEqual([]);
    // A segment in the middle of a line (not at a recorded line start) is not parsed either.
    const middle = tcpPkt(U, 40000, M, 21, ACK | PSH, 1001 + 23 + 3, 5001, { data: "PORT 192,168,1,10,4,2\r\n" });
    pass(ct, middle, 0);
    ct.help(middle, 0);
    expect(ct.listExpectations()).toEqual([]);
    // The next line, right where the first ended, is.
    const next = tcpPkt(U, 40000, M, 21, ACK | PSH, 1001 + 23, 5001, { data: "PORT 192,168,1,10,4,3\r\n" });
    pass(ct, next, 0);
    ct.help(next, 0);
    expect(ct.listExpectations()).toMatchObject([{ dport: 4 * 256 + 3 }]);
  });

  it("FTP 227: the client's passive data connection is RELATED", () => {
    const ct = conntrack();
    handshakeFtp(ct);
    const r = tcpPkt(M, 21, U, 40000, ACK | PSH, FTP_SERVER_LINE, FTP_CLIENT_LINE, {
      data: "227 Entering Passive Mode (203,0,113,66,195,80).\r\n",
    });
    pass(ct, r, 0);
    ct.help(r, 0);
    const data = tcpPkt(U, 40500, M, 50000, SYN, 1, 0);
    expect(pass(ct, data, 1)).toBe(CtState.RELATED);
    expect(pass(ct, tcpPkt(U, 40501, M, 50001, SYN, 1, 0), 1)).toBe(CtState.NEW);
  });

  it("SIP REGISTER with Contact: after the registrar's 200 OK, inbound to the contact is RELATED", () => {
    const ct = conntrack();
    const reg = udpPkt(
      U,
      5060,
      M,
      5060,
      "REGISTER sip:evil.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.10:5060\r\nCSeq: 1 REGISTER\r\nContact: <sip:u@192.168.1.10:5062>\r\nExpires: 600\r\n\r\n",
    );
    pass(ct, reg, 0);
    ct.setHelper(reg.ctEntry, CtHelper.SIP);
    ct.help(reg, 0);
    expect(ct.listExpectations()).toMatchObject([{ proto: Proto.UDP, dst: "192.168.1.10", dport: 5062, flags: 3 }]);
    expect(pass(ct, udpPkt(M, 5060, U, 5062), 1)).toBe(CtState.NEW); // still inactive
    const ok = udpPkt(
      M,
      5060,
      U,
      5060,
      "SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\nContact: <sip:u@192.168.1.10:5062>;expires=600\r\n\r\n",
    );
    pass(ct, ok, 2);
    ct.help(ok, 2);
    const inbound = udpPkt(M, 5061, U, 5062);
    expect(pass(ct, inbound, 3)).toBe(CtState.RELATED);
    expect(ct.status(inbound.ctEntry) & CtStatus.EXPECTED).toBe(CtStatus.EXPECTED);
    expect(ct.master(inbound.ctEntry)).toBe(reg.ctEntry);
  });

  it("helpers do nothing unless set on the entry", () => {
    const ct = conntrack();
    const m = udpPkt(U, 5060, M, 5060, "REGISTER sip:x SIP/2.0\r\nContact: <sip:u@192.168.1.10:5062>\r\n\r\n");
    pass(ct, m, 0);
    ct.help(m, 0);
    expect(ct.listExpectations()).toHaveLength(0);
  });

  it("__nf_ct_expect_check: replace, -EALREADY, -EBUSY, and a class's oldest evicted past max_expected", () => {
    const ct = conntrack();
    const w = (a: number): Uint32Array => Uint32Array.of(a >>> 0, 0, 0, 0);
    const sip = handshake(ct, 0, 5060);
    ct.setHelper(sip, CtHelper.SIP);
    const other = handshake(ct, 0, 5061);
    const at = (port: number, cls: number, master = sip, skip = false, src: Uint32Array | null = w(M)): number =>
      ct.expect(master, 4, Proto.UDP, src, 0, w(R), port, 60_000, 0, 0, cls, skip);
    const audio = at(40000, ExpectClass.AUDIO);
    expect(audio).toBeGreaterThanOrEqual(0);
    // The same master and class: replaced. Another class: -EALREADY.
    expect(at(40000, ExpectClass.AUDIO)).toBeGreaterThanOrEqual(0);
    expect(at(40000, ExpectClass.VIDEO)).toBe(ExpectFail.ALREADY);
    // Another master: -EBUSY, or -EALREADY when asked with NF_CT_EXP_F_SKIP_MASTER; any source clashes too.
    expect(at(40000, ExpectClass.AUDIO, other)).toBe(ExpectFail.BUSY);
    expect(at(40000, ExpectClass.AUDIO, other, true)).toBe(ExpectFail.ALREADY);
    expect(at(40000, ExpectClass.AUDIO, other, false, null)).toBe(ExpectFail.BUSY);
    // SIP allows four audio expectations per master: the fifth evicts the oldest.
    for (const p of [40002, 40004, 40006, 40008]) at(p, ExpectClass.AUDIO);
    expect(
      ct
        .listExpectations()
        .map((x) => x.dport)
        .sort(),
    ).toEqual([40002, 40004, 40006, 40008]);
    // Signalling allows one.
    at(5060, ExpectClass.SIGNALLING);
    at(5062, ExpectClass.SIGNALLING);
    expect(
      ct
        .listExpectations()
        .filter((x) => x.dport < 6000)
        .map((x) => x.dport),
    ).toEqual([5062]);
  });
});

/** Sequence numbers after the FTP greeting lines `handshakeFtp` exchanges: where the next line of each side starts. */
const FTP_CLIENT_LINE = 1001 + "USER anonymous\r\n".length;
const FTP_SERVER_LINE = 5001 + "220 ready\r\n".length;

/**
 * U:40000 → M:21 with the FTP helper, then the server's greeting and the client's USER line: the helper parses only
 * segments that start where a line of the same direction ended (nf_conntrack_ftp.c find_nl_seq), never the first.
 */
function handshakeFtp(ct: Conntrack): number {
  const e = handshake(ct, 0, 21);
  ct.setHelper(e, CtHelper.FTP);
  const greeting = tcpPkt(M, 21, U, 40000, ACK | PSH, 5001, 1001, { data: "220 ready\r\n" });
  pass(ct, greeting, 0);
  ct.help(greeting, 0);
  const user = tcpPkt(U, 40000, M, 21, ACK | PSH, 1001, FTP_SERVER_LINE, { data: "USER anonymous\r\n" });
  pass(ct, user, 0);
  ct.help(user, 0);
  return e;
}

describe("per-entry words the datapath keeps: plan numbers and the mark", () => {
  it("keeps two 16-bit plan numbers per entry, and a reused entry number starts without them", () => {
    const ct = conntrack({ maxEntries: 1 });
    const e = handshake(ct);
    ct.setPlanNumber(e, CtDir.ORIGINAL, 0xffff);
    ct.setPlanNumber(e, CtDir.REPLY, 7);
    expect(ct.planNumber(e, CtDir.ORIGINAL)).toBe(0xffff);
    expect(ct.planNumber(e, CtDir.REPLY)).toBe(7);
    ct.setPlanNumber(e, CtDir.ORIGINAL, 1);
    expect([ct.planNumber(e, CtDir.ORIGINAL), ct.planNumber(e, CtDir.REPLY)]).toEqual([1, 7]);
    ct.setMark(e, 0xdeadbeef);
    // The one entry expires; the next connection gets its number, with no plans and no mark.
    ct.gc(10 * 24 * 3600 * SEC);
    expect(ct.count()).toBe(0);
    const m = udpPkt(U, 5000, R, 53);
    expect(pass(ct, m, 10 * 24 * 3600 * SEC)).toBe(CtState.NEW);
    const again = m.ctEntry;
    expect(again).toBe(e);
    expect([ct.planNumber(again, CtDir.ORIGINAL), ct.planNumber(again, CtDir.REPLY)]).toEqual([0, 0]);
    expect(ct.mark(again)).toBe(0);
  });

  it("clearPlanNumbers zeroes every live entry's plan numbers and keeps the table usable", () => {
    const ct = conntrack({ maxEntries: 8 });
    const a = handshake(ct);
    const mb = udpPkt(U, 5001, R, 53);
    pass(ct, mb, 0);
    const b = mb.ctEntry;
    ct.setPlanNumber(a, CtDir.REPLY, 3);
    ct.setPlanNumber(b, CtDir.ORIGINAL, 4);
    ct.clearPlanNumbers();
    for (const e of [a, b]) for (const d of [CtDir.ORIGINAL, CtDir.REPLY]) expect(ct.planNumber(e, d)).toBe(0);
    // The free list (threaded through the same word of free entries) is intact: six more entries fit.
    for (let i = 0; i < 6; i++) expect(pass(ct, udpPkt(U, 6000 + i, R, 53), 0)).toBe(CtState.NEW);
    expect(ct.count()).toBe(8);
  });

  it("keeps marks beside the records: set, read, cleared with 0, listed, and independent of plan numbers", () => {
    const ct = conntrack();
    const e = handshake(ct);
    expect(ct.mark(e)).toBe(0);
    ct.setMark(e, 0x80000001);
    ct.setPlanNumber(e, CtDir.REPLY, 9);
    expect(ct.mark(e)).toBe(0x80000001);
    expect(ct.list().find((v) => v.id === e)?.mark).toBe(0x80000001);
    expect(ct.planNumber(e, CtDir.REPLY)).toBe(9);
    ct.setMark(e, 0);
    expect(ct.mark(e)).toBe(0);
    ct.setMark(e, -1);
    expect(ct.mark(e)).toBe(0xffffffff);
  });
});
