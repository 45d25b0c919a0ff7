// ipv6-no-nat: Mallory sends straight to LAN hosts' global IPv6 addresses. Blocked on the seed networks (the
// inet forward chain drops unsolicited traffic); breached on an `ipv6-open` variant whose filter is IPv4 only
// (`table ip filter`), so IPv6 is forwarded untouched and S's SSH answers from the internet.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { ipv6NoNat } from "./ipv6-no-nat.js";

const path = (name: string): string => fileURLToPath(new URL(`../../examples/${name}.yaml`, import.meta.url));

function load(name: string, edit: (t: string) => string = (t) => t): { text: string; net: Network } {
  const text = edit(readFileSync(path(name), "utf8"));
  const r = parseNetwork(text, path(name));
  if (r.network === null) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return { text, net: r.network };
}

/** S gets a global address; the router's filter table becomes `ip` only, so nothing filters IPv6. */
const ipv6Open = (t: string): string =>
  t
    .replace("    address: 192.168.1.20\n", "    address: 192.168.1.20\n    ipv6: 2001:db8:1::20\n")
    .replace("      table inet filter {", "      table ip filter {");

function runOn(net: Network, target: string, trace = false) {
  const plan = ipv6NoNat.plan(net).plans.find((p) => `${p.target.node}:${p.target.port}/${p.target.proto}` === target);
  if (plan === undefined) throw new Error(`no plan for ${target}`);
  const r = ipv6NoNat.run(net, plan, { seed: 9, trace });
  if (!r.ok) throw new Error(r.error.message);
  return r.result;
}

describe("ipv6-no-nat", () => {
  for (const name of ["seed-home", "seed-home-hardened"])
    it(`is blocked on ${name}: the router's input policy drops the ISP's neighbour solicitation (as the kernel does)`, () => {
      const { text, net } = load(name);
      const result = runOn(net, "u:22/tcp", true);
      expect(result.outcome).toBe("blocked");
      const lines = text.split("\n");
      const chain = lines.findIndex((l) => l.includes("chain input {"));
      // NDP is untracked, so `ct state established,related accept` does not admit the NS and the input policy drops
      // it: the ISP never resolves the router's WAN address and nothing IPv6 reaches the router (lab verify agrees).
      expect(result.stoppedBy).toEqual({
        node: "router",
        layer: "router filter",
        rule: `${path(name)}:${chain + 1}:${lines[chain].indexOf("chain") + 1}`,
        text: "chain input {",
      });
      expect(
        result.steps.some((s) => s.node === "router" && s.hook === "input" && / icmp type 135 /.test(s.packet)),
      ).toBe(true);
      expect(result.steps.some((s) => s.packet.endsWith("> [2001:db8:1::10]:22") && s.node === "router")).toBe(false);
    });

  it("is breached on ipv6-open: Mallory opens a session to S's SSH at its own address", () => {
    const { net } = load("seed-home", ipv6Open);
    const result = runOn(net, "s:22/tcp");
    expect(result.outcome).toBe("breached");
    expect(result.details).toMatchObject({ family: 6, address: "2001:db8:1::20", answer: "session" });
    expect(result.evidence).toContain("SSH-2.0-OpenSSH_7.4");
  });

  it("shows a host without services as reachable on ipv6-open (RST back), blocked only at the service", () => {
    const { net } = load("seed-home", ipv6Open);
    const result = runOn(net, "u:22/tcp");
    expect(result.outcome).toBe("blocked");
    expect(result.stoppedBy).toEqual({ node: "u", layer: "service", rule: "nothing listens on 22/tcp" });
    expect(result.note).toMatch(/lets unsolicited IPv6 through/);
  });

  it("does not apply when no LAN host has a global IPv6 address", () => {
    const { net } = load("seed-home", (t) => t.replace("    ipv6: 2001:db8:1::10\n", ""));
    expect(ipv6NoNat.plan(net)).toEqual({ plans: [], notApplicable: "no LAN host has a global IPv6 address" });
  });
});
