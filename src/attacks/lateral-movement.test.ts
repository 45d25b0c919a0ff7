// lateral-movement: on seed-home U reaches S's SSH banner straight across the LAN; on seed-home-hardened S's own
// firewall drops it (22 is not an intent), and the intents U → S:5432/8080 are not counted as attacks.

import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { lateralMovement } from "./lateral-movement.js";
import { runPlans } from "./attack.js";

const path = (name: string): string => fileURLToPath(new URL(`../../examples/${name}.yaml`, import.meta.url));

function load(name: string): { text: string; net: Network } {
  const text = readFileSync(path(name), "utf8");
  const r = parseNetwork(text, path(name));
  if (r.network === null) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return { text, net: r.network };
}

const OPTS = { seed: 5, trace: true };

describe("lateral-movement", () => {
  it("plans U against S's services that are not intents", () => {
    const targets = lateralMovement
      .plan(load("seed-home").net)
      .plans.map((p) => `${p.foothold ?? "-"}>${p.target.node}:${p.target.port}/${p.target.proto}`);
    expect(targets).toEqual(["u>s:22/tcp", "u>s:161/udp"]);
  });

  it("is breached on seed-home: U gets S's SSH banner and the router never sees the packets", () => {
    const { net } = load("seed-home");
    const r = runPlans(lateralMovement, net, lateralMovement.plan(net).plans, OPTS);
    if (r === null || !r.ok) throw new Error("no run");
    expect(r.result.outcome).toBe("breached");
    expect(r.result.target).toBe("s:22/tcp");
    expect(r.result.foothold).toBe("u");
    expect(r.result.evidence).toContain("SSH-2.0-OpenSSH_7.4");
    expect(r.result.steps.some((s) => s.node === "router")).toBe(false);
    expect(
      r.result.steps.some((s) => s.node === "s" && s.hook === "input" && s.packet.endsWith("> 192.168.1.20:22")),
    ).toBe(true);
  });

  it("is blocked on seed-home-hardened by S's host firewall, for SSH and SNMP alike", () => {
    const { text, net } = load("seed-home-hardened");
    const lines = text.split("\n");
    const chain = lines.findIndex(
      (l, i) => i > lines.findIndex((x) => x.startsWith("  s:")) && l.includes("chain input {"),
    );
    const rule = `${path("seed-home-hardened")}:${chain + 1}:${lines[chain].indexOf("chain") + 1}`;
    for (const plan of lateralMovement.plan(net).plans) {
      const r = lateralMovement.run(net, plan, OPTS);
      if (!r.ok) throw new Error(r.error.message);
      expect(r.result.outcome).toBe("blocked");
      expect(r.result.stoppedBy).toEqual({ node: "s", layer: "host firewall", rule, text: "chain input {" });
    }
  });

  it("still lets the intents through on the hardened network (they are not lateral movement)", () => {
    const { net } = load("seed-home-hardened");
    const r = lateralMovement.run(net, { foothold: "u", target: { node: "s", port: 5432, proto: "tcp" } }, OPTS);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.result.outcome).toBe("breached");
  });

  it("reports a foothold it does not know as a setup error", () => {
    const r = lateralMovement.run(
      load("seed-home").net,
      { foothold: "nobody", target: { node: "s", port: 22, proto: "tcp" } },
      OPTS,
    );
    expect(r).toEqual({ ok: false, error: { kind: "attack-setup", message: "no LAN host named nobody" } });
  });
});
