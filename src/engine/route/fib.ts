// The forwarding information base of one node, modelled on Linux: a `local` table (the node's own addresses and
// the subnet broadcasts, fib_frontend.c fib_add_ifaddr) consulted before the `main` table (connected and static
// routes), as the default policy rules do (fib_rules: local 0, main 32766).
//
// Lookup structure: a multibit trie per table and family on typed arrays, four address bits per level (controlled
// prefix expansion, Srinivasan & Varghese 1999): each node has 16 slots holding a child node and the best route
// whose prefix ends inside that node. A lookup reads at most 8 (IPv4) or 32 (IPv6) nodes, remembering the last
// route met, so it never allocates and never hashes; an insert expands a prefix over the slots it covers. A binary
// trie beside it keeps each prefix's routes in metric order for inserts and listings.

import type { Family } from "../packet-meta.js";
import { NONE } from "../packet-meta.js";
import { HostRouteTable } from "./host-routes.js";

/** Route types with the kernel's RTN_* numbers (rtnetlink.h); nftables' `fib … type` uses the same values. */
export const RouteType = {
  UNSPEC: 0,
  UNICAST: 1,
  LOCAL: 2,
  BROADCAST: 3,
  ANYCAST: 4,
  MULTICAST: 5,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
} as const;
export type RouteType = (typeof RouteType)[keyof typeof RouteType];

/** Where a route came from: the node's address configuration, or a configured route. */
export type RouteOrigin = "local" | "connected" | "static";

export interface Route {
  readonly family: Family;
  /** Network address, masked to `prefixLength` (IPv4 in word 0; IPv6 as four big-endian words). */
  readonly prefix: Uint32Array;
  readonly prefixLength: number;
  readonly type: RouteType;
  /** Output interface index, NONE for blackhole/unreachable/prohibit. */
  readonly oif: number;
  /** Next hop, or null when the destination is on-link. */
  readonly gateway: Uint32Array | null;
  readonly metric: number;
  readonly table: "local" | "main";
  readonly origin: RouteOrigin;
}

export interface RouteSpec {
  family: Family;
  prefix: ArrayLike<number>;
  prefixLength: number;
  type?: RouteType;
  oif?: number;
  gateway?: ArrayLike<number> | null;
  metric?: number;
}

export type AddRouteResult =
  | { readonly ok: true; readonly route: Route }
  | { readonly ok: false; readonly reason: "bad-prefix-length" | "exists" | "needs-interface" };

/** One address configured on an interface. */
export interface InterfaceAddress {
  readonly oif: number;
  readonly family: Family;
  readonly address: Uint32Array;
  readonly prefixLength: number;
}

/** What the datapath answers when routing ends in a non-forwarding route (route.c ip_error, ip6_pkt_discard). */
export type RouteRejection =
  | { readonly kind: "silent-drop"; readonly cause: "blackhole" }
  | {
      readonly kind: "icmp-error";
      readonly cause: "no-route" | "unreachable" | "prohibit";
      readonly type: number;
      readonly code: number;
    };

const ICMP_DEST_UNREACH = 3;
const ICMP_NET_UNREACH = 0;
const ICMP_HOST_UNREACH = 1;
const ICMP_PKT_FILTERED = 13;
const ICMPV6_DEST_UNREACH = 1;
const ICMPV6_NOROUTE = 0;
const ICMPV6_ADM_PROHIBITED = 1;

