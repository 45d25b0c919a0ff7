import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fc, test as fcTest } from "@fast-check/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatIpv4, formatIpv6, formatPrefix } from "../wire/address.js";
import { firewallPosition, loadNetwork, parseNetwork } from "./load.js";
import type { LoadResult } from "./load.js";
import { formatModelDiagnostic, summarizeNetwork } from "./format.js";

const EXAMPLES = new URL("../../examples/", import.meta.url);
const SEED = new URL("seed-home.yaml", EXAMPLES).pathname;
const HARDENED = new URL("seed-home-hardened.yaml", EXAMPLES).pathname;

// A small valid network; every broken variant below is one edit of it, so expected positions are easy to check.
const BASE = `name: t
isp: { gateway: 198.51.100.1, prefix: 198.51.100.0/24 }
lans:
  home: { prefix: 192.168.1.0/24, ipv6: 2001:db8:1::/64 }
routers:
  r:
    wan: { interface: wan, address: 198.51.100.2/24, gateway: 198.51.100.1 }
    lans: [ { lan: home, interface: lan, address: 192.168.1.1 } ]
hosts:
  s:
    lan: home
    address: 192.168.1.20
    services: [ { port: 22, proto: tcp, name: ssh } ]
intents:
  - s -> internet
`;

function edit(from: string, to: string, text = BASE): string {
  if (!text.includes(from)) throw new Error(`test bug: ${JSON.stringify(from)} not in the base text`);
  return text.replace(from, to);
}

function lines(r: LoadResult): string[] {
  return r.diagnostics.map(formatModelDiagnostic);
}

describe("examples", () => {
  it("seed-home loads with every node, address and setting of SCENARIOS.md", async () => {
    const r = await loadNetwork(SEED);
    expect(lines(r)).toEqual([]);
    const n = r.network!;
    expect(summarizeNetwork(n)).toBe("seed-home — 1 router, 2 hosts, 2 internet hosts, 3 intents");
    const router = n.routers[0];
    expect(formatIpv4(router.wan.address)).toBe("198.51.100.2");
    expect(router.wan.prefixLen).toBe(24);
    expect(formatIpv4(router.lans[0].address)).toBe("192.168.1.1");
    expect(router.upnp).toMatchObject({ enabled: true, secureMode: true });
    expect(router.upnp.permissions.map((p) => [p.action, p.extPorts, formatPrefix(p.prefix), p.intPorts])).toEqual([
      ["allow", [1024, 65535], "192.168.1.0/24", [1024, 65535]],
      ["deny", [0, 65535], "0.0.0.0/0", [0, 65535]],
    ]);
    expect(router.dns.rebindProtection).toBe(false);
    expect(router.helpers.sip).toBe(false);
    expect(router.nat).toEqual({ mapping: "eim", filtering: "apdf" });
    expect(router.portForwards).toEqual([]);
    const fw = router.firewall!;
    expect(fw.kind).toBe("inline");
    if (fw.kind !== "inline") return;
    expect(fw.text).toContain('oifname "wan" masquerade');
    expect(fw.text).toContain('iifname "lan" oifname "wan" accept');
    expect(fw.text).not.toContain("192.168.1.20");
    const s = n.hosts.find((h) => h.name === "s")!;
    expect(formatIpv4(s.address)).toBe("192.168.1.20");
    expect(s.firewall).toBeNull();
    expect(s.services.map((x) => `${x.name}:${x.port}/${x.proto}`)).toEqual([
      "ssh:22/tcp",
      "postgres:5432/tcp",
      "web-admin:8080/tcp",
      "snmp:161/udp",
    ]);
    const u = n.hosts.find((h) => h.name === "u")!;
    expect(formatIpv6(u.ipv6!)).toBe("2001:db8:1::10");
    expect(u.browses).toBe(true);
    expect(n.internetHosts.find((h) => h.attacker)?.name).toBe("mallory");
    expect(n.intents.map((i) => [i.from, i.to, i.port, i.proto])).toEqual([
      ["u", { kind: "node", name: "s" }, 5432, "tcp"],
      ["u", { kind: "node", name: "s" }, 8080, "tcp"],
      ["u", { kind: "internet" }, null, null],
    ]);
  });

  it("seed-home-hardened adds the egress drop, S's firewall, UPnP off and rebind protection", async () => {
    const r = await loadNetwork(HARDENED);
    expect(lines(r)).toEqual([]);
    const n = r.network!;
    const router = n.routers[0];
    expect(router.upnp.enabled).toBe(false);
    expect(router.dns.rebindProtection).toBe(true);
    const fw = router.firewall!;
    if (fw.kind !== "inline") throw new Error("expected inline firewall");
    expect(fw.text).toContain('ip saddr 192.168.1.20 oifname "wan" drop');
    const sfw = n.hosts.find((h) => h.name === "s")!.firewall!;
    if (sfw.kind !== "inline") throw new Error("expected inline firewall");
    expect(sfw.text).toContain("tcp dport { 5432, 8080 } ip saddr 192.168.1.10 accept");
    expect(sfw.text).toContain("policy drop");
    expect(n.intents.map((i) => i.text)).toEqual(["u -> s:5432/tcp", "u -> s:8080/tcp", "u -> internet"]);
  });

  it("maps a position in inline nftables text to the YAML line and column it came from", async () => {
    const yaml = await readFile(HARDENED, "utf8");
    const r = await loadNetwork(HARDENED);
    const fw = r.network!.routers[0].firewall!;
    if (fw.kind !== "inline") throw new Error("expected inline firewall");
    const textLines = fw.text.split("\n");
    const yamlLines = yaml.split("\n");
    // Every line of the ruleset, at every column, lands on the same character in the YAML file.
    textLines.forEach((l, i) => {
      for (let c = 0; c < l.length; c++) {
        const p = firewallPosition(fw, i + 1, c + 1);
        expect(yamlLines[p.line - 1][p.column - 1]).toBe(l[c]);
      }
    });
    const drop = textLines.findIndex((l) => l.includes("192.168.1.20"));
    const p = firewallPosition(fw, drop + 1, textLines[drop].indexOf("ip saddr") + 1);
    expect(yamlLines[p.line - 1].slice(p.column - 1)).toBe('ip saddr 192.168.1.20 oifname "wan" drop');
  });

  it("keeps YAML 1.2 core scalars as strings (no sexagesimal 22:30, no boolean `no`)", () => {
    const r = parseNetwork(edit("name: ssh }", "name: ssh, note: 22:30, banner: no }"), "t.yaml");
    expect(lines(r)).toEqual([]);
    expect(r.network!.hosts[0].services[0]).toMatchObject({ note: "22:30", banner: "no" });
  });
});

