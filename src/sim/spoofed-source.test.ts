// The simulator reproduces SCENARIOS.md's "ground truth measured on the real kernel" for spoofed-source: root code
// on U forges S's address through its raw socket; the router's masquerade maps it and lets Mallory in.

import { describe, expect, it } from "vitest";
import { ACCEPT, DROP, baseChain, ctState, int, match, rule, seedRuleset } from "../engine/datapath.fixture.js";
import type { Ruleset } from "../engine/filter/index.js";
import { TcpFlag } from "../engine/index.js";
import { hex } from "../wire/bytes.js";
import * as ipv4 from "../wire/ipv4.js";
import * as tcp from "../wire/tcp.js";
import { buildTcpSegment, buildUdpDatagram } from "./endpoint-packets.js";
import { SNMP_RESPONSE, SSH_BANNER, TcpState } from "./host-stack.js";
import type { CaptureRecord } from "./segment.js";
import { buildSeedHome } from "./seed-home.fixture.js";
import { addressWords } from "./simulation.js";

const A = (s: string): Uint32Array => addressWords(s)!.words;
const S = "192.168.1.20";
const MALLORY = "203.0.113.66";
const WAN = "198.51.100.2";

function headers(r: CaptureRecord): { src: string; dst: string; sport: number; dport: number; flags: number } {
  const p = ipv4.parse(r.bytes);
  if (!p.ok) throw new Error("not IPv4");
  const fmt = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  const l4 = p.value.payload;
  const t = p.value.protocol === 6 ? tcp.parse(l4) : null;
  return {
    src: fmt(p.value.src),
    dst: fmt(p.value.dst),
    sport: (l4[0] << 8) | l4[1],
    dport: (l4[2] << 8) | l4[3],
    flags: t?.ok ? t.value.flags & 0xff : 0,
  };
}

/** Mallory's own firewall drops the forged SYN arriving at its port 80, so its kernel does not RST the mapping. */
const malloryDropsNewSynTo80: Ruleset = {
  tables: [
    {
      family: "inet",
      name: "m",
      origin: { source: "mallory.nft", line: 1, column: 1 },
      chains: [
        baseChain("input", 2, "filter", "input", 0, "accept", [
          rule(4, ctState("new"), match({ kind: "payload", protocol: "tcp", field: "dport" }, int(80)), DROP),
          rule(5, ACCEPT),
        ]),
      ],
    },
  ],
};

describe("spoofed-source, UDP", () => {
  it("gives Mallory a two-way channel to S:161 through the mapping U's forged datagram created", () => {
    const h = buildSeedHome();
    const got: Uint8Array[] = [];
    h.mallory.stack.bindUdp(9999, (d) => {
      got.push(d.payload);
      // Mallory answers the forged datagram: to the router's mapped port 161.
      return got.length === 1 ? new TextEncoder().encode("get sysDescr") : null;
    });
    h.u.stack.rawSend(buildUdpDatagram(4, A(S), A(MALLORY), 161, 9999, new TextEncoder().encode("hi")));
    h.sim.run({ until: 1000 });
    const wan = h.sim.segments.get("wan")!.captures.map(headers);
    expect(wan[0]).toMatchObject({ src: WAN, sport: 161, dst: MALLORY, dport: 9999 });
    expect(wan[1]).toMatchObject({ src: MALLORY, sport: 9999, dst: WAN, dport: 161 });
    expect(wan[2]).toMatchObject({ src: WAN, sport: 161, dst: MALLORY, dport: 9999 });
    expect(got.map(hex)).toEqual([hex(new TextEncoder().encode("hi")), hex(SNMP_RESPONSE)]);
  });
});

describe("spoofed-source, TCP (simultaneous open through conntrack)", () => {
  const FORGED_SEQ = 1_000_000;

  function attempt(sIsn: number) {
    const h = buildSeedHome({ isn: { s: sIsn, mallory: 77_000 }, malloryRuleset: malloryDropsNewSynTo80 });
    const forged = buildTcpSegment({
      family: 4,
      src: A(S),
      dst: A(MALLORY),
      sport: 22,
      dport: 80,
      seq: FORGED_SEQ,
      ack: 0,
      flags: TcpFlag.SYN,
      window: 64240,
      mss: 1460,
      ident: 0,
      payload: null,
    });
    const events: string[] = [];
    h.u.stack.rawSend(forged);
    h.sim.run({ until: 50 });
    const conn = h.mallory.stack.connect(4, A(WAN), 22, {
      sport: 80,
      synRetries: 0,
      onEstablished: (c) => {
        events.push("established");
        c.send(new TextEncoder().encode("hello"));
      },
      onData: () => events.push("data"),
    });
    expect(conn.ok).toBe(true);
    h.sim.run({ until: 500 });
    const wan = h.sim.segments.get("wan")!.captures;
    return { h, events, wan: wan.map(headers), records: wan };
  }

  it("reaches S:22 when S's ISN is before the forged SYN's seq+1; S's later packets leak untranslated", () => {
    const { h, events, wan, records } = attempt(FORGED_SEQ - 500_000);
    expect(events).toEqual(["established"]);
    // S's application got Mallory's bytes.
    const sConn = h.s.stack.find(4, A(S), 22, A(MALLORY), 80);
    expect(sConn?.state).toBe(TcpState.ESTABLISHED);
    expect(sConn?.bytesIn).toBe(5);
    // The SYN/ACK left translated; the banner left with S's private source address (NAT leak of INVALID).
    expect(wan).toContainEqual({ src: WAN, sport: 22, dst: MALLORY, dport: 80, flags: TcpFlag.SYN | TcpFlag.ACK });
    const leak = records.find((r, i) => wan[i].src === S && wan[i].flags === (TcpFlag.PSH | TcpFlag.ACK));
    expect(leak).toBeDefined();
    expect(new TextDecoder().decode(leak!.bytes.subarray(40))).toBe(SSH_BANNER);
    expect(leak!.comment).toContain("router: ct invalid");
  });

  it("fails when S's ISN is after it: the SYN/ACK itself is INVALID and leaks untranslated", () => {
    const { events, wan } = attempt(FORGED_SEQ + 500_000);
    expect(events).toEqual([]);
    expect(wan).toContainEqual({ src: S, sport: 22, dst: MALLORY, dport: 80, flags: TcpFlag.SYN | TcpFlag.ACK });
    expect(wan.some((p) => p.src === WAN && p.sport === 22 && p.flags === (TcpFlag.SYN | TcpFlag.ACK))).toBe(false);
  });

  it("is stopped by seed-home-hardened's egress rule: no mapping is created", () => {
    const h = buildSeedHome({ ruleset: seedRuleset({ hardened: true }) });
    h.u.stack.rawSend(buildUdpDatagram(4, A(S), A(MALLORY), 161, 9999, new TextEncoder().encode("hi")));
    h.sim.run({ until: 100 });
    expect(h.sim.segments.get("wan")!.captures).toHaveLength(0);
    expect(h.router.datapath.conntrack.count()).toBe(0);
    expect(h.sim.segments.get("lan")!.captures[0].comment).toMatch(
      /router: ct new, forward drop \(seed-home\.nft:9:1\)/,
    );
  });
});
