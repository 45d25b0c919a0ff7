// spoofed-source from the example YAML files, against SCENARIOS.md's ground truth measured on the real kernel:
// UDP gives a two-way channel; TCP reaches S through simultaneous open when S's ISN is before the forged SYN's
// seq+1, with S's later packets leaking untranslated; tcp_be_liberal makes it work both ways; seed-home-hardened's
// egress rule stops both variants, and S's own firewall stops them where the router does not.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { SNMP_RESPONSE } from "../sim/host-stack.js";
import type { AttackPlan, AttackResult, AttackRun } from "./attack.js";
import { catalogue, findAttack, runPlans } from "./index.js";
import { MALLORY_UDP_PORT, TCP_TRIALS, runTcpTrial, spoofedSource } from "./spoofed-source.js";
import type { TcpTrial } from "./spoofed-source.js";

const HOME = "examples/seed-home.yaml";
const HARDENED = "examples/seed-home-hardened.yaml";
const read = (f: string): string => readFileSync(new URL(`../../${f}`, import.meta.url), "utf8");

function network(yaml: string, source: string): Network {
  const r = parseNetwork(yaml, source);
  if (r.network === null) throw new Error(r.diagnostics.map((d) => d.message).join("; "));
  return r.network;
}

const home = network(read(HOME), HOME);
const hardened = network(read(HARDENED), HARDENED);
const ssh: AttackPlan = { foothold: "u", target: { node: "s", port: 22, proto: "tcp" } };
const snmp: AttackPlan = { foothold: "u", target: { node: "s", port: 161, proto: "udp" } };
const HARDENED_EGRESS = {
  node: "router",
  layer: "router filter",
  rule: `${HARDENED}:59:11`,
  text: 'ip saddr 192.168.1.20 oifname "wan" drop',
} as const;

function result(r: AttackRun | null): AttackResult {
  if (r === null || !r.ok) throw new Error(r === null ? "no run" : r.error.message);
  return r.result;
}

function trial(n: Network, forgedSeq: number, targetIsn: number): TcpTrial {
  const r = runTcpTrial(n, ssh, { seed: 7, forgedSeq, targetIsn });
  if (!r.ok) throw new Error(r.error);
  return r.trial;
}

describe("spoofed-source: catalogue and plans", () => {
  it("is in the catalogue as a root-code attack", () => {
    expect(findAttack("spoofed-source")).toBe(spoofedSource);
    expect(catalogue.map((a) => a.id)).toContain("spoofed-source");
    expect(spoofedSource.capability).toBe("root-code");
  });

  it("plans from the workstation U against every service of S", () => {
    expect(spoofedSource.plan(home).plans).toEqual([
      ssh,
      { foothold: "u", target: { node: "s", port: 5432, proto: "tcp" } },
      { foothold: "u", target: { node: "s", port: 8080, proto: "tcp" } },
      snmp,
    ]);
  });

  it("does not apply without an attacker on the internet", () => {
    const noAttacker = network(read(HOME).replace("attacker: true", "attacker: false"), "x.yaml");
    const p = spoofedSource.plan(noAttacker);
    expect(p.plans).toEqual([]);
    expect(p.notApplicable).toMatch(/attacker/);
  });
});

describe("spoofed-source, UDP", () => {
  it("on seed-home gives Mallory a two-way channel to S:161 through the port-preserving mapping", () => {
    const r = result(spoofedSource.run(home, snmp, { seed: 1, trace: true }));
    expect(r.outcome).toBe("breached");
    expect(r.stoppedBy).toBeNull();
    expect(r.target).toBe("s:161/udp");
    expect(r.details).toMatchObject({ variant: "udp", mapped: "198.51.100.2:161", replyBytes: SNMP_RESPONSE.length });
    // The steps show the forged datagram leaving masqueraded, and S's reply going back out.
    const wanOut = r.steps.filter((s) => s.node === "router" && s.verdict.includes("forwarded via wan"));
    expect(wanOut.map((s) => s.packet)).toEqual([
      `192.168.1.20:161 > 203.0.113.66:${MALLORY_UDP_PORT}`,
      `192.168.1.20:161 > 203.0.113.66:${MALLORY_UDP_PORT}`,
    ]);
    expect(r.steps.some((s) => s.node === "s" && s.hook === "input" && s.packet.startsWith("203.0.113.66:"))).toBe(
      true,
    );
  });

  it("on seed-home-hardened is blocked by the router's egress rule, named by its YAML line", () => {
    const r = result(spoofedSource.run(hardened, snmp, { seed: 1, trace: false }));
    expect(r.outcome).toBe("blocked");
    expect(r.stoppedBy).toEqual(HARDENED_EGRESS);
    expect(r.steps).toEqual([]);
    expect(r.evidence).toMatch(/never reached Mallory/);
  });

  it("with only S's firewall (no egress rule) is blocked by S's firewall although the router maps it", () => {
    const yaml = read(HARDENED).replace('          ip saddr 192.168.1.20 oifname "wan" drop\n', "");
    const r = result(spoofedSource.run(network(yaml, "s-only.yaml"), snmp, { seed: 1, trace: false }));
    expect(r.outcome).toBe("blocked");
    expect(r.details).toMatchObject({ mapped: "198.51.100.2:161", bytesAtTarget: 0 });
    expect(r.stoppedBy).toMatchObject({ node: "s", layer: "host firewall", text: "chain input {" });
  });
});

