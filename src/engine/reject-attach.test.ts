// The reply of a `reject` carries the refused packet's entry (nf_ct_attach): it is RELATED in the direction opposite
// the refused packet, follows the entry's NAT (nf_nat_icmp_reply_translation for an ICMP error), is never tracked
// or confirmed itself, and a TCP reset puts a confirmed connection in CLOSE (nf_ct_set_closing). Kernel-checked in
// src/lab/differential/reject-attach.test.ts; here the same outcomes on the engine alone, bytes checked.

import { describe, expect, it } from "vitest";
import type { DatapathEvent } from "./datapath.js";
import type { Expr, Rule } from "./filter/index.js";
import {
  ACCEPT,
  DROP,
  LAN,
  RecordingSink,
  WAN,
  badChecksums,
  baseChain,
  ctState,
  iifname,
  int,
  match,
  oifname,
  rule,
  seedRouter,
  seedRuleset,
  sym,
  tcpPacket,
  udpPacket,
} from "./datapath.fixture.js";
import { CtStatus, TcpFlag } from "./packet-meta.js";
import { TCP_STATE_NAMES, TcpState } from "./conntrack/index.js";
import { readU16, readU32 } from "../wire/bytes.js";
import { formatIpv4 } from "../wire/address.js";
import { Ipv4Field } from "../wire/ipv4.js";
import { TcpField } from "../wire/tcp.js";
import { Icmpv4Field } from "../wire/icmpv4.js";

const T = 20;
const EMBEDDED = T + Icmpv4Field.EMBEDDED;
const REJECT_LINE = 40;
const tcpDport = { kind: "payload", protocol: "tcp", field: "dport" } as const;
const udpDport = { kind: "payload", protocol: "udp", field: "dport" } as const;
const ipLength = { kind: "payload", protocol: "ip", field: "length" } as const;
const l4proto = { kind: "meta", key: "l4proto" } as const;
const RESET: Expr = { kind: "reject", with: { type: "tcp-reset" } };

function endpoints(b: Uint8Array, at = 0): string {
  const l4 = at + (b[at] & 0x0f) * 4;
  return (
    `${formatIpv4(readU32(b, at + Ipv4Field.SRC))}:${String(readU16(b, l4))} > ` +
    `${formatIpv4(readU32(b, at + Ipv4Field.DST))}:${String(readU16(b, l4 + 2))}`
  );
}

/** Seed router with a DNAT port forward (tcp 8080 → .20:80, udp 5000 → .20:5353) and rejects in forward. */
function router(forwardHead: Rule[], forwardTail: Rule[], outputRules: Rule[] | null) {
  const dnat = (dport: Expr, port: number): Expr[] => [
    iifname("wan"),
    dport,
    {
      kind: "dnat",
      family: "ip",
      addr: { kind: "address", addr: "192.168.1.20" },
      port: { lo: port, hi: port },
    },
  ];
  const chains = [
    baseChain("prerouting", 30, "nat", "prerouting", -100, "accept", [
      rule(31, ...dnat(match(tcpDport, int(8080)), 80)),
      rule(32, ...dnat(match(udpDport, int(5000)), 5353)),
    ]),
  ];
  if (outputRules !== null) chains.push(baseChain("output", 35, "filter", "output", 0, "accept", outputRules));
  return seedRouter(seedRuleset({ forwardHead, forwardTail, chains }));
}

const refuseFromWan = [
  rule(REJECT_LINE, iifname("wan"), oifname("lan"), match(l4proto, sym("tcp")), RESET),
  rule(REJECT_LINE + 1, iifname("wan"), oifname("lan"), {
    kind: "reject",
    with: { type: "icmp", code: "port-unreachable" },
  }),
];

