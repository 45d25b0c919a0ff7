// seed-home on the simulator, checked byte for byte at each segment's capture: the LAN handshake with pinned ISNs,
// masquerade on the WAN link, silence or RST from the router, Linux's answers for closed ports, simultaneous open,
// determinism, and tshark decoding the pcaps with checksum validation.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SeedLine, baseChain, int, match, rule, seedRuleset } from "../engine/datapath.fixture.js";
import type { Ruleset } from "../engine/filter/index.js";
import { TcpFlag } from "../engine/index.js";
import { hex } from "../wire/bytes.js";
import * as icmpv4 from "../wire/icmpv4.js";
import * as icmpv6 from "../wire/icmpv6.js";
import * as ipv6 from "../wire/ipv6.js";
import * as ipv4 from "../wire/ipv4.js";
import * as tcp from "../wire/tcp.js";
import * as udp from "../wire/udp.js";
import { parseIpv4 } from "../wire/address.js";
import type { CaptureRecord } from "./segment.js";
import { HTTP_RESPONSE, SNMP_RESPONSE, SSH_BANNER, TCP_MSS, TCP_WINDOW, TcpState } from "./host-stack.js";
import type { TcpConnection } from "./host-stack.js";
import { writeSegmentCapture } from "./pcap-files.js";
import { buildSeedHome } from "./seed-home.fixture.js";
import type { SeedHome } from "./seed-home.fixture.js";
import { addressWords } from "./simulation.js";

const A = (s: string): Uint32Array => addressWords(s)!.words;
const ip = (s: string): number => parseIpv4(s)!;
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

interface TcpExpect {
  src: string;
  sport: number;
  dst: string;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  payload?: string;
  ttl?: number;
  window?: number;
  mss?: boolean;
}

/**
 * Rebuilds the segment with the wire layer's own emitters (independent of the stack's builder) and compares the
 * bytes; the IP ident is taken from the capture (it comes from the node's generator) and returned for checks.
 */
function expectTcp(rec: CaptureRecord | undefined, e: TcpExpect): number {
  expect(rec).toBeDefined();
  const got = rec!.bytes;
  const parsed = ipv4.parse(got);
  expect(parsed.ok).toBe(true);
  const ident = parsed.ok ? parsed.value.ident : -1;
  const pseudo = { family: 4 as const, src: ip(e.src), dst: ip(e.dst) };
  const seg = tcp.emit(
    {
      srcPort: e.sport,
      dstPort: e.dport,
      seq: e.seq >>> 0,
      ack: e.ack >>> 0,
      flags: e.flags,
      window: e.window ?? TCP_WINDOW,
      checksum: 0,
      urgent: 0,
      options: e.mss === true ? [{ kind: "mss", value: TCP_MSS }] : [],
      payload: bytes(e.payload ?? ""),
    },
    pseudo,
  );
  const want = ipv4.emit({
    dscp: 0,
    ecn: 0,
    ident,
    reservedFlag: false,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: e.ttl ?? 64,
    protocol: 6,
    checksum: 0,
    src: ip(e.src),
    dst: ip(e.dst),
    options: new Uint8Array(0),
    payload: seg,
  });
  expect(hex(got)).toBe(hex(want));
  return ident;
}

function checksumsValid(rec: CaptureRecord): void {
  const b = rec.bytes;
  expect(ipv4.verifyChecksum(b)).toBe(true);
  const p = ipv4.parse(b);
  if (!p.ok) throw new Error("not IPv4");
  const pseudo = { family: 4 as const, src: p.value.src, dst: p.value.dst };
  const l4 = p.value.payload;
  if (p.value.protocol === 6) expect(tcp.verifyChecksum(l4, 0, l4.length, pseudo)).toBe(true);
  if (p.value.protocol === 17) expect(udp.verifyChecksum(l4, 0, l4.length, pseudo)).toBe(true);
  if (p.value.protocol === 1) expect(icmpv4.verifyChecksum(l4, 0, l4.length)).toBe(true);
}

function captures(h: SeedHome, segment: string): CaptureRecord[] {
  return h.sim.segments.get(segment)!.captures;
}

