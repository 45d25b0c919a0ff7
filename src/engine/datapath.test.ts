// End-to-end tests of one node's datapath: real packets in, real bytes out, through parse → conntrack → NAT →
// routing → filter hooks → confirm, on the seed-home router of SCENARIOS.md. Every assertion is on output bytes
// (addresses, ports, TTL, full checksum recomputation), conntrack state, or the origin of the deciding rule.

import { describe, expect, it } from "vitest";
import { fc, test as fcTest } from "@fast-check/vitest";
import type { DatapathEvent, Disposition } from "./datapath.js";
import type { Ruleset } from "./filter/index.js";
import { Datapath } from "./datapath.js";
import {
  ACCEPT,
  DROP,
  LAN,
  RecordingSink,
  SOURCE,
  SeedLine,
  WAN,
  addr,
  badChecksums,
  baseChain,
  ctState,
  icmpErrorPacket,
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
  words,
} from "./datapath.fixture.js";
import { CtStatus, TcpFlag } from "./packet-meta.js";
import { SeededRng } from "./rng.js";
import { TCP_STATE_NAMES, TcpState } from "./conntrack/index.js";
import { readU16, readU32 } from "../wire/bytes.js";
import { formatIpv4 } from "../wire/address.js";
import { Ipv4Field } from "../wire/ipv4.js";
import { TcpField } from "../wire/tcp.js";
import { UdpField } from "../wire/udp.js";
import { Icmpv4Field } from "../wire/icmpv4.js";

const SYN = TcpFlag.SYN;
const SYNACK = TcpFlag.SYN | TcpFlag.ACK;
const ACK = TcpFlag.ACK;
/** Offset of the ICMP error's embedded IP header in an IPv4 packet with a 20-byte header. */
const EMBEDDED = 20 + Icmpv4Field.EMBEDDED;

/** The header fields a test compares, read back from output bytes. */
function fields(b: Uint8Array, at = 0) {
  const l4 = at + (b[at + Ipv4Field.VER_IHL] & 0x0f) * 4;
  return {
    src: formatIpv4(readU32(b, at + Ipv4Field.SRC)),
    dst: formatIpv4(readU32(b, at + Ipv4Field.DST)),
    proto: b[at + Ipv4Field.PROTOCOL],
    ttl: b[at + Ipv4Field.TTL],
    sport: readU16(b, l4 + UdpField.SRC_PORT),
    dport: readU16(b, l4 + UdpField.DST_PORT),
  };
}

const endpoints = (b: Uint8Array, at = 0): string => {
  const f = fields(b, at);
  return `${f.src}:${f.sport} > ${f.dst}:${f.dport}`;
};

/** Sends bytes into the router on `iif` at `now`, returning the disposition and a fresh sink's records. */
function inject(dp: Datapath, iif: number, bytes: Uint8Array, now = 0, sink = new RecordingSink()) {
  const d = dp.receive(bytes, 0, bytes.length, iif, now, sink);
  return { d, sink };
}

function decidedBy(d: Disposition): { kind: string; line: number | string } {
  if (d.kind === "dropped" && d.reason.kind === "verdict") {
    const by = d.reason.verdict.by;
    return {
      kind: by.kind,
      line: by.kind === "rule" ? by.rule.origin.line : by.kind === "policy" ? by.chain.origin.line : "",
    };
  }
  if (d.kind === "rejected") {
    const by = d.verdict.by;
    return { kind: by.kind, line: by.kind === "rule" ? by.rule.origin.line : "" };
  }
  return { kind: d.kind, line: "" };
}

function onlyEntry(dp: Datapath) {
  const list = dp.conntrack.list();
  expect(list).toHaveLength(1);
  return list[0];
}

