// What `lab up` will build, as data and without touching the system: one namespace per node, a bridge namespace
// per segment of more than two interfaces (a point-to-point segment is one veth pair), the `ip -batch` lines of
// every namespace, its sysctls, the rulesets `nft -f` loads, the listener each node runs and the DNS resolver
// (dnsmasq) of each router whose model has one. The shape (nodes, addresses, routes, segments, port forwards) comes
// from sim/topology.ts, the same plan the twin is built from.

import type { Firewall, Network, Router, Service } from "../model/index.js";
import { LINUX_TIMEOUTS, OPENWRT_TIMEOUTS } from "../engine/conntrack/index.js";
import type { TimeoutTable } from "../engine/conntrack/index.js";
import { planTopology } from "../sim/topology.js";
import type { PlannedNode, PlannedSegment, PortForwardTable } from "../sim/topology.js";
import type { RouteText } from "../sim/simulation.js";
import { formatIpv4 } from "../wire/address.js";

export const DEFAULT_PREFIX = "mlab";
/** The bridge inside a segment namespace. */
export const BRIDGE = "br0";
/** Linux IFNAMSIZ - 1 (include/uapi/linux/if.h). */
export const IFNAME_MAX = 15;

export interface LabOptions {
  /** Namespace prefix; names are `<prefix>-<network>-<node>` and `<prefix>-<network>-seg-<segment>`. */
  readonly prefix?: string;
}

/** One end of a veth pair. */
export interface VethEnd {
  readonly namespace: string;
  readonly ifname: string;
}

export interface VethPair {
  readonly a: VethEnd;
  readonly b: VethEnd;
  /** The segment it belongs to. */
  readonly segment: string;
}

/** A ruleset `nft -f` loads in a node's namespace: text the lab writes to `fileName`, or the model's own file. */
export type RulesetLoad =
  | { readonly kind: "text"; readonly what: string; readonly fileName: string; readonly text: string }
  | { readonly kind: "file"; readonly what: string; readonly path: string };

export interface ListenerService {
  readonly proto: "tcp" | "udp";
  readonly port: number;
  readonly name: string;
  readonly banner: string | null;
}

/**
 * A router's dnsmasq, configured as the simulator's resolver (attacks/actors/router-services.ts startDnsResolver):
 * it answers on the router's IPv4 LAN addresses and forwards every query to the server authoritative for the names
 * the attacks ask (the recursion through the DNS hierarchy is not modelled, in either).
 */
export interface PlannedResolver {
  /** `--listen-address`es. */
  readonly listen: readonly string[];
  /** `--server`: the attacker's address; null when the network has no internet host that could answer. */
  readonly upstream: string | null;
  /** `--stop-dns-rebind` (the model's `dns.rebind_protection`). */
  readonly rebindProtection: boolean;
}

export interface PlannedNamespace {
  readonly name: string;
  readonly role:
    { readonly kind: "node"; readonly node: PlannedNode } | { readonly kind: "segment"; readonly segment: string };
  /** Lines for `ip -n NAME -batch -`: loopback, bridge, addresses, links up, routes. */
  readonly ipBatch: readonly string[];
  /** `key=value` for `sysctl -w`, set before the rulesets. */
  readonly sysctls: readonly string[];
  /** `key=value` set after the rulesets, ignoring keys that do not exist (`sysctl -e`): conntrack's. */
  readonly conntrackSysctls: readonly string[];
  /** Interfaces whose transmit checksum offload is turned off (`ethtool -K IF tx off`). */
  readonly offloadOff: readonly string[];
  readonly rulesets: readonly RulesetLoad[];
  /** Services the node's listener serves; empty when it runs none. */
  readonly services: readonly ListenerService[];
  /** The router's DNS resolver; null for every other node and for a router whose model runs none. */
  readonly resolver: PlannedResolver | null;
}

export interface LabPlan {
  readonly network: string;
  readonly prefix: string;
  readonly namespaces: readonly PlannedNamespace[];
  readonly links: readonly VethPair[];
  /** Lines for `ip -batch -` in the host's namespace: each creates one veth pair straight into its namespaces. */
  readonly hostBatch: readonly string[];
  readonly problems: readonly string[];
}

export function nodeNamespace(prefix: string, network: string, node: string): string {
  return `${prefix}-${network}-${node}`;
}

export function segmentNamespace(prefix: string, network: string, segment: string): string {
  return `${prefix}-${network}-seg-${segment}`;
}

