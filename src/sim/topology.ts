// The network's shape, derived from the model once and shared by the twin (sim/twin.ts) and the kernel lab
// (lab/): which nodes exist, their interfaces, addresses and routes, which interfaces share a segment, and the
// router's port forwards as nftables text. Both builders read this plan, so the simulator and the namespaces can
// never disagree about where an address lives.

import type { Firewall, Host, Network, Router, RpFilter, Service, SourcePos } from "../model/index.js";
import { formatIpv4, formatIpv6 } from "../wire/address.js";
import { planInternet } from "./internet.js";
import type { InternetPlan, InternetSpec } from "./internet.js";
import type { InterfaceSpec, RouteText } from "./simulation.js";

export type PlannedNodeKind = "router" | "host" | "internet" | "isp";

export interface PlannedNode {
  readonly name: string;
  readonly kind: PlannedNodeKind;
  /** The node's links (loopback not included). */
  readonly interfaces: readonly InterfaceSpec[];
  readonly routes: readonly RouteText[];
  /** Routers and the ISP forward; hosts do not. */
  readonly forwarding: boolean;
  readonly rpFilter: RpFilter;
  /** Conntrack profile and liberal TCP tracking; null where the model says nothing (kernel defaults). */
  readonly conntrack: { readonly profile: "linux" | "openwrt"; readonly tcpBeLiberal: boolean } | null;
  readonly services: readonly Service[];
  readonly firewall: Firewall | null;
  /** A router's port forwards as a DNAT table (null when it has none). */
  readonly portForwards: PortForwardTable | null;
}

export interface PlannedSegment {
  readonly name: string;
  /** `node:interface` */
  readonly endpoints: readonly string[];
  readonly kind: "lan" | "wan" | "internet";
}

export interface TopologyPlan {
  readonly nodes: readonly PlannedNode[];
  readonly segments: readonly PlannedSegment[];
  /** The internet side as buildInternet takes it (without services, which the twin adds as handlers). */
  readonly internet: InternetSpec;
  readonly problems: readonly { readonly at: SourcePos; readonly code: string; readonly message: string }[];
}

/** A router's port forwards as nftables text, one rule per YAML entry starting at `firstRuleLine`. */
export interface PortForwardTable {
  readonly text: string;
  readonly firstRuleLine: number;
  /** YAML place of each rule, in rule order. */
  readonly origins: readonly SourcePos[];
}

export const HOST_INTERFACE = "eth0";
export const ISP_NODE = "isp";
export const PORT_FORWARD_TABLE = "mallory_port_forwards";

/** Name of the segment between a router's WAN interface and the ISP. */
export function wanSegmentName(routerName: string): string {
  return `${routerName}-wan`;
}

/**
 * A router's port forwards as a DNAT table of their own (what fw4 makes of a `redirect`): one rule per entry.
 * The forward chain still decides whether the translated packet passes. Null when it has none; an error names the
 * entry whose host is unknown.
 */
export function portForwardTable(
  router: Router,
  hosts: ReadonlyMap<string, Host>,
): { ok: true; table: PortForwardTable | null } | { ok: false; at: SourcePos; message: string } {
  if (router.portForwards.length === 0) return { ok: true, table: null };
  const lines = [
    `table ip ${PORT_FORWARD_TABLE} {`,
    "  chain prerouting {",
    "    type nat hook prerouting priority dstnat; policy accept;",
  ];
  const firstRuleLine = lines.length + 1;
  for (const pf of router.portForwards) {
    const host = hosts.get(pf.to);
    if (host === undefined) return { ok: false, at: pf.at, message: `port forward to unknown host ${pf.to}` };
    lines.push(
      `    iifname "${router.wan.interface}" ${pf.proto} dport ${pf.port} dnat to ${formatIpv4(host.address)}:${pf.toPort}`,
    );
  }
  lines.push("  }", "}");
  return {
    ok: true,
    table: { text: `${lines.join("\n")}\n`, firstRuleLine, origins: router.portForwards.map((pf) => pf.at) },
  };
}

