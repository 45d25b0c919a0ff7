// inbound-scan on the seed networks: nothing answers from the internet (SCENARIOS.md), stopped by the router's
// input/forward policy; on a variant whose router accepts everything, the LAN services answer and the router's
// own stack answers RST for closed ports (the kernel ground truth for "input accept, no listener").

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { WELL_KNOWN_PORTS, inboundScan, scanPorts } from "./inbound-scan.js";

const examples = (name: string): string => fileURLToPath(new URL(`../../examples/${name}.yaml`, import.meta.url));
const textOf = (name: string): string => readFileSync(examples(name), "utf8");

function network(text: string, source: string): Network {
  const r = parseNetwork(text, source);
  if (r.network === null) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.network;
}

/** `file:line:col` of the first occurrence of `needle` after `after` in the text. */
function positionOf(text: string, source: string, needle: string, after = ""): string {
  const at = text.indexOf(needle, text.indexOf(after));
  const before = text.slice(0, at).split("\n");
  return `${source}:${before.length}:${before[before.length - 1].length + 1}`;
}

function scan(net: Network, trace = false) {
  const planned = inboundScan.plan(net);
  expect(planned.plans).toHaveLength(1);
  const r = inboundScan.run(net, planned.plans[0], { seed: 7, trace });
  if (!r.ok) throw new Error(r.error.message);
  return r.result;
}

describe("inbound-scan", () => {
  it("gets no answer on seed-home: the router's input policy drops every probe to its public address", () => {
    const text = textOf("seed-home");
    const result = scan(network(text, examples("seed-home")), true);
    expect(result.outcome).toBe("blocked");
    expect(result.stoppedBy).toEqual({
      node: "router",
      layer: "router filter",
      rule: positionOf(text, examples("seed-home"), "chain input {"),
      text: "chain input {",
    });
    expect(result.details).toMatchObject({
      probes: 96,
      addresses: ["198.51.100.2", "192.168.1.10", "192.168.1.20"],
      answered: [],
      closed: [],
    });
    // The probes to the LAN really reached the router (the ISP routed them) and died in its forward chain.
    const forwardDrops = result.steps.filter(
      (s) => s.node === "router" && s.hook === "forward" && s.packet.endsWith("> 192.168.1.20:22"),
    );
    expect(forwardDrops.length).toBeGreaterThan(0);
    expect(forwardDrops[0].packet.startsWith("203.0.113.66:")).toBe(true);
  });

  it("gets no answer on seed-home-hardened either", () => {
    const text = textOf("seed-home-hardened");
    const result = scan(network(text, examples("seed-home-hardened")));
    expect(result.outcome).toBe("blocked");
    expect(result.stoppedBy?.node).toBe("router");
    expect(result.stoppedBy?.layer).toBe("router filter");
    expect(result.stoppedBy?.rule).toBe(positionOf(text, examples("seed-home-hardened"), "chain input {"));
  });

  it("is breached when the router accepts everything: the LAN's services answer, closed router ports RST", () => {
    const text = textOf("seed-home").replaceAll("policy drop;", "policy accept;");
    const result = scan(network(text, "open-router.yaml"));
    expect(result.outcome).toBe("breached");
    expect(result.stoppedBy).toBeNull();
    const details = result.details as {
      answered: { node: string; port: number; proto: string; answer: string }[];
      closed: { node: string; port: number; proto: string; answer: string }[];
    };
    const open = details.answered.map((a) => `${a.node}:${a.port}/${a.proto} ${a.answer}`);
    expect(open).toEqual(["s:22/tcp session", "s:161/udp udp-reply", "s:5432/tcp session", "s:8080/tcp session"]);
    expect(result.target).toBe("s:22/tcp");
    expect(details.closed).toContainEqual({
      node: "router",
      address: "198.51.100.2",
      port: 22,
      proto: "tcp",
      answer: "reset",
    });
    expect(result.evidence).toContain("SSH-2.0-OpenSSH_7.4");
  });

  it("probes the well-known list plus every modelled service and forward, each once, in order", () => {
    const base = textOf("seed-home");
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.integer({ min: 1, max: 65535 }).filter((p) => ![22, 5432, 8080].includes(p)),
          { maxLength: 6 },
        ),
        (ports) => {
          const services = ports.map((p, i) => `\n      - { port: ${p}, proto: tcp, name: extra${i} }`).join("");
          const text = base.replace(
            "    services:\n      - { port: 22,",
            `    services:${services}\n      - { port: 22,`,
          );
          const got = scanPorts(network(text, "ports.yaml"));
          const want = [...new Set([...WELL_KNOWN_PORTS, 22, 5432, 8080, 161, 80, 53, 443, 3478, 5060, ...ports])];
          expect(got).toEqual(want.sort((a, b) => a - b));
        },
      ),
      { numRuns: 30 },
    );
  });
});
