// The twin on one event clock: nodes (routers and hosts, each running the engine's datapath and a host stack)
// joined by segments, all randomness drawn from generators seeded from one seed and the node's name, so the same
// description and seed give the same packets, the same captures and the same trace. The API takes programmatic
// descriptions (addresses as text, interfaces by name); mapping the YAML model onto it is the model's job.

import { Datapath, SeededRng } from "../engine/index.js";
import type { DatapathOptions, Family, InterfaceConfig } from "../engine/index.js";
import type { Ruleset } from "../engine/filter/index.js";
import { RouteType } from "../engine/route/index.js";
import type { RouteSpec } from "../engine/route/index.js";
import { ipv6ToWords, parseIp, parsePrefix } from "../wire/address.js";
import { EventClock } from "./clock.js";
import type { RunOptions, RunResult } from "./clock.js";
import type { IsnChooser, ServiceSpec } from "./host-stack.js";
import { SimNode } from "./node.js";
import type { NodeKind, SimStep } from "./node.js";
import { writePcaps } from "./pcap-files.js";
import { Segment } from "./segment.js";

export interface SimulationOptions {
  /** Seed of every node's generator (ports, ISNs, conntrack hashing); default 1. */
  readonly seed?: number;
  /** Record packets per segment with comments, and the step log; default true (benchmarks turn it off). */
  readonly capture?: boolean;
}

export interface InterfaceSpec {
  readonly name: string;
  /** `192.168.1.1/24`, `2001:db8:1::1/64`; a bare address is a /32 or /128. */
  readonly addresses?: readonly string[];
  readonly rpFilter?: 0 | 1 | 2;
}

export interface RouteText {
  /** `default`, `default6`, or a prefix. */
  readonly to: string;
  /** Gateway address; absent for an on-link route. */
  readonly via?: string;
  /** Output interface; default: the interface whose subnet holds the gateway. */
  readonly dev?: string;
  readonly type?: "unicast" | "blackhole" | "unreachable" | "prohibit";
}

export interface NodeSpec {
  readonly interfaces: readonly InterfaceSpec[];
  readonly routes?: readonly RouteText[];
  readonly ruleset?: Ruleset;
  readonly rpFilter?: 0 | 1 | 2;
  readonly conntrack?: DatapathOptions["conntrack"];
  readonly nat?: DatapathOptions["nat"];
  readonly services?: readonly ServiceSpec[];
  /** Initial sequence numbers of the node's TCP connections (default: drawn from its generator). */
  readonly isn?: IsnChooser;
}

export interface ConnectSpec {
  /** One-way delay of the segment in ms; default 1. */
  readonly delayMs?: number;
}

export interface SetupError {
  readonly kind: "setup";
  readonly message: string;
}

export type SetupResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: SetupError };

const fail = (message: string): { readonly ok: false; readonly error: SetupError } => ({
  ok: false,
  error: { kind: "setup", message },
});

const DEFAULT_DELAY_MS = 1;

/** An address as the engine holds it: IPv4 in word 0, IPv6 as four big-endian words. */
export function addressWords(text: string): { family: Family; words: Uint32Array } | null {
  const a = parseIp(text);
  if (a === null) return null;
  const words = new Uint32Array(4);
  if (a.family === 4) words[0] = a.v4;
  else ipv6ToWords(a.v6, 0, words);
  return { family: a.family, words };
}

