import { describe, expect, it } from "vitest";
import { hex } from "../../wire/bytes.js";
import { TcpFlag } from "../packet-meta.js";
import { rfc3489Type } from "./nat-behaviour.js";
import type { NatBehaviour } from "./nat-behaviour.js";
import { LAN, ROUTER_LAN, ROUTER_WAN, TestRouter, WAN, natRequest } from "./nat.fixture.js";
import type { Verdict } from "./nat.fixture.js";
import { badChecksums, echoPacket, icmpErrorPacket, tcpPacket, udpPacket, v4 } from "./packets.fixture.js";
import type { TcpOpts } from "./packets.fixture.js";

const U = "192.168.1.10";
const S = "192.168.1.20";
const M = "203.0.113.66";
const M2 = "203.0.113.77";
const PAYLOAD = new Uint8Array([0x6d, 0x61, 0x6c, 0x6c, 0x6f, 0x72, 0x79]);

function forwarded(v: Verdict): Uint8Array {
  if (v.kind !== "forwarded")
    throw new Error(`expected forwarded, got ${v.kind} ${JSON.stringify(v.kind === "dropped" ? v.why : "")}`);
  expect(badChecksums(v.bytes)).toEqual([]);
  return v.bytes;
}

/** The bytes, as hex, of the packet the router should emit: built from scratch, so every checksum is recomputed. */
function sameAs(actual: Uint8Array, expected: Uint8Array): void {
  expect(hex(actual)).toBe(hex(expected));
}

function srcPortOf(b: Uint8Array): number {
  return (b[20] << 8) | b[21];
}

describe("masquerade: UDP and TCP flows, checksums equal to a full recomputation", () => {
  it("UDP out and back, port preserved", () => {
    const r = new TestRouter();
    sameAs(forwarded(r.receive(udpPacket(U, 5000, M, 53, PAYLOAD), LAN)), udpPacket(ROUTER_WAN, 5000, M, 53, PAYLOAD));
    sameAs(forwarded(r.receive(udpPacket(M, 53, ROUTER_WAN, 5000, PAYLOAD), WAN)), udpPacket(M, 53, U, 5000, PAYLOAD));
    // Later packets follow the binding in both directions.
    sameAs(forwarded(r.receive(udpPacket(U, 5000, M, 53), LAN)), udpPacket(ROUTER_WAN, 5000, M, 53));
  });

  it("an IPv4 UDP checksum of 0 (none) stays 0", () => {
    const r = new TestRouter();
    const out = forwarded(r.receive(udpPacket(U, 5000, M, 53, PAYLOAD, true), LAN));
    sameAs(out, udpPacket(ROUTER_WAN, 5000, M, 53, PAYLOAD, true));
    expect(out[26] | out[27]).toBe(0);
  });

  it("TCP handshake and data out and back", () => {
    const r = new TestRouter();
    const seg = (src: string, sp: number, dst: string, dp: number, o: TcpOpts): Uint8Array =>
      tcpPacket(src, sp, dst, dp, o);
    const syn: TcpOpts = {
      flags: TcpFlag.SYN,
      seq: 100,
      options: [
        { kind: "mss", value: 1460 },
        { kind: "window-scale", shift: 7 },
      ],
    };
    sameAs(forwarded(r.receive(seg(U, 40000, M, 443, syn), LAN)), seg(ROUTER_WAN, 40000, M, 443, syn));
    const synack: TcpOpts = {
      flags: TcpFlag.SYN | TcpFlag.ACK,
      seq: 900,
      ack: 101,
      options: [{ kind: "window-scale", shift: 7 }],
    };
    sameAs(forwarded(r.receive(seg(M, 443, ROUTER_WAN, 40000, synack), WAN)), seg(M, 443, U, 40000, synack));
    const data: TcpOpts = { flags: TcpFlag.ACK | TcpFlag.PSH, seq: 101, ack: 901, payload: PAYLOAD };
    sameAs(forwarded(r.receive(seg(U, 40000, M, 443, data), LAN)), seg(ROUTER_WAN, 40000, M, 443, data));
  });

  it("IPv6 masquerade rewrites all four address words with valid checksums", () => {
    const r = new TestRouter();
    const out = forwarded(r.receive(udpPacket("2001:db8:1::10", 5000, "2001:db8:99::66", 53, PAYLOAD), LAN));
    sameAs(out, udpPacket("2001:db8:ffff::2", 5000, "2001:db8:99::66", 53, PAYLOAD));
    sameAs(
      forwarded(r.receive(udpPacket("2001:db8:99::66", 53, "2001:db8:ffff::2", 5000, PAYLOAD), WAN)),
      udpPacket("2001:db8:99::66", 53, "2001:db8:1::10", 5000, PAYLOAD),
    );
  });

  it("SNAT to an explicit address and port range", () => {
    const r = new TestRouter(
      {},
      { snat: (m) => (m.oif === WAN ? natRequest("snat", { addr: "198.51.100.9", ports: [20000, 20009] }) : null) },
    );
    const out = forwarded(r.receive(udpPacket(U, 5000, M, 53), LAN));
    const port = srcPortOf(out);
    expect(port).toBeGreaterThanOrEqual(20000);
    expect(port).toBeLessThanOrEqual(20009);
    sameAs(out, udpPacket("198.51.100.9", port, M, 53));
    // Ten ports, ten flows to the same destination; the eleventh finds none.
    for (let i = 1; i < 10; i++)
      expect(r.receive(udpPacket(`192.168.1.${100 + i}`, 5000, M, 53), LAN).kind).toBe("forwarded");
    const eleventh = r.receive(udpPacket("192.168.1.99", 5000, M, 53), LAN);
    expect(eleventh.kind === "dropped" && eleventh.why).toEqual({ kind: "drop", reason: "port-exhausted" });
  });
});