function client(collected: { data: string[]; events: string[] }) {
  return {
    onEstablished: () => collected.events.push("established"),
    onData: (_c: TcpConnection, d: Uint8Array) => collected.data.push(text(d)),
    onReset: () => collected.events.push("reset"),
    onTimeout: () => collected.events.push("timeout"),
    onClose: () => collected.events.push("close"),
  };
}

describe("seed-home LAN: U → S:5432", () => {
  it("puts the exact handshake, data exchange and FIN handshake on the LAN segment", () => {
    const h = buildSeedHome({ isn: { s: 5000 } });
    const seen = { data: [] as string[], events: [] as string[] };
    const conn = h.u.stack.connect(4, A("192.168.1.20"), 5432, {
      sport: 40000,
      isn: 1000,
      ...client(seen),
      onEstablished: (c) => {
        seen.events.push("established");
        c.send(bytes("hello"));
      },
      onData: (c, d) => {
        seen.data.push(text(d));
        c.close();
      },
    });
    expect(conn.ok).toBe(true);
    h.sim.run({ until: 1000 });

    const lan = captures(h, "lan");
    const U = "192.168.1.10";
    const S = "192.168.1.20";
    const { SYN, ACK, PSH, FIN } = TcpFlag;
    const uIdent0 = expectTcp(lan[0], {
      src: U,
      sport: 40000,
      dst: S,
      dport: 5432,
      seq: 1000,
      ack: 0,
      flags: SYN,
      mss: true,
    });
    expect(
      expectTcp(lan[1], {
        src: S,
        sport: 5432,
        dst: U,
        dport: 40000,
        seq: 5000,
        ack: 1001,
        flags: SYN | ACK,
        mss: true,
      }),
    ).toBe(0);
    const uIdents = [uIdent0];
    uIdents.push(expectTcp(lan[2], { src: U, sport: 40000, dst: S, dport: 5432, seq: 1001, ack: 5001, flags: ACK }));
    uIdents.push(
      expectTcp(lan[3], {
        src: U,
        sport: 40000,
        dst: S,
        dport: 5432,
        seq: 1001,
        ack: 5001,
        flags: PSH | ACK,
        payload: "hello",
      }),
    );
    const sIdent = expectTcp(lan[4], {
      src: S,
      sport: 5432,
      dst: U,
      dport: 40000,
      seq: 5001,
      ack: 1006,
      flags: PSH | ACK,
      payload: "hello",
    });
    // U's handler closes on the echo: its FIN carries the ACK of the echoed data.
    uIdents.push(
      expectTcp(lan[5], { src: U, sport: 40000, dst: S, dport: 5432, seq: 1006, ack: 5006, flags: FIN | ACK }),
    );
    // S reads end-of-file and closes at once: FIN/ACK acknowledging U's FIN.
    expect(
      expectTcp(lan[6], { src: S, sport: 5432, dst: U, dport: 40000, seq: 5006, ack: 1007, flags: FIN | ACK }),
    ).toBe((sIdent + 1) & 0xffff);
    uIdents.push(expectTcp(lan[7], { src: U, sport: 40000, dst: S, dport: 5432, seq: 1007, ack: 5007, flags: ACK }));
    expect(lan).toHaveLength(8);
    // A connected socket counts its IP idents up by one per segment (ip_select_ident).
    for (let i = 1; i < uIdents.length; i++) expect(uIdents[i]).toBe((uIdents[0] + i) & 0xffff);
    for (const r of lan) checksumsValid(r);

    expect(seen.events).toEqual(["established", "close"]);
    expect(seen.data).toEqual(["hello"]);
    // The LAN exchange never touches the router; U lingers in TIME_WAIT, S is gone.
    expect(h.router.datapath.conntrack.count()).toBe(0);
    expect(conn.ok && conn.value.state).toBe(TcpState.TIME_WAIT);
    expect(h.s.stack.connectionsOpen).toBe(0);
    h.sim.run({ until: 70_000 });
    expect(h.u.stack.connectionsOpen).toBe(0);
  });

  it("S's ssh service sends its banner on accept", () => {
    const h = buildSeedHome({ isn: { s: 7 } });
    const seen = { data: [] as string[], events: [] as string[] };
    h.u.stack.connect(4, A("192.168.1.20"), 22, { sport: 40100, isn: 77, ...client(seen) });
    h.sim.run({ until: 100 });
    expect(seen.data).toEqual([SSH_BANNER]);
    expectTcp(captures(h, "lan")[3], {
      src: "192.168.1.20",
      sport: 22,
      dst: "192.168.1.10",
      dport: 40100,
      seq: 8,
      ack: 78,
      flags: TcpFlag.PSH | TcpFlag.ACK,
      payload: SSH_BANNER,
    });
  });
});

