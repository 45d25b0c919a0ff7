import { describe, expect, it } from "vitest";
import type { Network } from "../model/index.js";
import { lineOf, seedVariant } from "./actors/networks.fixture.js";
import type { AttackPlan, AttackResult } from "./attack.js";
import { dnsRebinding, runDnsRebinding } from "./dns-rebinding.js";
import type { BrowserDefences } from "./dns-rebinding.js";

const ADMIN: AttackPlan = { foothold: "u", target: { node: "s", port: 8080, proto: "tcp" } };

function runOn(network: Network, defences: BrowserDefences = {}, trace = false): AttackResult {
  const r = runDnsRebinding(network, ADMIN, { seed: 9, trace }, defences);
  if (!r.ok) throw new Error(r.error.message);
  return r.result;
}

describe("dns-rebinding", () => {
  it("plans the LAN services a browser may fetch (not the Fetch bad port 22)", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    expect(dnsRebinding.plan(network).plans.map((p) => `${p.foothold}->${p.target.node}:${p.target.port}`)).toEqual([
      "u->s:5432",
      "u->s:8080",
    ]);
  });

  it("is breached on seed-home: S:8080's body, read through the rebound name, arrives at Mallory", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    const r = runOn(network, {}, true);
    expect(r.outcome).toBe("breached");
    expect(r.stoppedBy).toBeNull();
    // The web-admin service's answer body (host-stack.ts HTTP_RESPONSE), not anything Mallory served.
    expect(r.details?.exfiltrated).toEqual(["ok\n"]);
    expect(r.details?.rebound).toBe("HTTP 200 from 192.168.1.20");
    // Two A queries reached Mallory's authoritative server: the landing page, then the rebound fetch.
    expect(r.details?.dnsQueries).toBe(2);
    // U's browser talked to S:8080 directly inside the LAN, under the name evil.example.
    expect(r.steps.some((s) => s.node === "s" && /^192\.168\.1\.10:\d+ > 192\.168\.1\.20:8080$/.test(s.packet))).toBe(
      true,
    );
  });

  it("is blocked on seed-home-hardened by the resolver's rebind protection, naming that YAML line", () => {
    const { text, network } = seedVariant("seed-home-hardened", "seed-home-hardened.yaml");
    const r = runOn(network);
    expect(r.outcome).toBe("blocked");
    const line = lineOf(text, "rebind_protection: true");
    const column = text.split("\n")[line - 1].indexOf("true }") + 1;
    expect(r.stoppedBy).toEqual({
      node: "router",
      layer: "dns",
      rule: `${network.source}:${line}:${column}`,
      text: "dns: { resolver: true, rebind_protection: true }",
    });
    expect(r.details?.rebindEvents).toEqual(["possible DNS-rebind attack detected: evil.example → 192.168.1.20"]);
    expect(r.evidence).toMatch(/emptied the answer evil\.example -> 192\.168\.1\.20/);
  });

  it("is blocked on seed-home by the browser's Private Network Access check", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    const r = runOn(network, { privateNetworkAccess: true });
    expect(r.outcome).toBe("blocked");
    expect(r.stoppedBy).toMatchObject({ node: "u", rule: "browser: private-network-access" });
    expect(r.details?.exfiltrated).toEqual([]);
  });

  it("is breached on seed-home-hardened's router when only rebind protection is switched off", () => {
    const { network } = seedVariant("seed-home-hardened", "no-rebind.yaml", [
      ["rebind_protection: true", "rebind_protection: false"],
    ]);
    // S's firewall accepts 8080 from U, which is where the browser's connection comes from.
    expect(runOn(network).outcome).toBe("breached");
  });
});