describe("address selection", () => {
  it("an address range: persistent keeps a client on one address for every destination (paired pooling)", () => {
    const pool = natRequest("snat", { addr: "198.51.100.10", addrMax: "198.51.100.20", persistent: true });
    const r = new TestRouter({}, { snat: (m) => (m.oif === WAN ? pool : null) });
    const addrOf = (b: Uint8Array): number => ((b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15]) >>> 0;
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++)
      seen.add(addrOf(forwarded(r.receive(udpPacket(U, 7000 + i, `203.0.113.${i + 1}`, 53), LAN))));
    expect(seen.size).toBe(1);
    const [only] = [...seen];
    expect(only).toBeGreaterThanOrEqual(v4("198.51.100.10"));
    expect(only).toBeLessThanOrEqual(v4("198.51.100.20"));
  });

  it("an `ip` statement does not translate IPv6 packets (null binding)", () => {
    const r = new TestRouter({}, { snat: () => natRequest("snat", { addr: "198.51.100.9" }) });
    const p = udpPacket("2001:db8:1::10", 5000, "2001:db8:99::66", 53);
    sameAs(forwarded(r.receive(p.slice(), LAN)), p);
  });
});

describe("port selection (SCENARIOS.md ground truth)", () => {
  it("clash: the second host gets another port of the same class, then keeps it for other destinations", () => {
    const r = new TestRouter();
    expect(srcPortOf(forwarded(r.receive(udpPacket(U, 40000, M, 9999), LAN)))).toBe(40000);
    const second = srcPortOf(forwarded(r.receive(udpPacket(S, 40000, M, 9999), LAN)));
    expect(second).not.toBe(40000);
    expect(second).toBeGreaterThanOrEqual(1024);
    // EIM: S:40000 keeps its mapping for other destinations while the entry lives.
    expect(srcPortOf(forwarded(r.receive(udpPacket(S, 40000, M2, 80), LAN)))).toBe(second);
    expect(srcPortOf(forwarded(r.receive(udpPacket(S, 40000, M, 9998), LAN)))).toBe(second);
    // Replies reach the right host.
    sameAs(forwarded(r.receive(udpPacket(M, 9999, ROUTER_WAN, second), WAN)), udpPacket(M, 9999, S, 40000));
    sameAs(forwarded(r.receive(udpPacket(M, 9999, ROUTER_WAN, 40000), WAN)), udpPacket(M, 9999, U, 40000));
  });

  it("privileged source ports stay privileged (RFC 4787 REQ-3a classes)", () => {
    const r = new TestRouter();
    expect(srcPortOf(forwarded(r.receive(udpPacket(U, 123, M, 123), LAN)))).toBe(123);
    const low = srcPortOf(forwarded(r.receive(udpPacket(S, 123, M, 123), LAN)));
    expect(low).toBeGreaterThanOrEqual(1);
    expect(low).toBeLessThanOrEqual(511);
    expect(srcPortOf(forwarded(r.receive(udpPacket(U, 700, M, 123), LAN)))).toBe(700);
    const mid = srcPortOf(forwarded(r.receive(udpPacket(S, 700, M, 123), LAN)));
    expect(mid).toBeGreaterThanOrEqual(600);
    expect(mid).toBeLessThanOrEqual(1023);
  });

  it("different destinations share the external port (the full reply tuple is what must be free)", () => {
    const r = new TestRouter();
    expect(srcPortOf(forwarded(r.receive(udpPacket(U, 40000, M, 9999), LAN)))).toBe(40000);
    expect(srcPortOf(forwarded(r.receive(udpPacket(S, 40000, M2, 9999), LAN)))).toBe(40000);
  });

  it("the mapping is forgotten with its last entry", () => {
    const r = new TestRouter();
    forwarded(r.receive(udpPacket(U, 40000, M, 9999), LAN));
    const moved = srcPortOf(forwarded(r.receive(udpPacket(S, 40000, M, 9999), LAN)));
    expect(moved).not.toBe(40000);
    r.now = 10 * 60 * 1000;
    r.ct.gc(r.now);
    expect(r.ct.count()).toBe(0);
    expect(srcPortOf(forwarded(r.receive(udpPacket(S, 40000, M2, 80), LAN)))).toBe(40000);
  });

  it("exhaustion: ~64.5k flows to one destination through one address, the rest fail", () => {
    const flows = 66000;
    const r = new TestRouter({}, {}, 70000);
    const template = udpPacket("10.0.0.0", 40000, M, 9999);
    const pkt = new Uint8Array(template.length);
    const ports = new Set<number>();
    let exhausted = 0;
    for (let i = 0; i < flows; i++) {
      pkt.set(template);
      const src = (v4("10.0.0.0") + i + 1) >>> 0;
      pkt[12] = src >>> 24;
      pkt[13] = (src >>> 16) & 255;
      pkt[14] = (src >>> 8) & 255;
      pkt[15] = src & 255;
      pkt[10] = 0;
      pkt[11] = 0;
      let sum = 0;
      for (let k = 0; k < 20; k += 2) sum += (pkt[k] << 8) | pkt[k + 1];
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      pkt[10] = (~sum >>> 8) & 255;
      pkt[11] = ~sum & 255;
      const v = r.receive(pkt, LAN);
      if (v.kind === "forwarded") ports.add(srcPortOf(pkt));
      else if (
        v.kind === "dropped" &&
        v.why !== "clash-at-confirm" &&
        v.why.kind === "drop" &&
        v.why.reason === "port-exhausted"
      )
        exhausted++;
    }
    // 1024..65535 holds 64512 ports; the kernel's bounded random search gives up a little before the last ones.
    expect(ports.size + exhausted).toBe(flows);
    expect(ports.size).toBeLessThanOrEqual(64512);
    expect(ports.size).toBeGreaterThan(64000);
    expect(Math.min(...ports)).toBeGreaterThanOrEqual(1024);
    expect(r.nat.lastSearch.probes).toBe(128 + 64 + 32 + 16 + 8);
  });
});

