// A two-interface router for the NAT tests and benchmark: FIB, real conntrack and the NAT engine wired as the
// datapath wires them (prerouting DST manip, postrouting SRC manip, confirm), with a masquerade rule on the WAN
// and optional extra rules. It processes real packet bytes.

import { Conntrack } from "../conntrack/conntrack.js";
import type { NatRequest, RuleRef } from "../filter/trace.js";
import { fillPacketMeta } from "../packet-parse.js";
import { CtState, CtStatus, NONE, PacketMeta } from "../packet-meta.js";
import { SeededRng } from "../rng.js";
import { Fib } from "../route/fib.js";
import { Nat } from "./nat.js";
import type { NatVerdict } from "./nat.js";
import type { NatBehaviour } from "./nat-behaviour.js";
import { Manip } from "./rewrite.js";
import { words } from "./packets.fixture.js";

export const LAN = 1;
export const WAN = 2;
export const ROUTER_LAN = "192.168.1.1";
export const ROUTER_WAN = "198.51.100.2";

const RULE: RuleRef = {
  family: "inet",
  table: "test",
  chain: "nat",
  position: 0,
  index: 0,
  origin: { source: "nat.test.ts", line: 1, column: 1 },
};

export function natRequest(
  kind: NatRequest["kind"],
  o: {
    family?: 4 | 6;
    addr?: string;
    addrMax?: string;
    ports?: [number, number];
    random?: boolean;
    fullyRandom?: boolean;
    persistent?: boolean;
  } = {},
): NatRequest {
  const addrMin = o.addr === undefined ? null : words(o.addr);
  return {
    kind,
    family: o.family ?? (o.addr?.includes(":") ? 6 : 4),
    addrMin,
    addrMax: o.addrMax === undefined ? addrMin : words(o.addrMax),
    portMin: o.ports?.[0] ?? -1,
    portMax: o.ports?.[1] ?? -1,
    random: o.random ?? false,
    fullyRandom: o.fullyRandom ?? false,
    persistent: o.persistent ?? false,
    rule: RULE,
  };
}

export type Verdict =
  | { kind: "forwarded"; bytes: Uint8Array; oif: number; meta: PacketMeta }
  | { kind: "invalid"; meta: PacketMeta }
  | { kind: "dropped"; why: NatVerdict | "clash-at-confirm"; meta: PacketMeta };

export interface RouterRules {
  /** dstnat chain: the request for a first packet, or null (no rule matched). */
  dnat?: (m: PacketMeta) => NatRequest | null;
  /** srcnat chain; default: masquerade when leaving through the WAN. */
  snat?: (m: PacketMeta) => NatRequest | null;
}

export class TestRouter {
  readonly fib = new Fib();
  readonly ct: Conntrack;
  readonly nat: Nat;
  readonly meta = new PacketMeta();
  now = 0;

  constructor(
    behaviour: Partial<NatBehaviour> = {},
    readonly rules: RouterRules = {},
    maxEntries = 4096,
    seed = 1,
  ) {
    this.fib.addAddress(LAN, 4, words(ROUTER_LAN), 24);
    this.fib.addAddress(WAN, 4, words(ROUTER_WAN), 24);
    this.fib.addRoute({
      family: 4,
      prefix: words("0.0.0.0"),
      prefixLength: 0,
      oif: WAN,
      gateway: words("198.51.100.1"),
    });
    this.fib.addAddress(LAN, 6, words("2001:db8:1::1"), 64);
    this.fib.addAddress(WAN, 6, words("2001:db8:ffff::2"), 64);
    this.fib.addRoute({
      family: 6,
      prefix: words("::"),
      prefixLength: 0,
      oif: WAN,
      gateway: words("2001:db8:ffff::1"),
    });
    this.ct = new Conntrack({ maxEntries, profile: "openwrt" });
    this.nat = new Nat({ conntrack: this.ct, fib: this.fib, rng: new SeededRng(seed), behaviour });
  }

  /** One packet through prerouting → routing → postrouting → confirm; `bytes` is rewritten in place. */
  receive(bytes: Uint8Array, iif: number): Verdict {
    const m = this.meta;
    m.reset();
    const e = fillPacketMeta(bytes, 0, bytes.length, m);
    if (e !== null) throw new Error(`fixture packet does not parse: ${e.message}`);
    m.iif = iif;
    this.ct.track(m, this.now);
    if (m.ctState === CtState.INVALID) return { kind: "invalid", meta: m };
    const first = m.ctEntry !== NONE && (this.ct.status(m.ctEntry) & CtStatus.CONFIRMED) === 0;
    let v: NatVerdict;
    if (first) {
      const eif = this.nat.inbound(m);
      v = this.nat.setup(m, eif ? null : (this.rules.dnat?.(m) ?? null), Manip.DST);
    } else v = this.nat.translate(m, Manip.DST);
    if (v.kind === "drop") return this.drop(v);
    const route = this.fib.lookup(m.family, m.daddr);
    m.oif = route === null ? NONE : route.oif;
    if (first) {
      const snat =
        this.rules.snat ?? ((p: PacketMeta) => (p.oif === WAN ? natRequest("masquerade", { family: p.family }) : null));
      v = this.nat.setup(m, snat(m), Manip.SRC);
    } else v = this.nat.translate(m, Manip.SRC);
    if (v.kind === "drop") return this.drop(v);
    if (!this.ct.confirm(m, this.now)) return { kind: "dropped", why: "clash-at-confirm", meta: m };
    return { kind: "forwarded", bytes, oif: m.oif, meta: m };
  }

  private drop(v: NatVerdict): Verdict {
    this.ct.discard(this.meta);
    return { kind: "dropped", why: v, meta: this.meta };
  }
}
