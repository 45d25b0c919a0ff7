// The twin built from a network model (ARCHITECTURE.md layer 6): the internet hosts and an ISP router
// (buildInternet), each router with its WAN/LAN interfaces, routes, sysctls, NAT behaviour and firewall, each LAN as
// a segment, hosts with their services and host firewalls. Every rule keeps the YAML place it was written at
// (firewallPosition), and port forwards become DNAT rules whose origin is their YAML entry, so a verdict names a
// line the user can open. Attacks and the CLI read back who stopped a flow from the recorded steps.

import type { Disposition } from "../engine/index.js";
import type { Cause, Origin, Ruleset } from "../engine/filter/index.js";
import { parseNftText } from "../config/nftables/index.js";
import { firewallPosition } from "../model/index.js";
import type { Firewall, Host, ModelDiagnostic, Network, Router, Service, SourcePos } from "../model/index.js";
import { formatIpv4 } from "../wire/address.js";
import type { IsnChooser, ServiceSpec, TcpHandler } from "./host-stack.js";
import { buildInternet } from "./internet.js";
import type { SimNode, SimStep } from "./node.js";
import { Simulation } from "./simulation.js";
import type { InterfaceSpec } from "./simulation.js";
import { ISP_NODE, planTopology, portForwardTable, wanSegmentName } from "./topology.js";
import type { PlannedNode } from "./topology.js";

/** The layers that can stop an attack (SCENARIOS.md "stopped by"). */
export type StopLayer = "router filter" | "host firewall" | "upnp" | "dns" | "nat" | "routing" | "service";

/** Who stopped a flow: the model node, the layer, and the rule (`file:line:col`, or a description). */
export interface StoppedBy {
  readonly node: string;
  readonly layer: StopLayer;
  readonly rule: string;
  /** The rule as written (one line of the firewall), when known. */
  readonly text?: string;
}

/** One packet walk through one node, in the `simulate --json` step form (ARCHITECTURE.md). */
export interface TwinStep {
  /** Simulated milliseconds. */
  readonly time: number;
  readonly node: string;
  /** The hook where the walk ended (`input`, `forward`, `output`, `postrouting`, `routing`, `parse`…). */
  readonly hook: string;
  /** `src:sport > dst:dport` */
  readonly packet: string;
  /** What the node did, with the rules that decided (file:line:col). */
  readonly verdict: string;
}

export type TwinNodeKind = "router" | "host" | "internet" | "isp";

export interface TwinOptions {
  /** Seed of every node's generator; default 1. */
  readonly seed?: number;
  /** Record captures and steps; default true. */
  readonly capture?: boolean;
  /** Initial sequence numbers per model node name. */
  readonly isn?: Readonly<Record<string, IsnChooser>>;
  /**
   * Extra rulesets per model node name, loaded beside the node's own firewall (an attacker's own packet filter,
   * say). Each must use table names of its own.
   */
  readonly extraRulesets?: Readonly<Record<string, Ruleset>>;
}

/** Selects packets by their endpoints (any field left out matches anything); addresses as text. */
export interface FlowFilter {
  readonly src?: string;
  readonly sport?: number;
  readonly dst?: string;
  readonly dport?: number;
}

export type TwinBuild =
  { readonly ok: true; readonly twin: Twin } | { readonly ok: false; readonly diagnostics: readonly ModelDiagnostic[] };

/** Segment delays: the LAN is switched, the internet is far (the same as the seed-home fixture). */
const LAN_DELAY_MS = 0.1;
const INTERNET_DELAY_MS = 5;
/** Every Linux node has a loopback; firewalls name it (`iif "lo" accept`), so it must exist to load them. */
const LOOPBACK: InterfaceSpec = { name: "lo", addresses: ["127.0.0.1/8", "::1/128"] };
const PORT_FORWARD_SOURCE = "port-forwards";

/** The twin: a Simulation plus the way back from simulator names and rule origins to the model. */
export class Twin {
  private readonly kinds = new Map<string, TwinNodeKind>();
  private readonly addresses = new Map<string, string>();
  /** Firewall text per node, to quote a rule by its origin. */
  private readonly firewalls = new Map<string, Firewall>();

  constructor(
    readonly network: Network,
    readonly sim: Simulation,
  ) {}

  /** The simulated node of a model node (router, host, internet host, or `isp`). */
  node(name: string): SimNode | undefined {
    return this.sim.node(name);
  }

  kind(name: string): TwinNodeKind | undefined {
    return this.kinds.get(name);
  }

  /** The IPv4 address of a host or internet host (a router's is its WAN address), as text; null if unknown. */
  address(name: string): string | null {
    return this.addresses.get(name) ?? null;
  }