describe("ICMP queries", () => {
  it("echo identifiers are translated and clash like ports", () => {
    const r = new TestRouter();
    sameAs(forwarded(r.receive(echoPacket(U, M, 77), LAN)), echoPacket(ROUTER_WAN, M, 77));
    const out = forwarded(r.receive(echoPacket(S, M, 77), LAN));
    const id = (out[24] << 8) | out[25];
    expect(id).not.toBe(77);
    sameAs(out, echoPacket(ROUTER_WAN, M, id));
    sameAs(forwarded(r.receive(echoPacket(M, ROUTER_WAN, id, true), WAN)), echoPacket(M, S, 77, true));
    sameAs(forwarded(r.receive(echoPacket(M, ROUTER_WAN, 77, true), WAN)), echoPacket(M, U, 77, true));
  });
});

describe("DNAT, redirect, hairpin", () => {
  const forward8080 = {
    dnat: (m: { iif: number; dport: number }) =>
      m.iif === WAN && m.dport === 8080 ? natRequest("dnat", { addr: S, ports: [80, 80] }) : null,
  };

  it("port forward with a port change, both directions", () => {
    const r = new TestRouter({}, forward8080);
    sameAs(
      forwarded(r.receive(udpPacket(M, 50000, ROUTER_WAN, 8080, PAYLOAD), WAN)),
      udpPacket(M, 50000, S, 80, PAYLOAD),
    );
    sameAs(
      forwarded(r.receive(udpPacket(S, 80, M, 50000, PAYLOAD), LAN)),
      udpPacket(ROUTER_WAN, 8080, M, 50000, PAYLOAD),
    );
    const syn: TcpOpts = { flags: TcpFlag.SYN, seq: 5 };
    sameAs(forwarded(r.receive(tcpPacket(M, 50001, ROUTER_WAN, 8080, syn), WAN)), tcpPacket(M, 50001, S, 80, syn));
    expect(r.ct.list().every((e) => (e.status & 0x20) !== 0)).toBe(true);
  });

  it("redirect to the incoming interface's address, and back", () => {
    const r = new TestRouter(
      {},
      { dnat: (m) => (m.iif === LAN && m.dport === 53 ? natRequest("redirect", { ports: [5353, 5353] }) : null) },
    );
    sameAs(forwarded(r.receive(udpPacket(U, 5555, "8.8.8.8", 53), LAN)), udpPacket(U, 5555, ROUTER_LAN, 5353));
    sameAs(forwarded(r.receive(udpPacket(ROUTER_LAN, 5353, U, 5555), LAN)), udpPacket("8.8.8.8", 53, U, 5555));
  });

  it("static DNAT hairpins with the reflection SNAT (fw4 reflection_src internal)", () => {
    const r = new TestRouter(
      {},
      {
        dnat: (m) =>
          m.daddr[0] === v4(ROUTER_WAN) && m.dport === 8080 ? natRequest("dnat", { addr: S, ports: [80, 80] }) : null,
        snat: (m) =>
          m.iif === LAN && m.oif === LAN
            ? natRequest("snat", { addr: ROUTER_LAN })
            : m.oif === WAN
              ? natRequest("masquerade")
              : null,
      },
    );
    sameAs(forwarded(r.receive(udpPacket(U, 6000, ROUTER_WAN, 8080), LAN)), udpPacket(ROUTER_LAN, 6000, S, 80));
    sameAs(forwarded(r.receive(udpPacket(S, 80, ROUTER_LAN, 6000), LAN)), udpPacket(ROUTER_WAN, 8080, U, 6000));
  });

  it("dynamic mappings do not hairpin, even with full-cone filtering", () => {
    for (const filtering of ["apdf", "eif"] as const) {
      const r = new TestRouter({ filtering });
      forwarded(r.receive(udpPacket(U, 5000, M, 53), LAN));
      const v = r.receive(udpPacket(S, 7000, ROUTER_WAN, 5000), LAN);
      expect(v.kind).toBe("forwarded");
      expect(v.meta.daddr[0]).toBe(v4(ROUTER_WAN)); // still addressed to the router itself: INPUT, not U
    }
  });
});