describe("seed-home: U → web:80 through the router", () => {
  it("masquerades to 198.51.100.2 with the port preserved on the WAN and de-NATs the reply on the LAN", () => {
    const h = buildSeedHome({ isn: { web: 90_000 } });
    const seen = { data: [] as string[], events: [] as string[] };
    h.u.stack.connect(4, A("203.0.113.80"), 80, {
      sport: 40001,
      isn: 2000,
      ...client(seen),
      onEstablished: (c) => {
        seen.events.push("established");
        c.send(bytes("GET / HTTP/1.1\r\nHost: web\r\n\r\n"));
      },
      onData: (c, d) => {
        seen.data.push(text(d));
        c.close();
      },
    });
    h.sim.run({ until: 1000 });
    const U = "192.168.1.10";
    const WAN = "198.51.100.2";
    const WEB = "203.0.113.80";
    const { SYN, ACK } = TcpFlag;

    const lan = captures(h, "lan");
    const wan = captures(h, "wan");
    expectTcp(lan[0], { src: U, sport: 40001, dst: WEB, dport: 80, seq: 2000, ack: 0, flags: SYN, mss: true });
    // On the WAN: the router's address, U's port, TTL decremented once.
    expectTcp(wan[0], {
      src: WAN,
      sport: 40001,
      dst: WEB,
      dport: 80,
      seq: 2000,
      ack: 0,
      flags: SYN,
      mss: true,
      ttl: 63,
    });
    // web → ISP → WAN: one hop so far; the answer is addressed to the router's public address.
    expectTcp(wan[1], {
      src: WEB,
      sport: 80,
      dst: WAN,
      dport: 40001,
      seq: 90_000,
      ack: 2001,
      flags: SYN | ACK,
      mss: true,
      ttl: 63,
    });
    // On the LAN the reply is translated back to U (and has crossed two routers).
    expectTcp(lan[1], {
      src: WEB,
      sport: 80,
      dst: U,
      dport: 40001,
      seq: 90_000,
      ack: 2001,
      flags: SYN | ACK,
      mss: true,
      ttl: 62,
    });
    for (const r of [...lan, ...wan]) checksumsValid(r);

    expect(seen.data).toEqual([HTTP_RESPONSE]);
    expect(seen.events).toEqual(["established", "close"]);
    // Capture comments say what each node did, naming the rule by file:line:col.
    expect(lan[0].comment).toContain(`router: ct new, forward accept (seed-home.nft:${SeedLine.FORWARD_LAN_WAN}:1)`);
    expect(lan[0].comment).toContain(
      "snat 192.168.1.10:40001 > 203.0.113.80:80 -> 198.51.100.2:40001 > 203.0.113.80:80",
    );
    expect(wan[1].comment).toBe(
      // The ISP router has no ct/NAT rule, so (as Linux) it tracks nothing and just sends the packet on.
      "isp: sent; router: ct established reply, " +
        "dnat 203.0.113.80:80 > 198.51.100.2:40001 -> 203.0.113.80:80 > 192.168.1.10:40001, " +
        `forward accept (seed-home.nft:${SeedLine.FORWARD_CT}:1), forwarded via lan`,
    );
    // Every packet of the connection crossed both links: same count on each.
    expect(wan.length).toBe(lan.length);
  });
});

