// Defense in depth, counted by ablation (ARCHITECTURE.md layer 8, "defense-in-depth layer count per service"): a
// control is a layer protecting a service from an attacker position when it alone stops the attempt. Each
// service is tried with real packets on three variants of the twin: both controls removed (does the position
// reach it at all?), the host firewall removed (does the router filter stop it?), and the router filter replaced
// by accept-all base chains with NAT and port forwards kept (does the host firewall stop it?). "Service binding"
// is not counted: the model cannot say a service listens on loopback or one address only.

import type { Ruleset } from "../engine/filter/index.js";
import { parseNftText, writeNftText } from "../config/nftables/index.js";
import type { Firewall, Host, Network, Proto, Router } from "../model/index.js";
import { addressWords } from "../sim/index.js";
import { buildTwin } from "../sim/twin.js";
import type { Twin } from "../sim/twin.js";
import { formatIpv4 } from "../wire/address.js";
import * as ipv4 from "../wire/ipv4.js";

export type LayerName = "router filter" | "host firewall";

/** Where an attacker stands: on the internet (Mallory), or a device of its own plugged into a LAN. */
export type Position = { readonly kind: "internet" } | { readonly kind: "lan"; readonly lan: string };

export interface PositionLayers {
  /** `internet` or `lan:NAME` */
  readonly from: string;
  /** With every filter removed the position reaches the service (else no filter is needed from here). */
  readonly reachable: boolean;
  readonly layers: readonly LayerName[];
}

export interface ServiceLayers {
  /** `host:port/proto` */
  readonly service: string;
  readonly host: string;
  readonly port: number;
  readonly proto: Proto;
  readonly name: string;
  /** Every independent control that stops at least one position which could otherwise reach the service. */
  readonly layers: readonly LayerName[];
  readonly positions: readonly PositionLayers[];
}

export interface LayerOptions {
  readonly seed?: number;
}

type Variant = "bare" | "no-host-firewall" | "no-router-filter";
const VARIANTS: readonly Variant[] = ["bare", "no-host-firewall", "no-router-filter"];
const LAYER_ORDER: readonly LayerName[] = ["router filter", "host firewall"];

const ATTEMPT_MS = 500;
const UDP_PROTOCOL = 17;
const DPORT_OFFSET = 2;
/** The source port of every attempt from one position; dports tell the attempts apart. */
const PROBE_UDP_SPORT = 41000;
/** Name of the device a LAN position adds; the model's names are letters, digits, `-` and `_`. */
const LAN_DEVICE = "layer-probe";
const HOST_BITS_IPV4 = 32;
const PROBE = new TextEncoder().encode("mallory layer probe\n");

export function positionName(p: Position): string {
  return p.kind === "internet" ? "internet" : `lan:${p.lan}`;
}

function routerOf(network: Network, host: Host): Router | undefined {
  return network.routers.find((r) => r.lans.some((l) => l.lan === host.lan));
}

/** The ruleset with every filter-type base chain emptied to `policy accept`; NAT chains and jump targets kept. */
export function acceptAllFilter(ruleset: Ruleset): Ruleset {
  return {
    tables: ruleset.tables.map((t) => ({
      ...t,
      chains: t.chains.map((c) =>
        c.base !== undefined && c.base.type !== "nat" ? { ...c, base: { ...c.base, policy: "accept" }, rules: [] } : c,
      ),
    })),
  };
}

/** A router firewall with its filtering removed (NAT kept), as inline text; null when it does not parse. */
function openRouterFirewall(fw: Firewall): Firewall | null {
  if (fw.text === null) return null;
  const parsed = parseNftText(fw.text, { source: fw.kind === "file" ? fw.resolvedPath : fw.at.file });
  if (parsed.ruleset === null) return null;
  return { kind: "inline", text: writeNftText(acceptAllFilter(parsed.ruleset)), at: fw.at, lineExact: false };
}

/**
 * The network with a layer (or both) taken away everywhere: every host firewall, every router filter. An attempt
 * aims at one host's service, so the other hosts' firewalls do not change its fate and one twin serves them all.
 */