describe("ICMP errors are translated both ways (RFC 5508 REQ-4/5)", () => {
  it("from outside, embedded UDP and TCP: inner source, inner checksum and outer destination restored", () => {
    const r = new TestRouter();
    forwarded(r.receive(udpPacket(U, 40000, M, 9999), LAN));
    const sentByS = udpPacket(S, 40000, M, 9999, PAYLOAD);
    const asSent = forwarded(r.receive(sentByS.slice(), LAN)).slice();
    const port = srcPortOf(asSent);
    expect(port).not.toBe(40000);
    const err = icmpErrorPacket("203.0.113.1", ROUTER_WAN, asSent);
    sameAs(forwarded(r.receive(err, WAN)), icmpErrorPacket("203.0.113.1", S, sentByS));

    const syn: TcpOpts = { flags: TcpFlag.SYN, seq: 7 };
    const tcpSent = forwarded(r.receive(tcpPacket(U, 41000, M, 443, syn), LAN)).slice();
    const tcpErr = icmpErrorPacket(M, ROUTER_WAN, tcpSent);
    sameAs(forwarded(r.receive(tcpErr, WAN)), icmpErrorPacket(M, U, tcpPacket(U, 41000, M, 443, syn)));
  });

  it("a quote of only 8 transport bytes: ports translated, the unquoted TCP checksum left alone", () => {
    const r = new TestRouter();
    forwarded(r.receive(udpPacket(U, 41000, M, 443), LAN));
    const syn: TcpOpts = { flags: TcpFlag.SYN, seq: 7 };
    forwarded(r.receive(tcpPacket(U, 41000, M, 443, syn), LAN));
    const sentByS = tcpPacket(S, 41000, M, 443, syn);
    const asSent = forwarded(r.receive(sentByS.slice(), LAN)).slice();
    const out = forwarded(r.receive(icmpErrorPacket(M, ROUTER_WAN, asSent, 28), WAN));
    sameAs(out.subarray(0, 20), icmpErrorPacket(M, S, sentByS, 28).subarray(0, 20));
    expect(hex(out.subarray(28, 52))).toBe(hex(sentByS.subarray(0, 24)));
  });

  it("from inside: an error about a DNATed flow leaves with the public address outside and inside", () => {
    const r = new TestRouter(
      {},
      { dnat: (m) => (m.iif === WAN && m.dport === 8080 ? natRequest("dnat", { addr: S, ports: [80, 80] }) : null) },
    );
    const inbound = udpPacket(M, 50000, ROUTER_WAN, 8080, PAYLOAD);
    const delivered = forwarded(r.receive(inbound.slice(), WAN)).slice();
    sameAs(forwarded(r.receive(icmpErrorPacket(S, M, delivered), LAN)), icmpErrorPacket(ROUTER_WAN, M, inbound));
  });

  it("from inside: an error about a masqueraded flow's reply", () => {
    const r = new TestRouter();
    forwarded(r.receive(udpPacket(U, 40000, M, 9999), LAN));
    forwarded(r.receive(udpPacket(S, 40000, M, 9999), LAN));
    const port = srcPortOf(forwarded(r.receive(udpPacket(S, 40000, M, 9999), LAN)));
    const reply = udpPacket(M, 9999, ROUTER_WAN, port, PAYLOAD);
    const atS = forwarded(r.receive(reply.slice(), WAN)).slice();
    sameAs(forwarded(r.receive(icmpErrorPacket(S, M, atS), LAN)), icmpErrorPacket(ROUTER_WAN, M, reply));
  });

  it("IPv6: ICMPv6 errors with the pseudo-header checksum recomputed", () => {
    const r = new TestRouter();
    const sent = udpPacket("2001:db8:1::10", 5000, "2001:db8:99::66", 53, PAYLOAD);
    const out = forwarded(r.receive(sent.slice(), LAN)).slice();
    const err = icmpErrorPacket("2001:db8:99::1", "2001:db8:ffff::2", out);
    const back = forwarded(r.receive(err, WAN));
    sameAs(back, icmpErrorPacket("2001:db8:99::1", "2001:db8:1::10", sent));
  });

  it("drops an error whose ICMP checksum is bad (nf_nat_icmp_reply_translation)", () => {
    const r = new TestRouter();
    const out = forwarded(r.receive(udpPacket(U, 40000, M, 9999), LAN)).slice();
    const err = icmpErrorPacket("203.0.113.1", ROUTER_WAN, out);
    err[22] ^= 0x55;
    const v = r.receive(err, WAN);
    // OpenWrt leaves nf_conntrack_checksum off, so conntrack relates it and NAT refuses it.
    expect(v.kind === "dropped" && v.why).toEqual({ kind: "drop", reason: "bad-icmp-checksum" });
  });
});