describe("seed-home: Mallory probes the router's WAN address", () => {
  it("gets no answer with input policy drop, and the router keeps no conntrack entry", () => {
    const h = buildSeedHome({ isn: { mallory: 3000 } });
    const seen = { data: [] as string[], events: [] as string[] };
    h.mallory.stack.connect(4, A("198.51.100.2"), 22, { sport: 50000, ...client(seen) });
    h.sim.run({ until: 20_000 });
    const wan = captures(h, "wan");
    // The SYN and its three retransmissions (1 s, 2 s, 4 s later), nothing from the router.
    expect(wan).toHaveLength(4);
    for (const r of wan) {
      expectTcp(r, {
        src: "203.0.113.66",
        sport: 50000,
        dst: "198.51.100.2",
        dport: 22,
        seq: 3000,
        ack: 0,
        flags: TcpFlag.SYN,
        mss: true,
        ttl: 63,
      });
      expect(r.comment).toContain(
        `router: ct new, input drop by policy of chain input (seed-home.nft:${SeedLine.INPUT}:1), dropped`,
      );
    }
    expect(wan.map((r) => r.timeMs - wan[0].timeMs)).toEqual([0, 1000, 3000, 7000]);
    expect(h.router.datapath.conntrack.count()).toBe(0);
    expect(seen.events).toEqual(["timeout"]);
  });

  it("gets a RST/ACK from the router's own stack when input accepts and nothing listens", () => {
    const h = buildSeedHome({ ruleset: seedRuleset({ inputPolicy: "accept" }), isn: { mallory: 3000 } });
    const seen = { data: [] as string[], events: [] as string[] };
    h.mallory.stack.connect(4, A("198.51.100.2"), 22, { sport: 50000, ...client(seen) });
    h.sim.run({ until: 20_000 });
    const wan = captures(h, "wan");
    expect(wan).toHaveLength(2);
    // tcp_v4_send_reset for a SYN: seq 0, ack = SYN's seq + 1, RST|ACK, window 0, IP ident 0.
    expect(
      expectTcp(wan[1], {
        src: "198.51.100.2",
        sport: 22,
        dst: "203.0.113.66",
        dport: 50000,
        seq: 0,
        ack: 3001,
        flags: TcpFlag.RST | TcpFlag.ACK,
        window: 0,
      }),
    ).toBe(0);
    expect(seen.events).toEqual(["reset"]);
  });
});