/** A 32-bit FNV-1a of a node name, mixed into the seed so each node's generator is its own. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Simulation {
  readonly clock = new EventClock();
  readonly seed: number;
  readonly capture: boolean;
  readonly nodes = new Map<string, SimNode>();
  readonly segments = new Map<string, Segment>();
  /** Every walk of every packet through every node, in time order (empty when capture is off). */
  readonly steps: SimStep[] = [];

  constructor(options: SimulationOptions = {}) {
    this.seed = options.seed ?? 1;
    this.capture = options.capture ?? true;
  }

  get now(): number {
    return this.clock.now;
  }

  addRouter(name: string, spec: NodeSpec): SetupResult<SimNode> {
    return this.addNode(name, "router", spec);
  }

  addHost(name: string, spec: NodeSpec): SetupResult<SimNode> {
    return this.addNode(name, "host", spec);
  }

  node(name: string): SimNode | undefined {
    return this.nodes.get(name);
  }

  /** Joins `node:interface` endpoints into a segment (a LAN, or a link when there are two). */
  connect(segmentName: string, endpoints: readonly string[], spec: ConnectSpec = {}): SetupResult<Segment> {
    if (this.segments.has(segmentName)) return fail(`segment ${segmentName} already exists`);
    const plugs: { node: SimNode; ifIndex: number }[] = [];
    for (const ep of endpoints) {
      const colon = ep.indexOf(":");
      if (colon < 0) return fail(`endpoint "${ep}" must be node:interface`);
      const node = this.nodes.get(ep.slice(0, colon));
      if (node === undefined) return fail(`endpoint "${ep}": no node ${ep.slice(0, colon)}`);
      const ifIndex = node.datapath.interfaceIndex(ep.slice(colon + 1));
      if (ifIndex < 0) return fail(`endpoint "${ep}": node ${node.name} has no interface ${ep.slice(colon + 1)}`);
      if (node.ports[ifIndex] !== null) return fail(`endpoint "${ep}" is already connected`);
      plugs.push({ node, ifIndex });
    }
    const delay = spec.delayMs ?? DEFAULT_DELAY_MS;
    if (!(delay >= 0)) return fail(`segment ${segmentName}: delay must be ≥ 0 ms`);
    const segment = new Segment(segmentName, delay, this.clock, this.capture);
    for (const p of plugs) p.node.plug(p.ifIndex, segment);
    this.segments.set(segmentName, segment);
    return { ok: true, value: segment };
  }

  /** Runs the clock (see EventClock.run). */
  run(options: RunOptions = {}): RunResult {
    return this.clock.run(options);
  }

  /** Writes one pcapng per segment into `dir` (which must exist); returns the paths. */
  writePcaps(dir: string): string[] {
    return writePcaps(dir, this.segments.values());
  }

  private addNode(name: string, kind: NodeKind, spec: NodeSpec): SetupResult<SimNode> {
    if (this.nodes.has(name)) return fail(`node ${name} already exists`);
    const interfaces: InterfaceConfig[] = [];
    for (const i of spec.interfaces) {
      const addresses: { family: Family; address: Uint32Array; prefixLength: number }[] = [];
      for (const text of i.addresses ?? []) {
        const slash = text.indexOf("/");
        const a = addressWords(slash < 0 ? text : text.slice(0, slash));
        const p = parsePrefix(text);
        if (a === null || p === null) return fail(`node ${name} interface ${i.name}: bad address ${text}`);
        addresses.push({ family: a.family, address: a.words, prefixLength: p.prefix.len });
      }
      interfaces.push({ name: i.name, addresses, ...(i.rpFilter !== undefined ? { rpFilter: i.rpFilter } : {}) });
    }
    const routes: RouteSpec[] = [];
    for (const r of spec.routes ?? []) {
      const route = resolveRoute(r, interfaces);
      if (!route.ok) return fail(`node ${name}: ${route.error.message}`);
      routes.push(route.value);
    }
    const rng = new SeededRng((this.seed ^ nameHash(name)) >>> 0);
    const built = Datapath.create({
      name,
      interfaces,
      routes,
      forwarding: kind === "router",
      rng,
      ...(spec.ruleset !== undefined ? { ruleset: spec.ruleset } : {}),
      ...(spec.rpFilter !== undefined ? { rpFilter: spec.rpFilter } : {}),
      ...(spec.conntrack !== undefined ? { conntrack: spec.conntrack } : {}),
      ...(spec.nat !== undefined ? { nat: spec.nat } : {}),
    });
    if (!built.ok) return fail(`node ${name}: ruleset does not load: ${built.error.message}`);
    const node = new SimNode(
      name,
      kind,
      built.value,
      this.clock,
      rng,
      spec.services ?? [],
      spec.isn ?? null,
      this.capture,
      this.capture ? this.steps : null,
    );
    this.nodes.set(name, node);
    return { ok: true, value: node };
  }
}

const ROUTE_TYPES = {
  unicast: RouteType.UNICAST,
  blackhole: RouteType.BLACKHOLE,
  unreachable: RouteType.UNREACHABLE,
  prohibit: RouteType.PROHIBIT,
} as const;

function resolveRoute(r: RouteText, interfaces: readonly InterfaceConfig[]): SetupResult<RouteSpec> {
  let family: Family;
  let prefix: Uint32Array;
  let prefixLength: number;
  if (r.to === "default" || r.to === "default6") {
    family = r.to === "default" ? 4 : 6;
    prefix = new Uint32Array(4);
    prefixLength = 0;
  } else {
    const p = parsePrefix(r.to);
    const slash = r.to.indexOf("/");
    const a = addressWords(slash < 0 ? r.to : r.to.slice(0, slash));
    if (p === null || a === null) return fail(`route to ${r.to}: not a prefix`);
    family = a.family;
    prefix = a.words;
    prefixLength = p.prefix.len;
  }
  let gateway: Uint32Array | null = null;
  if (r.via !== undefined) {
    const g = addressWords(r.via);
    if (g === null || g.family !== family) return fail(`route to ${r.to}: bad gateway ${r.via}`);
    gateway = g.words;
  }
  const type = ROUTE_TYPES[r.type ?? "unicast"];
  let oif = -1;
  if (r.dev !== undefined) {
    oif = interfaces.findIndex((i) => i.name === r.dev);
    if (oif < 0) return fail(`route to ${r.to}: no interface ${r.dev}`);
  } else if (gateway !== null) {
    oif = interfaces.findIndex((i) => (i.addresses ?? []).some((a) => a.family === family && covers(a, gateway)));
    if (oif < 0) return fail(`route to ${r.to}: gateway ${r.via ?? ""} is on no interface's subnet`);
  } else if (type === RouteType.UNICAST) {
    return fail(`route to ${r.to}: needs a gateway (via) or an interface (dev)`);
  }
  return {
    ok: true,
    value: { family, prefix, prefixLength, type, ...(oif >= 0 ? { oif } : {}), gateway },
  };
}

function covers(a: { address: ArrayLike<number>; prefixLength: number }, addr: Uint32Array): boolean {
  let bits = a.prefixLength;
  for (let w = 0; w < 4 && bits > 0; w++) {
    const n = Math.min(bits, 32);
    const mask = n === 32 ? 0xffffffff : ~(0xffffffff >>> n) >>> 0;
    if (((a.address[w] ^ addr[w]) & mask) >>> 0 !== 0) return false;
    bits -= n;
  }
  return true;
}