function ablate(network: Network, variant: Variant): Network {
  const dropHosts = variant === "bare" || variant === "no-host-firewall";
  const openRouters = variant === "bare" || variant === "no-router-filter";
  return {
    ...network,
    hosts: dropHosts ? network.hosts.map((h) => (h.firewall === null ? h : { ...h, firewall: null })) : network.hosts,
    routers: openRouters
      ? network.routers.map((r) => (r.firewall === null ? r : { ...r, firewall: openRouterFirewall(r.firewall) }))
      : network.routers,
  };
}

/** A free address near the top of a LAN's IPv4 prefix for the position's own device. */
function freeAddress(network: Network, lan: string): number | null {
  const l = network.lans.find((x) => x.name === lan);
  if (l === undefined) return null;
  const used = new Set<number>([
    ...network.hosts.filter((h) => h.lan === lan).map((h) => h.address),
    ...network.routers.flatMap((r) => r.lans.filter((x) => x.lan === lan).map((x) => x.address)),
  ]);
  const size = 2 ** (HOST_BITS_IPV4 - l.prefix.len);
  for (let i = size - 2; i > 0; i--) {
    const a = (l.prefix.addr + i) >>> 0;
    if (!used.has(a)) return a;
  }
  return null;
}

/** The network with an attacker's device on a LAN (no services, no firewall). */
function withDevice(network: Network, lan: string): Network | null {
  const address = freeAddress(network, lan);
  const at = network.lans.find((l) => l.name === lan)?.at;
  if (address === null || at === undefined) return null;
  const device: Host = {
    name: LAN_DEVICE,
    lan,
    address,
    ipv6: null,
    role: "other",
    browses: false,
    services: [],
    firewall: null,
    at,
  };
  return { ...network, hosts: [...network.hosts, device] };
}

/**
 * Lets the internet address a LAN directly: the ISP routes each router's LAN prefixes to its WAN address, as an
 * attacker on the ISP's segment (or a careless ISP) can. Without it NAT alone would hide the LAN, and NAT is not a
 * filtering layer.
 */
function routeLansFromIsp(twin: Twin, network: Network): void {
  const isp = twin.node("isp");
  if (isp === undefined) return;
  network.routers.forEach((r, i) => {
    const oif = isp.datapath.interfaceIndex(`cust${i}`);
    if (oif < 0) return;
    for (const rl of r.lans) {
      const lan = network.lans.find((l) => l.name === rl.lan);
      if (lan === undefined) continue;
      isp.datapath.fib.addRoute({
        family: 4,
        prefix: [lan.prefix.addr, 0, 0, 0],
        prefixLength: lan.prefix.len,
        oif,
        gateway: [r.wan.address, 0, 0, 0],
      });
    }
  });
}

function dportOf(packet: Uint8Array, protocol: number): number | null {
  const ip = ipv4.parse(packet);
  if (!ip.ok || ip.value.protocol !== protocol) return null;
  const l4 = ip.value.payload;
  return (l4[DPORT_OFFSET] << 8) | l4[DPORT_OFFSET + 1];
}

/** Destinations that lead to a host's service from the internet: its LAN address, and each port forward to it. */
function internetDestinations(
  network: Network,
  host: Host,
  port: number,
  proto: Proto,
): { addr: number; port: number }[] {
  const out = [{ addr: host.address, port }];
  const router = routerOf(network, host);
  if (router !== undefined)
    for (const pf of router.portForwards)
      if (pf.to === host.name && pf.toPort === port && pf.proto === proto)
        out.push({ addr: router.wan.address, port: pf.port });
  return out;
}

/**
 * Tries every service of every LAN host from one position on one variant; returns the services reached
 * (`host:port/proto`): TCP when a handshake completes, UDP when the datagram is delivered to the host.
 */
