// The internet side of a twin: one ISP router that serves each customer's WAN link and reaches every public host,
// either over one shared "internet" segment (hosts in the ISP's internet prefix use it as their gateway; others
// get /32 routes and an on-link default) or over a point-to-point link per host (a /32 route per host, the
// host's default route on-link over its link). Public hosts run the same engine and host stack as any node.

import type { Ruleset } from "../engine/filter/index.js";
import { parsePrefix } from "../wire/address.js";
import type { IsnChooser, ServiceSpec } from "./host-stack.js";
import type { SimNode } from "./node.js";
import type { InterfaceSpec, RouteText, SetupResult, Simulation } from "./simulation.js";

export interface PublicHostSpec {
  readonly name: string;
  /** Its public IPv4 address (no prefix). */
  readonly address: string;
  readonly services?: readonly ServiceSpec[];
  readonly isn?: IsnChooser;
  readonly ruleset?: Ruleset;
}

export interface CustomerLink {
  /** Name of the segment between the ISP and the customer router. */
  readonly segment: string;
  /** The customer router's WAN interface, `node:interface`. */
  readonly endpoint: string;
  /** The ISP's address on that link, with prefix (the customer's gateway), e.g. `198.51.100.1/24`. */
  readonly ispAddress: string;
  /** Prefixes the ISP routes to the customer (e.g. its LAN, as an on-link ISP neighbour could), via `customerAddress`. */
  readonly routedPrefixes?: readonly string[];
  readonly customerAddress?: string;
}

export interface InternetSpec {
  /** Name of the ISP router node; default "isp". */
  readonly isp?: string;
  readonly customers: readonly CustomerLink[];
  readonly hosts: readonly PublicHostSpec[];
  /** Default "shared". */
  readonly layout?: "shared" | "point-to-point";
  /** The ISP's address and prefix on the shared segment (also its source address on p2p links); default `203.0.113.1/24`. */
  readonly ispInternetAddress?: string;
  /** Name of the shared segment; default "internet". */
  readonly segment?: string;
  readonly delayMs?: number;
}

export interface Internet {
  readonly isp: SimNode;
  readonly hosts: ReadonlyMap<string, SimNode>;
}

const HOST_INTERFACE = "eth0";

function inPrefix(prefixText: string, address: string): boolean {
  const p = parsePrefix(prefixText);
  const a = parsePrefix(address);
  if (p === null || a === null || p.prefix.family !== 4 || a.prefix.family !== 4) return false;
  const mask = p.prefix.len === 0 ? 0 : (0xffffffff << (32 - p.prefix.len)) >>> 0;
  return (a.prefix.addr & mask) >>> 0 === p.prefix.addr;
}

/** One node of the internet side: its interfaces and routes (the same for the twin and the kernel lab). */
export interface InternetNodePlan {
  readonly name: string;
  readonly interfaces: readonly InterfaceSpec[];
  readonly routes: readonly RouteText[];
}

/** One link of the internet side: its name and `node:interface` endpoints. */
export interface InternetSegmentPlan {
  readonly name: string;
  readonly endpoints: readonly string[];
}

/** The internet's shape without running anything: the ISP, the public hosts, and the segments joining them. */
export interface InternetPlan {
  readonly isp: InternetNodePlan;
  /** In the order of `spec.hosts`. */
  readonly hosts: readonly InternetNodePlan[];
  readonly segments: readonly InternetSegmentPlan[];
}

export function planInternet(spec: InternetSpec): InternetPlan {
  const ispName = spec.isp ?? "isp";
  const layout = spec.layout ?? "shared";
  const ispInternet = spec.ispInternetAddress ?? "203.0.113.1/24";
  const ispAddr = ispInternet.slice(0, ispInternet.indexOf("/") < 0 ? undefined : ispInternet.indexOf("/"));
  const sharedSegment = spec.segment ?? "internet";

  const interfaces: InterfaceSpec[] = spec.customers.map((c, i) => ({ name: `cust${i}`, addresses: [c.ispAddress] }));
  const routes: RouteText[] = [];
  for (const [i, c] of spec.customers.entries())
    for (const p of c.routedPrefixes ?? [])
      routes.push({ to: p, dev: `cust${i}`, ...(c.customerAddress !== undefined ? { via: c.customerAddress } : {}) });
  if (layout === "shared") {
    interfaces.push({ name: "internet", addresses: [ispInternet] });
    for (const h of spec.hosts)
      if (!inPrefix(ispInternet, h.address)) routes.push({ to: `${h.address}/32`, dev: "internet" });
  } else {
    for (const h of spec.hosts) {
      interfaces.push({ name: `to-${h.name}`, addresses: [`${ispAddr}/32`] });
      routes.push({ to: `${h.address}/32`, dev: `to-${h.name}` });
    }
  }
  const segments: InternetSegmentPlan[] = spec.customers.map((c, i) => ({
    name: c.segment,
    endpoints: [`${ispName}:cust${i}`, c.endpoint],
  }));

  const hosts = spec.hosts.map((h): InternetNodePlan => {
    const shared = layout === "shared" && inPrefix(ispInternet, h.address);
    const prefixLen = shared ? ispInternet.slice(ispInternet.indexOf("/") + 1) : "32";
    // Off the shared prefix the ISP is still the gateway (reached on-link); a p2p link needs no next hop at all.
    const route: RouteText =
      layout === "shared"
        ? { to: "default", via: ispAddr, ...(shared ? {} : { dev: HOST_INTERFACE }) }
        : { to: "default", dev: HOST_INTERFACE };
    return {
      name: h.name,
      interfaces: [{ name: HOST_INTERFACE, addresses: [`${h.address}/${prefixLen}`] }],
      routes: [route],
    };
  });
  if (layout === "shared") {
    segments.push({
      name: sharedSegment,
      endpoints: [`${ispName}:internet`, ...spec.hosts.map((h) => `${h.name}:${HOST_INTERFACE}`)],
    });
  } else {
    for (const h of spec.hosts)
      segments.push({
        name: `${ispName}-${h.name}`,
        endpoints: [`${ispName}:to-${h.name}`, `${h.name}:${HOST_INTERFACE}`],
      });
  }
  return { isp: { name: ispName, interfaces, routes }, hosts, segments };
}

export function buildInternet(sim: Simulation, spec: InternetSpec): SetupResult<Internet> {
  const plan = planInternet(spec);
  const delay = spec.delayMs !== undefined ? { delayMs: spec.delayMs } : {};
  const isp = sim.addRouter(plan.isp.name, { interfaces: plan.isp.interfaces, routes: plan.isp.routes });
  if (!isp.ok) return isp;
  const customerSegments = plan.segments.slice(0, spec.customers.length);
  for (const seg of customerSegments) {
    const link = sim.connect(seg.name, seg.endpoints, delay);
    if (!link.ok) return link;
  }

  const hosts = new Map<string, SimNode>();
  for (const [i, h] of spec.hosts.entries()) {
    const p = plan.hosts[i];
    const node = sim.addHost(h.name, {
      interfaces: p.interfaces,
      routes: p.routes,
      ...(h.services !== undefined ? { services: h.services } : {}),
      ...(h.isn !== undefined ? { isn: h.isn } : {}),
      ...(h.ruleset !== undefined ? { ruleset: h.ruleset } : {}),
    });
    if (!node.ok) return node;
    hosts.set(h.name, node.value);
  }
  for (const seg of plan.segments.slice(spec.customers.length)) {
    const link = sim.connect(seg.name, seg.endpoints, delay);
    if (!link.ok) return link;
  }
  return { ok: true, value: { isp: isp.value, hosts } };
}