interface BrokenCase {
  readonly name: string;
  readonly text: string;
  /** `line:col: severity: message substring` of one diagnostic. */
  readonly line: number;
  readonly column: number;
  readonly severity?: "error" | "warning";
  readonly message: string;
}

const BROKEN: readonly BrokenCase[] = [
  {
    name: "YAML syntax: unclosed flow mapping",
    text: edit("prefix: 192.168.1.0/24, ipv6: 2001:db8:1::/64 }", "prefix: 192.168.1.0/24"),
    line: 5,
    column: 1,
    message: "Flow map in block collection must be sufficiently indented and end with a }",
  },
  {
    name: "YAML: duplicate key",
    text: edit("intents:", "hosts:\n  t: { lan: home, address: 192.168.1.30 }\nintents:"),
    line: 14,
    column: 1,
    message: "Map keys must be unique",
  },
  {
    name: "bad IPv4 address",
    text: edit("192.168.1.20", "192.168.1.300"),
    line: 12,
    column: 14,
    message: 'hosts.s.address: expected an IPv4 address like 192.168.1.10, got "192.168.1.300"',
  },
  {
    name: "missing required field",
    text: edit("    address: 192.168.1.20\n", ""),
    line: 10,
    column: 3,
    message: 'hosts.s: missing required field "address": expected an IPv4 address like 192.168.1.10',
  },
  {
    name: "unknown field with a suggestion",
    text: edit("    lan: home\n", "    lan: home\n    rol: server\n"),
    line: 12,
    column: 5,
    message: 'hosts.s.rol: unknown field "rol" (did you mean "role"?)',
  },
  {
    name: "port out of range",
    text: edit("port: 22,", "port: 70000,"),
    line: 13,
    column: 25,
    message: "hosts.s.services[0].port: expected a port number from 1 to 65535, got 70000",
  },
  {
    name: "unknown protocol",
    text: edit("proto: tcp", "proto: sctp"),
    line: 13,
    column: 36,
    message: 'expected a transport protocol, "tcp" or "udp", got "sctp"',
  },
  {
    name: "prefix length over 32",
    text: edit("192.168.1.0/24", "192.168.1.0/33"),
    line: 4,
    column: 19,
    message: 'lans.home.prefix: expected an IPv4 prefix like 192.168.1.0/24, got "192.168.1.0/33"',
  },
  {
    name: "prefix with host bits",
    text: edit("192.168.1.0/24", "192.168.1.5/24"),
    line: 4,
    column: 19,
    message: "lans.home.prefix: prefix 192.168.1.5/24 has host bits set (did you mean 192.168.1.0/24?)",
  },
  {
    name: "host address outside its LAN",
    text: edit("192.168.1.20", "192.168.2.20"),
    line: 12,
    column: 14,
    message: "hosts.s.address: 192.168.2.20 is not inside lans.home (192.168.1.0/24)",
  },
  {
    name: "duplicate address",
    text: edit("192.168.1.20", "192.168.1.1"),
    line: 12,
    column: 14,
    message: "hosts.s: address 192.168.1.1 is already used by routers.r.lans[0]",
  },
  {
    name: "host on an unknown LAN",
    text: edit("    lan: home", "    lan: hme"),
    line: 11,
    column: 10,
    message: 'hosts.s.lan: no LAN named "hme" (did you mean "home"?)',
  },
  {
    name: "router LAN address not in its LAN",
    text: edit("address: 192.168.1.1 }", "address: 10.0.0.1 }"),
    line: 8,
    column: 51,
    message: "routers.r.lans[0].address: 10.0.0.1 is not inside lans.home (192.168.1.0/24)",
  },
  {
    name: "router interface on an unknown LAN",
    text: edit("{ lan: home, interface", "{ lan: office, interface"),
    line: 8,
    column: 20,
    message: 'routers.r.lans[0].lan: no LAN named "office" (defined LANs: home)',
  },
  {
    name: "WAN address outside the ISP prefix",
    text: edit("address: 198.51.100.2/24", "address: 203.0.113.2/24"),
    line: 7,
    column: 37,
    message: "routers.r.wan.address: 203.0.113.2 is not inside isp.prefix 198.51.100.0/24",
  },
  {
    name: "intent to an unknown host",
    text: edit("  - s -> internet", "  - s -> db:5432/tcp"),
    line: 15,
    column: 10,
    message: 'intents[0]: no node named "db"',
  },
  {
    name: "intent without an arrow",
    text: edit("  - s -> internet", "  - s => internet"),
    line: 15,
    column: 5,
    message: 'intents[0]: expected "FROM -> TO", with "->" between source and destination',
  },
  {
    name: "intent with a bad port",
    text: edit("  - s -> internet", "  - s -> internet:99999"),
    line: 15,
    column: 19,
    message: 'intents[0]: expected a port number from 1 to 65535 after ":", got "99999"',
  },
  {
    name: "intent with a bad protocol, quoted",
    text: edit("  - s -> internet", '  - "s -> internet:53/icmp"'),
    line: 15,
    column: 23,
    message: 'intents[0]: expected "tcp" or "udp" after "/", got "icmp"',
  },
  {
    name: "port forward to a host that does not exist",
    text: edit("hosts:", "    port_forwards: [ { proto: tcp, port: 2222, to: ss, to_port: 22 } ]\nhosts:"),
    line: 9,
    column: 52,
    message: 'routers.r.port_forwards[0].to: no host named "ss" (did you mean "s"?)',
  },
  {
    name: "port forward to a port the host does not serve (warning)",
    text: edit("hosts:", "    port_forwards: [ { proto: udp, port: 2222, to: s, to_port: 22 } ]\nhosts:"),
    line: 9,
    column: 64,
    severity: "warning",
    message: 'routers.r.port_forwards[0]: host "s" has no service on 22/udp',
  },
  {
    name: "duplicate node name across sections",
    text: edit("isp:", "internet:\n  hosts:\n    r: { address: 203.0.113.5 }\nisp:"),
    line: 9,
    column: 3,
    message: 'routers.r: node name "r" is already used by internet.hosts.r',
  },
  {
    name: "firewall of the wrong type",
    text: edit("    lan: home\n", "    lan: home\n    firewall: 42\n"),
    line: 12,
    column: 15,
    message: "hosts.s.firewall: expected a firewall: nftables text",
  },
  {
    name: "bad UPnP permission line",
    text: edit(
      "hosts:",
      "    upnp: { enabled: true, permissions: [ allow 1024-65535 192.168.1.0/33 1024-65535 ] }\nhosts:",
    ),
    line: 9,
    column: 60,
    message: 'routers.r.upnp.permissions[0]: expected an IPv4 prefix like 192.168.1.0/24, got "192.168.1.0/33"',
  },
  {
    name: "VLAN id out of range",
    text: edit("ipv6: 2001:db8:1::/64 }", "ipv6: 2001:db8:1::/64, vlan: 4095 }"),
    line: 4,
    column: 64,
    message: "lans.home.vlan: expected a VLAN id from 1 to 4094, got 4095",
  },
  {
    name: "rp_filter value",
    text: edit("hosts:", "    sysctl: { rp_filter: 3 }\nhosts:"),
    line: 9,
    column: 26,
    message: "routers.r.sysctl.rp_filter: expected 0 (off), 1 (strict) or 2 (loose), got 3",
  },
  {
    name: "document is a list",
    text: "- a\n- b\n",
    line: 1,
    column: 1,
    message: "the document: expected a mapping (key: value lines), got a list",
  },
  {
    name: "empty document",
    text: "# nothing here\n",
    line: 1,
    column: 1,
    message: "the document: expected a mapping (key: value lines), got an empty value",
  },
  {
    name: "`no` is a string in YAML 1.2, and not a role",
    text: edit("    lan: home\n", "    lan: home\n    role: no\n"),
    line: 12,
    column: 11,
    message: 'hosts.s.role: expected a role: workstation, server, phone, iot, printer, nas or other, got "no"',
  },
  {
    name: "invalid node name",
    text: edit("  s:\n", "  9s:\n").replace("- s -> internet", "- r -> internet"),
    line: 10,
    column: 3,
    message: 'hosts: "9s" is not a valid name: expected a name of letters',
  },
  {
    name: "host on the broadcast address",
    text: edit("192.168.1.20", "192.168.1.255"),
    line: 12,
    column: 14,
    message: "hosts.s.address: 192.168.1.255 is the broadcast address of lans.home",
  },
  {
    name: "host IPv6 outside the LAN prefix",
    text: edit("    address: 192.168.1.20\n", "    address: 192.168.1.20\n    ipv6: 2001:db8:2::20\n"),
    line: 13,
    column: 11,
    message: "hosts.s.ipv6: 2001:db8:2::20 is not inside lans.home (2001:db8:1::/64)",
  },
  {
    name: "a node may not be called internet",
    text: edit("  s:\n", "  internet:\n").replace("- s -> internet", "- r -> internet"),
    line: 10,
    column: 3,
    message: 'hosts.internet: "internet" is reserved',
  },
  {
    name: "intent to a port nobody listens on (warning)",
    text: edit("  - s -> internet", "  - r -> s:23"),
    line: 15,
    column: 10,
    severity: "warning",
    message: 'intents[0]: "s" has no service on 23/tcp',
  },
  {
    name: "YAML alias bomb",
    text: `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`,
    line: 1,
    column: 1,
    message: "Excessive alias count",
  },
];