describe("the seed's trick: a forged LAN source gets a mapping the internet can use (SCENARIOS spoofed-source)", () => {
  const forged = () => udpPacket("192.168.1.20", 22, "203.0.113.66", 80);

  it("forwards the forged UDP datagram out of wan as 198.51.100.2:22, port preserved, checksums valid", () => {
    const dp = seedRouter();
    const { d, sink } = inject(dp, LAN, forged());
    expect(d).toEqual({ kind: "forwarded", oif: WAN });
    expect(sink.transmitted).toHaveLength(1);
    const out = sink.transmitted[0];
    expect(out.oif).toBe(WAN);
    expect(out.nextHop).toEqual(words("198.51.100.1"));
    expect(endpoints(out.bytes)).toBe("198.51.100.2:22 > 203.0.113.66:80");
    expect(badChecksums(out.bytes)).toEqual([]);
    const e = onlyEntry(dp);
    expect(e.original).toMatchObject({ src: "192.168.1.20", sport: 22, dst: "203.0.113.66", dport: 80 });
    expect(e.reply).toMatchObject({ src: "203.0.113.66", sport: 80, dst: "198.51.100.2", dport: 22 });
    expect(e.status & CtStatus.SRC_NAT).not.toBe(0);
  });

  it("then a UDP datagram from 203.0.113.66:80 to 198.51.100.2:22 reaches 192.168.1.20:22 as ESTABLISHED", () => {
    const dp = seedRouter();
    inject(dp, LAN, forged());
    const events: DatapathEvent[] = [];
    dp.trace = (e) => events.push(e);
    const { d, sink } = inject(dp, WAN, udpPacket("203.0.113.66", 80, "198.51.100.2", 22), 10);
    expect(d).toEqual({ kind: "forwarded", oif: LAN });
    const out = sink.transmitted[0];
    expect(endpoints(out.bytes)).toBe("203.0.113.66:80 > 192.168.1.20:22");
    expect(out.nextHop).toEqual(words("192.168.1.20"));
    expect(badChecksums(out.bytes)).toEqual([]);
    expect(events).toContainEqual(
      expect.objectContaining({ kind: "conntrack", state: "established", direction: "reply" }),
    );
    const accepted = events.find((e) => e.kind === "verdict" && e.hook === "forward");
    expect(accepted).toMatchObject({
      verdict: { kind: "accept", by: { rule: { origin: { line: SeedLine.FORWARD_CT } } } },
    });
  });

  it("TCP: forged SYN out (SYN_SENT), Mallory's SYN from port 80 in the reply direction → SYN_SENT2, forwarded to S", () => {
    const dp = seedRouter();
    const out1 = inject(dp, LAN, tcpPacket("192.168.1.20", 22, "203.0.113.66", 80, { flags: SYN, seq: 1000 }));
    expect(out1.d).toEqual({ kind: "forwarded", oif: WAN });
    expect(endpoints(out1.sink.transmitted[0].bytes)).toBe("198.51.100.2:22 > 203.0.113.66:80");
    expect(badChecksums(out1.sink.transmitted[0].bytes)).toEqual([]);
    expect(onlyEntry(dp).state).toBe(TCP_STATE_NAMES[TcpState.SYN_SENT]);
    const { d, sink } = inject(
      dp,
      WAN,
      tcpPacket("203.0.113.66", 80, "198.51.100.2", 22, { flags: SYN, seq: 7777 }),
      5,
    );
    expect(d).toEqual({ kind: "forwarded", oif: LAN });
    const out = sink.transmitted[0].bytes;
    expect(endpoints(out)).toBe("203.0.113.66:80 > 192.168.1.20:22");
    expect(out[20 + TcpField.FLAGS]).toBe(SYN);
    expect(readU32(out, 20 + TcpField.SEQ)).toBe(7777);
    expect(badChecksums(out)).toEqual([]);
    expect(onlyEntry(dp).state).toBe("SYN_SENT2");
  });

  it("hardened: the forged datagram is dropped by the egress rule, no entry exists, Mallory's packets hit the policy", () => {
    const dp = seedRouter(seedRuleset({ hardened: true }));
    const first = inject(dp, LAN, forged());
    expect(first.d.kind).toBe("dropped");
    expect(decidedBy(first.d)).toEqual({ kind: "rule", line: SeedLine.FORWARD_HARDENED });
    expect(first.sink.transmitted).toEqual([]);
    expect(dp.conntrack.count()).toBe(0);
    const udp = inject(dp, WAN, udpPacket("203.0.113.66", 80, "198.51.100.2", 22), 1);
    // 198.51.100.2 is the router itself: the datagram goes to INPUT and its drop policy.
    expect(decidedBy(udp.d)).toEqual({ kind: "policy", line: SeedLine.INPUT });
    expect(udp.sink.transmitted).toEqual([]);
    expect(udp.sink.delivered).toEqual([]);

    const tcpDp = seedRouter(seedRuleset({ hardened: true }));
    const syn = inject(tcpDp, LAN, tcpPacket("192.168.1.20", 22, "203.0.113.66", 80, { flags: SYN }));
    expect(decidedBy(syn.d)).toEqual({ kind: "rule", line: SeedLine.FORWARD_HARDENED });
    expect(tcpDp.conntrack.count()).toBe(0);
    const in2 = inject(tcpDp, WAN, tcpPacket("203.0.113.66", 80, "198.51.100.2", 22, { flags: SYN }), 1);
    expect(decidedBy(in2.d)).toEqual({ kind: "policy", line: SeedLine.INPUT });
    expect(tcpDp.conntrack.count()).toBe(0);
  });
});