const REJECT_BLACKHOLE: RouteRejection = { kind: "silent-drop", cause: "blackhole" };
const REJECT_V4_NO_ROUTE: RouteRejection = {
  kind: "icmp-error",
  cause: "no-route",
  type: ICMP_DEST_UNREACH,
  code: ICMP_NET_UNREACH,
};
const REJECT_V4_UNREACHABLE: RouteRejection = {
  kind: "icmp-error",
  cause: "unreachable",
  type: ICMP_DEST_UNREACH,
  code: ICMP_HOST_UNREACH,
};
const REJECT_V4_PROHIBIT: RouteRejection = {
  kind: "icmp-error",
  cause: "prohibit",
  type: ICMP_DEST_UNREACH,
  code: ICMP_PKT_FILTERED,
};
const REJECT_V6_NO_ROUTE: RouteRejection = {
  kind: "icmp-error",
  cause: "no-route",
  type: ICMPV6_DEST_UNREACH,
  code: ICMPV6_NOROUTE,
};
const REJECT_V6_UNREACHABLE: RouteRejection = {
  kind: "icmp-error",
  cause: "unreachable",
  type: ICMPV6_DEST_UNREACH,
  code: ICMPV6_NOROUTE,
};
const REJECT_V6_PROHIBIT: RouteRejection = {
  kind: "icmp-error",
  cause: "prohibit",
  type: ICMPV6_DEST_UNREACH,
  code: ICMPV6_ADM_PROHIBITED,
};

/**
 * How a route lookup ends for a packet to be forwarded or delivered: null when it is deliverable (unicast, local,
 * broadcast, multicast); otherwise the kernel's answer. IPv4: no route → net unreachable, `unreachable` → host
 * unreachable, `prohibit` → 3/13 (route.c ip_error); IPv6: no route/`unreachable` → 1/0, `prohibit` → 1/1
 * (route.c ip6_pkt_discard / ip6_pkt_prohibit). `blackhole` is silent in both.
 */
export function routeRejection(family: Family, route: Route | null): RouteRejection | null {
  const v4 = family === 4;
  if (route === null) return v4 ? REJECT_V4_NO_ROUTE : REJECT_V6_NO_ROUTE;
  switch (route.type) {
    case RouteType.BLACKHOLE:
      return REJECT_BLACKHOLE;
    case RouteType.UNREACHABLE:
      return v4 ? REJECT_V4_UNREACHABLE : REJECT_V6_UNREACHABLE;
    case RouteType.PROHIBIT:
      return v4 ? REJECT_V4_PROHIBIT : REJECT_V6_PROHIBIT;
    default:
      return null;
  }
}

const TRIE_ROOT = 0;
/** Node layout: [child for bit 0, child for bit 1, best route id]; the child slot is the address bit itself. */
const SLOT_BEST = 2;
const SLOTS = 3;
/** Multibit trie: address bits per level, slots per node, and the mask of one level's bits. */
const STRIDE = 4;
const FANOUT = 1 << STRIDE;
const STRIDE_MASK = FANOUT - 1;
const WORD_BITS = 32;

/** Bit `i` (0 = most significant) of an address held as big-endian 32-bit words. */
function addressBit(addr: ArrayLike<number>, i: number): number {
  return (addr[i >>> 5] >>> (31 - (i & 31))) & 1;
}

/** The `level`-th group of STRIDE bits of an address (level 0 = the most significant). */
function nibbleAt(addr: ArrayLike<number>, level: number): number {
  const bit = level * STRIDE;
  return (addr[bit >>> 5] >>> (WORD_BITS - STRIDE - (bit & (WORD_BITS - 1)))) & STRIDE_MASK;
}

/** A binary trie from prefixes to routes; each node keeps its routes ordered by metric (first = best). */
class PrefixTrie {
  private nodes = new Int32Array(SLOTS * 64).fill(NONE);
  private used = 1;
  /** Routes per node index, ordered by metric then insertion; index parallel to SLOT_BEST's route ids. */
  private readonly routesAt: Route[][] = [];
  private readonly routes: Route[] = [];
  /** Multibit trie, per slot (node * FANOUT + nibble): child node, best route id, and that route's prefix bits
   *  inside the node (1..STRIDE; 0 = none), so a longer prefix expanded earlier is not overwritten. */
  private mbChild = new Int32Array(FANOUT * 16).fill(NONE);
  private mbBest = new Int32Array(FANOUT * 16).fill(NONE);
  private mbBits = new Uint8Array(FANOUT * 16);
  private mbUsed = 1;
  /** The route id of the zero-length prefix (the default route), or NONE. */
  private rootBest = NONE;
  private readonly levels: number;

  constructor(private readonly width: number) {
    this.levels = width / STRIDE;
  }

