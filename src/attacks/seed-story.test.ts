import { describe, expect, it } from "vitest";
import type { Ruleset } from "../engine/filter/index.js";
import { hostSRuleset, routerRuleset, rulesetLine, type SeedNetworkName } from "./seed-nodes.js";
import { runSeedStory, summarizePacket, type SeedStep, type SeedStepId, type SeedStory } from "./seed-story.js";

const story = runSeedStory();

function step(s: SeedStory, id: SeedStepId, network: SeedNetworkName): SeedStep {
  const found = s.steps.find((x) => x.id === id && x.network === network);
  if (found === undefined) throw new Error(`no step ${id} on ${network}`);
  return found;
}

/** The ruleset with the rule at `line` of `source` removed (the text stays; only the IR changes). */
function without(rs: Ruleset, line: number): Ruleset {
  return {
    tables: rs.tables.map((t) => ({
      ...t,
      chains: t.chains.map((c) => ({ ...c, rules: c.rules.filter((r) => r.origin.line !== line) })),
    })),
  };
}

describe("runSeedStory: outcomes decided by the engine", () => {
  const expected: readonly [SeedStepId, string, string][] = [
    ["inbound-scan", "blocked", "blocked"],
    ["spoofed-source-udp", "breached", "blocked"],
    ["spoofed-source-tcp", "breached", "blocked"],
    ["lateral-movement", "breached", "blocked"],
    ["c2-beacon", "breached", "breached"],
    ["intents", "allowed", "allowed"],
  ];
  for (const [id, plain, hardened] of expected) {
    it(`${id}: ${plain} on seed-home, ${hardened} on seed-home-hardened`, () => {
      expect(step(story, id, "seed-home").outcome).toBe(plain);
      expect(step(story, id, "seed-home-hardened").outcome).toBe(hardened);
    });
  }

  it("has every step on both networks, in order, with the SCENARIOS.md attack ids", () => {
    expect(story.steps.map((s) => `${s.id}@${s.network}`)).toEqual(
      expected.flatMap(([id]) => [`${id}@seed-home`, `${id}@seed-home-hardened`]),
    );
    expect(new Set(story.steps.map((s) => s.attack))).toEqual(
      new Set(["inbound-scan", "spoofed-source", "lateral-movement", "c2-beacon", "intents"]),
    );
    expect(story.comingWithSimulator.join(" ")).toMatch(/upnp.*dns-rebinding/s);
  });

  it("is deterministic", () => {
    expect(runSeedStory()).toEqual(story);
  });

  it("a successful step names no blocker; a blocked one names a rule line that exists", () => {
    for (const s of story.steps) {
      if (s.outcome === "blocked") {
        expect(s.stoppedBy).not.toBeNull();
        const [source, line] = (s.stoppedBy?.rule ?? "").split(":");
        expect(rulesetLine({ source, line: Number(line), column: 1 })).not.toBeNull();
      } else expect(s.stoppedBy).toBeNull();
    }
  });
});

describe("inbound-scan", () => {
  it("every probe dies at the router: input policy for the WAN address, forward policy for S", () => {
    for (const network of ["seed-home", "seed-home-hardened"] as const) {
      const s = step(story, "inbound-scan", network);
      const router = s.packets.filter((p) => p.node === "router");
      expect(router).toHaveLength(7);
      const src = `${network}/router.nft`;
      expect(router.slice(0, 6).map((p) => p.droppedBy?.rule)).toEqual(Array(6).fill(`${src}:3`));
      expect(router[6].droppedBy?.rule).toBe(`${src}:9`);
      expect(router[6].packet).toContain("> 192.168.1.20:22 [S]");
      expect(s.stoppedBy).toEqual({
        node: "router",
        layer: "router filter",
        rule: `${src}:3`,
        text: "type filter hook input priority filter; policy drop; (chain input)",
      });
      // Nothing came back and nothing reached S.
      expect(s.packets.some((p) => p.node === "S" || p.verdict === "received")).toBe(false);
    }
  });
});