describe("unsolicited inbound (SCENARIOS ground truth)", () => {
  it("a SYN to the WAN address with input policy drop is silently dropped and leaves no conntrack entry", () => {
    const dp = seedRouter();
    const { d, sink } = inject(dp, WAN, tcpPacket("203.0.113.66", 40000, "198.51.100.2", 22, { flags: SYN }));
    expect(d).toMatchObject({ kind: "dropped", hook: "input" });
    expect(decidedBy(d)).toEqual({ kind: "policy", line: SeedLine.INPUT });
    expect(sink.transmitted).toEqual([]);
    expect(dp.conntrack.count()).toBe(0);
  });

  it("with input policy accept and no listener, the SYN is delivered to the router's own stack, entry confirmed", () => {
    const dp = seedRouter(seedRuleset({ inputPolicy: "accept" }));
    const syn = tcpPacket("203.0.113.66", 40000, "198.51.100.2", 22, { flags: SYN });
    const { d, sink } = inject(dp, WAN, syn);
    expect(d).toEqual({ kind: "delivered" });
    expect(sink.delivered).toEqual([syn]);
    expect(onlyEntry(dp).state).toBe("SYN_SENT");
  });
});

describe("a legitimate masqueraded TCP connection", () => {
  it("SYN out, SYN/ACK back, ACK out: bytes at each step, ESTABLISHED and ASSURED at the end", () => {
    const dp = seedRouter();
    const syn = inject(dp, LAN, tcpPacket("192.168.1.10", 40000, "203.0.113.80", 80, { flags: SYN, seq: 100 }), 0);
    expect(syn.d).toEqual({ kind: "forwarded", oif: WAN });
    const s = syn.sink.transmitted[0].bytes;
    expect(endpoints(s)).toBe("198.51.100.2:40000 > 203.0.113.80:80");
    expect(fields(s).ttl).toBe(63);
    expect(badChecksums(s)).toEqual([]);

    const sa = inject(
      dp,
      WAN,
      tcpPacket("203.0.113.80", 80, "198.51.100.2", 40000, { flags: SYNACK, seq: 9000, ack: 101 }),
      10,
    );
    expect(sa.d).toEqual({ kind: "forwarded", oif: LAN });
    const b = sa.sink.transmitted[0].bytes;
    expect(endpoints(b)).toBe("203.0.113.80:80 > 192.168.1.10:40000");
    expect(readU32(b, 20 + TcpField.ACK)).toBe(101);
    expect(badChecksums(b)).toEqual([]);
    expect(onlyEntry(dp).state).toBe("SYN_RECV");

    const ack = inject(
      dp,
      LAN,
      tcpPacket("192.168.1.10", 40000, "203.0.113.80", 80, { flags: ACK, seq: 101, ack: 9001 }),
      20,
    );
    expect(ack.d).toEqual({ kind: "forwarded", oif: WAN });
    expect(endpoints(ack.sink.transmitted[0].bytes)).toBe("198.51.100.2:40000 > 203.0.113.80:80");
    expect(badChecksums(ack.sink.transmitted[0].bytes)).toEqual([]);
    const e = onlyEntry(dp);
    expect(e.state).toBe("ESTABLISHED");
    expect(e.status & CtStatus.ASSURED).toBe(CtStatus.ASSURED);
  });
});

const tcpDport = { kind: "payload", protocol: "tcp", field: "dport" } as const;
const udpDport = { kind: "payload", protocol: "udp", field: "dport" } as const;
const ipSaddr = { kind: "payload", protocol: "ip", field: "saddr" } as const;
const ipDaddr = { kind: "payload", protocol: "ip", field: "daddr" } as const;
const l4proto = { kind: "meta", key: "l4proto" } as const;
const ctStatusDnat = match({ kind: "ct", key: "status" }, sym("dnat"), "in");
const lanNet = { kind: "prefix", addr: "192.168.1.0", len: 24 } as const;

