// What one differential case is: a router ruleset variant and a short sequence of packets, each sent on the LAN
// or the WAN side of the router. Packets are described symbolically (flow, direction, TCP segment kind) so that
// each side of the comparison — the engine and the kernel — can aim replies at the translation IT chose: a reply
// goes to the outside endpoint that side's router actually put on the first forwarded packet of the flow.

import type { Chain, Expr, Origin, Rule, Ruleset, Selector, Value } from "../../engine/filter/index.js";

export type Side = "lan" | "wan";

/** The router under test (also the kernel rig's addressing): WAN 198.51.100.2/24 via 198.51.100.1, LAN .1/24. */
export const RouterAddress = {
  WAN: "198.51.100.2",
  WAN_PREFIX: 24,
  GATEWAY: "198.51.100.1",
  LAN: "192.168.1.1",
  LAN_PREFIX: 24,
  /** `snat to` target of the snat variant: an address of the WAN subnet the router does not own. */
  SNAT: "198.51.100.3",
} as const;

/**
 * LAN hosts the rig gives permanent neighbour entries (the router never has to ARP for them). 192.168.1.5 is written
 * one character shorter than the WAN address, for helper rewrites that change a payload's length.
 */
export const LAN_HOSTS = ["192.168.1.10", "192.168.1.20", "192.168.1.30", "192.168.1.99", "192.168.1.5"] as const;
/** The host the egress-drop variant blocks, and the port-forward target. */
export const EGRESS_BLOCKED = "192.168.1.30";
export const FORWARD_TARGET = "192.168.1.20";
/** Port forwards of the port-forward variant: tcp 8080 → FORWARD_TARGET:80, udp 5000 → FORWARD_TARGET:5000. */
export const TCP_FORWARD = { outside: 8080, inside: 80 } as const;
export const UDP_FORWARD = { outside: 5000, inside: 5000 } as const;

export interface RulesetVariant {
  readonly forwardPolicy: "accept" | "drop";
  readonly inputPolicy: "accept" | "drop";
  /** `ct state invalid drop` first in forward. */
  readonly invalidDrop: boolean;
  readonly nat: "masquerade" | "snat";
  /** DNAT port forwards in a prerouting nat chain, with `ct status dnat accept` in forward. */
  readonly portForward: boolean;
  /** `ip saddr EGRESS_BLOCKED oifname "wan" drop` in forward, before the established rule. */
  readonly egressDrop: boolean;
}

export interface Endpoint {
  readonly addr: string;
  /** TCP/UDP port, or the ICMP echo identifier. */
  readonly port: number;
}

export type FlowProto = "tcp" | "udp" | "icmp";

export interface Flow {
  readonly proto: FlowProto;
  /** Where the initiator sits. */
  readonly from: Side;
  readonly client: Endpoint;
  /** The endpoint the client addresses (for a port forward: the router's WAN address and outside port). */
  readonly server: Endpoint;
  /** The reply tuple used until a side has seen the flow forwarded (src, dst of a reply packet). */
  readonly fallbackReply: { readonly src: Endpoint; readonly dst: Endpoint };
}

export type Dir = "orig" | "reply";

/** TCP flags byte values (RFC 9293 §3.1). */
export const Flags = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export type Step =
  | {
      readonly kind: "tcp";
      readonly flow: number;
      readonly dir: Dir;
      readonly flags: number;
      readonly seq: number;
      readonly ack: number;
      readonly payload: number;
      /** Window-scale option on a SYN (RFC 7323 §2), else null. */
      readonly wscale: number | null;
    }
  | { readonly kind: "udp"; readonly flow: number; readonly dir: Dir; readonly payload: number }
  | { readonly kind: "echo"; readonly flow: number; readonly dir: Dir; readonly seq: number }
  /** An ICMP destination-unreachable about the packet of step `about`, sent back toward that packet's sender from
   *  the side where it came out; `reporter` "host" is its destination, "router" an on-path router. */
  | { readonly kind: "icmp-error"; readonly about: number; readonly reporter: "host" | "router" };

