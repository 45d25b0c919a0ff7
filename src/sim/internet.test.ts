import { describe, expect, it } from "vitest";
import { baseChain, oifname, rule } from "../engine/datapath.fixture.js";
import type { Ruleset } from "../engine/filter/index.js";
import { SSH_BANNER } from "./host-stack.js";
import type { TcpHandler } from "./host-stack.js";
import { buildInternet } from "./internet.js";
import { Simulation, addressWords } from "./simulation.js";
import type { SetupResult } from "./simulation.js";

const A = (s: string): Uint32Array => addressWords(s)!.words;

function must<T>(r: SetupResult<T>): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** Bare Linux (SEMANTICS.md §2.8.1): accept policies, only `oifname wan masquerade`. */
const masqueradeOnly: Ruleset = {
  tables: [
    {
      family: "inet",
      name: "nat",
      origin: { source: "bare.nft", line: 1, column: 1 },
      chains: [
        baseChain("postrouting", 2, "nat", "postrouting", 100, "accept", [
          rule(3, oifname("wan"), { kind: "masquerade" }),
        ]),
      ],
    },
  ],
};

function homeBehindIsp(layout: "shared" | "point-to-point", ruleset: Ruleset | undefined, routeLan: boolean) {
  const sim = new Simulation({ seed: 3 });
  must(
    sim.addRouter("router", {
      interfaces: [
        { name: "wan", addresses: ["198.51.100.2/24"] },
        { name: "lan", addresses: ["192.168.1.1/24"] },
      ],
      routes: [{ to: "default", via: "198.51.100.1" }],
      ...(ruleset !== undefined ? { ruleset } : {}),
    }),
  );
  must(
    sim.addHost("s", {
      interfaces: [{ name: "eth0", addresses: ["192.168.1.20/24"] }],
      routes: [{ to: "default", via: "192.168.1.1" }],
      services: [{ protocol: "tcp", port: 22, name: "ssh" }],
    }),
  );
  must(sim.connect("lan", ["router:lan", "s:eth0"]));
  const net = must(
    buildInternet(sim, {
      layout,
      customers: [
        {
          segment: "wan",
          endpoint: "router:wan",
          ispAddress: "198.51.100.1/24",
          ...(routeLan ? { routedPrefixes: ["192.168.1.0/24"], customerAddress: "198.51.100.2" } : {}),
        },
      ],
      hosts: [
        { name: "mallory", address: "203.0.113.66" },
        { name: "web", address: "192.0.2.80", services: [{ protocol: "tcp", port: 80, name: "http" }] },
      ],
    }),
  );
  return { sim, net };
}

function collect(): { handler: TcpHandler; got: string[] } {
  const got: string[] = [];
  return {
    got,
    handler: {
      onEstablished: () => got.push("established"),
      onData: (_c, d) => got.push(new TextDecoder().decode(d)),
      onReset: () => got.push("reset"),
      onTimeout: () => got.push("timeout"),
    },
  };
}

describe("buildInternet", () => {
  for (const layout of ["shared", "point-to-point"] as const) {
    it(`routes between public hosts, in and out of the ISP's prefix (${layout})`, () => {
      const { sim, net } = homeBehindIsp(layout, undefined, false);
      const c = collect();
      net.hosts.get("mallory")!.stack.connect(4, A("192.0.2.80"), 80, {
        ...c.handler,
        onEstablished: (conn) => conn.send(new TextEncoder().encode("GET /\r\n\r\n")),
      });
      sim.run({ until: 1000 });
      expect(c.got).toHaveLength(1);
      expect(c.got[0]).toMatch(/^HTTP\/1\.1 200 OK/);
      expect([...sim.segments.keys()].sort()).toEqual(
        layout === "shared" ? ["internet", "lan", "wan"] : ["isp-mallory", "isp-web", "lan", "wan"],
      );
    });
  }

  it("NAT is not a firewall: with an ISP route to the LAN, bare masquerade lets Mallory reach S:22", () => {
    const { sim, net } = homeBehindIsp("shared", masqueradeOnly, true);
    const c = collect();
    net.hosts.get("mallory")!.stack.connect(4, A("192.168.1.20"), 22, c.handler);
    sim.run({ until: 1000 });
    expect(c.got).toEqual(["established", SSH_BANNER]);
  });

  it("reports setup errors as values", () => {
    const sim = new Simulation();
    const bad = sim.addHost("h", { interfaces: [{ name: "eth0", addresses: ["192.168.1.300/24"] }] });
    expect(bad.ok ? "" : bad.error.message).toBe("node h interface eth0: bad address 192.168.1.300/24");
    must(sim.addHost("h", { interfaces: [{ name: "eth0", addresses: ["192.168.1.3/24"] }] }));
    expect(sim.addHost("h", { interfaces: [] }).ok).toBe(false);
    const link = sim.connect("x", ["h:eth1"]);
    expect(link.ok ? "" : link.error.message).toBe('endpoint "h:eth1": node h has no interface eth1');
    const route = sim.addHost("g", {
      interfaces: [{ name: "eth0", addresses: ["10.0.0.2/24"] }],
      routes: [{ to: "default", via: "10.9.9.9" }],
    });
    expect(route.ok ? "" : route.error.message).toBe(
      "node g: route to default: gateway 10.9.9.9 is on no interface's subnet",
    );
  });
});