describe("reject (nf_reject_ipv4.c)", () => {
  const REJECT_LINE = 30;
  const inputReject = () =>
    seedRuleset({
      inputRules: [
        rule(SeedLine.INPUT_CT, ctState("established", "related"), ACCEPT),
        rule(SeedLine.INPUT_LAN, iifname("lan"), ACCEPT),
        rule(REJECT_LINE, match(l4proto, sym("tcp")), { kind: "reject", with: { type: "tcp-reset" } }),
        rule(REJECT_LINE + 1, { kind: "reject", with: { type: "icmp", code: "port-unreachable" } }),
      ],
    });

  it("a SYN to the router is answered with RST|ACK, seq 0, ack = seq+1, sent out of wan toward the gateway", () => {
    const dp = seedRouter(inputReject());
    const { d, sink } = inject(
      dp,
      WAN,
      tcpPacket("203.0.113.66", 40000, "198.51.100.2", 22, { flags: SYN, seq: 5000 }),
    );
    expect(d.kind).toBe("rejected");
    expect(decidedBy(d)).toEqual({ kind: "rule", line: REJECT_LINE });
    expect(sink.transmitted).toHaveLength(1);
    const { oif, nextHop, bytes } = sink.transmitted[0];
    expect(oif).toBe(WAN);
    expect(nextHop).toEqual(words("198.51.100.1"));
    expect(endpoints(bytes)).toBe("198.51.100.2:22 > 203.0.113.66:40000");
    expect(bytes[20 + TcpField.FLAGS]).toBe(TcpFlag.RST | TcpFlag.ACK);
    expect(readU32(bytes, 20 + TcpField.SEQ)).toBe(0);
    expect(readU32(bytes, 20 + TcpField.ACK)).toBe(5001);
    expect(bytes[Ipv4Field.FLG_OFF] & 0x40).toBe(0x40);
    expect(badChecksums(bytes)).toEqual([]);
    expect(dp.conntrack.count()).toBe(0);
  });

  it("a segment carrying ACK is answered with a bare RST whose seq is the segment's ack number", () => {
    const dp = seedRouter(inputReject());
    const seg = tcpPacket("203.0.113.66", 40000, "198.51.100.2", 22, { flags: ACK, seq: 5000, ack: 0xdeadbeef });
    const { sink } = inject(dp, WAN, seg);
    const bytes = sink.transmitted[0].bytes;
    expect(bytes[20 + TcpField.FLAGS]).toBe(TcpFlag.RST);
    expect(readU32(bytes, 20 + TcpField.SEQ)).toBe(0xdeadbeef);
    expect(badChecksums(bytes)).toEqual([]);
  });

  it("a UDP datagram is answered with ICMP 3/3 quoting the offending datagram, from the address it was sent to", () => {
    const dp = seedRouter(inputReject());
    const dgram = udpPacket("203.0.113.66", 5000, "198.51.100.2", 161);
    const { d, sink } = inject(dp, WAN, dgram);
    expect(decidedBy(d)).toEqual({ kind: "rule", line: REJECT_LINE + 1 });
    const { oif, bytes } = sink.transmitted[0];
    expect(oif).toBe(WAN);
    expect(fields(bytes)).toMatchObject({ src: "198.51.100.2", dst: "203.0.113.66", proto: 1 });
    expect(bytes[20 + Icmpv4Field.TYPE]).toBe(3);
    expect(bytes[20 + Icmpv4Field.CODE]).toBe(3);
    expect(bytes.subarray(EMBEDDED)).toEqual(dgram);
    expect(badChecksums(bytes)).toEqual([]);
  });

  it("a forwarded datagram rejected in forward is answered from the router's LAN address, out of lan", () => {
    const dp = seedRouter(
      seedRuleset({
        forwardHead: [
          rule(REJECT_LINE, iifname("lan"), match(udpDport, int(25)), {
            kind: "reject",
            with: { type: "icmp", code: "port-unreachable" },
          }),
        ],
      }),
    );
    const dgram = udpPacket("192.168.1.10", 5000, "203.0.113.66", 25);
    const { d, sink } = inject(dp, LAN, dgram);
    expect(decidedBy(d)).toEqual({ kind: "rule", line: REJECT_LINE });
    expect(sink.transmitted).toHaveLength(1);
    const { oif, nextHop, bytes } = sink.transmitted[0];
    expect(oif).toBe(LAN);
    expect(nextHop).toEqual(words("192.168.1.10"));
    expect(fields(bytes)).toMatchObject({ src: "192.168.1.1", dst: "192.168.1.10", proto: 1 });
    // ip_forward decremented the TTL before FORWARD: the quote shows TTL 63 with a valid header checksum.
    expect(fields(bytes, EMBEDDED)).toMatchObject({
      src: "192.168.1.10",
      dst: "203.0.113.66",
      ttl: 63,
      sport: 5000,
      dport: 25,
    });
    expect(bytes.subarray(EMBEDDED + 20)).toEqual(dgram.subarray(20));
    expect(badChecksums(bytes)).toEqual([]);
    expect(dp.conntrack.count()).toBe(0);
  });
});

