// Regression cases the kernel referee found (src/lab/differential): the null binding of a connection whose reply
// tuple is already another connection's tuple. Linux (nf_nat_core.c get_unique_tuple) leaves a DST null binding
// as it is ("if it's dst rewrite, can't change port") and lets the SRC null binding at postrouting search a new
// source port, so the packet is forwarded with its source port changed; the engine used to drop it at prerouting.

import { describe, expect, it } from "vitest";
import {
  ACCEPT,
  LAN,
  RecordingSink,
  WAN,
  badChecksums,
  rule,
  seedRouter,
  seedRuleset,
  tcpPacket,
} from "../datapath.fixture.js";
import { TcpFlag } from "../packet-meta.js";
import { readU16, readU32 } from "../../wire/bytes.js";
import { formatIpv4 } from "../../wire/address.js";
import { Ipv4Field } from "../../wire/ipv4.js";
import { TcpField } from "../../wire/tcp.js";

const IP_HEADER = 20;

describe("null binding on a clashing reply tuple (differential seed-175)", () => {
  it("forwards the WAN packet with a source port from the same port class, as the kernel does", () => {
    // Forward accepts everything, so the WAN host may open a connection straight to the LAN address.
    const dp = seedRouter(seedRuleset({ forwardTail: [rule(99, ACCEPT)] }));
    const sink = new RecordingSink();
    // 1. A LAN server's mid-stream ACK (loose pickup): 192.168.1.20:22 → 203.0.113.5:1000, masqueraded.
    const out = tcpPacket("192.168.1.20", 22, "203.0.113.5", 1000, { flags: TcpFlag.ACK, seq: 311519996, ack: 7 });
    expect(dp.receive(out, 0, out.length, LAN, 10, sink)).toEqual({ kind: "forwarded", oif: WAN });
    // 2. The WAN host sends to the LAN address directly: its reply tuple 192.168.1.20:22 → 203.0.113.5:1000 is
    //    connection 1's original tuple.
    const inbound = tcpPacket("203.0.113.5", 1000, "192.168.1.20", 22, { flags: TcpFlag.ACK, seq: 7, ack: 311519996 });
    sink.clear();
    expect(dp.receive(inbound, 0, inbound.length, WAN, 20, sink)).toEqual({ kind: "forwarded", oif: LAN });
    const b = sink.transmitted[0].bytes;
    expect(formatIpv4(readU32(b, Ipv4Field.SRC))).toBe("203.0.113.5");
    expect(formatIpv4(readU32(b, Ipv4Field.DST))).toBe("192.168.1.20");
    const sport = readU16(b, IP_HEADER + TcpField.SRC_PORT);
    // nf_nat_l4proto_unique_tuple: a port in 512..1023 moves within 600..1023.
    expect(sport).not.toBe(1000);
    expect(sport).toBeGreaterThanOrEqual(600);
    expect(sport).toBeLessThanOrEqual(1023);
    expect(readU16(b, IP_HEADER + TcpField.DST_PORT)).toBe(22);
    expect(badChecksums(b)).toEqual([]);
    const entries = dp.conntrack.list().filter((e) => e.confirmed);
    expect(entries).toHaveLength(2);
    const second = entries.find((e) => e.original.src === "203.0.113.5");
    expect(second?.reply).toEqual({ src: "192.168.1.20", dst: "203.0.113.5", sport: 22, dport: sport });
  });
});
