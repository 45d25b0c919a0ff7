// The one ruleset IR every importer produces (nftables text/JSON, iptables-save, fw4 UCI, ufw) and every writer
// turns back into nftables. It follows libnftables-json(5) closely so that a round trip loses nothing: a ruleset
// is tables → chains → rules, a rule is an ordered list of expressions evaluated left to right (matches,
// statements, verdicts), and every table, chain and rule keeps the place it came from.

/** Where a piece of the ruleset was written: a file path (or a YAML path) with 1-based line and column. */
export interface Origin {
  readonly source: string;
  readonly line: number;
  readonly column: number;
}

export type TableFamily = "ip" | "ip6" | "inet";
export type Hook = "prerouting" | "input" | "forward" | "output" | "postrouting";
export type ChainType = "filter" | "nat" | "route";
export type ChainPolicy = "accept" | "drop";

export interface Ruleset {
  readonly tables: readonly Table[];
}

export interface Table {
  readonly family: TableFamily;
  readonly name: string;
  readonly origin: Origin;
  readonly chains: readonly Chain[];
  readonly sets?: readonly NamedSet[];
  readonly maps?: readonly NamedMap[];
  /** Named conntrack helper objects, which `ct helper set "NAME"` assigns. */
  readonly ctHelpers?: readonly CtHelperObject[];
  readonly comment?: string;
}

/** `ct helper NAME { type "ftp" protocol tcp; l3proto inet; }` (nft_ct_helper_obj). */
export interface CtHelperObject {
  readonly name: string;
  readonly origin: Origin;
  /** The kernel helper it attaches: "ftp", "sip", … */
  readonly type: string;
  readonly protocol: "tcp" | "udp";
  /** The families it applies to; the table's family when left out. */
  readonly l3proto?: "ip" | "ip6" | "inet";
  readonly comment?: string;
}

/** A base chain is attached to a hook; a regular chain is entered only by jump/goto. */
export interface BaseChainSpec {
  readonly type: ChainType;
  readonly hook: Hook;
  /** Numeric priority (raw −300, mangle −150, dstnat −100, filter 0, security 50, srcnat 100). */
  readonly priority: number;
  readonly policy: ChainPolicy;
}

export interface Chain {
  readonly name: string;
  readonly origin: Origin;
  readonly base?: BaseChainSpec;
  readonly rules: readonly Rule[];
  readonly comment?: string;
}

export interface Rule {
  readonly origin: Origin;
  readonly exprs: readonly Expr[];
  readonly comment?: string;
  readonly handle?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Selectors: the left-hand side of a match (libnftables-json: payload, meta, ct, fib, concat).

export type PayloadSelector =
  | {
      readonly kind: "payload";
      readonly protocol: "ip";
      readonly field: "saddr" | "daddr" | "protocol" | "length" | "ttl";
    }
  | {
      readonly kind: "payload";
      readonly protocol: "ip6";
      readonly field: "saddr" | "daddr" | "nexthdr" | "length" | "hoplimit";
    }
  | { readonly kind: "payload"; readonly protocol: "tcp"; readonly field: "sport" | "dport" | "flags" }
  | { readonly kind: "payload"; readonly protocol: "udp" | "th"; readonly field: "sport" | "dport" }
  | { readonly kind: "payload"; readonly protocol: "icmp"; readonly field: "type" | "code" | "id" }
  | { readonly kind: "payload"; readonly protocol: "icmpv6"; readonly field: "type" | "code" | "id" };

export type MetaKey = "iif" | "oif" | "iifname" | "oifname" | "l4proto" | "nfproto" | "mark";
export type CtKey = "state" | "status" | "direction" | "mark" | "helper";
/** Which addresses and interface key the route lookup (NFTA_FIB_F_*). */
export type FibFlag = "saddr" | "daddr" | "mark" | "iif" | "oif";

export type Selector =
  | PayloadSelector
  | { readonly kind: "meta"; readonly key: MetaKey }
  | { readonly kind: "ct"; readonly key: CtKey }
  | { readonly kind: "fib"; readonly flags: readonly FibFlag[]; readonly result: "oif" | "type" }
  | { readonly kind: "concat"; readonly parts: readonly Selector[] };

// ---------------------------------------------------------------------------------------------------------------
// Values: the right-hand side of a match, set elements and map keys.

export type Value =
  /** An integer: port, protocol number, mark, ttl, ICMP type, bit mask. */
  | { readonly kind: "int"; readonly value: number }
  /** A named constant of the selector's type: `established`, `dnat`, `tcp`, `syn`, `echo-request`, `local`,
   *  `missing` (fib oif with no route). */
  | { readonly kind: "symbol"; readonly name: string }
  /** A string: an interface name (`eth*` is a prefix wildcard) or a helper name. */
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "address"; readonly addr: string }
  | { readonly kind: "prefix"; readonly addr: string; readonly len: number }
  /** Inclusive range of integers or of addresses. */
  | { readonly kind: "range"; readonly lo: Value; readonly hi: Value }
  /** An anonymous set `{ a, b, c }`; on a flag-typed selector with `in`, a list of bits (`established,related`). */
  | { readonly kind: "set"; readonly elements: readonly Value[] }
  /** `@name`: a named set of the same table. */
  | { readonly kind: "setref"; readonly name: string }
  /** One element of a concatenated key: `192.0.2.1 . 22`. */
  | { readonly kind: "concat"; readonly parts: readonly Value[] };

