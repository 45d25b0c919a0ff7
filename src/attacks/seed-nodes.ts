// The network of the seed discussion (SCENARIOS.md "seed-home") as engine nodes: the NAT router and the accounting
// server S, each in its plain and its hardened variant. Every ruleset is written twice, as nftables text (what
// `nft list ruleset` prints, for the demo to show) and as IR whose origins point at the line of that text, so a
// verdict that names "seed-home-hardened/router.nft:10" names a line the user can read.

import { Datapath } from "../engine/datapath.js";
import type { DatapathBuild, InterfaceConfig } from "../engine/datapath.js";
import type { Chain, Expr, Origin, Rule, Ruleset, Selector, Table, Value } from "../engine/filter/index.js";
import type { Rng } from "../engine/rng.js";
import type { RouteSpec } from "../engine/route/index.js";
import { parseIpv4 } from "../wire/address.js";

export type SeedNetworkName = "seed-home" | "seed-home-hardened";

/** Addresses of the seed network (SCENARIOS.md), as unsigned 32-bit integers. */
export const SeedAddr = {
  MALLORY: ipv4("203.0.113.66"),
  MALLORY_WEB: ipv4("203.0.113.80"),
  ISP_GATEWAY: ipv4("198.51.100.1"),
  ROUTER_WAN: ipv4("198.51.100.2"),
  ROUTER_LAN: ipv4("192.168.1.1"),
  U: ipv4("192.168.1.10"),
  S: ipv4("192.168.1.20"),
  LOOPBACK: ipv4("127.0.0.1"),
} as const;

const LAN_PREFIX_LEN = 24;
const WAN_PREFIX_LEN = 24;
const LOOPBACK_PREFIX_LEN = 8;
/** nft's named priorities (`priority filter`, `priority srcnat`). */
const PRIORITY_FILTER = 0;
const PRIORITY_SRCNAT = 100;

