// seed-home (SCENARIOS.md) built programmatically on the simulator, for tests and benchmarks: the router runs the
// engine fixture's seed ruleset (origins in seed-home.nft), U and S sit on the LAN, and the internet holds Mallory
// and a web server behind one ISP router. ISNs can be pinned per node.

import type { Ruleset } from "../engine/filter/index.js";
import { seedRuleset } from "../engine/datapath.fixture.js";
import type { IsnChooser, ServiceSpec } from "./host-stack.js";
import { buildInternet } from "./internet.js";
import type { SimNode } from "./node.js";
import { Simulation } from "./simulation.js";
import type { SetupResult } from "./simulation.js";

export interface SeedHomeOptions {
  readonly seed?: number;
  readonly capture?: boolean;
  readonly ruleset?: Ruleset;
  readonly isn?: {
    readonly u?: IsnChooser;
    readonly s?: IsnChooser;
    readonly web?: IsnChooser;
    readonly mallory?: IsnChooser;
  };
  readonly routerServices?: readonly ServiceSpec[];
  readonly sRuleset?: Ruleset;
  readonly malloryRuleset?: Ruleset;
  readonly uRuleset?: Ruleset;
}

export interface SeedHome {
  readonly sim: Simulation;
  readonly router: SimNode;
  readonly u: SimNode;
  readonly s: SimNode;
  readonly isp: SimNode;
  readonly mallory: SimNode;
  readonly web: SimNode;
}

export const S_SERVICES: readonly ServiceSpec[] = [
  { protocol: "tcp", port: 22, name: "ssh" },
  { protocol: "tcp", port: 5432, name: "postgres" },
  { protocol: "tcp", port: 8080, name: "web-admin" },
  { protocol: "udp", port: 161, name: "snmp" },
];

function must<T>(r: SetupResult<T>): T {
  if (!r.ok) throw new Error(`seed-home fixture: ${r.error.message}`);
  return r.value;
}

export function buildSeedHome(o: SeedHomeOptions = {}): SeedHome {
  const sim = new Simulation({ seed: o.seed ?? 1, capture: o.capture ?? true });
  const router = must(
    sim.addRouter("router", {
      interfaces: [
        { name: "wan", addresses: ["198.51.100.2/24"] },
        { name: "lan", addresses: ["192.168.1.1/24", "2001:db8:1::1/64"] },
      ],
      routes: [{ to: "default", via: "198.51.100.1" }],
      ruleset: o.ruleset ?? seedRuleset(),
      ...(o.routerServices !== undefined ? { services: o.routerServices } : {}),
    }),
  );
  const lanHost = (addresses: string[], services: readonly ServiceSpec[], isn?: IsnChooser, ruleset?: Ruleset) =>
    ({
      interfaces: [{ name: "eth0", addresses }],
      routes: [
        { to: "default", via: "192.168.1.1" },
        { to: "default6", via: "2001:db8:1::1" },
      ],
      services,
      ...(isn !== undefined ? { isn } : {}),
      ...(ruleset !== undefined ? { ruleset } : {}),
    }) as const;
  const u = must(sim.addHost("u", lanHost(["192.168.1.10/24", "2001:db8:1::10/64"], [], o.isn?.u, o.uRuleset)));
  const s = must(sim.addHost("s", lanHost(["192.168.1.20/24", "2001:db8:1::20/64"], S_SERVICES, o.isn?.s, o.sRuleset)));
  must(sim.connect("lan", ["router:lan", "u:eth0", "s:eth0"], { delayMs: 0.1 }));
  const internet = must(
    buildInternet(sim, {
      customers: [{ segment: "wan", endpoint: "router:wan", ispAddress: "198.51.100.1/24" }],
      hosts: [
        {
          name: "mallory",
          address: "203.0.113.66",
          ...(o.isn?.mallory !== undefined ? { isn: o.isn.mallory } : {}),
          ...(o.malloryRuleset !== undefined ? { ruleset: o.malloryRuleset } : {}),
        },
        {
          name: "web",
          address: "203.0.113.80",
          services: [{ protocol: "tcp", port: 80, name: "http" }],
          ...(o.isn?.web !== undefined ? { isn: o.isn.web } : {}),
        },
      ],
      delayMs: 5,
    }),
  );
  return {
    sim,
    router,
    u,
    s,
    isp: internet.isp,
    mallory: internet.hosts.get("mallory")!,
    web: internet.hosts.get("web")!,
  };
}
