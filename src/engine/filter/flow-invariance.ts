// Which rulesets give every packet of an established flow the same walk. A forward path whose chains read only
// what is fixed for one direction of one conntrack entry (its tuple, the interfaces, the route, the ct state,
// direction and — compared separately — status, mark and helper) and that change nothing but counters decides
// the same for each of those packets, so the datapath may replay the decision of the first one (flow-cache.ts)
// instead of walking the chains again. Anything per packet (TTL, length, TCP flags, IPv6 next header after
// extension headers) or stateful (limit buckets, marks and helpers set, notrack, log lines, MSS rewrites) makes
// the family's forward path uncacheable.

import type { Chain, Expr, Hook, Ruleset, Selector, Table, VerdictExpr, VerdictMapRef } from "./ir.js";
import { assertNever } from "./ir.js";

/** The hooks a forwarded packet crosses; type nat chains are left out: they see only a connection's first packet. */
const FORWARD_PATH: readonly Hook[] = ["prerouting", "forward", "postrouting"];

/** Whether each family's forward path decides the same for every packet of an established flow direction. */
export interface FlowInvariance {
  readonly v4: boolean;
  readonly v6: boolean;
}

export function forwardPathFlowInvariance(ruleset: Ruleset): FlowInvariance {
  let v4 = true;
  let v6 = true;
  for (const table of ruleset.tables) {
    if (tableInvariant(table)) continue;
    if (table.family !== "ip6") v4 = false;
    if (table.family !== "ip") v6 = false;
  }
  return { v4, v6 };
}

function tableInvariant(table: Table): boolean {
  const byName = new Map(table.chains.map((c) => [c.name, c]));
  // A chain is assumed invariant while it is being checked, so a jump cycle (which the compiler rejects) ends.
  const known = new Map<string, boolean>();
  const chainInvariant = (chain: Chain): boolean => {
    const seen = known.get(chain.name);
    if (seen !== undefined) return seen;
    known.set(chain.name, true);
    const ok = chain.rules.every((r) => r.exprs.every((e) => exprInvariant(e, table, target)));
    known.set(chain.name, ok);
    return ok;
  };
  const target = (name: string): boolean => {
    const chain = byName.get(name);
    return chain !== undefined && chainInvariant(chain);
  };
  return table.chains.every((c) => {
    const base = c.base;
    if (base === undefined || base.type === "nat" || !FORWARD_PATH.includes(base.hook)) return true;
    return chainInvariant(c);
  });
}

function exprInvariant(e: Expr, table: Table, target: (chain: string) => boolean): boolean {
  switch (e.kind) {
    case "match":
      return selectorInvariant(e.left);
    case "counter":
      // Replayed: the cached decision carries the rules whose counters the walk ran.
      return true;
    case "log":
    case "limit":
    case "mark-set":
    case "snat":
    case "dnat":
    case "masquerade":
    case "redirect":
    case "notrack":
    case "ct-helper-set":
    case "tcp-mss-set":
      return false;
    case "vmap":
      return selectorInvariant(e.key) && vmapVerdicts(e.map, table).every((v) => verdictInvariant(v, target));
    case "accept":
    case "drop":
    case "reject":
    case "jump":
    case "goto":
    case "return":
    case "continue":
      return verdictInvariant(e, target);
    default:
      return assertNever(e);
  }
}

function vmapVerdicts(map: VerdictMapRef, table: Table): VerdictExpr[] {
  if (map.kind === "anonymous") return map.entries.map((x) => x.verdict);
  const named = table.maps?.find((m) => m.name === map.name);
  const out: VerdictExpr[] = [];
  for (const el of named?.elements ?? []) if (el.data.kind === "verdict") out.push(el.data.verdict);
  return out;
}

function verdictInvariant(v: VerdictExpr, target: (chain: string) => boolean): boolean {
  return v.kind === "jump" || v.kind === "goto" ? target(v.target) : true;
}

/** Does the selector load the same value for every packet of one direction of one established entry? */
export function selectorInvariant(s: Selector): boolean {
  switch (s.kind) {
    case "payload":
      switch (s.protocol) {
        case "ip":
          return s.field === "saddr" || s.field === "daddr" || s.field === "protocol";
        case "ip6":
          // nexthdr is the first header after the fixed one: extension headers may differ from packet to packet.
          return s.field === "saddr" || s.field === "daddr";
        case "tcp":
          return s.field !== "flags";
        case "udp":
        case "th":
          return true;
        case "icmp":
        case "icmpv6":
          // Type, code and identifier are in an echo entry's tuple; for any other protocol the load always fails.
          return true;
        default:
          return assertNever(s);
      }
    case "meta":
      // The mark starts at 0 on every received packet and nothing on an invariant path sets it.
      return true;
    case "ct":
      // state is ESTABLISHED and direction fixed for a cached decision; status, mark and helper are compared.
      return true;
    case "fib":
      // A route lookup on the packet's addresses and interfaces: fixed until the FIB changes (which drops the cache).
      return true;
    case "concat":
      return s.parts.every(selectorInvariant);
    default:
      return assertNever(s);
  }
}