export function planTopology(network: Network): TopologyPlan {
  const hostsByName = new Map(network.hosts.map((h) => [h.name, h]));
  const lanByName = new Map(network.lans.map((l) => [l.name, l]));
  const problems: { at: SourcePos; code: string; message: string }[] = [];
  const nodes: PlannedNode[] = [];

  for (const r of network.routers) {
    const forwards = portForwardTable(r, hostsByName);
    if (!forwards.ok) problems.push({ at: forwards.at, code: "unknown-host", message: forwards.message });
    const interfaces: InterfaceSpec[] = [
      { name: r.wan.interface, addresses: [`${formatIpv4(r.wan.address)}/${r.wan.prefixLen}`] },
      ...r.lans.map((l): InterfaceSpec => {
        const lan = lanByName.get(l.lan);
        const addresses = [`${formatIpv4(l.address)}/${lan?.prefix.len ?? 24}`];
        if (l.ipv6 !== null) addresses.push(`${formatIpv6(l.ipv6)}/${lan?.ipv6?.len ?? 64}`);
        return { name: l.interface, addresses };
      }),
    ];
    nodes.push({
      name: r.name,
      kind: "router",
      interfaces,
      routes: [{ to: "default", via: formatIpv4(r.wan.gateway) }],
      forwarding: true,
      rpFilter: r.sysctl.rpFilter,
      conntrack: { profile: r.sysctl.conntrack, tcpBeLiberal: r.sysctl.tcpBeLiberal },
      services: [],
      firewall: r.firewall,
      portForwards: forwards.ok ? forwards.table : null,
    });
  }

  for (const h of network.hosts) {
    const lan = lanByName.get(h.lan);
    const rlan = network.routers.flatMap((r) => r.lans).find((l) => l.lan === h.lan);
    const addresses = [`${formatIpv4(h.address)}/${lan?.prefix.len ?? 24}`];
    if (h.ipv6 !== null) addresses.push(`${formatIpv6(h.ipv6)}/${lan?.ipv6?.len ?? 64}`);
    const routes: RouteText[] = [];
    if (rlan !== undefined) {
      routes.push({ to: "default", via: formatIpv4(rlan.address) });
      if (h.ipv6 !== null && rlan.ipv6 !== null) routes.push({ to: "default6", via: formatIpv6(rlan.ipv6) });
    }
    nodes.push({
      name: h.name,
      kind: "host",
      interfaces: [{ name: HOST_INTERFACE, addresses }],
      routes,
      forwarding: false,
      rpFilter: 0,
      conntrack: null,
      services: h.services,
      firewall: h.firewall,
      portForwards: null,
    });
  }

  const segments: PlannedSegment[] = [];
  for (const lan of network.lans) {
    const endpoints: string[] = [];
    for (const r of network.routers)
      for (const l of r.lans) if (l.lan === lan.name) endpoints.push(`${r.name}:${l.interface}`);
    for (const h of network.hosts) if (h.lan === lan.name) endpoints.push(`${h.name}:${HOST_INTERFACE}`);
    segments.push({ name: lan.name, endpoints, kind: "lan" });
  }

  // The internet: one ISP router serving every router's WAN link and the public hosts.
  const internet: InternetSpec = {
    isp: ISP_NODE,
    customers: network.routers.map((r) => ({
      segment: wanSegmentName(r.name),
      endpoint: `${r.name}:${r.wan.interface}`,
      ispAddress: `${formatIpv4(r.wan.gateway)}/${network.isp.prefix.len}`,
    })),
    hosts: network.internetHosts.map((h) => ({ name: h.name, address: formatIpv4(h.address) })),
  };
  const inet: InternetPlan = planInternet(internet);
  nodes.push({
    ...inet.isp,
    kind: "isp",
    forwarding: true,
    rpFilter: 0,
    conntrack: null,
    services: [],
    firewall: null,
    portForwards: null,
  });
  for (const [i, p] of inet.hosts.entries())
    nodes.push({
      ...p,
      kind: "internet",
      forwarding: false,
      rpFilter: 0,
      conntrack: null,
      services: network.internetHosts[i].services,
      firewall: null,
      portForwards: null,
    });
  for (const [i, s] of inet.segments.entries())
    segments.push({ ...s, kind: i < internet.customers.length ? "wan" : "internet" });

  return { nodes, segments, internet, problems };
}