  /** The router that serves a host's LAN, or null when the LAN has none. */
  routerFor(hostName: string): Router | null {
    const host = this.network.hosts.find((h) => h.name === hostName);
    if (host === undefined) return null;
    return this.network.routers.find((r) => r.lans.some((l) => l.lan === host.lan)) ?? null;
  }

  /** Name of the segment between a router's WAN interface and the ISP. */
  static wanSegment(routerName: string): string {
    return wanSegmentName(routerName);
  }

  /** Every packet walk so far (or since `fromIndex` of the step log), in the JSON contract's form. */
  steps(fromIndex = 0): TwinStep[] {
    return this.sim.steps.slice(fromIndex).map(toTwinStep);
  }

  /**
   * Who stopped a flow: the first recorded walk of a packet matching `flow` (at or after step `fromIndex`) that
   * ended dropped or rejected, named by node, layer (router filter vs host firewall by the node's kind) and rule.
   */
  stoppedByFromSteps(flow: FlowFilter | ((s: SimStep) => boolean), fromIndex = 0): StoppedBy | null {
    const test = typeof flow === "function" ? flow : (s: SimStep) => flowMatches(flow, s.packet);
    const steps = this.sim.steps;
    for (let i = fromIndex; i < steps.length; i++) {
      const s = steps[i];
      if (!test(s)) continue;
      const stop = this.stopOf(s);
      if (stop !== null) return stop;
    }
    return null;
  }

  /** The line of a node's firewall that an origin points at, trimmed; undefined when not known. */
  ruleText(nodeName: string, origin: Origin): string | undefined {
    const fw = this.firewalls.get(nodeName);
    if (fw === undefined || fw.text === null) return undefined;
    let line: number;
    if (fw.kind === "file") {
      if (origin.source !== fw.resolvedPath) return undefined;
      line = origin.line;
    } else {
      if (!fw.lineExact || origin.source !== fw.at.file) return undefined;
      line = origin.line - fw.at.line + 1;
    }
    const text = fw.text.split("\n").at(line - 1);
    return text === undefined ? undefined : text.trim();
  }

  private stopOf(s: SimStep): StoppedBy | null {
    const d = s.disposition;
    if (d.kind !== "dropped" && d.kind !== "rejected") return null;
    const kind = this.kinds.get(s.node);
    const filterLayer: StopLayer = kind === "router" || kind === "isp" ? "router filter" : "host firewall";
    if (d.kind === "rejected") return this.fromCause(s.node, filterLayer, d.verdict.by);
    switch (d.reason.kind) {
      case "verdict":
        return this.fromCause(s.node, filterLayer, d.reason.verdict.by);
      case "rp-filter":
        return { node: s.node, layer: "routing", rule: `rp_filter (${d.reason.reason})` };
      case "no-route":
        return { node: s.node, layer: "routing", rule: d.reason.cause };
      case "not-forwarding":
        return { node: s.node, layer: "routing", rule: "forwarding is off" };
      case "nat":
        return { node: s.node, layer: "nat", rule: `nat ${d.reason.reason}` };
      case "helper":
        return { node: s.node, layer: "nat", rule: `${d.reason.helper} helper: ${d.reason.message}` };
      default:
        return { node: s.node, layer: "routing", rule: d.reason.kind };
    }
  }

  private fromCause(node: string, layer: StopLayer, by: Cause): StoppedBy {
    switch (by.kind) {
      case "rule": {
        const o = by.rule.origin;
        const text = this.ruleText(node, o);
        const rule = `${o.source}:${o.line}:${o.column}`;
        return text !== undefined ? { node, layer, rule, text } : { node, layer, rule };
      }
      case "policy": {
        const o = by.chain.origin;
        const text = this.ruleText(node, o);
        const rule = `${o.source}:${o.line}:${o.column}`;
        return { node, layer, rule, text: text ?? `policy of chain ${by.chain.chain}` };
      }
      case "no-chain":
        return { node, layer, rule: `no chain on ${by.hook}` };
    }
  }

  /** @internal building */
  register(name: string, kind: TwinNodeKind, address: string | null, firewall: Firewall | null): void {
    this.kinds.set(name, kind);
    if (address !== null) this.addresses.set(name, address);
    if (firewall !== null) this.firewalls.set(name, firewall);
  }
}

function hookOf(d: Disposition, direction: "receive" | "send"): string {
  switch (d.kind) {
    case "delivered":
      return "input";
    case "forwarded":
      return "forward";
    case "sent":
      return direction === "send" ? "output" : "forward";
    case "dropped":
    case "rejected":
      return d.hook;
  }
}

