// The twin built from examples/*.yaml: the same packets, byte for byte, as the programmatic seed-home fixture
// (issue 5's acceptance flows), rule origins that point into the YAML, port forwards as DNAT with their YAML
// origin, and stoppedByFromSteps naming node, layer and rule.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { TcpFlag } from "../engine/index.js";
import { parseNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { hex } from "../wire/bytes.js";
import * as ipv4 from "../wire/ipv4.js";
import * as tcp from "../wire/tcp.js";
import type { SimNode } from "./node.js";
import type { CaptureRecord } from "./segment.js";
import { buildSeedHome } from "./seed-home.fixture.js";
import { addressWords } from "./simulation.js";
import type { Simulation } from "./simulation.js";
import { Twin, buildTwin } from "./twin.js";

const HOME = "examples/seed-home.yaml";
const HARDENED = "examples/seed-home-hardened.yaml";
const read = (f: string): string => readFileSync(new URL(`../../${f}`, import.meta.url), "utf8");
const A = (s: string): Uint32Array => addressWords(s)?.words ?? new Uint32Array(4);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function network(yaml: string, source: string): Network {
  const r = parseNetwork(yaml, source);
  if (r.network === null) throw new Error(r.diagnostics.map((d) => d.message).join("; "));
  return r.network;
}

function twinOf(yaml: string, source: string): Twin {
  const t = buildTwin(network(yaml, source));
  if (!t.ok) throw new Error(t.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join("; "));
  return t.twin;
}

function must(n: SimNode | undefined): SimNode {
  if (n === undefined) throw new Error("no such node");
  return n;
}

/** U opens TCP to S:5432 and to the web server, then Mallory probes the router's WAN address (TCP 22, UDP 161). */
function issue5Flows(sim: Simulation, u: SimNode, mallory: SimNode): void {
  u.stack.connect(4, A("192.168.1.20"), 5432, { onEstablished: (c) => c.send(text("select 1;")) });
  u.stack.connect(4, A("203.0.113.80"), 80, { onEstablished: (c) => c.send(text("GET / HTTP/1.1\r\n\r\n")) });
  sim.run({ until: 100 });
  mallory.stack.connect(4, A("198.51.100.2"), 22, { synRetries: 0 });
  mallory.stack.sendUdp(4, A("198.51.100.2"), 161, 40000, text("probe"));
  sim.run({ until: 3000 });
}

interface Seen {
  src: string;
  sport: number;
  dst: string;
  dport: number;
  flags: number;
}

function seen(r: CaptureRecord): Seen {
  const p = ipv4.parse(r.bytes);
  if (!p.ok) throw new Error("not IPv4");
  const l4 = p.value.payload;
  const t = p.value.protocol === 6 ? tcp.parse(l4) : null;
  const fmt = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  return {
    src: fmt(p.value.src),
    sport: (l4[0] << 8) | l4[1],
    dst: fmt(p.value.dst),
    dport: (l4[2] << 8) | l4[3],
    flags: t?.ok === true ? t.value.flags & 0xff : -1,
  };
}

const { SYN, ACK, PSH } = TcpFlag;

describe("buildTwin(examples/seed-home.yaml)", () => {
  it("has the model's nodes, kinds, addresses and one segment per LAN and link", () => {
    const t = twinOf(read(HOME), HOME);
    expect([...t.sim.segments.keys()]).toEqual(["home", "router-wan", "internet"]);
    expect(["router", "u", "s", "mallory", "web", "isp"].map((n) => t.kind(n))).toEqual([
      "router",
      "host",
      "host",
      "internet",
      "internet",
      "isp",
    ]);
    expect(t.address("router")).toBe("198.51.100.2");
    expect(t.address("s")).toBe("192.168.1.20");
    expect(t.address("mallory")).toBe("203.0.113.66");
    expect(t.routerFor("u")?.name).toBe("router");
    expect(Twin.wanSegment("router")).toBe("router-wan");
  });

  it("issue 5: U to S:5432 and to the web server, Mallory probing the router, byte for byte as the fixture", () => {
    const t = twinOf(read(HOME), HOME);
    issue5Flows(t.sim, must(t.node("u")), must(t.node("mallory")));
    const f = buildSeedHome();
    issue5Flows(f.sim, f.u, f.mallory);
    for (const [mine, theirs] of [
      ["home", "lan"],
      ["router-wan", "wan"],
      ["internet", "internet"],
    ] as const) {
      const a = t.sim.segments.get(mine)?.captures ?? [];
      const b = f.sim.segments.get(theirs)?.captures ?? [];
      expect(a.length).toBeGreaterThan(0);
      expect(a.map((r) => hex(r.bytes))).toEqual(b.map((r) => hex(r.bytes)));
      expect(a.map((r) => r.timeMs)).toEqual(b.map((r) => r.timeMs));
    }
  });

  it("issue 5: the exact sequence at each link (handshakes, masquerade on the WAN, silence for the probes)", () => {
    const t = twinOf(read(HOME), HOME);
    issue5Flows(t.sim, must(t.node("u")), must(t.node("mallory")));
    const home = (t.sim.segments.get("home")?.captures ?? []).map(seen);
    const wan = (t.sim.segments.get("router-wan")?.captures ?? []).map(seen);
    const net = (t.sim.segments.get("internet")?.captures ?? []).map(seen);
    const toS = home.filter((p) => p.dport === 5432 || p.sport === 5432);
    // U <-> S:5432 stays on the LAN: handshake, query, echo, ACK.
    expect(toS.map((p) => [p.src, p.flags])).toEqual([
      ["192.168.1.10", SYN],
      ["192.168.1.20", SYN | ACK],
      ["192.168.1.10", ACK],
      ["192.168.1.10", PSH | ACK],
      ["192.168.1.20", PSH | ACK],
      ["192.168.1.10", ACK],
    ]);
    const uPort = home.find((p) => p.dport === 80)?.sport ?? -1;
    // On the WAN link U's connection carries the router's address with U's port (masquerade keeps it).
    const webFlow = wan.filter((p) => p.sport === 80 || p.dport === 80);
    expect(webFlow.map((p) => [p.src, p.sport, p.dst, p.dport, p.flags])).toEqual([
      ["198.51.100.2", uPort, "203.0.113.80", 80, SYN],
      ["203.0.113.80", 80, "198.51.100.2", uPort, SYN | ACK],
      ["198.51.100.2", uPort, "203.0.113.80", 80, ACK],
      ["198.51.100.2", uPort, "203.0.113.80", 80, PSH | ACK],
      ["203.0.113.80", 80, "198.51.100.2", uPort, PSH | ACK],
      ["198.51.100.2", uPort, "203.0.113.80", 80, ACK],
    ]);
    expect(home.some((p) => p.src === "198.51.100.2" || p.dst === "198.51.100.2")).toBe(false);
    // Mallory's probes reach the router and nothing answers them (input policy drop).
    expect(wan.slice(-2).map((p) => [p.src, p.dport])).toEqual([
      ["203.0.113.66", 22],
      ["203.0.113.66", 161],
    ]);
    expect(net.filter((p) => p.dst === "203.0.113.66")).toEqual([]);
    const probe = t.stoppedByFromSteps({ src: "203.0.113.66", dport: 22 });
    expect(probe).toEqual({
      node: "router",
      layer: "router filter",
      rule: `${HOME}:50:9`,
      text: "chain input {",
    });
  });

  it("keeps every rule's origin in the YAML: the masquerade rule is line 65 of seed-home.yaml", () => {
    const t = twinOf(read(HOME), HOME);
    must(t.node("u")).stack.connect(4, A("203.0.113.80"), 80);
    t.sim.run({ until: 10 });
    const comment = t.sim.segments.get("router-wan")?.captures[0]?.comment ?? "";
    expect(comment).toContain(`forward accept (${HOME}:59:11)`);
    expect(comment).toContain(`(${HOME}:65:11)`);
    expect(read(HOME).split("\n")[64].trim()).toBe('oifname "wan" masquerade');
  });
});

describe("buildTwin(examples/seed-home-hardened.yaml)", () => {
  it("loads S's firewall (with its lo rule) and names it as the host firewall that drops Mallory's packets", () => {
    const t = twinOf(read(HARDENED), HARDENED);
    const u = must(t.node("u"));
    const s = must(t.node("s"));
    expect(s.datapath.interfaceIndex("lo")).toBeGreaterThan(0);
    // A LAN host other than U may not reach S:22.
    let refused = false;
    const router = must(t.node("router"));
    router.stack.connect(4, A("192.168.1.20"), 22, { synRetries: 0, onReset: () => (refused = true) });
    t.sim.run({ until: 100 });
    expect(refused).toBe(false);
    expect(t.stoppedByFromSteps({ dst: "192.168.1.20", dport: 22 })).toEqual({
      node: "s",
      layer: "host firewall",
      rule: `${HARDENED}:95:9`,
      text: "chain input {",
    });
    // U's intent still holds through the same ruleset.
    let ok = false;
    u.stack.connect(4, A("192.168.1.20"), 5432, { onEstablished: () => (ok = true) });
    t.sim.run({ until: 200 });
    expect(ok).toBe(true);
  });
});

describe("port forwards", () => {
  const yaml = read(HOME)
    .replace(
      'iifname "lan" oifname "wan" accept',
      'ct status dnat accept\n          iifname "lan" oifname "wan" accept',
    )
    .replace(
      "    helpers: { sip: false, ftp: false }\n",
      "    helpers: { sip: false, ftp: false }\n    port_forwards:\n      - { proto: tcp, port: 2222, to: s, to_port: 22 }\n",
    );

  it("become DNAT rules whose origin is the YAML entry, and let Mallory reach S's SSH", () => {
    const t = twinOf(yaml, "fwd.yaml");
    const banner: string[] = [];
    must(t.node("mallory")).stack.connect(4, A("198.51.100.2"), 2222, {
      onData: (_c, d) => banner.push(new TextDecoder().decode(d)),
    });
    t.sim.run({ until: 100 });
    expect(banner.join("")).toBe("SSH-2.0-OpenSSH_7.4\r\n");
    const entryLine = yaml.split("\n").findIndex((l) => l.includes("to_port: 22")) + 1;
    const syn = t.sim.segments.get("home")?.captures[0];
    expect(syn?.comment).toContain(`dnat 203.0.113.66:`);
    expect(syn?.comment).toContain(`(fwd.yaml:${entryLine}:9)`);
  });
});

describe("diagnostics", () => {
  it("names the YAML line and column of a firewall error inside an inline ruleset", () => {
    const broken = read(HOME).replace('iifname "lan" accept', 'iifname "lan" acept');
    const r = buildTwin(network(broken, "broken.yaml"));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const line = broken.split("\n").findIndex((l) => l.includes("acept")) + 1;
    expect(r.diagnostics[0]).toMatchObject({ severity: "error", file: "broken.yaml", line });
  });

  it("reports a ruleset that names an interface the node lacks, at the firewall's place", () => {
    const broken = read(HOME).replace('iifname "lan" oifname "wan" accept', 'iif "eth9" accept');
    const r = buildTwin(network(broken, "iface.yaml"));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics[0].message).toContain("eth9");
    expect(r.diagnostics[0].file).toBe("iface.yaml");
  });
});
