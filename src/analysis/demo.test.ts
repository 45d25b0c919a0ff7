import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { QUESTIONS, U_FIREWALL, U_FIREWALL_SOURCE, runDemo, withHostFirewall } from "./demo.js";
import type { DemoStory } from "./demo.js";

function example(file: string): { network: Network; text: string } {
  const source = `examples/${file}`;
  const text = readFileSync(source, "utf8");
  const parsed = parseNetwork(text, source);
  if (parsed.network === null) throw new Error(`${source} does not load`);
  return { network: parsed.network, text };
}

const home = example("seed-home.yaml");
const hardened = example("seed-home-hardened.yaml");

function tell(h: Network, hd: Network): DemoStory {
  const r = runDemo({ home: h, hardened: hd });
  if (!r.ok) throw new Error(r.error.message);
  return r.story;
}

const story = tell(home.network, hardened.network);

function step(s: DemoStory, id: string, network: string) {
  const found = s.steps.find((x) => x.id === id && x.network === network);
  if (found === undefined) throw new Error(`no step ${id} on ${network}`);
  return found;
}

/** The line a `file:line:col` rule points at, trimmed. */
function citedLine(rule: string, text: string): string {
  const m = /:(\d+):\d+$/.exec(rule);
  if (m === null) throw new Error(`no line in ${rule}`);
  return text.split("\n")[Number(m[1]) - 1].trim();
}

describe("runDemo on the seed networks", () => {
  it("tells the four questions in order", () => {
    const order = [...new Set(story.steps.map((s) => s.questionId))];
    expect(order).toEqual(QUESTIONS.map((q) => q.id));
    expect(story.steps.map((s) => `${s.id}@${s.networkId}`)).toEqual([
      "inbound-scan@home",
      "spoofed-source-tcp@home",
      "spoofed-source-udp@home",
      "upnp-forward-self@home",
      "dns-rebinding@home",
      "udp-hole-punch@home",
      "upnp-forward-self-host-firewall@u-firewall",
      "lateral-movement@home",
      "c2-beacon@home",
      "spoofed-source-tcp@hardened",
      "spoofed-source-udp@hardened",
      "upnp-forward-self@hardened",
      "dns-rebinding@hardened",
      "lateral-movement@hardened",
      "c2-beacon-from-s@hardened",
      "c2-beacon@hardened",
      "udp-hole-punch@hardened",
    ]);
  });

  it("on seed-home nothing answers a scan, yet every way past NAT works", () => {
    const scan = step(story, "inbound-scan", "seed-home");
    expect(scan.outcome).toBe("blocked");
    expect(scan.stoppedBy).toMatchObject({ node: "router", layer: "router filter" });
    expect(citedLine(scan.stoppedBy!.rule, home.text)).toBe("chain input {");
    for (const id of ["spoofed-source-tcp", "spoofed-source-udp", "upnp-forward-self", "dns-rebinding"]) {
      const s = step(story, id, "seed-home");
      expect(s.outcome, id).toBe("breached");
      expect(s.stoppedBy, id).toBeNull();
    }
    expect(step(story, "spoofed-source-tcp", "seed-home").evidence).toMatch(/simultaneous open.*reached s:22\/tcp/);
    expect(step(story, "spoofed-source-udp", "seed-home").evidence).toMatch(
      /reached s:161\/udp.*reply reached Mallory/,
    );
  });

  it("a firewall on U stops the UPnP malware although the router opened the port", () => {
    const s = step(story, "upnp-forward-self-host-firewall", "seed-home + u's firewall");
    expect(s.outcome).toBe("blocked");
    expect(s.stoppedBy).toMatchObject({ node: "u", layer: "host firewall", rule: `${U_FIREWALL_SOURCE}:2:3` });
    expect(s.evidence).toContain("granted the mapping");
    expect(s.note).toMatch(/^Yes: the router opened WAN:4444/);
    expect(step(story, "lateral-movement", "seed-home").outcome).toBe("breached");
    expect(step(story, "c2-beacon", "seed-home").outcome).toBe("breached");
  });

  it("on seed-home-hardened each attack is stopped by the named rule on the named node, residue told as such", () => {
    const expected: Record<string, { node: string; layer: string; line: string }> = {
      "spoofed-source-tcp": {
        node: "router",
        layer: "router filter",
        line: 'ip saddr 192.168.1.20 oifname "wan" drop',
      },
      "spoofed-source-udp": {
        node: "router",
        layer: "router filter",
        line: 'ip saddr 192.168.1.20 oifname "wan" drop',
      },
      "upnp-forward-self": { node: "router", layer: "upnp", line: "upnp: { enabled: false }" },
      "dns-rebinding": { node: "router", layer: "dns", line: "dns: { resolver: true, rebind_protection: true }" },
      "lateral-movement": { node: "s", layer: "host firewall", line: "chain input {" },
      "c2-beacon-from-s": { node: "router", layer: "router filter", line: 'ip saddr 192.168.1.20 oifname "wan" drop' },
    };
    for (const [id, want] of Object.entries(expected)) {
      const s = step(story, id, "seed-home-hardened");
      expect(s.outcome, id).toBe("blocked");
      expect(s.before, id).toEqual({ network: "seed-home", outcome: "breached" });
      expect(s.stoppedBy, id).toMatchObject({ node: want.node, layer: want.layer });
      expect(s.stoppedBy!.rule.startsWith("examples/seed-home-hardened.yaml:"), id).toBe(true);
      expect(citedLine(s.stoppedBy!.rule, hardened.text), id).toBe(want.line);
      expect(s.note, id).not.toMatch(/^Blocked, but/);
    }
    for (const id of ["c2-beacon", "udp-hole-punch"]) {
      const s = step(story, id, "seed-home-hardened");
      expect(s.outcome, id).toBe("breached");
      expect(s.note, id).toMatch(/^Residue, said honestly/);
    }
  });

  it("checks every intent with packets on both networks, and all hold", () => {
    expect(story.intents.map((i) => `${i.network}: ${i.intent}`)).toEqual([
      "seed-home: u -> s:5432/tcp",
      "seed-home: u -> s:8080/tcp",
      "seed-home: u -> internet",
      "seed-home-hardened: u -> s:5432/tcp",
      "seed-home-hardened: u -> s:8080/tcp",
      "seed-home-hardened: u -> internet",
    ]);
    for (const i of story.intents) expect(i.holds, i.intent).toBe(true);
  });

  it("keeps the packets of each deciding run", () => {
    const tcp = step(story, "spoofed-source-tcp", "seed-home");
    expect(tcp.packets[0]).toBe("u: 192.168.1.20:22 > 203.0.113.66:80 — sent via eth0");
    expect(tcp.packets.some((p) => p.startsWith("router: 192.168.1.20:22 > 203.0.113.66:80 — ct new"))).toBe(true);
    const blocked = step(story, "spoofed-source-udp", "seed-home-hardened");
    expect(blocked.packets.some((p) => p.includes("examples/seed-home-hardened.yaml:59:11"))).toBe(true);
  });
});