  insert(route: Route): boolean {
    let node = TRIE_ROOT;
    for (let i = 0; i < route.prefixLength; i++) {
      const slot = node * SLOTS + addressBit(route.prefix, i);
      let next = this.nodes[slot];
      if (next === NONE) {
        next = this.allocate();
        this.nodes[slot] = next;
      }
      node = next;
    }
    const here = (this.routesAt[node] ??= []);
    if (here.some((r) => r.metric === route.metric)) return false;
    let at = here.length;
    while (at > 0 && here[at - 1].metric > route.metric) at--;
    here.splice(at, 0, route);
    this.routes.push(here[0]);
    const id = this.routes.length - 1;
    this.nodes[node * SLOTS + SLOT_BEST] = id;
    this.expand(route.prefix, route.prefixLength, id);
    return true;
  }

  /** Makes route `id` the best of prefix/len in the multibit trie: every slot the prefix covers whose stored
   *  prefix is not longer (a same-length one is this very prefix, whose best route changed). */
  private expand(prefix: ArrayLike<number>, len: number, id: number): void {
    if (len === 0) {
      this.rootBest = id;
      return;
    }
    const level = (len - 1) >>> 2;
    let node = TRIE_ROOT;
    for (let lv = 0; lv < level; lv++) {
      const slot = node * FANOUT + nibbleAt(prefix, lv);
      let next = this.mbChild[slot];
      if (next === NONE) {
        next = this.allocateMultibit();
        this.mbChild[slot] = next;
      }
      node = next;
    }
    const bits = len - level * STRIDE;
    const first = node * FANOUT + nibbleAt(prefix, level);
    const span = 1 << (STRIDE - bits);
    for (let k = 0; k < span; k++) {
      if (this.mbBits[first + k] > bits) continue;
      this.mbBest[first + k] = id;
      this.mbBits[first + k] = bits;
    }
  }

  private allocateMultibit(): number {
    if ((this.mbUsed + 1) * FANOUT > this.mbChild.length) {
      const size = this.mbChild.length * 2;
      const child = new Int32Array(size).fill(NONE);
      child.set(this.mbChild);
      this.mbChild = child;
      const best = new Int32Array(size).fill(NONE);
      best.set(this.mbBest);
      this.mbBest = best;
      const bits = new Uint8Array(size);
      bits.set(this.mbBits);
      this.mbBits = bits;
    }
    return this.mbUsed++;
  }

  /** Longest-prefix match: the last route met on the address's path through the multibit trie. */
  lookup(addr: ArrayLike<number>): Route | null {
    const child = this.mbChild;
    const bestAt = this.mbBest;
    let best = this.rootBest;
    let node = TRIE_ROOT;
    const levels = this.levels;
    for (let lv = 0; lv < levels; lv++) {
      const slot = node * FANOUT + nibbleAt(addr, lv);
      const here = bestAt[slot];
      if (here !== NONE) best = here;
      node = child[slot];
      if (node === NONE) break;
    }
    return best === NONE ? null : this.routes[best];
  }

  /** Every route, for listings. */
  all(): Route[] {
    return this.routesAt.flatMap((rs) => rs);
  }

  private allocate(): number {
    if ((this.used + 1) * SLOTS > this.nodes.length) {
      const grown = new Int32Array(this.nodes.length * 2).fill(NONE);
      grown.set(this.nodes);
      this.nodes = grown;
    }
    return this.used++;
  }
}

function maskedPrefix(family: Family, addr: ArrayLike<number>, prefixLength: number): Uint32Array {
  const out = new Uint32Array(4);
  const words = family === 4 ? 1 : 4;
  for (let w = 0; w < words; w++) {
    const bits = Math.min(32, Math.max(0, prefixLength - 32 * w));
    const mask = bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    out[w] = (addr[w] & mask) >>> 0;
  }
  return out;
}

function copyAddress(addr: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(4);
  for (let w = 0; w < 4 && w < addr.length; w++) out[w] = addr[w] >>> 0;
  return out;
}