function ipv4(s: string): number {
  const n = parseIpv4(s);
  if (n === null) throw new Error(`bad seed address ${s}`);
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// The rulesets as text. Line numbers matter: the IR below points at them, and seed-nodes.test.ts checks each one.

export const ROUTER_SOURCE = "seed-home/router.nft";
export const ROUTER_HARDENED_SOURCE = "seed-home-hardened/router.nft";
export const HOST_S_SOURCE = "seed-home/s.nft";
export const HOST_S_HARDENED_SOURCE = "seed-home-hardened/s.nft";

export const ROUTER_NFT = `table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "lan" accept
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" oifname "wan" accept
	}
}
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade
	}
}
`;

export const ROUTER_HARDENED_NFT = `table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "lan" accept
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
		ip saddr 192.168.1.20 oifname "wan" drop
		ct state established,related accept
		iifname "lan" oifname "wan" accept
	}
}
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade
	}
}
`;

/** S on seed-home runs no host firewall: `nft list ruleset` prints nothing. */
export const HOST_S_NFT = "";

export const HOST_S_HARDENED_NFT = `table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport { 5432, 8080 } ip saddr 192.168.1.10 accept
	}
}
`;

/** The nftables text each origin source names. */
export const SEED_RULESET_TEXTS: Readonly<Record<string, string>> = {
  [ROUTER_SOURCE]: ROUTER_NFT,
  [ROUTER_HARDENED_SOURCE]: ROUTER_HARDENED_NFT,
  [HOST_S_SOURCE]: HOST_S_NFT,
  [HOST_S_HARDENED_SOURCE]: HOST_S_HARDENED_NFT,
};

/** The text of line `origin.line` of the ruleset `origin.source`, trimmed; null when there is no such line. */
export function rulesetLine(origin: Origin): string | null {
  const text = SEED_RULESET_TEXTS[origin.source] as string | undefined;
  if (text === undefined) return null;
  const line = text.split("\n")[origin.line - 1] as string | undefined;
  return line === undefined ? null : line.trim();
}

// ---------------------------------------------------------------------------------------------------------------
// The same rulesets as IR. `at(source, line)` puts the column after the line's indentation, where the rule starts.

function at(source: string, line: number): Origin {
  const text = SEED_RULESET_TEXTS[source] ?? "";
  const l = text.split("\n")[line - 1] ?? "";
  return { source, line, column: l.length - l.trimStart().length + 1 };
}

const CT_STATE: Selector = { kind: "ct", key: "state" };
const IIFNAME: Selector = { kind: "meta", key: "iifname" };
const OIFNAME: Selector = { kind: "meta", key: "oifname" };
const IIF: Selector = { kind: "meta", key: "iif" };
const IP_SADDR: Selector = { kind: "payload", protocol: "ip", field: "saddr" };
const TCP_DPORT: Selector = { kind: "payload", protocol: "tcp", field: "dport" };

const str = (value: string): Value => ({ kind: "string", value });
const eq = (left: Selector, right: Value): Expr => ({ kind: "match", left, op: "==", right });
const ACCEPT: Expr = { kind: "accept" };
const DROP: Expr = { kind: "drop" };

const establishedRelated: Expr = {
  kind: "match",
  left: CT_STATE,
  op: "in",
  right: {
    kind: "set",
    elements: [
      { kind: "symbol", name: "established" },
      { kind: "symbol", name: "related" },
    ],
  },
};

const rule = (origin: Origin, ...exprs: Expr[]): Rule => ({ origin, exprs });

function filterChain(source: string, line: number, name: "input" | "forward", rules: Rule[]): Chain {
  return {
    name,
    origin: at(source, line),
    base: { type: "filter", hook: name, priority: PRIORITY_FILTER, policy: "drop" },
    rules,
  };
}

function natTable(source: string, line: number): Table {
  return {
    family: "ip",
    name: "nat",
    origin: at(source, line),
    chains: [
      {
        name: "postrouting",
        origin: at(source, line + 1),
        base: { type: "nat", hook: "postrouting", priority: PRIORITY_SRCNAT, policy: "accept" },
        rules: [rule(at(source, line + 3), eq(OIFNAME, str("wan")), { kind: "masquerade" })],
      },
    ],
  };
}

/** The router's ruleset; `hardened` adds the least-privilege egress rule (S has no business on the internet). */
export function routerRuleset(hardened: boolean): Ruleset {
  const src = hardened ? ROUTER_HARDENED_SOURCE : ROUTER_SOURCE;
  const shift = hardened ? 1 : 0;
  const egress: Rule[] = hardened
    ? [rule(at(src, 10), eq(IP_SADDR, { kind: "address", addr: "192.168.1.20" }), eq(OIFNAME, str("wan")), DROP)]
    : [];
  return {
    tables: [
      {
        family: "inet",
        name: "filter",
        origin: at(src, 1),
        chains: [
          filterChain(src, 2, "input", [
            rule(at(src, 4), establishedRelated, ACCEPT),
            rule(at(src, 5), eq(IIFNAME, str("lan")), ACCEPT),
          ]),
          filterChain(src, 8, "forward", [
            ...egress,
            rule(at(src, 10 + shift), establishedRelated, ACCEPT),
            rule(at(src, 11 + shift), eq(IIFNAME, str("lan")), eq(OIFNAME, str("wan")), ACCEPT),
          ]),
        ],
      },
      natTable(src, 14 + shift),
    ],
  };
}

/** S's host firewall: none on seed-home; on the hardened network only the intents U → S:5432 and U → S:8080. */
export function hostSRuleset(hardened: boolean): Ruleset {
  if (!hardened) return { tables: [] };
  const src = HOST_S_HARDENED_SOURCE;
  const intents: Value = {
    kind: "set",
    elements: [
      { kind: "int", value: 5432 },
      { kind: "int", value: 8080 },
    ],
  };
  return {
    tables: [
      {
        family: "inet",
        name: "filter",
        origin: at(src, 1),
        chains: [
          filterChain(src, 2, "input", [
            rule(at(src, 4), establishedRelated, ACCEPT),
            rule(at(src, 5), eq(IIF, str("lo")), ACCEPT),
            rule(
              at(src, 6),
              { kind: "match", left: TCP_DPORT, op: "in", right: intents },
              eq(IP_SADDR, { kind: "address", addr: "192.168.1.10" }),
              ACCEPT,
            ),
          ]),
        ],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The nodes.

const v4 = (addr: number): Uint32Array => Uint32Array.of(addr, 0, 0, 0);
const defaultRoute = (oif: number, gateway: number): RouteSpec => ({
  family: 4,
  prefix: v4(0),
  prefixLength: 0,
  oif,
  gateway: v4(gateway),
});

/** Interface indices of the router (position in its interface list). */
export const RouterIf = { WAN: 0, LAN: 1 } as const;
/** Interface indices of S; `lo` exists so that `iif "lo"` resolves, as on Linux. */
export const HostSIf = { LO: 0, ETH0: 1 } as const;

export const ROUTER_INTERFACES: readonly InterfaceConfig[] = [
  { name: "wan", addresses: [{ family: 4, address: v4(SeedAddr.ROUTER_WAN), prefixLength: WAN_PREFIX_LEN }] },
  { name: "lan", addresses: [{ family: 4, address: v4(SeedAddr.ROUTER_LAN), prefixLength: LAN_PREFIX_LEN }] },
];

export const HOST_S_INTERFACES: readonly InterfaceConfig[] = [
  { name: "lo", addresses: [{ family: 4, address: v4(SeedAddr.LOOPBACK), prefixLength: LOOPBACK_PREFIX_LEN }] },
  { name: "eth0", addresses: [{ family: 4, address: v4(SeedAddr.S), prefixLength: LAN_PREFIX_LEN }] },
];

/** The router: masquerade on "wan", input and forward policy drop; `ruleset` overrides the seed one (tests). */
export function createRouter(network: SeedNetworkName, rng: Rng, ruleset?: Ruleset): DatapathBuild {
  return Datapath.create({
    name: "router",
    interfaces: ROUTER_INTERFACES,
    routes: [defaultRoute(RouterIf.WAN, SeedAddr.ISP_GATEWAY)],
    ruleset: ruleset ?? routerRuleset(network === "seed-home-hardened"),
    forwarding: true,
    rng,
  });
}

/** Host S 192.168.1.20: a host (no forwarding) with a default route via the router. */
export function createHostS(network: SeedNetworkName, rng: Rng, ruleset?: Ruleset): DatapathBuild {
  return Datapath.create({
    name: "S",
    interfaces: HOST_S_INTERFACES,
    routes: [defaultRoute(HostSIf.ETH0, SeedAddr.ROUTER_LAN)],
    ruleset: ruleset ?? hostSRuleset(network === "seed-home-hardened"),
    forwarding: false,
    rng,
  });
}