describe("broken variants", () => {
  it("has at least 20 of them", () => {
    expect(BROKEN.length).toBeGreaterThanOrEqual(20);
  });

  it.each(BROKEN)("$name", (c) => {
    const r = parseNetwork(c.text, "net.yaml");
    const severity = c.severity ?? "error";
    const found = r.diagnostics.find(
      (d) => d.line === c.line && d.column === c.column && formatModelDiagnostic(d).includes(c.message),
    );
    expect(found, `diagnostics were:\n${lines(r).join("\n")}`).toBeDefined();
    expect(found!.severity).toBe(severity);
    expect(found!.file).toBe("net.yaml");
    if (severity === "error") expect(r.network).toBeNull();
    else expect(r.network).not.toBeNull();
  });

  it("reports every schema problem of a file at once, in file order", () => {
    const text = edit("192.168.1.20", "192.168.1.300", edit("port: 22,", "port: 0,"));
    expect(lines(parseNetwork(text, "n.yaml"))).toEqual([
      'n.yaml:12:14: error: hosts.s.address: expected an IPv4 address like 192.168.1.10, got "192.168.1.300"',
      "n.yaml:13:25: error: hosts.s.services[0].port: expected a port number from 1 to 65535, got 0",
    ]);
  });
});

describe("firewall files", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mallory-model-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads { file: ... } relative to the YAML file", async () => {
    const nft = "table inet filter {\n}\n";
    await writeFile(join(dir, "s.nft"), nft);
    const path = join(dir, "ok.yaml");
    await writeFile(path, edit("    lan: home\n", "    lan: home\n    firewall: { file: s.nft }\n"));
    const r = await loadNetwork(path);
    expect(lines(r)).toEqual([]);
    const fw = r.network!.hosts[0].firewall!;
    expect(fw).toMatchObject({ kind: "file", path: "s.nft", resolvedPath: join(dir, "s.nft"), text: nft });
    expect(firewallPosition(fw, 2, 1)).toEqual({ file: join(dir, "s.nft"), line: 2, column: 1 });
  });

  it("reports a missing firewall file at its file: value", async () => {
    const path = join(dir, "missing.yaml");
    await writeFile(path, edit("    lan: home\n", "    lan: home\n    firewall: { file: nope.nft }\n"));
    const r = await loadNetwork(path);
    expect(r.network).toBeNull();
    expect(lines(r)).toEqual([
      `${path}:12:23: error: firewall file "nope.nft" not found (looked at ${join(dir, "nope.nft")}) (the path is relative to the YAML file)`,
    ]);
  });

  it("reports a missing network file without throwing", async () => {
    const r = await loadNetwork(join(dir, "absent.yaml"));
    expect(lines(r)).toEqual([`${join(dir, "absent.yaml")}:1:1: error: file not found`]);
  });
});