export interface Scenario {
  readonly name: string;
  readonly variant: RulesetVariant;
  readonly flows: readonly Flow[];
  readonly steps: readonly Step[];
}

const SOURCE = "differential.nft";
const at = (line: number): Origin => ({ source: SOURCE, line, column: 1 });
const rule = (line: number, ...exprs: Expr[]): Rule => ({ origin: at(line), exprs });
const match = (left: Selector, right: Value): Expr => ({ kind: "match", left, op: "==", right });
const str = (value: string): Value => ({ kind: "string", value });
const iifname = (name: string): Expr => match({ kind: "meta", key: "iifname" }, str(name));
const oifname = (name: string): Expr => match({ kind: "meta", key: "oifname" }, str(name));
const ctState = (...names: string[]): Expr => ({
  kind: "match",
  left: { kind: "ct", key: "state" },
  op: "in",
  right: { kind: "set", elements: names.map((name): Value => ({ kind: "symbol", name })) },
});
const ACCEPT: Expr = { kind: "accept" };
const DROP: Expr = { kind: "drop" };

/** The router's ruleset for a variant, as IR (the engine compiles it, writeNftText loads it into the kernel). */
export function variantRuleset(v: RulesetVariant): Ruleset {
  const forward: Rule[] = [];
  if (v.invalidDrop) forward.push(rule(10, ctState("invalid"), DROP));
  if (v.egressDrop)
    forward.push(
      rule(
        11,
        match({ kind: "payload", protocol: "ip", field: "saddr" }, { kind: "address", addr: EGRESS_BLOCKED }),
        oifname("wan"),
        DROP,
      ),
    );
  forward.push(rule(12, ctState("established", "related"), ACCEPT), rule(13, iifname("lan"), oifname("wan"), ACCEPT));
  // `ct status dnat` is a bit test (op "in" on a flag type); `ct status == dnat` would compare the whole word.
  if (v.portForward)
    forward.push(
      rule(
        14,
        { kind: "match", left: { kind: "ct", key: "status" }, op: "in", right: { kind: "symbol", name: "dnat" } },
        ACCEPT,
      ),
    );
  const snat: Expr =
    v.nat === "masquerade"
      ? { kind: "masquerade" }
      : { kind: "snat", family: "ip", addr: { kind: "address", addr: RouterAddress.SNAT } };
  const chains: Chain[] = [
    {
      name: "input",
      origin: at(2),
      base: { type: "filter", hook: "input", priority: 0, policy: v.inputPolicy },
      rules: [rule(3, ctState("established", "related"), ACCEPT), rule(4, iifname("lan"), ACCEPT)],
    },
    {
      name: "forward",
      origin: at(9),
      base: { type: "filter", hook: "forward", priority: 0, policy: v.forwardPolicy },
      rules: forward,
    },
    {
      name: "postrouting",
      origin: at(20),
      base: { type: "nat", hook: "postrouting", priority: 100, policy: "accept" },
      rules: [rule(21, oifname("wan"), snat)],
    },
  ];
  if (v.portForward)
    chains.push({
      name: "prerouting",
      origin: at(30),
      base: { type: "nat", hook: "prerouting", priority: -100, policy: "accept" },
      rules: [
        rule(
          31,
          iifname("wan"),
          match({ kind: "payload", protocol: "tcp", field: "dport" }, { kind: "int", value: TCP_FORWARD.outside }),
          {
            kind: "dnat",
            family: "ip",
            addr: { kind: "address", addr: FORWARD_TARGET },
            port: { lo: TCP_FORWARD.inside, hi: TCP_FORWARD.inside },
          },
        ),
        rule(
          32,
          iifname("wan"),
          match({ kind: "payload", protocol: "udp", field: "dport" }, { kind: "int", value: UDP_FORWARD.outside }),
          { kind: "dnat", family: "ip", addr: { kind: "address", addr: FORWARD_TARGET } },
        ),
      ],
    });
  return { tables: [{ family: "inet", name: "fw", origin: at(1), chains }] };
}