function toTwinStep(s: SimStep): TwinStep {
  const prefix = `${s.node}: `;
  const verdict = s.summary.startsWith(prefix) ? s.summary.slice(prefix.length) : s.summary;
  return { time: s.timeMs, node: s.node, hook: hookOf(s.disposition, s.direction), packet: s.packet, verdict };
}

/** Parses `src:sport > dst:dport` (IPv6 in brackets) as describeEndpoints writes it. */
function endpointsOf(packet: string): { src: string; sport: number; dst: string; dport: number } | null {
  const m = /^\[?([^\s\]]+?)\]?:(\d+) > \[?([^\s\]]+?)\]?:(\d+)$/.exec(packet);
  if (m === null) return null;
  return { src: m[1], sport: Number(m[2]), dst: m[3], dport: Number(m[4]) };
}

function flowMatches(f: FlowFilter, packet: string): boolean {
  const e = endpointsOf(packet);
  if (e === null) return false;
  return (
    (f.src === undefined || f.src === e.src) &&
    (f.sport === undefined || f.sport === e.sport) &&
    (f.dst === undefined || f.dst === e.dst) &&
    (f.dport === undefined || f.dport === e.dport)
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Building.

function diag(at: SourcePos, code: string, message: string): ModelDiagnostic {
  return { severity: "error", code, message, file: at.file, line: at.line, column: at.column };
}

/** Rewrites every `origin` in a ruleset IR (tables, chains, rules, sets) with `map`. */
function remapOrigins<T>(value: T, map: (o: Origin) => Origin): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== "object" || ArrayBuffer.isView(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = k === "origin" && isOrigin(x) ? map(x) : walk(x);
    return out;
  };
  return walk(value) as T;
}

function isOrigin(x: unknown): x is Origin {
  return typeof x === "object" && x !== null && "source" in x && "line" in x && "column" in x;
}

/** A firewall's text parsed to IR with origins in the YAML file (inline) or the ruleset file. */
function firewallRuleset(fw: Firewall, diagnostics: ModelDiagnostic[]): Ruleset | null {
  if (fw.text === null) {
    const what = fw.kind === "file" ? `firewall file ${fw.path}` : "firewall";
    diagnostics.push(diag(fw.at, "firewall-not-read", `${what} was not read (load the network with loadNetwork)`));
    return null;
  }
  const source = fw.kind === "file" ? fw.resolvedPath : fw.at.file;
  const parsed = parseNftText(fw.text, { source });
  const toYaml = (line: number, column: number): SourcePos => firewallPosition(fw, line, column);
  for (const d of parsed.diagnostics) {
    if (d.severity === "warning") continue;
    const at = fw.kind === "file" ? { file: d.source, line: d.line, column: d.column } : toYaml(d.line, d.column);
    diagnostics.push(diag(at, "firewall", d.message));
  }
  if (parsed.ruleset === null) return null;
  if (fw.kind === "file") return parsed.ruleset;
  return remapOrigins(parsed.ruleset, (o) => {
    const p = toYaml(o.line, o.column);
    return { source: p.file, line: p.line, column: p.column };
  });
}

/**
 * A router's port forwards as a DNAT table of their own (what fw4 makes of a `redirect`): one rule per entry,
 * whose origin is the entry in the YAML. The forward chain still decides whether the translated packet passes.
 */
function portForwardRuleset(
  router: Router,
  hosts: ReadonlyMap<string, Host>,
  diagnostics: ModelDiagnostic[],
): Ruleset | null {
  const forwards = portForwardTable(router, hosts);
  if (!forwards.ok) {
    diagnostics.push(diag(forwards.at, "unknown-host", forwards.message));
    return null;
  }
  const table = forwards.table;
  if (table === null) return null;
  const parsed = parseNftText(table.text, { source: PORT_FORWARD_SOURCE });
  if (parsed.ruleset === null) {
    for (const d of parsed.diagnostics)
      if (d.severity !== "warning") diagnostics.push(diag(router.at, "port-forward", d.message));
    return null;
  }
  return remapOrigins(parsed.ruleset, (o) => {
    const index = o.line - table.firstRuleLine;
    const at = index >= 0 && index < table.origins.length ? table.origins[index] : router.at;
    return { source: at.file, line: at.line, column: at.column };
  });
}

function mergeRulesets(...sets: (Ruleset | null | undefined)[]): Ruleset | undefined {
  const present = sets.filter((r): r is Ruleset => r !== null && r !== undefined);
  if (present.length === 0) return undefined;
  return { tables: present.flatMap((r) => r.tables) };
}

function serviceSpecs(services: readonly Service[]): ServiceSpec[] {
  const encoder = new TextEncoder();
  return services.map((s): ServiceSpec => {
    if (s.proto === "udp") return { protocol: "udp", port: s.port, name: s.name };
    if (s.banner === null) return { protocol: "tcp", port: s.port, name: s.name };
    // A banner service speaks first as soon as the connection is accepted (RFC 4253 §4.2 for SSH).
    const banner = encoder.encode(s.banner);
    const handler: TcpHandler = { onEstablished: (c) => c.send(banner) };
    return { protocol: "tcp", port: s.port, name: s.name, handler };
  });
}

const maybe = <K extends string, V>(key: K, v: V | undefined): Partial<Record<K, V>> =>
  v === undefined ? {} : ({ [key]: v } as Record<K, V>);

/** Builds the twin of a network; firewall text that does not parse or load is a diagnostic at its YAML place. */
export function buildTwin(network: Network, opts: TwinOptions = {}): TwinBuild {
  const sim = new Simulation({ seed: opts.seed ?? 1, capture: opts.capture ?? true });
  const twin = new Twin(network, sim);
  const diagnostics: ModelDiagnostic[] = [];
  const hostsByName = new Map(network.hosts.map((h) => [h.name, h]));
  const plan = planTopology(network);
  const planned = new Map<string, PlannedNode>(plan.nodes.map((n) => [n.name, n]));
  const shapeOf = (name: string): PlannedNode => planned.get(name)!;
  const isn = (name: string): IsnChooser | undefined => opts.isn?.[name];
  const extra = (name: string): Ruleset | undefined => opts.extraRulesets?.[name];

  // Routers.
  for (const r of network.routers) {
    const own = r.firewall !== null ? firewallRuleset(r.firewall, diagnostics) : null;
    const forwards = portForwardRuleset(r, hostsByName, diagnostics);
    const shape = shapeOf(r.name);
    const interfaces: InterfaceSpec[] = [...shape.interfaces, LOOPBACK];
    const node = sim.addRouter(r.name, {
      interfaces,
      routes: shape.routes,
      rpFilter: r.sysctl.rpFilter,
      conntrack: { profile: r.sysctl.conntrack, tcpBeLiberal: r.sysctl.tcpBeLiberal },
      nat: { mapping: r.nat.mapping, filtering: r.nat.filtering },
      ...maybe("ruleset", mergeRulesets(own, forwards, extra(r.name))),
      ...maybe("isn", isn(r.name)),
    });
    if (!node.ok) diagnostics.push(diag(r.firewall?.at ?? r.at, "twin-setup", node.error.message));
    twin.register(r.name, "router", formatIpv4(r.wan.address), r.firewall);
  }

  // Hosts, then one segment per LAN with its router's interface and its hosts.
  for (const h of network.hosts) {
    const shape = shapeOf(h.name);
    const own = h.firewall !== null ? firewallRuleset(h.firewall, diagnostics) : null;
    const node = sim.addHost(h.name, {
      interfaces: [...shape.interfaces, LOOPBACK],
      routes: shape.routes,
      services: serviceSpecs(h.services),
      ...maybe("ruleset", mergeRulesets(own, extra(h.name))),
      ...maybe("isn", isn(h.name)),
    });
    if (!node.ok) diagnostics.push(diag(h.firewall?.at ?? h.at, "twin-setup", node.error.message));
    twin.register(h.name, "host", formatIpv4(h.address), h.firewall);
  }
  if (diagnostics.length > 0) return { ok: false, diagnostics };

  const lanAt = new Map(network.lans.map((l) => [l.name, l.at]));
  for (const segment of plan.segments) {
    if (segment.kind !== "lan") continue;
    const seg = sim.connect(segment.name, segment.endpoints, { delayMs: LAN_DELAY_MS });
    if (!seg.ok) diagnostics.push(diag(lanAt.get(segment.name)!, "twin-setup", seg.error.message));
  }

  // The internet: one ISP router serving every router's WAN link and the public hosts.
  const internet = buildInternet(sim, {
    ...plan.internet,
    hosts: network.internetHosts.map((h, i) => ({
      ...plan.internet.hosts[i],
      services: serviceSpecs(h.services),
      ...maybe("isn", isn(h.name)),
      ...maybe("ruleset", extra(h.name)),
    })),
    delayMs: INTERNET_DELAY_MS,
  });
  if (!internet.ok) {
    diagnostics.push(diag({ file: network.source, line: 1, column: 1 }, "twin-setup", internet.error.message));
    return { ok: false, diagnostics };
  }
  twin.register(ISP_NODE, "isp", formatIpv4(network.isp.gateway), null);
  for (const h of network.internetHosts) twin.register(h.name, "internet", formatIpv4(h.address), null);
  if (diagnostics.length > 0) return { ok: false, diagnostics };
  return { ok: true, twin };
}