describe("DNAT port forward and hairpin (fw4 reflection, SEMANTICS §2.10)", () => {
  const DNAT_LINE = 40;
  const HAIRPIN_DNAT_LINE = 41;
  const HAIRPIN_SNAT_LINE = 45;
  const FORWARD_DNAT_LINE = 12;
  const dnatTo = { kind: "dnat", family: "ip", addr: addr("192.168.1.20"), port: { lo: 22, hi: 22 } } as const;
  const forwardRuleset = () =>
    seedRuleset({
      forwardTail: [rule(FORWARD_DNAT_LINE, ctStatusDnat, ACCEPT)],
      chains: [
        baseChain("dstnat", 38, "nat", "prerouting", -100, "accept", [
          rule(DNAT_LINE, iifname("wan"), match(tcpDport, int(2222)), dnatTo),
          rule(
            HAIRPIN_DNAT_LINE,
            iifname("lan"),
            match(ipSaddr, lanNet),
            match(ipDaddr, addr("198.51.100.2")),
            match(tcpDport, int(2222)),
            dnatTo,
          ),
        ]),
        baseChain("srcnat_lan", 43, "nat", "postrouting", 100, "accept", [
          rule(
            HAIRPIN_SNAT_LINE,
            oifname("lan"),
            match(ipSaddr, lanNet),
            match(ipDaddr, addr("192.168.1.20")),
            match(tcpDport, int(22)),
            ctStatusDnat,
            { kind: "snat", family: "ip", addr: addr("192.168.1.1") },
          ),
        ]),
      ],
    });

  it("WAN:2222 reaches S:22 and S's answer leaves as WAN:2222", () => {
    const dp = seedRouter(forwardRuleset());
    const events: DatapathEvent[] = [];
    dp.trace = (e) => events.push(e);
    const syn = inject(dp, WAN, tcpPacket("203.0.113.66", 5555, "198.51.100.2", 2222, { flags: SYN, seq: 1 }));
    expect(syn.d).toEqual({ kind: "forwarded", oif: LAN });
    const s = syn.sink.transmitted[0].bytes;
    expect(endpoints(s)).toBe("203.0.113.66:5555 > 192.168.1.20:22");
    expect(badChecksums(s)).toEqual([]);
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: "nat",
        manip: "dst",
        rule: expect.objectContaining({ origin: { source: SOURCE, line: DNAT_LINE, column: 1 } }),
      }),
    );
    const fwd = events.find((e) => e.kind === "verdict" && e.hook === "forward");
    expect(fwd).toMatchObject({ verdict: { kind: "accept", by: { rule: { origin: { line: FORWARD_DNAT_LINE } } } } });

    const sa = inject(
      dp,
      LAN,
      tcpPacket("192.168.1.20", 22, "203.0.113.66", 5555, { flags: SYNACK, seq: 900, ack: 2 }),
      1,
    );
    expect(sa.d).toEqual({ kind: "forwarded", oif: WAN });
    expect(endpoints(sa.sink.transmitted[0].bytes)).toBe("198.51.100.2:2222 > 203.0.113.66:5555");
    expect(badChecksums(sa.sink.transmitted[0].bytes)).toEqual([]);
    expect(onlyEntry(dp).status & CtStatus.DST_NAT).toBe(CtStatus.DST_NAT);
  });

  it("hairpin: U → WAN:2222 reaches S with the router's LAN address as source; S's answer returns as WAN:2222", () => {
    const dp = seedRouter(forwardRuleset());
    const syn = inject(dp, LAN, tcpPacket("192.168.1.10", 40001, "198.51.100.2", 2222, { flags: SYN, seq: 1 }));
    expect(syn.d).toEqual({ kind: "forwarded", oif: LAN });
    const s = syn.sink.transmitted[0].bytes;
    expect(endpoints(s)).toBe("192.168.1.1:40001 > 192.168.1.20:22");
    expect(syn.sink.transmitted[0].nextHop).toEqual(words("192.168.1.20"));
    expect(badChecksums(s)).toEqual([]);
    const sa = inject(
      dp,
      LAN,
      tcpPacket("192.168.1.20", 22, "192.168.1.1", 40001, { flags: SYNACK, seq: 900, ack: 2 }),
      1,
    );
    expect(sa.d).toEqual({ kind: "forwarded", oif: LAN });
    expect(endpoints(sa.sink.transmitted[0].bytes)).toBe("198.51.100.2:2222 > 192.168.1.10:40001");
    expect(badChecksums(sa.sink.transmitted[0].bytes)).toEqual([]);
    const e = onlyEntry(dp);
    expect(e.status & (CtStatus.SRC_NAT | CtStatus.DST_NAT)).toBe(CtStatus.SRC_NAT | CtStatus.DST_NAT);
  });

  it("without the reflection SNAT, U's packet reaches S with U's own source (S would answer U directly)", () => {
    const rs = forwardRuleset();
    const table = rs.tables[0];
    const noSnat = { tables: [{ ...table, chains: table.chains.filter((c) => c.name !== "srcnat_lan") }] };
    const dp = seedRouter(noSnat);
    const { sink } = inject(dp, LAN, tcpPacket("192.168.1.10", 40001, "198.51.100.2", 2222, { flags: SYN }));
    expect(endpoints(sink.transmitted[0].bytes)).toBe("192.168.1.10:40001 > 192.168.1.20:22");
  });

  it("ICMP errors are translated both ways (RELATED, RFC 5508 REQ-4)", () => {
    // Outbound masqueraded UDP; the internet answers with 3/3 quoting what it received.
    const dp = seedRouter(forwardRuleset());
    const out = inject(dp, LAN, udpPacket("192.168.1.10", 5000, "203.0.113.66", 53)).sink.transmitted[0].bytes;
    const err = icmpErrorPacket("203.0.113.66", "198.51.100.2", out);
    const back = inject(dp, WAN, err, 1);
    expect(back.d).toEqual({ kind: "forwarded", oif: LAN });
    const b = back.sink.transmitted[0].bytes;
    expect(fields(b)).toMatchObject({ src: "203.0.113.66", dst: "192.168.1.10", proto: 1 });
    expect(endpoints(b, EMBEDDED)).toBe("192.168.1.10:5000 > 203.0.113.66:53");
    expect(badChecksums(b)).toEqual([]);

    // Inbound DNATed UDP (udp dport 5353 → S:53); S answers with 3/3 quoting what it received.
    const dp2 = seedRouter(
      seedRuleset({
        forwardTail: [rule(FORWARD_DNAT_LINE, ctStatusDnat, ACCEPT)],
        chains: [
          baseChain("dstnat", 38, "nat", "prerouting", -100, "accept", [
            rule(DNAT_LINE, iifname("wan"), match(udpDport, int(5353)), { ...dnatTo, port: { lo: 53, hi: 53 } }),
          ]),
        ],
      }),
    );
    const inbound = inject(dp2, WAN, udpPacket("203.0.113.66", 6000, "198.51.100.2", 5353)).sink.transmitted[0].bytes;
    expect(endpoints(inbound)).toBe("203.0.113.66:6000 > 192.168.1.20:53");
    const err2 = icmpErrorPacket("192.168.1.20", "203.0.113.66", inbound);
    const fwd = inject(dp2, LAN, err2, 1);
    expect(fwd.d).toEqual({ kind: "forwarded", oif: WAN });
    const f = fwd.sink.transmitted[0].bytes;
    expect(fields(f)).toMatchObject({ src: "198.51.100.2", dst: "203.0.113.66", proto: 1 });
    expect(endpoints(f, EMBEDDED)).toBe("203.0.113.66:6000 > 198.51.100.2:5353");
    expect(badChecksums(f)).toEqual([]);
  });
});