describe("seed-home: Linux's answers for closed ports", () => {
  it("U → S:9999 gets RST/ACK", () => {
    const h = buildSeedHome();
    const seen = { data: [] as string[], events: [] as string[] };
    h.u.stack.connect(4, A("192.168.1.20"), 9999, { sport: 41000, isn: 0xfffffffe, ...client(seen) });
    h.sim.run({ until: 100 });
    const lan = captures(h, "lan");
    expect(lan).toHaveLength(2);
    expectTcp(lan[1], {
      src: "192.168.1.20",
      sport: 9999,
      dst: "192.168.1.10",
      dport: 41000,
      seq: 0,
      ack: 0xffffffff,
      flags: TcpFlag.RST | TcpFlag.ACK,
      window: 0,
    });
    expect(seen.events).toEqual(["reset"]);
  });

  it("UDP to a closed port draws ICMP port unreachable quoting the datagram; 161/udp answers SNMP", () => {
    const h = buildSeedHome();
    const answers: Uint8Array[] = [];
    h.u.stack.bindUdp(41001, (d) => {
      answers.push(d.payload);
      return null;
    });
    h.u.stack.sendUdp(4, A("192.168.1.20"), 9999, 41001, bytes("probe"));
    h.u.stack.sendUdp(4, A("192.168.1.20"), 161, 41001, bytes("get sysDescr"));
    h.sim.run({ until: 100 });
    const lan = captures(h, "lan");
    expect(lan).toHaveLength(4);
    const err = ipv4.parse(lan[2].bytes);
    if (!err.ok) throw new Error("bad ICMP error");
    expect(err.value.src).toBe(ip("192.168.1.20"));
    expect(err.value.dst).toBe(ip("192.168.1.10"));
    expect(err.value.protocol).toBe(1);
    const icmp = err.value.payload;
    expect([icmp[0], icmp[1]]).toEqual([3, 3]);
    expect(hex(icmp.subarray(8))).toBe(hex(lan[0].bytes));
    // Neither host has a ct rule loaded, so neither tracks the error (Linux registers conntrack on demand).
    expect(lan[2].comment).toBe("s: sent; u: delivered locally");
    expect(answers).toHaveLength(1);
    expect(hex(answers[0])).toBe(hex(SNMP_RESPONSE));
    for (const r of lan) checksumsValid(r);
  });

  it("answers a SYN/ACK for no connection with RST seq = its ack (RFC 9293 §3.10.7.1) and echo requests with replies", () => {
    const h = buildSeedHome();
    const synAck = tcp.emit(
      {
        srcPort: 5555,
        dstPort: 22,
        seq: 100,
        ack: 0xdeadbeef,
        flags: TcpFlag.SYN | TcpFlag.ACK,
        window: 1024,
        checksum: 0,
        urgent: 0,
        options: [],
        payload: new Uint8Array(0),
      },
      { family: 4, src: ip("192.168.1.10"), dst: ip("192.168.1.20") },
    );
    const pkt = ipv4.emit({
      dscp: 0,
      ecn: 0,
      ident: 1,
      reservedFlag: false,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: 6,
      checksum: 0,
      src: ip("192.168.1.10"),
      dst: ip("192.168.1.20"),
      options: new Uint8Array(0),
      payload: synAck,
    });
    h.u.stack.rawSend(pkt);
    const echo = icmpv4.emit({ kind: "echo-request", code: 0, checksum: 0, id: 7, seq: 1, data: bytes("ping") });
    h.u.stack.rawSend(
      ipv4.emit({
        dscp: 0,
        ecn: 0,
        ident: 2,
        reservedFlag: false,
        dontFragment: false,
        moreFragments: false,
        fragmentOffset: 0,
        ttl: 64,
        protocol: 1,
        checksum: 0,
        src: ip("192.168.1.10"),
        dst: ip("192.168.1.20"),
        options: new Uint8Array(0),
        payload: echo,
      }),
    );
    const sniffed: Uint8Array[] = [];
    h.u.stack.sniff = (p) => sniffed.push(p);
    h.sim.run({ until: 100 });
    const lan = captures(h, "lan");
    expectTcp(lan[2], {
      src: "192.168.1.20",
      sport: 22,
      dst: "192.168.1.10",
      dport: 5555,
      seq: 0xdeadbeef,
      ack: 0,
      flags: TcpFlag.RST,
      window: 0,
    });
    const reply = ipv4.parse(lan[3].bytes);
    if (!reply.ok) throw new Error("bad echo reply");
    const parsed = icmpv4.parse(reply.value.payload);
    expect(parsed.ok && parsed.value).toMatchObject({ kind: "echo-reply", id: 7, seq: 1, data: bytes("ping") });
    expect(sniffed).toHaveLength(2);
    for (const r of lan) checksumsValid(r);
  });
});

