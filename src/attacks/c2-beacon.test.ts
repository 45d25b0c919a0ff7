// c2-beacon: the implant on U gets Mallory's command and sends its output back on both seed networks (a stateful
// firewall allows outbound-initiated flows; the result says so). From S on seed-home-hardened the router's egress
// rule drops every poll.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { BEACONS, c2Beacon } from "./c2-beacon.js";

const path = (name: string): string => fileURLToPath(new URL(`../../examples/${name}.yaml`, import.meta.url));

function load(name: string): { text: string; net: Network } {
  const text = readFileSync(path(name), "utf8");
  const r = parseNetwork(text, path(name));
  if (r.network === null) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return { text, net: r.network };
}

function from(net: Network, foothold: string) {
  const plan = c2Beacon.plan(net).plans.find((p) => p.foothold === foothold);
  if (plan === undefined) throw new Error(`no plan from ${foothold}`);
  const r = c2Beacon.run(net, plan, { seed: 4, trace: true });
  if (!r.ok) throw new Error(r.error.message);
  return r.result;
}

describe("c2-beacon", () => {
  it("plans every LAN host as a foothold, workstations first, against Mallory's C2 port", () => {
    const plans = c2Beacon.plan(load("seed-home").net).plans;
    expect(plans).toEqual([
      { foothold: "u", target: { node: "mallory", port: 443, proto: "tcp" } },
      { foothold: "s", target: { node: "mallory", port: 443, proto: "tcp" } },
    ]);
  });

  for (const name of ["seed-home", "seed-home-hardened"])
    it(`is breached from U on ${name}: the command comes back and its output reaches Mallory`, () => {
      const result = from(load(name).net, "u");
      expect(result.outcome).toBe("breached");
      expect(result.details).toMatchObject({
        polls: 1,
        commandsSent: 1,
        results: ["uid=1000(user) gid=1000(user) host=u"],
      });
      expect(result.note).toMatch(/stateful firewall accepts them/);
      expect(result.note).toMatch(/egress allow-list/);
      // The poll left through the NAT: Mallory saw the router's WAN address, not U's.
      expect(
        result.steps.some(
          (s) =>
            s.node === "mallory" && s.packet.startsWith("198.51.100.2:") && s.packet.endsWith("> 203.0.113.66:443"),
        ),
      ).toBe(true);
    });

  it("is blocked from S on seed-home-hardened by the router's egress rule", () => {
    const { text, net } = load("seed-home-hardened");
    const result = from(net, "s");
    expect(result.outcome).toBe("blocked");
    const needle = 'ip saddr 192.168.1.20 oifname "wan" drop';
    const lines = text.split("\n");
    const line = lines.findIndex((l) => l.trim() === needle);
    expect(result.stoppedBy).toEqual({
      node: "router",
      layer: "router filter",
      rule: `${path("seed-home-hardened")}:${line + 1}:${lines[line].indexOf(needle) + 1}`,
      text: needle,
    });
    expect(result.details).toMatchObject({ polls: 0, results: [] });
    expect(result.evidence).toBe(`none of ${BEACONS} polls from s reached 203.0.113.66:443`);
  });

  it("is breached from S on seed-home, where nothing filters egress", () => {
    expect(from(load("seed-home").net, "s").outcome).toBe("breached");
  });
});
