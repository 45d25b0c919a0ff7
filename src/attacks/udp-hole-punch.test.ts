import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { lineOf, seedVariant } from "./actors/networks.fixture.js";
import type { AttackResult } from "./attack.js";
import { CANDIDATE_PREFIX, OTHER_MALLORY_PORT, SOFTWARE_PORT, candidateOf, udpHolePunch } from "./udp-hole-punch.js";

function runOn(network: Parameters<typeof udpHolePunch.run>[0], trace = false): AttackResult {
  const plans = udpHolePunch.plan(network).plans;
  expect(plans.length).toBeGreaterThan(0);
  const r = udpHolePunch.run(network, plans[0], { seed: 7, trace });
  if (!r.ok) throw new Error(r.error.message);
  return r.result;
}

describe("udp-hole-punch", () => {
  it("plans the user's workstation as foothold and its software's socket as target", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    expect(udpHolePunch.plan(network).plans).toEqual([
      { foothold: "u", target: { node: "u", port: SOFTWARE_PORT, proto: "udp" } },
    ]);
  });

  it("is breached on seed-home: STUN gives the mapping, only Mallory's STUN port gets in (Linux APDF)", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    const r = runOn(network);
    expect(r.outcome).toBe("breached");
    expect(r.stoppedBy).toBeNull();
    expect(r.target).toBe(`u:${SOFTWARE_PORT}/udp`);
    // Masquerade preserves the source port (SCENARIOS.md ground truth), so STUN reports WAN:41641.
    expect(r.details?.mapped).toBe(`198.51.100.2:${SOFTWARE_PORT}`);
    expect(r.details?.candidate).toBe(`198.51.100.2:${SOFTWARE_PORT}`);
    expect(r.details?.otherPortReached).toBe(false);
    // The other port's datagram hits the router's own input chain (no entry matches) and its drop policy.
    expect(r.details?.otherPortStoppedBy).toMatchObject({ node: "router", layer: "router filter" });
    expect(r.details?.punchReached).toBe(true);
    expect(r.details?.answered).toBe(true);
    expect(r.note).toMatch(/by design/);
  });

  it("keeps other Mallory ports out on a full-cone NAT while the forward chain drops new flows", () => {
    const { network } = seedVariant("seed-home", "eif.yaml", [
      ["nat: { mapping: eim, filtering: apdf }", "nat: { mapping: eim, filtering: eif }"],
    ]);
    const r = runOn(network);
    expect(r.outcome).toBe("breached");
    expect(r.details?.otherPortReached).toBe(false);
    expect(r.details?.otherPortStoppedBy).toMatchObject({ node: "router", rule: `${network.source}:56:9` });
  });

  // Only NAT-translated packets are routed from the WAN to the LAN here (no port forwards), so accepting inbound UDP
  // in forward lets exactly the full-cone bindings through.
  it("lets any Mallory port in on a full-cone NAT whose forward chain accepts the inbound UDP it translated", () => {
    const { network } = seedVariant("seed-home", "eif.yaml", [
      ["nat: { mapping: eim, filtering: apdf }", "nat: { mapping: eim, filtering: eif }"],
      [
        '          iifname "lan" oifname "wan" accept',
        '          iifname "lan" oifname "wan" accept\n          iifname "wan" oifname "lan" meta l4proto udp accept',
      ],
    ]);
    const r = runOn(network);
    expect(r.outcome).toBe("breached");
    expect(r.details?.otherPortReached).toBe(true);
    expect(r.evidence).toContain(`port ${OTHER_MALLORY_PORT} reached the software too`);
  });

  it("stays breached on seed-home-hardened, and says why honestly", () => {
    const { network } = seedVariant("seed-home-hardened", "seed-home-hardened.yaml");
    const r = runOn(network, true);
    expect(r.outcome).toBe("breached");
    expect(r.note).toMatch(/stateful firewall/);
    expect(r.note).toMatch(/egress/);
    // The trace holds the punch reaching U through the router's forward path.
    expect(
      r.steps.some((s) => s.node === "u" && s.packet === `203.0.113.66:3478 > 192.168.1.10:${SOFTWARE_PORT}`),
    ).toBe(true);
  });

  it("is blocked when the router drops the LAN's UDP to unknown hosts, naming that rule's YAML line", () => {
    const egress = 'iifname "lan" oifname "wan" meta l4proto udp drop';
    const { text, network } = seedVariant("seed-home", "egress.yaml", [
      [
        '          iifname "lan" oifname "wan" accept',
        `          iifname "lan" oifname "wan" udp dport 53 accept\n          ${egress}\n          iifname "lan" oifname "wan" accept`,
      ],
    ]);
    const r = runOn(network);
    expect(r.outcome).toBe("blocked");
    expect(r.stoppedBy).toMatchObject({
      node: "router",
      layer: "router filter",
      rule: `${network.source}:${lineOf(text, egress)}:11`,
      text: egress,
    });
    expect(r.evidence).toMatch(/never reached Mallory/);
  });

  it("gives the same packets for the same seed", () => {
    const { network } = seedVariant("seed-home", "seed-home.yaml");
    const plans = udpHolePunch.plan(network).plans;
    const a = udpHolePunch.run(network, plans[0], { seed: 3, trace: true });
    const b = udpHolePunch.run(network, plans[0], { seed: 3, trace: true });
    expect(a).toEqual(b);
  });
});

describe("candidateOf (the rendezvous message Mallory reads)", () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

  it("reads the address and port, and refuses anything else", () => {
    expect(candidateOf(enc(`${CANDIDATE_PREFIX}198.51.100.2:41641\n`))).toEqual({
      address: "198.51.100.2",
      port: 41641,
    });
    expect(candidateOf(enc(`${CANDIDATE_PREFIX}198.51.100.2:0`))).toBeNull();
    expect(candidateOf(enc(`${CANDIDATE_PREFIX}198.51.100.256:1`))).toBeNull();
    expect(candidateOf(enc("candidate host 192.168.1.10:41641"))).toBeNull();
  });

  test.prop([fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 65535 })])(
    "round-trips every IPv4 address and port",
    (a, port) => {
      const address = [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join(".");
      expect(candidateOf(enc(`${CANDIDATE_PREFIX}${address}:${port}\n`))).toEqual({ address, port });
    },
  );

  test.prop([fc.uint8Array({ maxLength: 64 })])("never throws on arbitrary bytes", (bytes) => {
    const c = candidateOf(bytes);
    if (c !== null) expect(c.port).toBeGreaterThan(0);
  });
});