describe("host stack: simultaneous open", () => {
  it("two SYNs crossing on the LAN give SYN/ACKs from both sides and an ESTABLISHED connection each", () => {
    const h = buildSeedHome();
    const a = { data: [] as string[], events: [] as string[] };
    const b = { data: [] as string[], events: [] as string[] };
    const cu = h.u.stack.connect(4, A("192.168.1.20"), 6000, { sport: 7000, isn: 100, ...client(a) });
    const cs = h.s.stack.connect(4, A("192.168.1.10"), 7000, { sport: 6000, isn: 900, ...client(b) });
    h.sim.run({ until: 50 });
    expect(a.events).toEqual(["established"]);
    expect(b.events).toEqual(["established"]);
    expect(cu.ok && cu.value.state).toBe(TcpState.ESTABLISHED);
    expect(cs.ok && cs.value.state).toBe(TcpState.ESTABLISHED);
    const lan = captures(h, "lan");
    const { SYN, ACK } = TcpFlag;
    // U's SYN reaches S first, so S answers first; each side then acknowledges the other's SYN/ACK.
    expectTcp(lan[2], {
      src: "192.168.1.20",
      sport: 6000,
      dst: "192.168.1.10",
      dport: 7000,
      seq: 900,
      ack: 101,
      flags: SYN | ACK,
      mss: true,
    });
    expectTcp(lan[3], {
      src: "192.168.1.10",
      sport: 7000,
      dst: "192.168.1.20",
      dport: 6000,
      seq: 100,
      ack: 901,
      flags: SYN | ACK,
      mss: true,
    });
    expectTcp(lan[4], {
      src: "192.168.1.10",
      sport: 7000,
      dst: "192.168.1.20",
      dport: 6000,
      seq: 101,
      ack: 901,
      flags: ACK,
    });
    expectTcp(lan[5], {
      src: "192.168.1.20",
      sport: 6000,
      dst: "192.168.1.10",
      dport: 7000,
      seq: 901,
      ack: 101,
      flags: ACK,
    });
    expect(lan).toHaveLength(6);
  });
});

/** A small unpinned scenario (random ports and ISNs), rendered as pcapng bytes per segment. */
function scenarioPcaps(seed: number): Map<string, string> {
  const h = buildSeedHome({ seed });
  const seen = { data: [] as string[], events: [] as string[] };
  h.u.stack.connect(4, A("203.0.113.80"), 80, {
    ...client(seen),
    onEstablished: (c) => c.send(bytes("GET /\r\n\r\n")),
    onData: (c) => {
      c.close();
    },
  });
  h.u.stack.connect(4, A("192.168.1.20"), 5432, { ...client(seen), onEstablished: (c) => c.send(bytes("q")) });
  h.mallory.stack.connect(4, A("198.51.100.2"), 22, client(seen));
  h.sim.run({ until: 10_000 });
  const out = new Map<string, string>();
  for (const [name, seg] of h.sim.segments) {
    const chunks: Uint8Array[] = [];
    writeSegmentCapture((c) => chunks.push(c), name, seg.captures);
    out.set(name, chunks.map(hex).join(""));
  }
  return out;
}

describe("determinism", () => {
  it("gives identical pcaps for the same seed and different ones for another seed", () => {
    const one = scenarioPcaps(42);
    const two = scenarioPcaps(42);
    expect([...one.keys()].sort()).toEqual(["internet", "lan", "wan"]);
    expect(two).toEqual(one);
    const other = scenarioPcaps(43);
    expect(other.get("lan")).not.toBe(one.get("lan"));
  });
});