describe("INVALID packets and the NAT leak (SEMANTICS §2.2)", () => {
  it("a SYN/ACK from outside with no connection is INVALID and leaves no entry", () => {
    const dp = seedRouter();
    const events: DatapathEvent[] = [];
    dp.trace = (e) => events.push(e);
    const { d } = inject(dp, WAN, tcpPacket("203.0.113.66", 80, "198.51.100.2", 40000, { flags: SYNACK, ack: 5 }));
    expect(events).toContainEqual(expect.objectContaining({ kind: "conntrack", state: "invalid" }));
    expect(d.kind).toBe("dropped");
    expect(dp.conntrack.count()).toBe(0);
  });

  const establishThenStray = (dp: Datapath) => {
    inject(dp, LAN, tcpPacket("192.168.1.10", 40000, "203.0.113.80", 80, { flags: SYN, seq: 100 }));
    inject(dp, WAN, tcpPacket("203.0.113.80", 80, "198.51.100.2", 40000, { flags: SYNACK, seq: 9000, ack: 101 }), 1);
    inject(dp, LAN, tcpPacket("192.168.1.10", 40000, "203.0.113.80", 80, { flags: ACK, seq: 101, ack: 9001 }), 2);
    const events: DatapathEvent[] = [];
    dp.trace = (e) => events.push(e);
    // Data far beyond anything the server's window allows: the window check makes it INVALID.
    const stray = tcpPacket("192.168.1.10", 40000, "203.0.113.80", 80, {
      flags: ACK,
      seq: 101 + 0x40000000,
      ack: 9001,
    });
    return { ...inject(dp, LAN, stray, 3), events };
  };

  it("an out-of-window packet from inside is INVALID and, when forward does not drop invalid, leaks untranslated", () => {
    const { d, sink, events } = establishThenStray(seedRouter());
    expect(events).toContainEqual(
      expect.objectContaining({ kind: "conntrack", state: "invalid", cause: "out of window" }),
    );
    expect(d).toEqual({ kind: "forwarded", oif: WAN });
    expect(endpoints(sink.transmitted[0].bytes)).toBe("192.168.1.10:40000 > 203.0.113.80:80");
    expect(badChecksums(sink.transmitted[0].bytes)).toEqual([]);
  });

  it("with `ct state invalid drop` first in forward, the same packet does not leave", () => {
    const INVALID_LINE = 8;
    const dp = seedRouter(seedRuleset({ forwardHead: [rule(INVALID_LINE, ctState("invalid"), DROP)] }));
    const { d, sink } = establishThenStray(dp);
    expect(decidedBy(d)).toEqual({ kind: "rule", line: INVALID_LINE });
    expect(sink.transmitted).toEqual([]);
    expect(onlyEntry(dp).state).toBe("ESTABLISHED");
  });
});