/** The conntrack sysctls (net.netfilter.nf_conntrack_*) of a timeout table; SYN_SENT2 shares syn_sent's. */
export function conntrackSysctls(t: Readonly<TimeoutTable>, tcpBeLiberal: boolean): string[] {
  const nf = (key: string, v: number): string => `net.netfilter.nf_conntrack_${key}=${v}`;
  return [
    nf("tcp_timeout_syn_sent", t.tcpSynSent),
    nf("tcp_timeout_syn_recv", t.tcpSynRecv),
    nf("tcp_timeout_established", t.tcpEstablished),
    nf("tcp_timeout_fin_wait", t.tcpFinWait),
    nf("tcp_timeout_close_wait", t.tcpCloseWait),
    nf("tcp_timeout_last_ack", t.tcpLastAck),
    nf("tcp_timeout_time_wait", t.tcpTimeWait),
    nf("tcp_timeout_close", t.tcpClose),
    nf("tcp_timeout_max_retrans", t.tcpMaxRetrans),
    nf("tcp_timeout_unacknowledged", t.tcpUnacknowledged),
    nf("udp_timeout", t.udp),
    nf("udp_timeout_stream", t.udpStream),
    nf("icmp_timeout", t.icmp),
    nf("icmpv6_timeout", t.icmpv6),
    nf("generic_timeout", t.generic),
    nf("tcp_be_liberal", tcpBeLiberal ? 1 : 0),
  ];
}

/** A RouteText as an `ip route add` batch line; `default6` is IPv6's default. */
export function routeLine(r: RouteText): string {
  const to = r.to === "default6" ? "::/0" : r.to;
  const parts = ["route", "add"];
  if (r.type !== undefined && r.type !== "unicast") parts.push(r.type);
  parts.push(to);
  if (r.via !== undefined) parts.push("via", r.via);
  if (r.dev !== undefined) parts.push("dev", r.dev);
  // A gateway named with its device need not sit in the device's subnet (the twin's off-prefix internet hosts).
  if (r.via !== undefined && r.dev !== undefined) parts.push("onlink");
  return parts.join(" ");
}

function rulesetLoads(node: PlannedNode): RulesetLoad[] {
  const loads: RulesetLoad[] = [];
  const fw: Firewall | null = node.firewall;
  if (fw !== null) {
    // The model's own text, unchanged, so nft's line numbers are the firewall's (firewallPosition maps them).
    if (fw.kind === "file") loads.push({ kind: "file", what: `firewall ${fw.path}`, path: fw.resolvedPath });
    else if (fw.text !== "")
      loads.push({ kind: "text", what: "firewall", fileName: `${node.name}.nft`, text: fw.text });
  }
  const pf: PortForwardTable | null = node.portForwards;
  if (pf !== null)
    loads.push({ kind: "text", what: "port forwards", fileName: `${node.name}.port-forwards.nft`, text: pf.text });
  return loads;
}

function listenerServices(services: readonly Service[]): ListenerService[] {
  return services.map((s) => ({ proto: s.proto, port: s.port, name: s.name, banner: s.banner }));
}

function nodeSysctls(node: PlannedNode): string[] {
  const rp = node.rpFilter;
  const out = [
    `net.ipv4.ip_forward=${node.forwarding ? 1 : 0}`,
    `net.ipv6.conf.all.forwarding=${node.forwarding ? 1 : 0}`,
    // A new namespace takes all/default rp_filter from the host's init values; the kernel uses max(all, iface).
    `net.ipv4.conf.all.rp_filter=${rp}`,
    `net.ipv4.conf.default.rp_filter=${rp}`,
    `net.ipv4.conf.lo.rp_filter=${rp}`,
  ];
  for (const i of node.interfaces) out.push(`net.ipv4.conf.${i.name.replaceAll(".", "/")}.rp_filter=${rp}`);
  return out;
}

function nodeBatch(node: PlannedNode): string[] {
  const lines = ["link set lo up"];
  for (const i of node.interfaces) {
    for (const a of i.addresses ?? []) lines.push(`addr add ${a} dev ${i.name}${a.includes(":") ? " nodad" : ""}`);
    lines.push(`link set ${i.name} up`);
  }
  for (const r of node.routes) lines.push(routeLine(r));
  return lines;
}

/** The upstream the simulator's resolver asks: Mallory (attacks/dns-rebinding.ts passes the attacker's address). */
function resolverUpstream(network: Network): string | null {
  const server =
    network.internetHosts.find((h) => h.attacker) ?? network.internetHosts.find((h) => h.domains.length > 0);
  return server === undefined ? null : formatIpv4(server.address);
}

function plannedResolver(network: Network, router: Router | undefined): PlannedResolver | null {
  if (router?.dns.resolver !== true) return null;
  return {
    listen: router.lans.map((l) => formatIpv4(l.address)),
    upstream: resolverUpstream(network),
    rebindProtection: router.dns.rebindProtection,
  };
}