describe("robustness", () => {
  let seedText = "";
  beforeAll(async () => {
    seedText = await readFile(SEED, "utf8");
  });

  // Random edits of the real example: delete a span, insert characters YAML cares about, or duplicate a line.
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      text: fc.oneof(
        fc.constantFrom(
          ":",
          "- ",
          "{",
          "}",
          "[",
          "]",
          "&a ",
          "*a",
          "|",
          ">",
          "'",
          '"',
          "\n",
          "  ",
          "#",
          "!!str ",
          "null",
          "~",
          "\t",
          "999999",
          "-1",
          "::",
          "->",
          "/",
        ),
        fc.string({ maxLength: 6 }),
      ),
    }),
    fc.record({ kind: fc.constant("dupline" as const), at: fc.nat() }),
  );

  function mutate(text: string, ms: readonly fc.Arbitrary<unknown>[] | unknown[]): string {
    let t = text;
    for (const raw of ms) {
      const m = raw as { kind: string; at: number; len?: number; text?: string };
      const at = m.at % (t.length + 1);
      if (m.kind === "delete") t = t.slice(0, at) + t.slice(at + (m.len ?? 1));
      else if (m.kind === "insert") t = t.slice(0, at) + (m.text ?? "") + t.slice(at);
      else {
        const start = t.lastIndexOf("\n", at - 1) + 1;
        const end = t.indexOf("\n", at);
        const line = t.slice(start, end < 0 ? t.length : end + 1);
        t = t.slice(0, start) + line + t.slice(start);
      }
    }
    return t;
  }

  fcTest.prop([fc.array(mutation, { minLength: 1, maxLength: 4 })], { numRuns: 300 })(
    "random mutations of seed-home never throw: a network, or positioned diagnostics",
    (ms) => {
      const text = mutate(seedText, ms);
      const r = parseNetwork(text, "m.yaml");
      const lineCount = text.split("\n").length;
      for (const d of r.diagnostics) {
        expect(d.line).toBeGreaterThanOrEqual(1);
        expect(d.line).toBeLessThanOrEqual(lineCount);
        expect(d.column).toBeGreaterThanOrEqual(1);
        expect(d.message.length).toBeGreaterThan(0);
      }
      if (r.network === null) expect(r.diagnostics.some((d) => d.severity === "error")).toBe(true);
      else expect(r.diagnostics.every((d) => d.severity === "warning")).toBe(true);
    },
  );
});
