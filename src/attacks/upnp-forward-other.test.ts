import { describe, expect, it } from "vitest";
import type { Network } from "../model/index.js";
import { lineOf, seedVariant } from "./actors/networks.fixture.js";
import type { AttackPlan, AttackResult } from "./attack.js";
import { runPlans } from "./attack.js";
import { upnpForwardOther } from "./upnp-forward-other.js";

const SSH: AttackPlan = { foothold: "u", target: { node: "s", port: 22, proto: "tcp" } };
const UPNP_BLOCK = "    upnp:\n      enabled: true\n      secure_mode: true\n";

function runOn(network: Network, plan = SSH): AttackResult {
  const r = upnpForwardOther.run(network, plan, { seed: 5, trace: false });
  if (!r.ok) throw new Error(r.error.message);
  return r.result;
}

/** The column of `value` on the line holding `needle`. */
function columnOf(text: string, needle: string, value: string): number {
  return text.split("\n")[lineOf(text, needle) - 1].indexOf(value) + 1;
}

describe("upnp-forward-other", () => {
  it("plans every TCP service of the other LAN hosts from the workstation", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    expect(upnpForwardOther.plan(network).plans.map((p) => `${p.foothold}->${p.target.node}:${p.target.port}`)).toEqual(
      ["u->s:22", "u->s:5432", "u->s:8080"],
    );
  });

  it("is blocked on seed-home: secure_mode answers 718 and the stop names the `secure_mode: true` line", () => {
    const { text, network } = seedVariant("seed-home", "seed-home.yaml");
    const r = runOn(network);
    expect(r.outcome).toBe("blocked");
    expect(r.details?.igdAnswer).toBe(718);
    expect(r.stoppedBy).toEqual({
      node: "router",
      layer: "upnp",
      rule: `${network.source}:${lineOf(text, "secure_mode: true")}:${columnOf(text, "secure_mode: true", "true")}`,
      text: "secure_mode: true",
    });
    expect(r.evidence).toMatch(/refused with 718 ConflictInMappingEntry/);
  });

  it("is blocked on seed-home for every planned service (a patient attacker tries all)", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    const r = runPlans(upnpForwardOther, network, upnpForwardOther.plan(network).plans, { seed: 5, trace: false });
    expect(r?.ok && r.result.outcome).toBe("blocked");
  });

  it("is breached with secure_mode off and no permission lines (Debian's config): S's SSH banner at Mallory", () => {
    const { network } = seedVariant("seed-home", "upnp-open.yaml", [
      [
        UPNP_BLOCK +
          "      permissions:\n        - allow 1024-65535 192.168.1.0/24 1024-65535\n        - deny 0-65535 0.0.0.0/0 0-65535\n",
        "    upnp:\n      enabled: true\n      secure_mode: false\n",
      ],
    ]);
    const r = runOn(network);
    expect(r.outcome).toBe("breached");
    expect(r.details?.igdAnswer).toBe(0);
    expect(r.details?.mapping).toBe("WAN:2222 -> 192.168.1.20:22");
    expect(r.evidence).toContain(JSON.stringify("SSH-2.0-OpenSSH_7.4\r\n"));
  });

  it("is blocked with 606 by the deny line when secure_mode is off but the sample permissions stay", () => {
    const { text, network } = seedVariant("seed-home", "upnp-acl.yaml", [
      ["      secure_mode: true\n", "      secure_mode: false\n"],
    ]);
    const r = runOn(network);
    expect(r.outcome).toBe("blocked");
    expect(r.details?.igdAnswer).toBe(606);
    const deny = "deny 0-65535 0.0.0.0/0 0-65535";
    expect(r.stoppedBy).toMatchObject({ node: "router", layer: "upnp", text: `- ${deny}` });
    expect(r.stoppedBy?.rule).toMatch(new RegExp(`:${lineOf(text, deny)}:\\d+$`));
  });

  it("is blocked on seed-home-hardened: UPnP off", () => {
    const { text, network } = seedVariant("seed-home-hardened", "seed-home-hardened.yaml");
    const r = runOn(network);
    expect(r.outcome).toBe("blocked");
    expect(r.details?.igdAnswer).toBe("no-igd");
    expect(r.stoppedBy).toMatchObject({
      node: "router",
      layer: "upnp",
      rule: `${network.source}:${lineOf(text, "upnp: { enabled: false }")}:${columnOf(text, "upnp: { enabled: false }", "false")}`,
    });
  });
});
