import { describe, expect, it } from "vitest";
import { loadNetwork, parseNetwork } from "../model/index.js";
import { checkIntents } from "./intents.js";

const SEED = new URL("../../examples/seed-home.yaml", import.meta.url).pathname;

describe("checkIntents (real packets on a fresh twin)", () => {
  it("seed-home: every intent holds, each by a completed handshake", async () => {
    const { network } = await loadNetwork(SEED);
    if (network === null) throw new Error("seed-home does not load");
    const r = checkIntents(network);
    expect(r.map((c) => [c.intent, c.holds, c.stoppedBy])).toEqual([
      ["u -> s:5432/tcp", true, null],
      ["u -> s:8080/tcp", true, null],
      ["u -> internet", true, null],
    ]);
    expect(r[0].evidence).toBe("u completed a TCP handshake with s 192.168.1.20:5432/tcp");
  });

  it("a broken intent names the rule that dropped it; a UDP intent needs the reply back", () => {
    const yaml = [
      "name: broken",
      "internet: { hosts: { web: { address: 203.0.113.80, services: [ { port: 80, proto: tcp, name: http } ] } } }",
      "isp: { gateway: 198.51.100.1, prefix: 198.51.100.0/24 }",
      "lans: { home: { prefix: 192.168.1.0/24 } }",
      "routers:",
      "  r:",
      "    wan: { interface: wan, address: 198.51.100.2/24, gateway: 198.51.100.1 }",
      "    lans: [ { lan: home, interface: lan, address: 192.168.1.1 } ]",
      "    firewall: |",
      "      table inet filter {",
      "        chain forward {",
      "          type filter hook forward priority filter; policy drop;",
      "        }",
      "      }",
      "hosts:",
      "  u: { lan: home, address: 192.168.1.10 }",
      "  s: { lan: home, address: 192.168.1.20, services: [ { port: 161, proto: udp, name: snmp } ] }",
      "intents: [ u -> internet, u -> s:161/udp ]",
      "",
    ].join("\n");
    const { network } = parseNetwork(yaml, "broken.yaml");
    if (network === null) throw new Error("does not parse");
    const [internet, snmp] = checkIntents(network);
    expect(internet.holds).toBe(false);
    expect(internet.evidence).toBe("u's TCP connection to web 203.0.113.80:80/tcp never completed its handshake");
    // policy drop: the rule is the chain that owns the policy
    expect(internet.stoppedBy).toMatchObject({ node: "r", layer: "router filter", rule: "broken.yaml:11:9" });
    expect(snmp).toMatchObject({
      holds: true,
      evidence: "u's datagram reached s 192.168.1.20:161/udp and the reply came back",
    });
  });
});