/** True when `addr` lies inside prefix/len. */
export function prefixContains(
  family: Family,
  prefix: ArrayLike<number>,
  prefixLength: number,
  addr: ArrayLike<number>,
): boolean {
  const words = family === 4 ? 1 : 4;
  for (let w = 0; w < words; w++) {
    const bits = Math.min(32, Math.max(0, prefixLength - 32 * w));
    if (bits === 0) return true;
    const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    if (((addr[w] ^ prefix[w]) & mask) !== 0) return false;
  }
  return true;
}

/** IPv4 224.0.0.0/4 or IPv6 ff00::/8. */
export function isMulticast(family: Family, addr: ArrayLike<number>): boolean {
  return family === 4 ? addr[0] >>> 28 === 0xe : addr[0] >>> 24 === 0xff;
}

const LIMITED_BROADCAST = 0xffffffff;
/** 224.0.0.0/24, the link-local multicast block (ipv4_is_local_multicast). */
const LOCAL_MULTICAST_NET = 0xe00000;

/** NFTA_FIB_F_* (uapi nf_tables.h): what a `fib` expression looks up and which device restricts it. */
export const FibFlag = { SADDR: 1, DADDR: 2, MARK: 4, IIF: 8, OIF: 16 } as const;

/** The fields of a packet a `fib` expression reads. */
export interface FibPacket {
  readonly family: Family;
  readonly saddr: Uint32Array;
  readonly daddr: Uint32Array;
  readonly iif: number;
  readonly oif: number;
}

/**
 * The `fib` expression over a node's FIB (nft_fib4_eval / nft_fib6_eval), shaped as the rule evaluator's
 * FibOracle: `fib saddr . iif oif`, `fib daddr oif`, `fib daddr . iif type`, … with NFTA_FIB_F_* flag bits.
 */
export class FibExpression {
  constructor(readonly fib: Fib) {}

  /** Output interface of the looked-up route, or NONE ("missing"). */
  oif(p: FibPacket, flags: number): number {
    const dev = flags & FibFlag.IIF ? p.iif : flags & FibFlag.OIF ? p.oif : NONE;
    if (flags & FibFlag.SADDR) return this.fib.reverseOif(p.family, p.saddr, p.daddr, p.iif, dev);
    return this.fib.forwardOif(p.family, p.daddr, dev);
  }

  /** RTN_* type of the looked-up address (`fib daddr type local`). */
  addrType(p: FibPacket, flags: number): number {
    const dev = flags & FibFlag.IIF ? p.iif : flags & FibFlag.OIF ? p.oif : NONE;
    return this.fib.addressType(p.family, flags & FibFlag.SADDR ? p.saddr : p.daddr, dev);
  }
}

/** The FIB of one node. Built at setup time; `lookup` and the `fib` expression queries never allocate. */
export class Fib {
  private readonly tables = {
    local4: new PrefixTrie(32),
    main4: new PrefixTrie(32),
    local6: new PrefixTrie(128),
    main6: new PrefixTrie(128),
  };
  /** The local tables again as exact-match tables, kept in step by `insert`: one probe instead of a trie walk. */
  private readonly localHosts4 = new HostRouteTable(4);
  private readonly localHosts6 = new HostRouteTable(6);
  /** False once the local table of the family holds a route shorter than a host route (then the trie answers). */
  private localExact4 = true;
  private localExact6 = true;
  private readonly addresses: InterfaceAddress[] = [];
  /** Counts changes (routes and addresses added): whatever was derived from an older FIB must be derived again. */
  generation = 0;