export type MatchOp = "==" | "!=" | "<" | ">" | "<=" | ">=" | "in";

/** `left [& mask] op right`. Without a mask `in` means "any of these bits" on flag types, membership on sets. */
export interface Match {
  readonly kind: "match";
  readonly left: Selector;
  readonly op: MatchOp;
  readonly right: Value;
  readonly mask?: Value;
}

// ---------------------------------------------------------------------------------------------------------------
// Statements.

export type LogLevel = "emerg" | "alert" | "crit" | "err" | "warn" | "notice" | "info" | "debug" | "audit";
export type RateUnit = "second" | "minute" | "hour" | "day" | "week";
export type NatFlag = "random" | "fully-random" | "persistent";

export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

export type Statement =
  | { readonly kind: "counter" }
  | { readonly kind: "log"; readonly prefix?: string; readonly level?: LogLevel }
  | {
      readonly kind: "limit";
      readonly rate: number;
      readonly per: RateUnit;
      /** Bucket size; 0 means the kernel default (5 packets). */
      readonly burst: number;
      readonly unit: "packets" | "bytes";
      /** `limit rate over …`: matches only once the rate is exceeded. */
      readonly over: boolean;
    }
  | { readonly kind: "mark-set"; readonly target: "meta" | "ct"; readonly value: number }
  | {
      readonly kind: "snat" | "dnat";
      /** Address family of `addr` (required in inet tables: `dnat ip to …`). */
      readonly family?: "ip" | "ip6";
      /** An address or an address range. */
      readonly addr?: Value;
      readonly port?: PortRange;
      readonly flags?: readonly NatFlag[];
    }
  | { readonly kind: "masquerade"; readonly port?: PortRange; readonly flags?: readonly NatFlag[] }
  | { readonly kind: "redirect"; readonly port?: PortRange; readonly flags?: readonly NatFlag[] }
  | { readonly kind: "notrack" }
  | { readonly kind: "ct-helper-set"; readonly name: string }
  /** `tcp option maxseg size set rt mtu | N` (fw4's MSS clamping): rewrites a SYN's option, no filtering effect. */
  | { readonly kind: "tcp-mss-set"; readonly size: "rt-mtu" | number }
  | { readonly kind: "vmap"; readonly key: Selector; readonly map: VerdictMapRef };

export type VerdictMapRef =
  | { readonly kind: "anonymous"; readonly entries: readonly VerdictMapEntry[] }
  | { readonly kind: "named"; readonly name: string };

export interface VerdictMapEntry {
  readonly key: Value;
  readonly verdict: VerdictExpr;
}

// ---------------------------------------------------------------------------------------------------------------
// Verdicts.

export type IcmpRejectCode =
  | "net-unreachable"
  | "host-unreachable"
  | "prot-unreachable"
  | "port-unreachable"
  | "net-prohibited"
  | "host-prohibited"
  | "admin-prohibited";
export type Icmpv6RejectCode =
  "no-route" | "admin-prohibited" | "addr-unreachable" | "port-unreachable" | "policy-fail" | "reject-route";
export type IcmpxRejectCode = "port-unreachable" | "admin-prohibited" | "no-route" | "host-unreachable";

export type RejectWith =
  | { readonly type: "tcp-reset" }
  | { readonly type: "icmp"; readonly code: IcmpRejectCode }
  | { readonly type: "icmpv6"; readonly code: Icmpv6RejectCode }
  | { readonly type: "icmpx"; readonly code: IcmpxRejectCode };

export type VerdictExpr =
  | { readonly kind: "accept" }
  | { readonly kind: "drop" }
  /** Without `with`: icmp port-unreachable in ip, icmpv6 port-unreachable in ip6, icmpx in inet (nft default). */
  | { readonly kind: "reject"; readonly with?: RejectWith }
  | { readonly kind: "jump"; readonly target: string }
  | { readonly kind: "goto"; readonly target: string }
  | { readonly kind: "return" }
  | { readonly kind: "continue" };

export type Expr = Match | Statement | VerdictExpr;

// ---------------------------------------------------------------------------------------------------------------
// Named sets and maps.

/** nft data types usable as set keys; a concatenation lists one per part. */
export type KeyType =
  | "ipv4_addr"
  | "ipv6_addr"
  | "inet_service"
  | "inet_proto"
  | "ifname"
  | "iface_index"
  | "mark"
  | "ct_state"
  | "integer";
export type SetFlag = "interval" | "constant" | "timeout";

export interface NamedSet {
  readonly name: string;
  readonly origin: Origin;
  readonly keyType: readonly KeyType[];
  readonly flags?: readonly SetFlag[];
  readonly elements: readonly Value[];
  readonly comment?: string;
}

export type MapDataType = "verdict" | "ipv4_addr" | "ipv6_addr" | "inet_service" | "mark" | "integer";

export type MapElement =
  | { readonly key: Value; readonly data: { readonly kind: "verdict"; readonly verdict: VerdictExpr } }
  | { readonly key: Value; readonly data: { readonly kind: "value"; readonly value: Value } };

export interface NamedMap {
  readonly name: string;
  readonly origin: Origin;
  readonly keyType: readonly KeyType[];
  readonly dataType: MapDataType;
  readonly flags?: readonly SetFlag[];
  readonly elements: readonly MapElement[];
  readonly comment?: string;
}

/** Closes a switch over a discriminated union (STYLE.md §11). */
export function assertNever(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}