describe("spoofed-source", () => {
  it("UDP on seed-home: the forged packet builds the mapping 198.51.100.2:161 and Mallory's datagram reaches S:161", () => {
    const s = step(story, "spoofed-source-udp", "seed-home");
    expect(s.notes.join("\n")).toContain("192.168.1.20:161 > 203.0.113.66:9999 → 198.51.100.2:161 > 203.0.113.66:9999");
    expect(s.notes.join("\n")).toContain("seed-home/router.nft:17");
    const atS = s.packets.filter((p) => p.node === "S");
    expect(atS).toHaveLength(1);
    expect(atS[0].packet).toBe("UDP 203.0.113.66:9999 > 192.168.1.20:161 20 bytes");
    expect(atS[0].verdict).toBe("reached S's service");
  });

  it("UDP and TCP on the hardened network: the egress rule drops the forged packet, no mapping is built", () => {
    for (const id of ["spoofed-source-udp", "spoofed-source-tcp"] as const) {
      const s = step(story, id, "seed-home-hardened");
      expect(s.stoppedBy).toEqual({
        node: "router",
        layer: "router filter",
        rule: "seed-home-hardened/router.nft:10",
        text: 'ip saddr 192.168.1.20 oifname "wan" drop',
      });
      expect(s.notes).toEqual([]);
      // Mallory's follow-up finds no entry and dies on the input policy.
      expect(s.packets.at(-1)?.droppedBy?.rule).toBe("seed-home-hardened/router.nft:3");
    }
  });

  it("TCP on seed-home: Mallory's SYN from port 80 is a simultaneous open and reaches S:22", () => {
    const s = step(story, "spoofed-source-tcp", "seed-home");
    const atS = s.packets.filter((p) => p.node === "S");
    expect(atS.map((p) => [p.packet, p.verdict])).toEqual([
      ["TCP 203.0.113.66:80 > 192.168.1.20:22 [S]", "reached S's service"],
    ]);
  });

  it("without the hardened egress rule, S's own firewall stops it; without both, it is breached again", () => {
    const noEgress = without(routerRuleset(true), 10);
    const hostOnly = runSeedStory({ rulesets: { "seed-home-hardened": { router: noEgress } } });
    for (const id of ["spoofed-source-udp", "spoofed-source-tcp"] as const) {
      const s = step(hostOnly, id, "seed-home-hardened");
      expect(s.outcome).toBe("blocked");
      // The router now builds the mapping and forwards Mallory's packet; S drops it (its source is not U).
      expect(s.notes).toHaveLength(1);
      expect(s.stoppedBy).toMatchObject({ node: "S", layer: "host firewall", rule: "seed-home-hardened/s.nft:3" });
    }
    const neither = runSeedStory({
      rulesets: { "seed-home-hardened": { router: noEgress, s: hostSRuleset(false) } },
    });
    expect(step(neither, "spoofed-source-udp", "seed-home-hardened").outcome).toBe("breached");
    expect(step(neither, "spoofed-source-tcp", "seed-home-hardened").outcome).toBe("breached");
  });
});

describe("lateral-movement, c2-beacon, intents", () => {
  it("lateral movement never crosses the router; S's policy drops it on the hardened network", () => {
    for (const network of ["seed-home", "seed-home-hardened"] as const)
      expect(step(story, "lateral-movement", network).packets.some((p) => p.node === "router")).toBe(false);
    expect(step(story, "lateral-movement", "seed-home-hardened").stoppedBy).toMatchObject({
      node: "S",
      layer: "host firewall",
      rule: "seed-home-hardened/s.nft:3",
    });
  });

  it("c2-beacon: handshake and data both ways through the masquerade, on both networks", () => {
    for (const network of ["seed-home", "seed-home-hardened"] as const) {
      const s = step(story, "c2-beacon", network);
      const received = s.packets.filter((p) => p.verdict === "received").map((p) => `${p.node} ${p.packet}`);
      expect(received).toEqual([
        "Mallory TCP 198.51.100.2:51001 > 203.0.113.66:443 [S]",
        "U TCP 203.0.113.66:443 > 192.168.1.10:51001 [S.]",
        "Mallory TCP 198.51.100.2:51001 > 203.0.113.66:443 [.]",
        "Mallory TCP 198.51.100.2:51001 > 203.0.113.66:443 [P.] 11 bytes",
        "U TCP 203.0.113.66:443 > 192.168.1.10:51001 [P.] 18 bytes",
      ]);
    }
  });

  it("c2-beacon is blocked when U's egress is dropped too: the outcome follows the ruleset", () => {
    const noEgress = without(without(routerRuleset(true), 12), 10);
    const s = step(
      runSeedStory({ rulesets: { "seed-home-hardened": { router: noEgress } } }),
      "c2-beacon",
      "seed-home-hardened",
    );
    expect(s.outcome).toBe("blocked");
    expect(s.stoppedBy?.rule).toBe("seed-home-hardened/router.nft:9");
  });

  it("intents: removing S's allow rule breaks U → S:5432/8080, named by S's policy", () => {
    const s = step(
      runSeedStory({ rulesets: { "seed-home-hardened": { s: without(hostSRuleset(true), 6) } } }),
      "intents",
      "seed-home-hardened",
    );
    expect(s.outcome).toBe("blocked");
    expect(s.stoppedBy?.rule).toBe("seed-home-hardened/s.nft:3");
  });
});

describe("summarizePacket", () => {
  it("reports malformed bytes instead of throwing", () => {
    expect(summarizePacket(new Uint8Array([0x45, 0, 0]))).toMatch(/^malformed packet/);
  });
});
