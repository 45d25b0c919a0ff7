// The TCP tracker's tables as data: tcp_conntracks transitions and tcp_error's flag whitelist.
import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import { CtDir, TcpFlag } from "../packet-meta.js";
import { TcpIndex, tcpFlagsValid, tcpIndex, tcpTransition } from "./tcp-tracker.js";
import { TcpState } from "./timeouts.js";

const { SYN, ACK, FIN, RST, PSH, URG, ECE, CWR } = TcpFlag;
const S = TcpState;

describe("tcp_conntracks", () => {
  it.each([
    [CtDir.ORIGINAL, TcpIndex.SYN, S.NONE, S.SYN_SENT],
    [CtDir.REPLY, TcpIndex.SYN, S.SYN_SENT, S.SYN_SENT2],
    [CtDir.REPLY, TcpIndex.SYNACK, S.SYN_SENT, S.SYN_RECV],
    [CtDir.REPLY, TcpIndex.SYNACK, S.SYN_SENT2, S.SYN_RECV],
    [CtDir.ORIGINAL, TcpIndex.SYNACK, S.SYN_SENT2, S.SYN_RECV],
    [CtDir.ORIGINAL, TcpIndex.SYNACK, S.SYN_SENT, S.INVALID],
    [CtDir.ORIGINAL, TcpIndex.SYNACK, S.NONE, S.INVALID],
    [CtDir.ORIGINAL, TcpIndex.ACK, S.SYN_RECV, S.ESTABLISHED],
    [CtDir.ORIGINAL, TcpIndex.ACK, S.NONE, S.ESTABLISHED],
    [CtDir.ORIGINAL, TcpIndex.FIN, S.ESTABLISHED, S.FIN_WAIT],
    [CtDir.REPLY, TcpIndex.ACK, S.FIN_WAIT, S.CLOSE_WAIT],
    [CtDir.REPLY, TcpIndex.FIN, S.CLOSE_WAIT, S.LAST_ACK],
    [CtDir.ORIGINAL, TcpIndex.ACK, S.LAST_ACK, S.TIME_WAIT],
    [CtDir.ORIGINAL, TcpIndex.SYN, S.TIME_WAIT, S.SYN_SENT],
    [CtDir.REPLY, TcpIndex.SYN, S.TIME_WAIT, S.SYN_SENT],
    [CtDir.REPLY, TcpIndex.ACK, S.SYN_SENT, S.IGNORE],
    [CtDir.ORIGINAL, TcpIndex.SYN, S.ESTABLISHED, S.IGNORE],
    [CtDir.REPLY, TcpIndex.RST, S.ESTABLISHED, S.CLOSE],
    [CtDir.ORIGINAL, TcpIndex.RST, S.NONE, S.INVALID],
  ])("dir %i index %i from %i → %i", (dir, index, from, to) => {
    expect(tcpTransition(dir, index, from)).toBe(to);
  });

  it("RST closes every state but NONE, in both directions; NONE-index packets are always invalid", () => {
    const states: number[] = [S.SYN_SENT, S.SYN_RECV, S.ESTABLISHED, S.FIN_WAIT, S.CLOSE_WAIT, S.LAST_ACK];
    states.push(S.TIME_WAIT, S.CLOSE, S.SYN_SENT2);
    for (const dir of [0, 1])
      for (const s of states) {
        expect(tcpTransition(dir, TcpIndex.RST, s)).toBe(S.CLOSE);
        expect(tcpTransition(dir, TcpIndex.NONE, s)).toBe(S.INVALID);
      }
  });
});

describe("tcp_error flag whitelist", () => {
  it("accepts the nine combinations and rejects NULL, FIN, XMAS, SYN|FIN, SYN|RST", () => {
    for (const f of [SYN, SYN | URG, SYN | ACK, RST, RST | ACK, FIN | ACK, FIN | ACK | URG, ACK, ACK | URG])
      expect(tcpFlagsValid(f)).toBe(true);
    for (const f of [0, FIN, FIN | PSH | URG, SYN | FIN, SYN | RST, SYN | ACK | FIN, RST | FIN | ACK])
      expect(tcpFlagsValid(f)).toBe(false);
  });

  test.prop([fc.integer({ min: 0, max: 255 })])("PSH, ECE and CWR never change the verdict", (f) => {
    expect(tcpFlagsValid(f)).toBe(tcpFlagsValid(f & ~(PSH | ECE | CWR)));
  });

  test.prop([fc.integer({ min: 0, max: 255 })])("every valid combination selects a row other than NONE", (f) => {
    if (tcpFlagsValid(f)) expect(tcpIndex(f)).not.toBe(TcpIndex.NONE);
  });
});