function attempt(network: Network, variant: Variant, position: Position, seed: number): Set<string> | null {
  let net = ablate(network, variant);
  let client: string;
  if (position.kind === "lan") {
    const n = withDevice(net, position.lan);
    if (n === null) return null;
    net = n;
    client = LAN_DEVICE;
  } else {
    const attacker = net.internetHosts.find((h) => h.attacker) ?? net.internetHosts.at(0);
    if (attacker === undefined) return null;
    client = attacker.name;
  }
  const built = buildTwin(net, { seed, capture: false });
  if (!built.ok) return null;
  const twin = built.twin;
  if (position.kind === "internet") routeLansFromIsp(twin, net);
  const from = twin.node(client);
  if (from === undefined) return null;
  from.stack.bindUdp(PROBE_UDP_SPORT, () => null);

  const reached = new Set<string>();
  for (const host of network.hosts) {
    const target = twin.node(host.name);
    if (target === undefined || host.services.length === 0) continue;
    const udpPorts = new Set(host.services.filter((s) => s.proto === "udp").map((s) => s.port));
    if (udpPorts.size > 0)
      target.stack.sniff = (bytes) => {
        const d = dportOf(bytes, UDP_PROTOCOL);
        if (d !== null && udpPorts.has(d)) reached.add(`${host.name}:${d}/udp`);
      };
    for (const s of host.services) {
      const key = `${host.name}:${s.port}/${s.proto}`;
      const dests =
        position.kind === "internet"
          ? internetDestinations(net, host, s.port, s.proto)
          : [{ addr: host.address, port: s.port }];
      for (const d of dests) {
        const dst = addressWords(formatIpv4(d.addr))?.words;
        if (dst === undefined) continue;
        if (s.proto === "udp") from.stack.sendUdp(4, dst, d.port, PROBE_UDP_SPORT, PROBE);
        else
          from.stack.connect(4, dst, d.port, {
            synRetries: 0,
            onEstablished: () => {
              reached.add(key);
            },
          });
      }
    }
  }
  twin.sim.run({ until: twin.sim.now + ATTEMPT_MS });
  return reached;
}

/** The positions that matter for a network: the internet (when it has hosts) and a device on every LAN. */
export function positionsOf(network: Network): Position[] {
  const out: Position[] = [];
  if (network.internetHosts.length > 0) out.push({ kind: "internet" });
  for (const l of network.lans)
    if (network.routers.some((r) => r.lans.some((x) => x.lan === l.name))) out.push({ kind: "lan", lan: l.name });
  return out;
}

/** Counts the independent layers protecting every service of every LAN host, by ablation on the twin. */
export function countLayers(network: Network, opts: LayerOptions = {}): ServiceLayers[] {
  const seed = opts.seed ?? 1;
  const anyHostFirewall = network.hosts.some((h) => h.firewall !== null);
  const results = positionsOf(network).map((position) => {
    const byVariant = new Map<Variant, Set<string> | null>();
    for (const v of VARIANTS)
      // Without any host firewall, opening the router leaves exactly the bare network: one twin fewer.
      byVariant.set(
        v,
        v === "no-router-filter" && !anyHostFirewall
          ? (byVariant.get("bare") ?? null)
          : attempt(network, v, position, seed),
      );
    return { position, byVariant };
  });
  const out: ServiceLayers[] = [];
  for (const host of network.hosts)
    for (const s of host.services) {
      const key = `${host.name}:${s.port}/${s.proto}`;
      const per: PositionLayers[] = results.map(({ position, byVariant }) => {
        const reachedIn = (v: Variant): boolean => byVariant.get(v)?.has(key) === true;
        const reachable = reachedIn("bare");
        const layers: LayerName[] = [];
        if (reachable && !reachedIn("no-host-firewall")) layers.push("router filter");
        if (reachable && host.firewall !== null && !reachedIn("no-router-filter")) layers.push("host firewall");
        return { from: positionName(position), reachable, layers };
      });
      const union = new Set(per.flatMap((p) => p.layers));
      out.push({
        service: key,
        host: host.name,
        port: s.port,
        proto: s.proto,
        name: s.name,
        layers: LAYER_ORDER.filter((l) => union.has(l)),
        positions: per,
      });
    }
  return out;
}