  /**
   * Configures an address on an interface, adding what the kernel adds (fib_add_ifaddr, addrconf): a local
   * route for the address, the connected route for its subnet (metric 0; IPv6 metric 256 as addrconf does) and,
   * for IPv4 prefixes shorter than /31, the directed broadcast.
   */
  addAddress(oif: number, family: Family, address: ArrayLike<number>, prefixLength: number): AddRouteResult {
    const width = family === 4 ? 32 : 128;
    if (prefixLength < 0 || prefixLength > width || !Number.isInteger(prefixLength))
      return { ok: false, reason: "bad-prefix-length" };
    const addr = copyAddress(address);
    this.addresses.push({ oif, family, address: addr, prefixLength });
    this.generation++;
    const local = this.insert(
      { family, prefix: addr, prefixLength: width, type: RouteType.LOCAL, oif },
      "local",
      "local",
    );
    if (prefixLength < width) {
      const connected = this.insert(
        { family, prefix: addr, prefixLength, type: RouteType.UNICAST, oif, metric: family === 4 ? 0 : 256 },
        "main",
        "connected",
      );
      if (!connected.ok && connected.reason !== "exists") return connected;
    }
    if (family === 4 && prefixLength < 31) {
      const hostBits = prefixLength === 0 ? 0xffffffff : (0xffffffff >>> prefixLength) >>> 0;
      const bcast = new Uint32Array([(addr[0] | hostBits) >>> 0, 0, 0, 0]);
      this.insert({ family, prefix: bcast, prefixLength: 32, type: RouteType.BROADCAST, oif }, "local", "local");
    }
    return local;
  }

  /** Adds a static route to the main table (`ip route add`). Unicast routes need an output interface. */
  addRoute(spec: RouteSpec): AddRouteResult {
    const type = spec.type ?? RouteType.UNICAST;
    if (type === RouteType.UNICAST && (spec.oif ?? NONE) === NONE) return { ok: false, reason: "needs-interface" };
    return this.insert(spec, "main", "static");
  }

  /** Route lookup for a destination (fib_lookup): the local table first, then main. */
  lookup(family: Family, addr: ArrayLike<number>): Route | null {
    if (family === 4) return this.localRoute4(addr) ?? this.tables.main4.lookup(addr);
    return this.localRoute6(addr) ?? this.tables.main6.lookup(addr);
  }

  /** True when `addr` is one of the node's own addresses (a local route). */
  isLocalAddress(family: Family, addr: ArrayLike<number>): boolean {
    const r = family === 4 ? this.localRoute4(addr) : this.localRoute6(addr);
    return r !== null && r.type === RouteType.LOCAL;
  }

  /** The local table's answer for an IPv4 address (its longest-prefix match, which is an exact match). */
  private localRoute4(addr: ArrayLike<number>): Route | null {
    return this.localExact4 ? this.localHosts4.get(addr) : this.tables.local4.lookup(addr);
  }

  private localRoute6(addr: ArrayLike<number>): Route | null {
    return this.localExact6 ? this.localHosts6.get(addr) : this.tables.local6.lookup(addr);
  }

  /**
   * `fib daddr type` (nft_fib4_eval_type → inet_dev_addr_type): 0.0.0.0/8 and 255.255.255.255 are broadcast,
   * class D multicast, else the local table's type (local/broadcast; restricted to `iif` when given), else unicast.
   * IPv6 (nft_fib6_type_get): local, multicast, else the main table's type (no route → unreachable).
   */
  addressType(family: Family, addr: ArrayLike<number>, iif: number = NONE): RouteType {
    if (family === 4) {
      const a = addr[0] >>> 0;
      if (a >>> 24 === 0 || a === LIMITED_BROADCAST) return RouteType.BROADCAST;
      if (isMulticast(4, addr)) return RouteType.MULTICAST;
      const r = this.localRoute4(addr);
      if (r !== null && (iif === NONE || r.oif === iif)) return r.type;
      return RouteType.UNICAST;
    }
    if (isMulticast(6, addr)) return RouteType.MULTICAST;
    const local = this.localRoute6(addr);
    if (local !== null && (iif === NONE || local.oif === iif)) return local.type;
    const r = this.tables.main6.lookup(addr);
    return r === null ? RouteType.UNREACHABLE : r.type;
  }

