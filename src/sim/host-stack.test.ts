// The host stack's answers to crafted segments, checked on the LAN capture: each segment is injected by U's raw
// socket (so it crosses U's OUTPUT path and the LAN like any packet) at an established connection on S.

import { describe, expect, it } from "vitest";
import { baseChain } from "../engine/datapath.fixture.js";
import type { Ruleset } from "../engine/filter/index.js";
import { TcpFlag } from "../engine/index.js";
import * as ipv4 from "../wire/ipv4.js";
import * as tcp from "../wire/tcp.js";
import { buildTcpSegment } from "./endpoint-packets.js";
import { TcpState } from "./host-stack.js";
import type { CaptureRecord } from "./segment.js";
import { buildSeedHome } from "./seed-home.fixture.js";
import { addressWords } from "./simulation.js";

const A = (s: string): Uint32Array => addressWords(s)!.words;
const U = A("192.168.1.10");
const S = A("192.168.1.20");
const U_ISN = 1000;
const S_ISN = 9000;
const SPORT = 45000;

function seg(seq: number, ack: number, flags: number, payload: string | null = null): Uint8Array {
  return buildTcpSegment({
    family: 4,
    src: U,
    dst: S,
    sport: SPORT,
    dport: 5432,
    seq,
    ack,
    flags,
    window: 64240,
    mss: 0,
    ident: 0,
    payload: payload === null ? null : new TextEncoder().encode(payload),
  });
}

function tcpOf(r: CaptureRecord): tcp.TcpRepr {
  const p = ipv4.parse(r.bytes);
  if (!p.ok) throw new Error("not IPv4");
  const t = tcp.parse(p.value.payload);
  if (!t.ok) throw new Error("not TCP");
  return t.value;
}

/** U hears nothing: its stack would otherwise reset S's answers to connections it never opened. */
const deafU: Ruleset = {
  tables: [
    {
      family: "inet",
      name: "u",
      origin: { source: "u.nft", line: 1, column: 1 },
      chains: [baseChain("input", 2, "filter", "input", 0, "drop", [])],
    },
  ],
};

/** A handshake done by hand: U's SYN and ACK are raw packets, so U's own stack stays out of the way. */
function established() {
  const h = buildSeedHome({ isn: { s: S_ISN }, uRuleset: deafU });
  h.u.stack.rawSend(seg(U_ISN, 0, TcpFlag.SYN));
  h.sim.run({ until: 10 });
  h.u.stack.rawSend(seg(U_ISN + 1, S_ISN + 1, TcpFlag.ACK));
  h.sim.run({ until: 20 });
  const conn = h.s.stack.find(4, S, 5432, U, SPORT)!;
  expect(conn.state).toBe(TcpState.ESTABLISHED);
  const lan = h.sim.segments.get("lan")!.captures;
  const mark = lan.length;
  return { h, conn, lan, answers: () => lan.slice(mark).map(tcpOf) };
}

describe("HostStack TCP input (RFC 9293 §3.10.7.4, RFC 5961)", () => {
  it("answers an in-window RST that is not exact with a challenge ACK and keeps the connection", () => {
    const { h, conn, answers } = established();
    h.u.stack.rawSend(seg(U_ISN + 1 + 100, 0, TcpFlag.RST));
    h.sim.run({ until: 40 });
    const a = answers().filter((t) => t.srcPort === 5432);
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ seq: S_ISN + 1, ack: U_ISN + 1, flags: TcpFlag.ACK });
    expect(conn.state).toBe(TcpState.ESTABLISHED);
  });

  it("closes on an exact RST without answering", () => {
    const { h, conn, answers } = established();
    h.u.stack.rawSend(seg(U_ISN + 1, 0, TcpFlag.RST));
    h.sim.run({ until: 40 });
    expect(answers().filter((t) => t.srcPort === 5432)).toHaveLength(0);
    expect(conn.state).toBe(TcpState.CLOSED);
    expect(h.s.stack.connectionsOpen).toBe(0);
  });

  it("answers a SYN on an established connection with a challenge ACK (RFC 5961 §4.2)", () => {
    const { h, conn, answers } = established();
    h.u.stack.rawSend(seg(U_ISN + 50_000, 0, TcpFlag.SYN));
    h.sim.run({ until: 40 });
    const a = answers().filter((t) => t.srcPort === 5432);
    expect(a.map((t) => [t.seq, t.ack, t.flags])).toEqual([[S_ISN + 1, U_ISN + 1, TcpFlag.ACK]]);
    expect(conn.state).toBe(TcpState.ESTABLISHED);
  });

  it("re-acknowledges old data and echoes in-order data with the ACK piggybacked", () => {
    const { h, answers } = established();
    h.u.stack.rawSend(seg(U_ISN + 1, S_ISN + 1, TcpFlag.PSH | TcpFlag.ACK, "abc"));
    h.sim.run({ until: 40 });
    h.u.stack.rawSend(seg(U_ISN + 1, S_ISN + 1, TcpFlag.PSH | TcpFlag.ACK, "abc"));
    h.sim.run({ until: 60 });
    const a = answers().filter((t) => t.srcPort === 5432);
    expect(a.map((t) => [t.seq, t.ack, t.flags, new TextDecoder().decode(t.payload)])).toEqual([
      [S_ISN + 1, U_ISN + 4, TcpFlag.PSH | TcpFlag.ACK, "abc"],
      [S_ISN + 4, U_ISN + 4, TcpFlag.ACK, ""],
    ]);
  });

  it("discards an ACK for data never sent, and resends the SYN/ACK for a retransmitted SYN", () => {
    const h = buildSeedHome({ isn: { s: S_ISN }, uRuleset: deafU });
    h.u.stack.rawSend(seg(U_ISN, 0, TcpFlag.SYN));
    h.sim.run({ until: 10 });
    h.u.stack.rawSend(seg(U_ISN, 0, TcpFlag.SYN));
    h.sim.run({ until: 20 });
    const lan = h.sim.segments
      .get("lan")!
      .captures.map(tcpOf)
      .filter((t) => t.srcPort === 5432);
    expect(lan.map((t) => [t.seq, t.ack, t.flags])).toEqual([
      [S_ISN, U_ISN + 1, TcpFlag.SYN | TcpFlag.ACK],
      [S_ISN, U_ISN + 1, TcpFlag.SYN | TcpFlag.ACK],
    ]);
    // An ACK that acknowledges beyond the SYN/ACK is not acceptable in SYN_RECEIVED: RST seq = its ack.
    h.u.stack.rawSend(seg(U_ISN + 1, S_ISN + 99, TcpFlag.ACK));
    h.sim.run({ until: 30 });
    const after = h.sim.segments
      .get("lan")!
      .captures.map(tcpOf)
      .filter((t) => t.srcPort === 5432);
    expect(after[2]).toMatchObject({ seq: S_ISN + 99, flags: TcpFlag.RST });
  });
});
