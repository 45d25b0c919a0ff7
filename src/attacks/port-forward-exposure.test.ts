// port-forward-exposure: nothing to try on the seed networks (no forwards); on a homelab-like variant the
// forwarded NAS and game server answer Mallory from the internet; a forward the forward chain does not accept,
// or one to a port nothing listens on, is blocked and says by what.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { portForwardExposure } from "./port-forward-exposure.js";

const SEED = fileURLToPath(new URL("../../examples/seed-home.yaml", import.meta.url));
const seedText = readFileSync(SEED, "utf8");

function network(text: string, source: string): Network {
  const r = parseNetwork(text, source);
  if (r.network === null) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.network;
}

const FORWARDS = `
    port_forwards:
      - { proto: tcp, port: 8443, to: nas, to_port: 5000 }
      - { proto: udp, port: 27015, to: game }
      - { proto: tcp, port: 2222, to: s }
`;
const HOSTS = `  nas:
    lan: home
    address: 192.168.1.30
    role: nas
    services:
      - { port: 5000, proto: tcp, name: http }
  game:
    lan: home
    address: 192.168.1.40
    role: server
    services:
      - { port: 27015, proto: udp, name: game }

intents:`;

/** seed-home plus a NAS and a game server, forwarded; `acceptDnat` adds fw4's `ct status dnat accept`. */
function homelab(acceptDnat: boolean): { text: string; net: Network } {
  let text = seedText
    .replace("    helpers: { sip: false, ftp: false }\n", `    helpers: { sip: false, ftp: false }${FORWARDS}`)
    .replace("\nintents:", `\n${HOSTS}`);
  if (acceptDnat)
    text = text.replace(
      '          iifname "lan" oifname "wan" accept\n',
      '          iifname "lan" oifname "wan" accept\n          ct status dnat accept\n',
    );
  return { text, net: network(text, "homelab.yaml") };
}

function runOn(net: Network, target: string) {
  const plan = portForwardExposure
    .plan(net)
    .plans.find((p) => `${p.target.node}:${p.target.port}/${p.target.proto}` === target);
  if (plan === undefined) throw new Error(`no plan for ${target}`);
  const r = portForwardExposure.run(net, plan, { seed: 3, trace: false });
  if (!r.ok) throw new Error(r.error.message);
  return r.result;
}

describe("port-forward-exposure", () => {
  it("does not apply to seed-home: no router forwards a port", () => {
    const planned = portForwardExposure.plan(network(seedText, SEED));
    expect(planned.plans).toEqual([]);
    expect(planned.notApplicable).toMatch(/no router forwards a port/);
  });

  it("plans one target per forward, the LAN service it publishes", () => {
    const targets = portForwardExposure.plan(homelab(true).net).plans.map((p) => p.target);
    expect(targets).toEqual([
      { node: "nas", port: 5000, proto: "tcp" },
      { node: "game", port: 27015, proto: "udp" },
      { node: "s", port: 2222, proto: "tcp" },
    ]);
  });

  it("reaches the NAS's web service through WAN:8443 and delivers Mallory's bytes to it", () => {
    const result = runOn(homelab(true).net, "nas:5000/tcp");
    expect(result.outcome).toBe("breached");
    expect(result.capability).toBe("remote");
    expect(result.details).toMatchObject({ router: "router", wanPort: 8443, answer: "session" });
    expect((result.details as { bytesAtService: number }).bytesAtService).toBeGreaterThan(0);
    expect(result.evidence).toContain("198.51.100.2:8443/tcp (forwarded to 192.168.1.30:5000)");
    expect(result.evidence).toContain("HTTP/1.1 200 OK");
  });

  it("gets a UDP answer from the forwarded game server", () => {
    const result = runOn(homelab(true).net, "game:27015/udp");
    expect(result.outcome).toBe("breached");
    expect(result.details).toMatchObject({ answer: "udp-reply" });
  });

  it("is blocked by the forward chain's policy when it does not accept DNATed connections", () => {
    const { text, net } = homelab(false);
    const result = runOn(net, "nas:5000/tcp");
    expect(result.outcome).toBe("blocked");
    const lines = text.split("\n");
    const line = lines.findIndex((l) => l.includes("chain forward {")) + 1;
    expect(result.stoppedBy).toEqual({
      node: "router",
      layer: "router filter",
      rule: `homelab.yaml:${line}:${lines[line - 1].indexOf("chain") + 1}`,
      text: "chain forward {",
    });
  });

  it("is blocked at the service when the forward points at a port nothing listens on", () => {
    const result = runOn(homelab(true).net, "s:2222/tcp");
    expect(result.outcome).toBe("blocked");
    expect(result.details).toMatchObject({ answer: "reset" });
    expect(result.stoppedBy).toEqual({ node: "s", layer: "service", rule: "nothing listens on 2222/tcp" });
  });
});
