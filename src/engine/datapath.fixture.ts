// The reference router of SCENARIOS.md (`seed-home`) as a Datapath, its ruleset written by hand as IR with the
// origins a seed-home.nft file would give, and a sink that records what the datapath transmits and delivers.
// Packet builders come from the NAT tests' fixture (wire-layer emitters, real checksums).

import { Datapath } from "./datapath.js";
import type { DatapathOptions, DatapathSink } from "./datapath.js";
import type { Chain, Expr, Hook, Origin, Rule, Ruleset, Selector, Value } from "./filter/index.js";
import type { PacketMeta } from "./packet-meta.js";
import { SeededRng } from "./rng.js";
import { words } from "./nat/packets.fixture.js";

export { badChecksums, echoPacket, icmpErrorPacket, tcpPacket, udpPacket, words } from "./nat/packets.fixture.js";

export const WAN = 0;
export const LAN = 1;
export const SOURCE = "seed-home.nft";

/** Line numbers of the seed ruleset, as `nft -f seed-home.nft` would report them. */
export const SeedLine = {
  TABLE: 1,
  INPUT: 2,
  INPUT_CT: 4,
  INPUT_LAN: 5,
  FORWARD: 7,
  FORWARD_HARDENED: 9,
  FORWARD_CT: 10,
  FORWARD_LAN_WAN: 11,
  POSTROUTING: 13,
  MASQUERADE: 15,
} as const;

export const at = (line: number): Origin => ({ source: SOURCE, line, column: 1 });
export const rule = (line: number, ...exprs: Expr[]): Rule => ({ origin: at(line), exprs });
export const match = (left: Selector, right: Value, op: "==" | "!=" | "in" = "=="): Expr => ({
  kind: "match",
  left,
  op,
  right,
});
export const str = (value: string): Value => ({ kind: "string", value });
export const sym = (name: string): Value => ({ kind: "symbol", name });
export const int = (value: number): Value => ({ kind: "int", value });
export const addr = (a: string): Value => ({ kind: "address", addr: a });
export const ctState = (...names: string[]): Expr => ({
  kind: "match",
  left: { kind: "ct", key: "state" },
  op: "in",
  right: { kind: "set", elements: names.map(sym) },
});
export const iifname = (name: string): Expr => match({ kind: "meta", key: "iifname" }, str(name));
export const oifname = (name: string): Expr => match({ kind: "meta", key: "oifname" }, str(name));
export const ACCEPT: Expr = { kind: "accept" };
export const DROP: Expr = { kind: "drop" };

export function baseChain(
  name: string,
  line: number,
  type: "filter" | "nat",
  hook: Hook,
  priority: number,
  policy: "accept" | "drop",
  rules: Rule[],
): Chain {
  return { name, origin: at(line), base: { type, hook, priority, policy }, rules };
}

export interface SeedVariant {
  /** seed-home-hardened: `ip saddr 192.168.1.20 oifname "wan" drop` first in forward. */
  readonly hardened?: boolean;
  readonly inputPolicy?: "accept" | "drop";
  /** Rules appended to forward (after the seed's own), e.g. a reject at the end. */
  readonly forwardTail?: Rule[];
  /** Rules put first in forward (before `ct state established,related accept`). */
  readonly forwardHead?: Rule[];
  /** Extra chains in the same table (dstnat, srcnat, ...). */
  readonly chains?: Chain[];
  /** Replaces the input chain's rules. */
  readonly inputRules?: Rule[];
}

/** The seed-home ruleset: table inet fw { input, forward, postrouting } (SCENARIOS.md, reference network). */
export function seedRuleset(v: SeedVariant = {}): Ruleset {
  const forward: Rule[] = [...(v.forwardHead ?? [])];
  if (v.hardened === true)
    forward.push(
      rule(
        SeedLine.FORWARD_HARDENED,
        match({ kind: "payload", protocol: "ip", field: "saddr" }, addr("192.168.1.20")),
        oifname("wan"),
        DROP,
      ),
    );
  forward.push(
    rule(SeedLine.FORWARD_CT, ctState("established", "related"), ACCEPT),
    rule(SeedLine.FORWARD_LAN_WAN, iifname("lan"), oifname("wan"), ACCEPT),
    ...(v.forwardTail ?? []),
  );
  return {
    tables: [
      {
        family: "inet",
        name: "fw",
        origin: at(SeedLine.TABLE),
        chains: [
          baseChain(
            "input",
            SeedLine.INPUT,
            "filter",
            "input",
            0,
            v.inputPolicy ?? "drop",
            v.inputRules ?? [
              rule(SeedLine.INPUT_CT, ctState("established", "related"), ACCEPT),
              rule(SeedLine.INPUT_LAN, iifname("lan"), ACCEPT),
            ],
          ),
          baseChain("forward", SeedLine.FORWARD, "filter", "forward", 0, "drop", forward),
          baseChain("postrouting", SeedLine.POSTROUTING, "nat", "postrouting", 100, "accept", [
            rule(SeedLine.MASQUERADE, oifname("wan"), { kind: "masquerade" }),
          ]),
          ...(v.chains ?? []),
        ],
      },
    ],
  };
}

/** The seed router: wan 198.51.100.2/24 (default via 198.51.100.1), lan 192.168.1.1/24 + 2001:db8:1::1/64. */
export function seedRouter(ruleset: Ruleset = seedRuleset(), extra: Partial<DatapathOptions> = {}): Datapath {
  const built = Datapath.create({
    name: "router",
    interfaces: [
      {
        name: "wan",
        addresses: [
          { family: 4, address: words("198.51.100.2"), prefixLength: 24 },
          { family: 6, address: words("2001:db8:ff::2"), prefixLength: 64 },
        ],
      },
      {
        name: "lan",
        addresses: [
          { family: 4, address: words("192.168.1.1"), prefixLength: 24 },
          { family: 6, address: words("2001:db8:1::1"), prefixLength: 64 },
        ],
      },
    ],
    routes: [
      { family: 4, prefix: words("0.0.0.0"), prefixLength: 0, oif: WAN, gateway: words("198.51.100.1") },
      { family: 6, prefix: words("::"), prefixLength: 0, oif: WAN, gateway: words("2001:db8:ff::1") },
    ],
    ruleset,
    forwarding: true,
    rng: new SeededRng(7),
    ...extra,
  });
  if (!built.ok) throw new Error(`seed ruleset does not compile: ${built.error.message}`);
  return built.value;
}

export interface Transmitted {
  readonly oif: number;
  readonly bytes: Uint8Array;
  readonly nextHop: Uint32Array;
}

/** A DatapathSink that keeps copies of everything it is handed. */
export class RecordingSink implements DatapathSink {
  readonly transmitted: Transmitted[] = [];
  readonly delivered: Uint8Array[] = [];

  transmit(oif: number, bytes: Uint8Array, l3: number, length: number, nextHop: Uint32Array): void {
    this.transmitted.push({ oif, bytes: bytes.slice(l3, l3 + length), nextHop: nextHop.slice() });
  }

  deliver(meta: PacketMeta): void {
    this.delivered.push(meta.bytes.slice(meta.l3, meta.l3 + meta.length));
  }

  clear(): void {
    this.transmitted.length = 0;
    this.delivered.length = 0;
  }
}
