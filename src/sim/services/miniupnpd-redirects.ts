// miniupnpd's redirection table (upnpredirect.c, upnppermissions.c, netfilter_nft/nftnlrdr.c), shared by its
// UPnP IGD and NAT-PMP front ends. A redirect becomes real netfilter rules on the router, in miniupnpd's own
// chains: a type nat prerouting chain `prerouting_miniupnpd` holding `iifname WAN tcp dport EXT dnat ip to
// INT:PORT`, and a regular chain `miniupnpd` holding `iifname WAN ip daddr INT tcp dport PORT accept`, entered by
// a `jump miniupnpd` at the head of each forward filter chain (what miniupnpd's nft_init.sh and OpenWrt's fw4
// integration add). Every change rebuilds the router's ruleset from the one it had at install time plus these
// chains and recompiles it (Datapath.replaceRuleset); conntrack entries survive, as in the kernel.

import type { Chain, Expr, Origin, Rule, Ruleset, Table } from "../../engine/filter/index.js";
import { formatIpv4, prefixContainsV4 } from "../../wire/address.js";
import type { ParsedPermission } from "../../model/intent.js";
import type { EventClock } from "../clock.js";
import type { SimNode } from "../node.js";

export type MappingProto = "tcp" | "udp";
export type MappingMechanism = "upnp" | "natpmp";

export interface Redirect {
  readonly proto: MappingProto;
  readonly externalPort: number;
  /** IPv4 address as an unsigned integer. */
  readonly internalClient: number;
  readonly internalPort: number;
  readonly description: string;
  /** Absolute expiry on the simulation clock (ms); null for a permanent mapping. */
  readonly expiresAtMs: number | null;
  readonly requester: number;
  readonly mechanism: MappingMechanism;
  /** Where its rules say they came from (shown in verdicts and traces). */
  readonly origin: Origin;
}

/** upnp_redirect()'s return values as a union: 0, -2 (718), -3 (606), -4 (729), -1 (501). */
export type RedirectOutcome =
  | { readonly kind: "added"; readonly redirect: Redirect }
  | { readonly kind: "updated"; readonly redirect: Redirect }
  | { readonly kind: "conflict"; readonly holder: Redirect }
  | { readonly kind: "not-permitted"; readonly rule: number | null }
  | { readonly kind: "port-in-use" }
  | { readonly kind: "failed"; readonly message: string };

export interface RedirectRequest {
  readonly proto: MappingProto;
  readonly externalPort: number;
  readonly internalClient: number;
  readonly internalPort: number;
  readonly description: string;
  /** Seconds; 0 = permanent. */
  readonly leaseSeconds: number;
  readonly requester: number;
  readonly mechanism: MappingMechanism;
  readonly action: string;
}

export interface RedirectTableOptions {
  readonly clock: EventClock;
  /** The router's WAN interface name (miniupnpd `ext_ifname`). */
  readonly wanInterface: string;
  /** Permission lines in file order (miniupnpd.conf `allow|deny`). */
  readonly permissions: readonly ParsedPermission[];
  /** Ports the router itself uses, which a redirect may not take (CHECK_PORTINUSE: 729 / NAT-PMP 4). */
  readonly portsInUse?: readonly { readonly proto: MappingProto; readonly port: number }[];
}

export const MINIUPNPD_TABLE = "miniupnpd";
export const MINIUPNPD_NAT_CHAIN = "prerouting_miniupnpd";
export const MINIUPNPD_FORWARD_CHAIN = "miniupnpd";
/** NF_IP_PRI_NAT_DST: miniupnpd's nat chain runs at dstnat. */
const DSTNAT_PRIORITY = -100;

const key = (proto: MappingProto, port: number): number => (proto === "tcp" ? 0x10000 : 0x20000) | port;

/**
 * check_upnp_rule_against_permissions(): the first line whose external port range, internal address prefix and
 * internal port range all match decides; no match means allow. Returns the deciding line's index or -1.
 */
export function matchPermission(
  permissions: readonly ParsedPermission[],
  externalPort: number,
  internalClient: number,
  internalPort: number,
): number {
  for (let i = 0; i < permissions.length; i++) {
    const p = permissions[i];
    if (externalPort < p.extPorts[0] || externalPort > p.extPorts[1]) continue;
    if (internalPort < p.intPorts[0] || internalPort > p.intPorts[1]) continue;
    if (!prefixContainsV4(p.prefix.addr, p.prefix.len, internalClient)) continue;
    return i;
  }
  return -1;
}

export function permitted(
  permissions: readonly ParsedPermission[],
  externalPort: number,
  internalClient: number,
  internalPort: number,
): boolean {
  const i = matchPermission(permissions, externalPort, internalClient, internalPort);
  return i < 0 || permissions[i].action === "allow";
}

export class RedirectTable {
  private readonly redirects = new Map<number, Redirect>();
  private readonly baseRuleset: Ruleset;
  private readonly inUse: ReadonlySet<number>;
  /** A compile failure of the rebuilt ruleset (should not happen; kept for the report). */
  lastError: string | null = null;

  constructor(
    readonly node: SimNode,
    readonly options: RedirectTableOptions,
  ) {
    this.baseRuleset = node.datapath.ruleset;
    this.inUse = new Set((options.portsInUse ?? []).map((p) => key(p.proto, p.port)));
    this.install();
  }

  get size(): number {
    return this.redirects.size;
  }

  list(): Redirect[] {
    return [...this.redirects.values()];
  }