/** Where dnsmasq writes; both live in the lab's state directory. */
export interface ResolverFiles {
  readonly log: string;
  readonly pidFile: string;
}

/**
 * dnsmasq's command line (dnsmasq(8), 2.90): in the foreground so the lab owns its pid, no configuration, hosts or
 * resolv.conf of the machine's, bound to the listen addresses only (not the wildcard, not loopback), every query
 * and every rebind refusal logged to a file. It stays root (`--user`) so it can write that file in the state
 * directory; DHCP is off because no dhcp-range is given.
 */
export function dnsmasqArgs(r: PlannedResolver, files: ResolverFiles): string[] {
  const args = [
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    "--no-resolv",
    "--no-hosts",
    "--bind-interfaces",
    ...r.listen.map((a) => `--listen-address=${a}`),
    "--user=root",
    `--pid-file=${files.pidFile}`,
    "--log-queries",
    `--log-facility=${files.log}`,
  ];
  if (r.upstream !== null) args.push(`--server=${r.upstream}`);
  if (r.rebindProtection) args.push("--stop-dns-rebind");
  return args;
}

/** Splits `node:interface`. */
function endpointOf(text: string): { node: string; ifname: string } {
  const colon = text.lastIndexOf(":");
  return { node: text.slice(0, colon), ifname: text.slice(colon + 1) };
}

export function planLab(network: Network, opts: LabOptions = {}): LabPlan {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const topology = planTopology(network);
  const problems = topology.problems.map((p) => `${p.at.file}:${p.at.line}:${p.at.column}: ${p.message}`);
  const nsOf = (node: string): string => nodeNamespace(prefix, network.name, node);
  const namespaces: PlannedNamespace[] = [];

  for (const node of topology.nodes) {
    for (const i of node.interfaces)
      if (i.name.length > IFNAME_MAX) problems.push(`${node.name}: interface name ${i.name} is longer than 15`);
    const profile = node.conntrack?.profile === "openwrt" ? OPENWRT_TIMEOUTS : LINUX_TIMEOUTS;
    namespaces.push({
      name: nsOf(node.name),
      role: { kind: "node", node },
      ipBatch: nodeBatch(node),
      sysctls: nodeSysctls(node),
      conntrackSysctls: node.conntrack === null ? [] : conntrackSysctls(profile, node.conntrack.tcpBeLiberal),
      offloadOff: node.interfaces.map((i) => i.name),
      rulesets: rulesetLoads(node),
      services: listenerServices(node.services),
      resolver:
        node.kind === "router"
          ? plannedResolver(
              network,
              network.routers.find((r) => r.name === node.name),
            )
          : null,
    });
  }

  const links: VethPair[] = [];
  const segments: PlannedSegment[] = topology.segments.filter((s) => s.endpoints.length > 0);
  for (const seg of segments) {
    const ends = seg.endpoints.map(endpointOf);
    if (ends.length === 2) {
      links.push({
        a: { namespace: nsOf(ends[0].node), ifname: ends[0].ifname },
        b: { namespace: nsOf(ends[1].node), ifname: ends[1].ifname },
        segment: seg.name,
      });
      continue;
    }
    // A shared segment is a bridge in a namespace of its own; its ports get short generated names.
    const segNs = segmentNamespace(prefix, network.name, seg.name);
    const ports = ends.map((_, k) => `p${k}`);
    for (const [k, e] of ends.entries())
      links.push({
        a: { namespace: nsOf(e.node), ifname: e.ifname },
        b: { namespace: segNs, ifname: ports[k] },
        segment: seg.name,
      });
    namespaces.push({
      name: segNs,
      role: { kind: "segment", segment: seg.name },
      ipBatch: [
        "link set lo up",
        // STP off: ports forward at once instead of listening and learning for the forward delay first.
        `link add ${BRIDGE} type bridge stp_state 0`,
        ...ports.map((p) => `link set ${p} master ${BRIDGE}`),
        ...ports.map((p) => `link set ${p} up`),
        `link set ${BRIDGE} up`,
      ],
      // The bridge is a wire: no addresses of its own, no router solicitations or MLD reports in the captures.
      sysctls: ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"],
      conntrackSysctls: [],
      offloadOff: [],
      rulesets: [],
      services: [],
      resolver: null,
    });
  }

  const hostBatch = links.map(
    (l) => `link add ${l.a.ifname} netns ${l.a.namespace} type veth peer name ${l.b.ifname} netns ${l.b.namespace}`,
  );
  return { network: network.name, prefix, namespaces, links, hostBatch, problems };
}