/** Rewrites the IPv4 TTL and header checksum of a built packet. */
function withTtl(b: Uint8Array, ttl: number): Uint8Array {
  const out = b.slice();
  out[Ipv4Field.TTL] = ttl;
  out[Ipv4Field.CHECKSUM] = 0;
  out[Ipv4Field.CHECKSUM + 1] = 0;
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += readU16(out, i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  out[Ipv4Field.CHECKSUM] = c >>> 8;
  out[Ipv4Field.CHECKSUM + 1] = c & 0xff;
  return out;
}

describe("TTL (ip_forward)", () => {
  it("decrements the TTL of a forwarded packet with a valid header checksum", () => {
    const dp = seedRouter();
    const { sink } = inject(dp, LAN, withTtl(udpPacket("192.168.1.10", 5000, "203.0.113.66", 53), 17));
    expect(fields(sink.transmitted[0].bytes).ttl).toBe(16);
    expect(badChecksums(sink.transmitted[0].bytes)).toEqual([]);
  });

  it("a packet with TTL 1 is not forwarded; ICMP 11/0 goes back to the sender from the router's LAN address", () => {
    const dp = seedRouter();
    const pkt = withTtl(udpPacket("192.168.1.10", 5000, "203.0.113.66", 53), 1);
    const { d, sink } = inject(dp, LAN, pkt);
    expect(d).toMatchObject({ kind: "dropped", hook: "routing", reason: { kind: "ttl-exceeded" } });
    expect(sink.transmitted).toHaveLength(1);
    const { oif, bytes } = sink.transmitted[0];
    expect(oif).toBe(LAN);
    expect(fields(bytes)).toMatchObject({ src: "192.168.1.1", dst: "192.168.1.10", proto: 1 });
    expect(bytes[20 + Icmpv4Field.TYPE]).toBe(11);
    expect(bytes[20 + Icmpv4Field.CODE]).toBe(0);
    expect(bytes.subarray(EMBEDDED)).toEqual(pkt);
    expect(badChecksums(bytes)).toEqual([]);
    expect(dp.conntrack.count()).toBe(0);
  });
});

describe("rp_filter (SEMANTICS §2.9)", () => {
  it("strict mode drops an off-subnet spoofed source from the LAN but passes a same-subnet one", () => {
    const dp = seedRouter(seedRuleset(), { rpFilter: 1 });
    const off = inject(dp, LAN, udpPacket("10.9.9.9", 22, "203.0.113.66", 80));
    expect(off.d).toMatchObject({ kind: "dropped", hook: "routing", reason: { kind: "rp-filter" } });
    expect(off.sink.transmitted).toEqual([]);
    expect(dp.conntrack.count()).toBe(0);
    const same = inject(dp, LAN, udpPacket("192.168.1.20", 22, "203.0.113.66", 80));
    expect(same.d).toEqual({ kind: "forwarded", oif: WAN });
  });

  it("with rp_filter off, the off-subnet spoof is forwarded (and masqueraded)", () => {
    const dp = seedRouter();
    const { sink } = inject(dp, LAN, udpPacket("10.9.9.9", 22, "203.0.113.66", 80));
    expect(endpoints(sink.transmitted[0].bytes)).toBe("198.51.100.2:22 > 203.0.113.66:80");
  });
});

describe("port clash through the datapath (SCENARIOS ground truth)", () => {
  it("the second host with the same source port gets another port, then keeps it for another destination", () => {
    const dp = seedRouter();
    const u = inject(dp, LAN, udpPacket("192.168.1.10", 5000, "203.0.113.66", 53)).sink.transmitted[0].bytes;
    expect(endpoints(u)).toBe("198.51.100.2:5000 > 203.0.113.66:53");
    const s1 = inject(dp, LAN, udpPacket("192.168.1.20", 5000, "203.0.113.66", 53), 1).sink.transmitted[0].bytes;
    const mapped = fields(s1).sport;
    expect(mapped).not.toBe(5000);
    expect(mapped).toBeGreaterThanOrEqual(1024);
    expect(fields(s1).src).toBe("198.51.100.2");
    expect(badChecksums(s1)).toEqual([]);
    const s2 = inject(dp, LAN, udpPacket("192.168.1.20", 5000, "203.0.113.77", 53), 2).sink.transmitted[0].bytes;
    expect(endpoints(s2)).toBe(`198.51.100.2:${mapped} > 203.0.113.77:53`);
    expect(dp.conntrack.count()).toBe(3);
  });
});

describe("IPv6 through the seed router", () => {
  it("an unsolicited SYN from the internet to S's global address is dropped by the forward policy", () => {
    const dp = seedRouter();
    const { d, sink } = inject(dp, WAN, tcpPacket("2001:db8:66::66", 4000, "2001:db8:1::20", 22, { flags: SYN }));
    expect(decidedBy(d)).toEqual({ kind: "policy", line: SeedLine.FORWARD });
    expect(sink.transmitted).toEqual([]);
    expect(dp.conntrack.count()).toBe(0);
  });

  it("an outbound IPv6 flow is masqueraded by the inet table's rule and its answer comes back", () => {
    const dp = seedRouter();
    const out = inject(dp, LAN, udpPacket("2001:db8:1::10", 5000, "2001:db8:66::66", 53)).sink.transmitted[0].bytes;
    expect(out[7]).toBe(63);
    expect(badChecksums(out)).toEqual([]);
    const back = inject(dp, WAN, udpPacket("2001:db8:66::66", 53, "2001:db8:ff::2", 5000), 1);
    expect(back.d).toEqual({ kind: "forwarded", oif: LAN });
    expect(back.sink.transmitted[0].nextHop).toEqual(words("2001:db8:1::10"));
    expect(badChecksums(back.sink.transmitted[0].bytes)).toEqual([]);
  });
});

/** A small packet alphabet for determinism runs: (iif, bytes) pairs a LAN user and the internet could send. */
function scriptPacket(k: number, port: number): { iif: number; bytes: Uint8Array } {
  switch (k % 5) {
    case 0:
      return { iif: LAN, bytes: udpPacket("192.168.1.10", port, "203.0.113.66", 53) };
    case 1:
      return { iif: LAN, bytes: udpPacket("192.168.1.20", port, "203.0.113.66", 53) };
    case 2:
      return { iif: WAN, bytes: udpPacket("203.0.113.66", 53, "198.51.100.2", port) };
    case 3:
      return { iif: LAN, bytes: tcpPacket("192.168.1.10", port, "203.0.113.80", 80, { flags: SYN, seq: port }) };
    default:
      return { iif: WAN, bytes: tcpPacket("203.0.113.66", 80, "198.51.100.2", port, { flags: SYN }) };
  }
}

function replay(script: readonly (readonly [number, number])[], seed: number) {
  const dp = seedRouter(seedRuleset(), { rng: new SeededRng(seed) });
  const events: string[] = [];
  dp.trace = (e) => events.push(JSON.stringify(e, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v)));
  const sink = new RecordingSink();
  const disp: string[] = [];
  script.forEach(([k, port], i) => {
    const p = scriptPacket(k, port);
    disp.push(dp.receive(p.bytes, 0, p.bytes.length, p.iif, i * 100, sink).kind);
  });
  return { out: sink.transmitted.map((t) => `${t.oif} ${Array.from(t.bytes).join(",")}`), events, disp };
}