  get(proto: MappingProto, externalPort: number): Redirect | null {
    return this.redirects.get(key(proto, externalPort)) ?? null;
  }

  permitted(externalPort: number, internalClient: number, internalPort: number): boolean {
    return permitted(this.options.permissions, externalPort, internalClient, internalPort);
  }

  /** upnp_redirect(): permissions, then an existing mapping of the port, then ports in use; then the rules. */
  add(r: RedirectRequest): RedirectOutcome {
    const line = matchPermission(this.options.permissions, r.externalPort, r.internalClient, r.internalPort);
    if (line >= 0 && this.options.permissions[line].action === "deny") return { kind: "not-permitted", rule: line };
    const k = key(r.proto, r.externalPort);
    const existing = this.redirects.get(k);
    // A mapping of the same port to the same client is updated in place (upnp_redirect's "same client" branch).
    if (existing !== undefined && existing.internalClient !== r.internalClient)
      return { kind: "conflict", holder: existing };
    if (existing === undefined && this.inUse.has(k)) return { kind: "port-in-use" };
    const now = this.options.clock.now;
    const redirect: Redirect = {
      proto: r.proto,
      externalPort: r.externalPort,
      internalClient: r.internalClient,
      internalPort: r.internalPort,
      description: r.description,
      expiresAtMs: r.leaseSeconds > 0 ? now + r.leaseSeconds * 1000 : null,
      requester: r.requester,
      mechanism: r.mechanism,
      origin: {
        source: `miniupnpd: ${r.action} by ${formatIpv4(r.requester)} at t=${now}ms`,
        line: 1,
        column: 1,
      },
    };
    this.redirects.set(k, redirect);
    if (!this.install()) {
      if (existing === undefined) this.redirects.delete(k);
      else this.redirects.set(k, existing);
      this.install();
      return { kind: "failed", message: this.lastError ?? "ruleset did not compile" };
    }
    if (redirect.expiresAtMs !== null) {
      // miniupnpd's remove_unused_rules/lease timer: the mapping and its rules go when the lease ends.
      this.options.clock.at(redirect.expiresAtMs, () => {
        if (this.redirects.get(k) === redirect) this.remove(r.proto, r.externalPort);
      });
    }
    return existing === undefined ? { kind: "added", redirect } : { kind: "updated", redirect };
  }

  /** upnp_delete_redirection(). */
  remove(proto: MappingProto, externalPort: number): boolean {
    if (!this.redirects.delete(key(proto, externalPort))) return false;
    this.install();
    return true;
  }

  /** Rebuilds and installs the router's ruleset; false (nothing changed) when it does not compile. */
  private install(): boolean {
    const built = this.node.datapath.replaceRuleset(this.ruleset());
    this.lastError = built.ok ? null : built.error.message;
    return built.ok;
  }

  /** The router's ruleset as miniupnpd leaves it: the base plus its chains and one rule pair per redirect. */
  ruleset(): Ruleset {
    const wan = this.options.wanInterface;
    const setup: Origin = { source: "miniupnpd: nft_init.sh", line: 1, column: 1 };
    const redirects = [...this.redirects.values()].sort(
      (a, b) => key(a.proto, a.externalPort) - key(b.proto, b.externalPort),
    );
    const iif: Expr = {
      kind: "match",
      left: { kind: "meta", key: "iifname" },
      op: "==",
      right: { kind: "string", value: wan },
    };
    const dport = (proto: MappingProto, port: number): Expr => ({
      kind: "match",
      left: { kind: "payload", protocol: proto, field: "dport" },
      op: "==",
      right: { kind: "int", value: port },
    });
    const natRules: Rule[] = redirects.map((r) => ({
      origin: r.origin,
      comment: r.description,
      exprs: [
        iif,
        dport(r.proto, r.externalPort),
        {
          kind: "dnat",
          family: "ip",
          addr: { kind: "address", addr: formatIpv4(r.internalClient) },
          port: { lo: r.internalPort, hi: r.internalPort },
        },
      ],
    }));
    const forwardRules: Rule[] = redirects.map((r) => ({
      origin: r.origin,
      comment: r.description,
      exprs: [
        iif,
        {
          kind: "match",
          left: { kind: "payload", protocol: "ip", field: "daddr" },
          op: "==",
          right: { kind: "address", addr: formatIpv4(r.internalClient) },
        },
        dport(r.proto, r.internalPort),
        { kind: "accept" },
      ],
    }));
    const natTable: Table = {
      family: "inet",
      name: MINIUPNPD_TABLE,
      origin: setup,
      chains: [
        {
          name: MINIUPNPD_NAT_CHAIN,
          origin: setup,
          base: { type: "nat", hook: "prerouting", priority: DSTNAT_PRIORITY, policy: "accept" },
          rules: natRules,
        },
      ],
    };
    const tables = this.baseRuleset.tables.map((t): Table => {
      if (t.family === "ip6") return t;
      const forwardChains = t.chains.filter((c) => c.base?.hook === "forward" && c.base.type === "filter");
      if (forwardChains.length === 0) return t;
      const jump: Rule = { origin: setup, exprs: [{ kind: "jump", target: MINIUPNPD_FORWARD_CHAIN }] };
      const chains: Chain[] = t.chains.map((c) =>
        forwardChains.includes(c) ? { ...c, rules: [jump, ...c.rules] } : c,
      );
      chains.push({ name: MINIUPNPD_FORWARD_CHAIN, origin: setup, rules: forwardRules });
      return { ...t, chains };
    });
    return { tables: [...tables, natTable] };
  }
}