/** RFC 5780 §4.3/§4.4 behaviour discovery, run against the router with packets; returns what it observed. */
function discover(behaviour: Partial<NatBehaviour>, masq = natRequest("masquerade")): NatBehaviour {
  const r = new TestRouter(behaviour, { snat: (m) => (m.oif === WAN ? masq : null) });
  const A1 = "203.0.113.10";
  const A2 = "203.0.113.20";
  const P1 = 3478;
  const P2 = 3479;
  const mapped = (dst: string, dp: number): number => srcPortOf(forwarded(r.receive(udpPacket(U, 5000, dst, dp), LAN)));
  const m1 = mapped(A1, P1);
  const m2 = mapped(A2, P1);
  const m3 = mapped(A2, P2);
  const mapping = m1 === m2 ? "eim" : m2 === m3 ? "adm" : "apdm";
  // Filtering: a fresh binding to A1:P1 only, then replies from other endpoints (CHANGE-REQUEST).
  const f = new TestRouter(behaviour, { snat: (m) => (m.oif === WAN ? masq : null) }, 4096, 2);
  const x = srcPortOf(forwarded(f.receive(udpPacket(U, 6000, A1, P1), LAN)));
  const reaches = (src: string, sp: number): boolean => {
    const v = f.receive(udpPacket(src, sp, ROUTER_WAN, x), WAN);
    return v.kind === "forwarded" && v.meta.daddr[0] === v4(U) && v.meta.dport === 6000;
  };
  const filtering = reaches(A2, P2) ? "eif" : reaches(A1, P2) ? "adf" : "apdf";
  return { mapping, filtering };
}