describe("reject replies attached to the refused packet's entry (nf_ct_attach)", () => {
  function establish(dp: ReturnType<typeof router>, sink: RecordingSink): number {
    dp.receive(
      ...pkt(tcpPacket("192.168.1.10", 40000, "203.0.113.5", 80, { flags: TcpFlag.SYN, seq: 1000 })),
      LAN,
      1,
      sink,
    );
    const port = readU16(sink.transmitted[0].bytes, T + TcpField.SRC_PORT);
    const synAck = tcpPacket("203.0.113.5", 80, "198.51.100.2", port, {
      flags: TcpFlag.SYN | TcpFlag.ACK,
      seq: 5000,
      ack: 1001,
    });
    dp.receive(...pkt(synAck), WAN, 2, sink);
    dp.receive(
      ...pkt(tcpPacket("192.168.1.10", 40000, "203.0.113.5", 80, { flags: TcpFlag.ACK, seq: 1001, ack: 5001 })),
      LAN,
      3,
      sink,
    );
    sink.clear();
    return port;
  }
  const pkt = (b: Uint8Array): [Uint8Array, number, number] => [b, 0, b.length];
  const refusedSegment = () =>
    tcpPacket("192.168.1.10", 40000, "203.0.113.5", 80, {
      flags: TcpFlag.PSH | TcpFlag.ACK,
      seq: 1001,
      ack: 5001,
      payload: new Uint8Array(7),
    });
  const resetSeven = [rule(REJECT_LINE, iifname("lan"), match(ipLength, int(47)), RESET)];

  it("an established segment reset in forward: RST to the client, RELATED reply, entry CLOSE, not re-tracked", () => {
    const dp = router(resetSeven, [], null);
    const sink = new RecordingSink();
    establish(dp, sink);
    const events: DatapathEvent[] = [];
    dp.trace = (e) => events.push(e);
    const d = dp.receive(...pkt(refusedSegment()), LAN, 4, sink);
    expect(d.kind).toBe("rejected");
    expect(sink.transmitted).toHaveLength(1);
    const { oif, bytes } = sink.transmitted[0];
    expect(oif).toBe(LAN);
    expect(endpoints(bytes)).toBe("203.0.113.5:80 > 192.168.1.10:40000");
    expect(bytes[T + TcpField.FLAGS]).toBe(TcpFlag.RST);
    expect(readU32(bytes, T + TcpField.SEQ)).toBe(5001);
    expect(badChecksums(bytes)).toEqual([]);
    const ct = events.filter((e) => e.kind === "conntrack" && e.hook === "output");
    expect(ct).toEqual([
      expect.objectContaining({ state: "related", direction: "reply", cause: expect.stringContaining("nf_ct_attach") }),
    ]);
    const [entry] = dp.conntrack.list();
    expect(dp.conntrack.count()).toBe(1);
    expect(entry.state).toBe(TCP_STATE_NAMES[TcpState.CLOSE]);
    expect(entry.timeoutAt - 4).toBe(dp.conntrack.timeouts.tcpClose * 1000);
  });

  it("an output chain dropping `ct state related` stops the RST; accepting only established does too", () => {
    for (const output of [
      [rule(36, ctState("related"), DROP)],
      [rule(36, ctState("established"), ACCEPT), rule(37, DROP)],
    ]) {
      const dp = router(resetSeven, [], output);
      const sink = new RecordingSink();
      establish(dp, sink);
      expect(dp.receive(...pkt(refusedSegment()), LAN, 4, sink).kind).toBe("rejected");
      expect(sink.transmitted).toEqual([]);
      // The refused segment's (confirmed) entry survives the reply's drop, in CLOSE.
      expect(dp.conntrack.list().map((e) => e.state)).toEqual([TCP_STATE_NAMES[TcpState.CLOSE]]);
    }
  });

  it("a SYN through DNAT reset in forward: the RST leaves from the public address and port, no entry remains", () => {
    const dp = router([], refuseFromWan, null);
    const sink = new RecordingSink();
    const syn = tcpPacket("203.0.113.77", 41000, "198.51.100.2", 8080, { flags: TcpFlag.SYN, seq: 7000 });
    expect(dp.receive(...pkt(syn), WAN, 1, sink).kind).toBe("rejected");
    expect(sink.transmitted).toHaveLength(1);
    const { oif, bytes } = sink.transmitted[0];
    expect(oif).toBe(WAN);
    expect(endpoints(bytes)).toBe("198.51.100.2:8080 > 203.0.113.77:41000");
    expect(bytes[T + TcpField.FLAGS]).toBe(TcpFlag.RST | TcpFlag.ACK);
    expect(readU32(bytes, T + TcpField.ACK)).toBe(7001);
    expect(badChecksums(bytes)).toEqual([]);
    expect(dp.conntrack.count()).toBe(0);
  });

  it("a datagram through DNAT refused with port-unreachable: outer and quoted headers translated back", () => {
    const dp = router([], refuseFromWan, null);
    const sink = new RecordingSink();
    const events: DatapathEvent[] = [];
    dp.trace = (e) => events.push(e);
    const dgram = udpPacket("203.0.113.77", 41000, "198.51.100.2", 5000);
    expect(dp.receive(...pkt(dgram), WAN, 1, sink).kind).toBe("rejected");
    expect(sink.transmitted).toHaveLength(1);
    const { oif, bytes } = sink.transmitted[0];
    expect(oif).toBe(WAN);
    expect(formatIpv4(readU32(bytes, Ipv4Field.SRC))).toBe("198.51.100.2");
    expect(formatIpv4(readU32(bytes, Ipv4Field.DST))).toBe("203.0.113.77");
    expect([bytes[T + Icmpv4Field.TYPE], bytes[T + Icmpv4Field.CODE]]).toEqual([3, 3]);
    // The quote shows the datagram as the remote host sent it (TTL aside), not the DNATed one.
    expect(endpoints(bytes, EMBEDDED)).toBe("203.0.113.77:41000 > 198.51.100.2:5000");
    expect(badChecksums(bytes)).toEqual([]);
    expect(dp.conntrack.count()).toBe(0);
    // No nat chain ran for the error (nf_nat_ipv4_fn: RELATED ICMP gets only the reply translation).
    const natRules = events.filter((e) => e.kind === "nat" && e.hook === "postrouting" && e.rule !== null);
    expect(natRules).toEqual([]);
  });

  it("a refused first packet's entry is released: the same flow can be set up once the reject is gone", () => {
    const dp = router([], refuseFromWan, null);
    const sink = new RecordingSink();
    const syn = tcpPacket("203.0.113.77", 41000, "198.51.100.2", 8080, { flags: TcpFlag.SYN, seq: 7000 });
    // receive rewrites its buffer in place (DNAT): each send gets a fresh copy.
    dp.receive(...pkt(syn.slice()), WAN, 1, sink);
    const replaced = dp.replaceRuleset(router([rule(REJECT_LINE, iifname("wan"), ACCEPT)], [], null).ruleset);
    expect(replaced.ok).toBe(true);
    sink.clear();
    expect(dp.receive(...pkt(syn.slice()), WAN, 2, sink).kind).toBe("forwarded");
    const [entry] = dp.conntrack.list();
    expect(dp.conntrack.count()).toBe(1);
    expect(entry.status & CtStatus.DST_NAT).toBe(CtStatus.DST_NAT);
    expect(entry.reply.src).toBe("192.168.1.20");
  });
});
