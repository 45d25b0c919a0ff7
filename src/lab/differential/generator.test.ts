import { describe, expect, it } from "vitest";
import { fc, test as fcTest } from "@fast-check/vitest";
import { generateScenario } from "./generator.js";
import { EngineRouter, engineRouterFor, firstDifference, replay } from "./replay.js";
import { variantRuleset } from "./scenario.js";
import { writeNftText } from "../../config/nftables/index.js";
import { parseNftText } from "../../config/nftables/index.js";

describe("generateScenario", () => {
  fcTest.prop([fc.integer({ min: 0, max: 0xffffffff })])(
    "is 1–6 packets over valid flows, the same for a seed",
    (seed) => {
      const s = generateScenario(seed);
      expect(s).toEqual(generateScenario(seed));
      expect(s.steps.length).toBeGreaterThanOrEqual(1);
      expect(s.steps.length).toBeLessThanOrEqual(6);
      s.steps.forEach((st, i) => {
        if (st.kind === "icmp-error") {
          expect(st.about).toBeLessThan(i);
          expect(s.steps[st.about].kind).not.toBe("icmp-error");
        } else expect(st.flow).toBeLessThan(s.flows.length);
      });
    },
  );

  it("covers every protocol, both directions, forged sources and every variant switch over 240 seeds", () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 240; seed++) {
      const s = generateScenario(seed);
      for (const f of s.flows) seen.add(`${f.proto}-${f.from}`);
      for (const f of s.flows) if (f.client.addr === "10.9.9.9") seen.add("forged-off-subnet");
      for (const f of s.flows) if (f.from === "wan" && f.client.addr.startsWith("192.168.")) seen.add("forged-wan");
      for (const st of s.steps) seen.add(st.kind);
      const v = s.variant;
      seen.add(`nat-${v.nat}`).add(`fwd-${v.forwardPolicy}`).add(`in-${v.inputPolicy}`);
      if (v.invalidDrop) seen.add("invalid-drop");
      if (v.portForward) seen.add("port-forward");
      if (v.egressDrop) seen.add("egress-drop");
    }
    for (const k of [
      "tcp-lan",
      "tcp-wan",
      "udp-lan",
      "udp-wan",
      "icmp-lan",
      "icmp-wan",
      "forged-off-subnet",
      "forged-wan",
      "tcp",
      "udp",
      "echo",
      "icmp-error",
      "nat-masquerade",
      "nat-snat",
      "fwd-accept",
      "fwd-drop",
      "in-accept",
      "in-drop",
      "invalid-drop",
      "port-forward",
      "egress-drop",
    ])
      expect(seen, k).toContain(k);
  });
});

describe("variantRuleset", () => {
  it("writes text nft and our parser read back alike", () => {
    const r = variantRuleset({
      forwardPolicy: "drop",
      inputPolicy: "drop",
      invalidDrop: true,
      nat: "snat",
      portForward: true,
      egressDrop: true,
    });
    const text = writeNftText(r);
    expect(text).toContain("ct status dnat accept");
    expect(text).toContain("snat ip to 198.51.100.3");
    expect(text).toContain("dnat ip to 192.168.1.20:80");
    const back = parseNftText(text, { source: "differential.nft" });
    expect(back.ruleset?.tables[0].chains.map((c) => c.name)).toEqual([
      "input",
      "forward",
      "postrouting",
      "prerouting",
    ]);
  });
});

describe("replay on the engine alone", () => {
  it("gives the same record twice and labels a NAT-chosen port by its class", async () => {
    // seed-175: a WAN packet whose reply tuple clashes gets a new source port in 600..1023 ("-low").
    const s = generateScenario(175);
    const a = await replay(
      engineRouterFor((x) => variantRuleset(x.variant)),
      s,
    );
    const b = await replay(
      engineRouterFor((x) => variantRuleset(x.variant)),
      s,
    );
    expect(firstDifference(a, b)).toBeNull();
    expect(a.steps[1].outputs).toHaveLength(1);
    expect(a.steps[1].outputs[0]).toMatch(/^lan .* tcp nat0-low>22 /);
    expect(a.conntrack.some((c) => c.includes("nat0-low"))).toBe(true);
  });

  it("answers a closed port on the router like Linux: RST for TCP, port unreachable for UDP", async () => {
    const r: EngineRouter = engineRouterFor((x) => variantRuleset(x.variant));
    const s = generateScenario(30);
    const run = await replay(r, s);
    expect(run.steps[0].outputs[0]).toMatch(/^wan ip tos=192 ttl=64 id=local .* icmp 3\/3 /);
  });
});