describe("determinism", () => {
  fcTest.prop([fc.array(fc.tuple(fc.nat(4), fc.integer({ min: 1024, max: 1040 })), { maxLength: 25 }), fc.nat()], {
    numRuns: 30,
  })("the same packets with the same seed give identical bytes, dispositions and trace", (script, seed) => {
    const a = replay(script, seed);
    const b = replay(script, seed);
    expect(b).toEqual(a);
    // Every forwarded packet carries valid checksums.
    const sink = new RecordingSink();
    const dp = seedRouter(seedRuleset(), { rng: new SeededRng(seed) });
    script.forEach(([k, port], i) => {
      const p = scriptPacket(k, port);
      dp.receive(p.bytes, 0, p.bytes.length, p.iif, i * 100, sink);
    });
    for (const t of sink.transmitted) expect(badChecksums(t.bytes)).toEqual([]);
  });

  it("a forced port clash picks its port from the node's seeded Rng", () => {
    const script: [number, number][] = [
      [0, 1030],
      [1, 1030],
    ];
    expect(replay(script, 1).out).toEqual(replay(script, 1).out);
    const ports = new Set([1, 2, 3, 4, 5, 6].map((s) => replay(script, s).out[1]));
    expect(ports.size).toBeGreaterThan(1);
  });
});

describe("conntrack only where a rule needs it (nf_ct_netns_get)", () => {
  const forwardOnly = (): Ruleset => ({ tables: [] });

  it("a node whose ruleset never uses ct or NAT tracks nothing, as Linux loads conntrack on demand", () => {
    const dp = seedRouter(forwardOnly());
    const { d, sink } = inject(dp, LAN, udpPacket("192.168.1.10", 5000, "203.0.113.66", 53));
    expect(d).toEqual({ kind: "forwarded", oif: WAN });
    // Forwarded untranslated (no masquerade rule) and without an entry.
    expect(endpoints(sink.transmitted[0].bytes)).toBe("192.168.1.10:5000 > 203.0.113.66:53");
    expect(dp.conntrack.count()).toBe(0);
  });

  it("tracks every packet with tracking 'always', and as soon as the ruleset has a ct rule", () => {
    const always = seedRouter(forwardOnly(), { tracking: "always" });
    inject(always, LAN, udpPacket("192.168.1.10", 5000, "203.0.113.66", 53));
    expect(always.conntrack.count()).toBe(1);
    const seed = seedRouter();
    inject(seed, LAN, udpPacket("192.168.1.10", 5000, "203.0.113.66", 53));
    expect(seed.conntrack.count()).toBe(1);
  });
});