describe("spoofed-source, TCP (simultaneous open through conntrack)", () => {
  const FORGED = 1_000_000;

  it("reaches S:22 when S's ISN is before the forged SYN's seq+1, and S's later packets leak untranslated", () => {
    const t = trial(home, FORGED, FORGED - 500_000);
    expect(t).toMatchObject({ targetIsn: FORGED - 500_000, isnBeforeForgedSeq: true, established: true });
    expect(t.bytesAtTarget).toBeGreaterThan(0);
    expect(t.leakedUntranslated).toBe(true);
    expect(t.bytesAtMallory).toBe(0);
  });

  it("fails when S's ISN is after it: S's SYN-ACK is INVALID and leaks untranslated", () => {
    const t = trial(home, FORGED, FORGED + 500_000);
    expect(t).toMatchObject({ isnBeforeForgedSeq: false, established: false, bytesAtTarget: 0 });
    expect(t.leakedUntranslated).toBe(true);
  });

  it("with nf_conntrack_tcp_be_liberal=1 works both ways whatever S's ISN", () => {
    const liberal = network(
      read(HOME).replace("conntrack: linux }", "conntrack: linux, tcp_be_liberal: true }"),
      "liberal.yaml",
    );
    for (const isn of [FORGED - 500_000, FORGED + 500_000]) {
      const t = trial(liberal, FORGED, isn);
      expect(t.established).toBe(true);
      expect(t.bytesAtTarget).toBeGreaterThan(0);
      expect(t.bytesAtMallory).toBeGreaterThan(0);
      expect(t.leakedUntranslated).toBe(false);
    }
  });

  it("on seed-home is breached by a patient attacker, every trial recorded with its ISNs", () => {
    const r = result(spoofedSource.run(home, ssh, { seed: 1, trace: false }));
    expect(r.outcome).toBe("breached");
    const trials = (r.details as { trials: TcpTrial[] }).trials;
    expect(trials.length).toBeGreaterThanOrEqual(1);
    expect(trials.length).toBeLessThanOrEqual(TCP_TRIALS);
    const last = trials[trials.length - 1];
    expect(last.bytesAtTarget).toBeGreaterThan(0);
    for (const t of trials.slice(0, -1)) expect(t.bytesAtTarget).toBe(0);
    expect(r.evidence).toContain(`trial ${trials.length} of ${TCP_TRIALS}`);
  });

  it("on seed-home-hardened is blocked by the egress rule: no trial gets anything out", () => {
    const r = result(spoofedSource.run(hardened, ssh, { seed: 1, trace: false }));
    expect(r.outcome).toBe("blocked");
    expect(r.stoppedBy).toEqual(HARDENED_EGRESS);
    const trials = (r.details as { trials: TcpTrial[] }).trials;
    expect(trials).toHaveLength(TCP_TRIALS);
    for (const t of trials) expect(t).toMatchObject({ targetIsn: null, established: false, leakedUntranslated: false });
  });

  it("is deterministic: the same seed gives the same trials", () => {
    const a = result(spoofedSource.run(home, ssh, { seed: 5, trace: false }));
    const b = result(spoofedSource.run(home, ssh, { seed: 5, trace: false }));
    expect(a.details).toEqual(b.details);
  });
});

describe("runPlans", () => {
  it("on seed-home stops at the first breach; on hardened returns the first blocked plan", () => {
    const all = spoofedSource.plan(home).plans;
    expect(result(runPlans(spoofedSource, home, all, { seed: 1, trace: false })).outcome).toBe("breached");
    const h = result(runPlans(spoofedSource, hardened, spoofedSource.plan(hardened).plans, { seed: 1, trace: false }));
    expect(h).toMatchObject({ outcome: "blocked", target: "s:22/tcp", stoppedBy: HARDENED_EGRESS });
  });
});