  /**
   * `fib saddr [. iif] oif` (nft_fib4_eval): the output interface of the route back to the source, or NONE
   * ("missing"). With `. iif` (dev = iif) the route must leave through it. Local routes yield NONE, as in the kernel. A
   * 0.0.0.0/8 source sending to the limited broadcast or 224.0.0.0/24 (DHCP, IGMP) yields `iif` without a lookup.
   */
  reverseOif(family: Family, saddr: ArrayLike<number>, daddr: ArrayLike<number>, iif: number, dev: number): number {
    if (family === 4 && iif !== NONE && saddr[0] >>> 24 === 0) {
      const d = daddr[0] >>> 0;
      if (d === LIMITED_BROADCAST || d >>> 8 === LOCAL_MULTICAST_NET) return iif;
    }
    return this.forwardOif(family, saddr, dev);
  }

  /**
   * `fib daddr [. iif|. oif] oif`: the output interface toward `addr` (restricted to `dev` when not NONE), or NONE
   * when there is no route, it is local (nft_fib4_eval: "should not see RTN_LOCAL here") or it has no device
   * (blackhole, unreachable, prohibit).
   */
  forwardOif(family: Family, addr: ArrayLike<number>, dev: number = NONE): number {
    const r = this.lookup(family, addr);
    if (r === null || r.type === RouteType.LOCAL || r.oif === NONE) return NONE;
    if (dev !== NONE && r.oif !== dev) return NONE;
    return r.oif;
  }

  /**
   * The source address the node uses on `oif` toward `nexthop` (inet_select_addr as nf_nat_masquerade.c calls
   * it): the first address of `oif` whose subnet holds the next hop, else the interface's first address, else
   * null (masquerade then drops the packet).
   */
  sourceAddressFor(oif: number, family: Family, nexthop: ArrayLike<number> | null): Uint32Array | null {
    let first: Uint32Array | null = null;
    for (const a of this.addresses) {
      if (a.oif !== oif || a.family !== family) continue;
      if (nexthop !== null && prefixContains(family, a.address, a.prefixLength, nexthop)) return a.address;
      first ??= a.address;
    }
    return first;
  }

  /** The addresses configured on the node. */
  interfaceAddresses(): readonly InterfaceAddress[] {
    return this.addresses;
  }

  /** Every route of both tables, for listings and tests. */
  routes(family: Family): Route[] {
    return family === 4
      ? [...this.tables.local4.all(), ...this.tables.main4.all()]
      : [...this.tables.local6.all(), ...this.tables.main6.all()];
  }

  private insert(spec: RouteSpec, table: "local" | "main", origin: RouteOrigin): AddRouteResult {
    const family = spec.family;
    const width = family === 4 ? 32 : 128;
    if (spec.prefixLength < 0 || spec.prefixLength > width || !Number.isInteger(spec.prefixLength))
      return { ok: false, reason: "bad-prefix-length" };
    const type = spec.type ?? RouteType.UNICAST;
    const forwards = type === RouteType.UNICAST || type === RouteType.LOCAL || type === RouteType.BROADCAST;
    const route: Route = {
      family,
      prefix: maskedPrefix(family, spec.prefix, spec.prefixLength),
      prefixLength: spec.prefixLength,
      type,
      oif: forwards ? (spec.oif ?? NONE) : NONE,
      gateway: spec.gateway ? copyAddress(spec.gateway) : null,
      metric: spec.metric ?? (family === 6 && origin === "static" ? 1024 : 0),
      table,
      origin,
    };
    const trie =
      family === 4
        ? table === "local"
          ? this.tables.local4
          : this.tables.main4
        : table === "local"
          ? this.tables.local6
          : this.tables.main6;
    if (!trie.insert(route)) return { ok: false, reason: "exists" };
    this.generation++;
    if (table === "local") this.noteLocal(route, trie);
    return { ok: true, route };
  }

  /** Keeps the exact-match copy of a local table in step with its trie after an insert. */
  private noteLocal(route: Route, trie: PrefixTrie): void {
    const v4 = route.family === 4;
    if (route.prefixLength !== (v4 ? 32 : 128)) {
      if (v4) this.localExact4 = false;
      else this.localExact6 = false;
      return;
    }
    // The trie's answer for the address is the best route of that prefix (metric order), which this insert may
    // or may not have changed.
    const best = trie.lookup(route.prefix);
    if (best !== null) (v4 ? this.localHosts4 : this.localHosts6).set(route.prefix, best);
  }
}