describe("RFC 5780 classification of the NAT settings", () => {
  it("default Linux masquerade: EIM + APDF = port-restricted cone", () => {
    const b = discover({});
    expect(b).toEqual({ mapping: "eim", filtering: "apdf" });
    expect(rfc3489Type(b)).toBe("port-restricted-cone");
  });

  it("masquerade fully-random: APDM = symmetric", () => {
    const b = discover({}, natRequest("masquerade", { fullyRandom: true }));
    expect(b).toEqual({ mapping: "apdm", filtering: "apdf" });
    expect(rfc3489Type(b)).toBe("symmetric");
  });

  it("EIF setting: full cone; ADF: restricted cone; APDM setting: symmetric", () => {
    const full = discover({ filtering: "eif" });
    expect(rfc3489Type(full)).toBe("full-cone");
    expect(rfc3489Type(discover({ filtering: "adf" }))).toBe("restricted-cone");
    expect(discover({ mapping: "adm" }).mapping).toBe("adm");
    expect(rfc3489Type(discover({ mapping: "apdm" }))).toBe("symmetric");
  });

  it("full cone delivers an unsolicited packet from anyone to the inside endpoint, and its reply goes out mapped", () => {
    const r = new TestRouter({ filtering: "eif" });
    forwarded(r.receive(udpPacket(U, 5000, M, 53), LAN));
    sameAs(
      forwarded(r.receive(udpPacket(M2, 1234, ROUTER_WAN, 5000, PAYLOAD), WAN)),
      udpPacket(M2, 1234, U, 5000, PAYLOAD),
    );
    sameAs(
      forwarded(r.receive(udpPacket(U, 5000, M2, 1234, PAYLOAD), LAN)),
      udpPacket(ROUTER_WAN, 5000, M2, 1234, PAYLOAD),
    );
    // EIM and EIF are protocol-specific (RFC 7857 §3): a UDP mapping does not open TCP.
    const tcp = r.receive(tcpPacket(M2, 1234, ROUTER_WAN, 5000), WAN);
    expect(tcp.kind === "forwarded" && tcp.meta.daddr[0]).toBe(v4(ROUTER_WAN));
  });
});