describe("the packets decide, not the story", () => {
  it("told with seed-home in place of the hardened network, the last question reports breaches", () => {
    const unhardened = tell(home.network, home.network);
    const last = unhardened.steps.filter((s) => s.questionId === "least-privilege");
    for (const s of last) {
      expect(s.network).toBe("seed-home");
      expect(s.outcome, s.id).toBe("breached");
      expect(s.stoppedBy, s.id).toBeNull();
    }
    expect(step(unhardened, "lateral-movement", "seed-home").note).toMatch(/S has none/);
  });

  it("says so plainly when an attack is stopped somewhere the story did not expect", () => {
    // U's firewall on the hardened network: UPnP is off there, so the router (not U) stops the malware.
    const told = tell(hardened.network, hardened.network);
    const s = step(told, "upnp-forward-self-host-firewall", "seed-home-hardened + u's firewall");
    expect(s.outcome).toBe("blocked");
    expect(s.stoppedBy).toMatchObject({ node: "router", layer: "upnp" });
    expect(s.note).toBe("Blocked, but by upnp on router, not by the host firewall on u the story expected.");
  });

  it("withHostFirewall gives only the named host a firewall, cited by its own source", () => {
    const v = withHostFirewall(home.network, "u", U_FIREWALL, U_FIREWALL_SOURCE);
    expect(v.name).toBe("seed-home + u's firewall");
    expect(v.hosts.find((h) => h.name === "u")?.firewall).toEqual({
      kind: "inline",
      text: U_FIREWALL,
      at: { file: U_FIREWALL_SOURCE, line: 1, column: 1 },
      lineExact: true,
    });
    expect(v.hosts.find((h) => h.name === "s")?.firewall).toBeNull();
    expect(home.network.hosts.find((h) => h.name === "u")?.firewall).toBeNull();
  });

  it("fails with the step's name when a plan does not exist on the network", () => {
    const noS: Network = { ...home.network, hosts: home.network.hosts.filter((h) => h.name !== "s"), intents: [] };
    const r = runDemo({ home: noS, hardened: hardened.network });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.step).toBe("spoofed-source-tcp");
      expect(r.error.message).toContain("spoofed-source has no plan u -> s:22/tcp on seed-home");
    }
  });
});
