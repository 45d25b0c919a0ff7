import { describe, expect, it } from "vitest";
import { lineOf, seedVariant } from "./actors/networks.fixture.js";
import type { AttackPlan, AttackResult } from "./attack.js";
import type { Network } from "../model/index.js";
import { MALWARE_PORT, upnpForwardSelf } from "./upnp-forward-self.js";

const PLAN: AttackPlan = { foothold: "u", target: { node: "u", port: MALWARE_PORT, proto: "tcp" } };

function runOn(network: Network, trace = false): AttackResult {
  const r = upnpForwardSelf.run(network, PLAN, { seed: 11, trace });
  if (!r.ok) throw new Error(r.error.message);
  return r.result;
}

describe("upnp-forward-self", () => {
  it("plans U's own port 4444", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    expect(upnpForwardSelf.plan(network).plans).toEqual([PLAN]);
  });

  it("is breached on seed-home: the IGD maps WAN:4444 to U and Mallory reaches the malware", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    const r = runOn(network, true);
    expect(r.outcome).toBe("breached");
    expect(r.stoppedBy).toBeNull();
    expect(r.details?.igdAnswer).toBe(0);
    expect(r.details?.igdLog).toEqual([
      expect.objectContaining({ requester: "192.168.1.10", action: "AddPortMapping", code: 0 }),
    ]);
    expect(r.evidence).toContain('"malware: shell ready\\n"');
    // The SSDP search went to the router, and Mallory's SYN to the WAN port was DNATed to U.
    expect(r.steps.some((s) => s.node === "router" && s.packet.endsWith("> 192.168.1.1:1900"))).toBe(true);
    expect(r.steps.some((s) => s.node === "u" && /^203\.0\.113\.66:\d+ > 192\.168\.1\.10:4444$/.test(s.packet))).toBe(
      true,
    );
  });

  it("is blocked on seed-home-hardened: no IGD answers, stopped at the line `upnp: { enabled: false }`", () => {
    const { text, network } = seedVariant("seed-home-hardened", "seed-home-hardened.yaml");
    const r = runOn(network);
    expect(r.outcome).toBe("blocked");
    expect(r.details?.igdAnswer).toBe("no-igd");
    const line = lineOf(text, "upnp: { enabled: false }");
    expect(r.stoppedBy).toEqual({
      node: "router",
      layer: "upnp",
      rule: `${network.source}:${line}:${text.split("\n")[line - 1].indexOf("false") + 1}`,
      text: "upnp: { enabled: false }",
    });
    expect(r.evidence).toMatch(/no IGD answered the SSDP search/);
  });

  it("is blocked by U's own inbound firewall even though the IGD made the mapping", () => {
    const fw = "tcp dport 4444 drop";
    const { text, network } = seedVariant("seed-home", "u-firewall.yaml", [
      [
        "    role: workstation\n",
        "    role: workstation\n" +
          "    firewall: |\n" +
          "      table inet filter {\n" +
          "        chain input {\n" +
          "          type filter hook input priority filter; policy accept;\n" +
          `          ${fw}\n` +
          "        }\n" +
          "      }\n",
      ],
    ]);
    const r = runOn(network);
    expect(r.outcome).toBe("blocked");
    expect(r.details?.igdAnswer).toBe(0);
    expect(r.stoppedBy).toEqual({
      node: "u",
      layer: "host firewall",
      rule: `${network.source}:${lineOf(text, fw)}:11`,
      text: fw,
    });
  });

  it("refuses a plan whose target is another host", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    const r = upnpForwardSelf.run(
      network,
      { foothold: "u", target: { node: "s", port: 22, proto: "tcp" } },
      {
        seed: 1,
        trace: false,
      },
    );
    expect(r.ok).toBe(false);
  });
});
