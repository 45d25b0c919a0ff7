import { describe, expect, it } from "vitest";
import type { Network } from "../model/index.js";
import { seedVariant } from "./actors/networks.fixture.js";
import type { AttackResult } from "./attack.js";
import { DEFAULT_VICTIM_PORT, natSlipstream } from "./nat-slipstream.js";

const SIP_ON: readonly [string, string] = ["helpers: { sip: false, ftp: false }", "helpers: { sip: true, ftp: false }"];
/** A router whose own ruleset also helps SIP on 5080 (a VoIP provider's port), beside nf_conntrack_sip's 5060. */
const HELP_5080: readonly [string, string] = [
  "        chain forward {",
  "        chain helpers {\n" +
    "          type filter hook prerouting priority filter; policy accept;\n" +
    '          tcp dport 5080 ct helper set "sip"\n' +
    "        }\n\n" +
    "        chain forward {",
];

function runOn(network: Network): AttackResult {
  const plans = natSlipstream.plan(network).plans;
  const r = natSlipstream.run(network, plans[0], { seed: 4, trace: false });
  if (!r.ok) throw new Error(r.error.message);
  return r.result;
}

describe("nat-slipstream", () => {
  it("plans the browsing host's own port (no services on U: RDP's 3389)", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    expect(natSlipstream.plan(network).plans).toEqual([
      { foothold: "u", target: { node: "u", port: DEFAULT_VICTIM_PORT, proto: "tcp" } },
    ]);
  });

  it("is blocked on seed-home (no SIP helper): the REGISTER reaches Mallory but opens nothing", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    const r = runOn(network);
    expect(r.outcome).toBe("blocked");
    // The browser refuses the standard SIP port before sending anything; 5080 is allowed.
    expect(r.details?.attempts).toEqual([
      {
        port: 5060,
        page: "refused by the browser (port 5060 is a Fetch bad port)",
        probe: "not sent",
        register: "not sent",
      },
      expect.objectContaining({ port: 5080, page: "HTTP 200 from 203.0.113.66", probe: "HTTP 200 from 203.0.113.66" }),
    ]);
    // Mallory read the Contact from the bytes that arrived: U's LAN address, not rewritten by any helper.
    expect(r.details?.registersAtMallory).toEqual(["192.168.1.10:3389"]);
    expect(r.details?.routerExpectations).toEqual([]);
    expect(r.details?.synsAtVictim).toBe(0);
    // Mallory's SYN to the WAN port meets the router's input chain and its drop policy.
    expect(r.stoppedBy).toEqual({
      node: "router",
      layer: "router filter",
      rule: `${network.source}:50:9`,
      text: "chain input {",
    });
  });

  it("stays blocked with `helpers: { sip: true }` alone: the helper watches 5060, which the browser refuses", () => {
    const { network } = seedVariant("seed-home", "sip-5060.yaml", [SIP_ON]);
    const r = runOn(network);
    expect(r.outcome).toBe("blocked");
    expect(r.details?.sipHelperPorts).toEqual([5060]);
    expect(r.details?.routerExpectations).toEqual([]);
    expect(r.stoppedBy).toMatchObject({ node: "router", layer: "router filter" });
  });

  it("is breached when the router's SIP helper watches the port the page used: Mallory's SYN reaches U:3389", () => {
    const { network } = seedVariant("seed-home", "sip-5080.yaml", [SIP_ON, HELP_5080]);
    const r = runOn(network);
    expect(r.outcome).toBe("breached");
    expect(r.stoppedBy).toBeNull();
    // The padded POST put REGISTER at the start of a TCP segment; the helper parsed its Contact, its NAT half
    // (nf_nat_sip_expect) published it on the WAN address, and Mallory's 200 OK activated the expectation.
    expect(r.details?.registersAtMallory).toEqual(["198.51.100.2:3389"]);
    expect(r.details?.routerExpectations).toEqual(["203.0.113.66:* -> 198.51.100.2:3389"]);
    expect(r.details?.dialled).toBe("198.51.100.2:3389");
    // Judged from what arrived at U's port: the SYN was DNATed there (nothing listens on 3389, so no session).
    expect(r.details?.synsAtVictim).toBe(1);
    expect(r.details?.attempts).toEqual([
      expect.objectContaining({ port: 5060 }),
      expect.objectContaining({ port: 5080, register: 'malformed status line "SIP/2.0 200 OK"' }),
    ]);
  });

  it("refuses a plan aimed at another host (SIP forbids third-party registrations)", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    const r = natSlipstream.run(
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