function hasTshark(): boolean {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("pcap files", () => {
  const tshark = hasTshark();
  if (!tshark) console.warn("tshark is not installed: skipping the pcap decode check");
  it.skipIf(!tshark)("decode in tshark with valid checksums and carry the comments", () => {
    const h = buildSeedHome({ isn: { s: 5000 } });
    h.u.stack.connect(4, A("203.0.113.80"), 80, {
      onEstablished: (c) => c.send(bytes("GET /\r\n\r\n")),
      onData: (c) => {
        c.close();
      },
    });
    h.u.stack.connect(4, A("192.168.1.20"), 9999, {});
    h.u.stack.sendUdp(4, A("192.168.1.20"), 9999, 41001, bytes("probe"));
    h.mallory.stack.connect(4, A("198.51.100.2"), 22, { synRetries: 0 });
    h.sim.run({ until: 5000 });
    const dir = mkdtempSync(join(tmpdir(), "mallory-sim-"));
    try {
      const paths = h.sim.writePcaps(dir);
      expect(paths).toHaveLength(3);
      for (const path of paths) {
        const name = path.slice(dir.length + 1, -".pcapng".length);
        const count = h.sim.segments.get(name)!.captures.length;
        const run = (filter: string | null, fields: string[]): string[] =>
          execFileSync(
            "tshark",
            [
              "-r",
              path,
              "-o",
              "ip.check_checksum:TRUE",
              "-o",
              "tcp.check_checksum:TRUE",
              "-o",
              "udp.check_checksum:TRUE",
              ...(filter !== null ? ["-Y", filter] : []),
              "-T",
              "fields",
              ...fields.flatMap((f) => ["-e", f]),
            ],
            { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
          )
            .split("\n")
            .filter((l) => l !== "");
        const all = run(null, ["frame.number", "ip.src", "frame.comment"]);
        expect(all).toHaveLength(count);
        for (const line of all) expect(line.split("\t")[2]).toMatch(/: /);
        const bad = run(
          "ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0 || _ws.malformed || _ws.expert.severity == error",
          ["frame.number"],
        );
        expect(bad).toEqual([]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("IPv6 on the LAN", () => {
  it("completes a TCP exchange with S and draws ICMPv6 port unreachable (1/4) from a closed UDP port", () => {
    const h = buildSeedHome({ isn: { s: 10 } });
    const seen = { data: [] as string[], events: [] as string[] };
    h.u.stack.connect(6, A("2001:db8:1::20"), 5432, {
      sport: 40200,
      isn: 20,
      ...client(seen),
      onEstablished: (c) => {
        seen.events.push("established");
        c.send(bytes("v6"));
      },
    });
    h.u.stack.sendUdp(6, A("2001:db8:1::20"), 9999, 40201, bytes("probe6"));
    h.sim.run({ until: 100 });
    expect(seen.events).toEqual(["established"]);
    expect(seen.data).toEqual(["v6"]);
    const lan = captures(h, "lan");
    const errors = lan
      .map((r) => ipv6.parse(r.bytes))
      .filter((p) => p.ok && p.value.nextHeader === 58)
      .map((p) => (p.ok ? p.value : null)!);
    expect(errors).toHaveLength(1);
    const m = icmpv6.parse(errors[0].payload);
    expect(m.ok && m.value).toMatchObject({ kind: "dest-unreachable", code: 4 });
    expect(
      icmpv6.verifyChecksum(errors[0].payload, 0, errors[0].payload.length, {
        family: 6,
        src: errors[0].src,
        dst: errors[0].dst,
      }),
    ).toBe(true);
    // Every TCP segment's checksum holds over the IPv6 pseudo-header.
    for (const r of lan) {
      const p = ipv6.parse(r.bytes);
      if (!p.ok || p.value.nextHeader !== 6) continue;
      expect(
        tcp.verifyChecksum(p.value.payload, 0, p.value.payload.length, {
          family: 6,
          src: p.value.src,
          dst: p.value.dst,
        }),
      ).toBe(true);
    }
  });
});

describe("host firewalls run on the host's own datapath", () => {
  it("S rejecting 22 with icmp admin-prohibited aborts U's connect at once (tcp_v4_err in SYN_SENT)", () => {
    const sRuleset: Ruleset = {
      tables: [
        {
          family: "inet",
          name: "host",
          origin: { source: "s.nft", line: 1, column: 1 },
          chains: [
            baseChain("input", 2, "filter", "input", 0, "accept", [
              rule(3, match({ kind: "payload", protocol: "tcp", field: "dport" }, int(22)), {
                kind: "reject",
                with: { type: "icmp", code: "admin-prohibited" },
              }),
            ]),
          ],
        },
      ],
    };
    const h = buildSeedHome({ sRuleset });
    const got: string[] = [];
    h.u.stack.connect(4, A("192.168.1.20"), 22, {
      sport: 40300,
      onUnreachable: (_c, type, code) => got.push(`unreachable ${type}/${code}`),
      onTimeout: () => got.push("timeout"),
    });
    h.sim.run({ until: 10_000 });
    expect(got).toEqual(["unreachable 3/13"]);
    const lan = captures(h, "lan");
    expect(lan).toHaveLength(2);
    expect(lan[0].comment).toBe(
      // S's ruleset has no ct rule, so its conntrack is not loaded: the reject decides on the packet alone.
      "u: sent; s: input reject (seed-home.nft:3:1), answers with icmp-error, rejected",
    );
    expect(h.u.stack.connectionsOpen).toBe(0);
  });
});
