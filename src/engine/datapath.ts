// One node's datapath, modelled on the Linux IPv4/IPv6 stack with netfilter (SEMANTICS.md §2.1, §3.1):
//
//   receive ─> PREROUTING ─> route ─┬─> INPUT ──────────────────────────────> local delivery
//              raw < −200             │   filter < 100, nat(SNAT) @100, confirm
//              conntrack @−200        └─> FORWARD ─> POSTROUTING ─> transmit
//              filter [−200,−100)         filter      filter < 100, nat(SNAT) @100, filter ≥ 100, confirm
//              nat(DNAT) @−100
//              filter ≥ −100
//   send (local) ─> route ─> OUTPUT (raw, conntrack @−200, filter, nat(DNAT) @−100, filter) ─> POSTROUTING
//
// Type nat chains run only for a connection's first packet (NAT not yet initialised for that manip); every later
// packet follows the binding (nf_nat_inet_fn). The entry is confirmed only after the last hook accepted, so a
// first packet dropped anywhere leaves no state and no mapping (§2.1). A packet is an L3 buffer, rewritten in
// place; established packets allocate nothing. Every step can be traced, shaped like `nft monitor trace`.
//
// When the ruleset allows it, what the walk decided for an established flow direction is kept as a plan
// (flow-cache.ts) and replayed for its later packets, with only the per-packet work done; option-less IPv4 TCP/UDP
// packets arriving in one receive ring take receiveCachedIpv4, which finds the plan before building anything.

import { Conntrack, CtCause, CtHook, CT_CAUSE_NAMES } from "./conntrack/index.js";
import { indexSlots } from "./conntrack/conntrack.js";
import { FastPath, MAX_BURST } from "./fastpath/fast-path.js";
import type { ConntrackOptions } from "./conntrack/index.js";
import { CtHelper, HelperNatResult } from "./conntrack/index.js";
import {
  Filter,
  compileRuleset,
  forwardPathFlowInvariance,
  newEvalContext,
  rulesetReadsCtFacts,
  rulesetUsesConntrack,
} from "./filter/index.js";
import type { HookResult } from "./filter/index.js";
import type {
  CompileError,
  CompiledChain,
  EvalContext,
  FibOracle,
  FlowInvariance,
  Hook,
  NatRequest,
  RejectReply,
  Ruleset,
  TraceEvent,
  Verdict,
} from "./filter/index.js";
import { HelperNatHooks, Manip, Nat } from "./nat/index.js";
import type { NatBehaviour, NatVerdict } from "./nat/index.js";
import { FlowCache } from "./flow-cache.js";
import type { ForwardPlan } from "./flow-cache.js";
import { Ipv4Segment } from "./ipv4-segment.js";
import { fillPacketMeta } from "./packet-parse.js";
import { CtDir, CtState, CtStatus, NONE, PacketMeta, Proto } from "./packet-meta.js";
import type { Family } from "./packet-meta.js";
import { buildIcmpError, buildTcpReset } from "./reject.js";
import type { Rng } from "./rng.js";
import { Fib, FibExpression, RouteType, effectiveRpFilter, routeRejection, validateSource } from "./route/index.js";
import type { Route, RouteSpec, RpFilterMode, RpFilterVerdict } from "./route/index.js";
import type { WireError } from "../wire/result.js";
import { readU16, writeU16 } from "../wire/bytes.js";
import { updateChecksum16 } from "../wire/checksum.js";
import { Ipv4Field } from "../wire/ipv4.js";
import { Ipv6Field } from "../wire/ipv6.js";

/** Hook priorities of the kernel's own steps (include/uapi/linux/netfilter_ipv4.h NF_IP_PRI_*). */
export const Priority = {
  RAW: -300,
  CONNTRACK: -200,
  NAT_DST: -100,
  FILTER: 0,
  NAT_SRC: 100,
  CONNTRACK_CONFIRM: 0x7fffffff,
} as const;
const MIN_PRIO = -0x80000000;
const MAX_PRIO = Priority.CONNTRACK_CONFIRM + 1;

/**
 * The priority ranges of non-nat base chains the datapath runs between its own fixed-priority steps, as
 * nf_hook_entries interleaves them. Numbered so that which of them hold chains is one byte per (stage, family),
 * computed when a ruleset is installed instead of per packet.
 */
const Stage = {
  PRE_RAW: 0,
  PRE_FILTER: 1,
  PRE_LATE: 2,
  OUT_RAW: 3,
  OUT_FILTER: 4,
  OUT_LATE: 5,
  INPUT: 6,
  INPUT_LATE: 7,
  FORWARD: 8,
  POST: 9,
  POST_LATE: 10,
  /** The type nat chains of a hook, all at its NAT step in their own priority order (nf_nat_inet_fn). */
  NAT_PREROUTING: 11,
  NAT_OUTPUT: 12,
  NAT_INPUT: 13,
  NAT_POSTROUTING: 14,
} as const;
/** Offsets from a PRE_RAW/OUT_RAW base to the hook's later stages (hookWithConntrack serves both hooks). */
const STAGE_FILTER = 1;
const STAGE_LATE = 2;
const STAGES: readonly { readonly hook: Hook; readonly nat: boolean; readonly lo: number; readonly hi: number }[] = [
  { hook: "prerouting", nat: false, lo: MIN_PRIO, hi: Priority.CONNTRACK },
  { hook: "prerouting", nat: false, lo: Priority.CONNTRACK, hi: Priority.NAT_DST },
  { hook: "prerouting", nat: false, lo: Priority.NAT_DST, hi: MAX_PRIO },
  { hook: "output", nat: false, lo: MIN_PRIO, hi: Priority.CONNTRACK },
  { hook: "output", nat: false, lo: Priority.CONNTRACK, hi: Priority.NAT_DST },
  { hook: "output", nat: false, lo: Priority.NAT_DST, hi: MAX_PRIO },
  { hook: "input", nat: false, lo: MIN_PRIO, hi: Priority.NAT_SRC },
  { hook: "input", nat: false, lo: Priority.NAT_SRC, hi: Priority.CONNTRACK_CONFIRM },
  { hook: "forward", nat: false, lo: MIN_PRIO, hi: MAX_PRIO },
  { hook: "postrouting", nat: false, lo: MIN_PRIO, hi: Priority.NAT_SRC },
  { hook: "postrouting", nat: false, lo: Priority.NAT_SRC, hi: Priority.CONNTRACK_CONFIRM },
  { hook: "prerouting", nat: true, lo: MIN_PRIO, hi: MAX_PRIO },
  { hook: "output", nat: true, lo: MIN_PRIO, hi: MAX_PRIO },
  { hook: "input", nat: true, lo: MIN_PRIO, hi: MAX_PRIO },
  { hook: "postrouting", nat: true, lo: MIN_PRIO, hi: MAX_PRIO },
];

/** The stage of a hook's type nat chains. */
function natStage(hook: "prerouting" | "output" | "input" | "postrouting"): number {
  switch (hook) {
    case "prerouting":
      return Stage.NAT_PREROUTING;
    case "output":
      return Stage.NAT_OUTPUT;
    case "input":
      return Stage.NAT_INPUT;
    case "postrouting":
      return Stage.NAT_POSTROUTING;
  }
}

/** Per (stage, family): the base chains of the filter in the stage, in evaluation order. */
function stagesWithChains(filter: Filter): (readonly CompiledChain[])[] {
  const out: (readonly CompiledChain[])[] = [];
  for (const st of STAGES)
    out.push(filter.chainsIn(st.hook, 4, st.nat, st.lo, st.hi), filter.chainsIn(st.hook, 6, st.nat, st.lo, st.hi));
  return out;
}

export interface InterfaceConfig {
  readonly name: string;
  /** Addresses with prefix length; IPv4 in word 0, IPv6 as four big-endian words. */
  readonly addresses?: readonly {
    readonly family: Family;
    readonly address: ArrayLike<number>;
    readonly prefixLength: number;
  }[];
  /** net.ipv4.conf.<if>.rp_filter. */
  readonly rpFilter?: 0 | 1 | 2;
}

export interface DatapathOptions {
  readonly name: string;
  /** Interface index = position in this list (meta.iif / meta.oif). */
  readonly interfaces: readonly InterfaceConfig[];
  readonly routes?: readonly RouteSpec[];
  readonly ruleset?: Ruleset;
  /** net.ipv4.ip_forward / net.ipv6.conf.all.forwarding: a router forwards, a host does not. */
  readonly forwarding?: boolean;
  /** net.ipv4.conf.all.rp_filter (the effective mode per interface is max(all, interface)). */
  readonly rpFilter?: 0 | 1 | 2;
  readonly conntrack?: Partial<ConntrackOptions>;
  /**
   * "auto" (default): track connections only when the ruleset uses ct, NAT, notrack or helpers, as Linux registers
   * conntrack in a namespace only once such a rule is loaded; "always": track every packet.
   */
  readonly tracking?: "auto" | "always";
  readonly nat?: Partial<NatBehaviour>;
  /**
   * Remember the forward path's decisions per established flow direction when the ruleset allows it (flow-cache.ts;
   * default true). Off, every packet walks every chain; the outcome is the same either way.
   */
  readonly flowCache?: boolean;
  /**
   * A receive ring of `ringBytes` in WebAssembly memory, the conntrack table beside it (fastpath/): a packet placed
   * in `receiveRing` that is an ACK of an ESTABLISHED TCP flow direction with a plan takes the compiled fast path;
   * every other packet the JavaScript paths. The outcome is the same either way. Needs the flow cache.
   */
  readonly fastPath?: { readonly ringBytes: number };
  readonly rng: Rng;
}

/** Whether [l3, l3 + length) is a span of whole bytes inside `bytes` (what the compiled path may read). */
function inside(bytes: Uint8Array, l3: number, length: number): boolean {
  return (l3 | 0) === l3 && (length | 0) === length && l3 >= 0 && length >= 0 && l3 + length <= bytes.length;
}

/** nf_conntrack_max of a node whose options name none. */
const DEFAULT_MAX_ENTRIES = 65536;

/** How a packet's walk through the node ended. */
export type Disposition =
  | { readonly kind: "delivered" }
  | { readonly kind: "forwarded"; readonly oif: number }
  | { readonly kind: "sent"; readonly oif: number }
  | { readonly kind: "dropped"; readonly hook: Hook | "routing" | "parse"; readonly reason: DropReason }
  | { readonly kind: "rejected"; readonly hook: Hook; readonly verdict: Verdict };

export type DropReason =
  | { readonly kind: "verdict"; readonly verdict: Verdict }
  | { readonly kind: "malformed"; readonly error: WireError }
  | { readonly kind: "conntrack-table-full" }
  | { readonly kind: "conntrack-clash" }
  /** A helper refused the message it parses (nf_ct_helper_log's line, e.g. "cannot parse cseq"): NF_DROP. */
  | { readonly kind: "helper"; readonly helper: "ftp" | "sip"; readonly message: string }
  | { readonly kind: "nat"; readonly reason: Extract<NatVerdict, { kind: "drop" }>["reason"] }
  | { readonly kind: "rp-filter"; readonly reason: Extract<RpFilterVerdict, { kind: "drop" }>["reason"] }
  | { readonly kind: "no-route"; readonly cause: string }
  | { readonly kind: "not-forwarding" }
  | { readonly kind: "ttl-exceeded" }
  | { readonly kind: "martian-destination" };

/** One step of a packet's walk, for traces, reports and the UI (one format for every answer, STYLE.md §13). */
export type DatapathEvent =
  | { readonly kind: "filter"; readonly hook: Hook; readonly event: TraceEvent }
  | {
      readonly kind: "conntrack";
      readonly hook: Hook;
      readonly state: "new" | "established" | "related" | "invalid" | "untracked";
      readonly direction: "original" | "reply";
      readonly entry: number;
      readonly cause: string;
    }
  | {
      readonly kind: "nat";
      readonly hook: Hook;
      readonly manip: "src" | "dst";
      readonly rule: NatRequest["rule"] | null;
      readonly before: string;
      readonly after: string;
    }
  | {
      readonly kind: "route";
      readonly result: "local" | "forward";
      readonly oif: number;
      readonly gateway: string | null;
    }
  | { readonly kind: "verdict"; readonly hook: Hook; readonly verdict: Verdict }
  | { readonly kind: "reply"; readonly what: "tcp-reset" | "icmp-error"; readonly bytes: Uint8Array };

/** Where the datapath hands packets: onto a link, or to the node's own stack. */
export interface DatapathSink {
  /** A packet leaves by `oif` toward `nextHop` (the gateway, or the destination itself when on-link). */
  transmit(oif: number, bytes: Uint8Array, l3: number, length: number, nextHop: Uint32Array): void;
  /** A packet reached the node itself (after INPUT and confirmation); `meta` is valid until the call returns. */
  deliver(meta: PacketMeta): void;
}

export type DatapathBuild =
  { readonly ok: true; readonly value: Datapath } | { readonly ok: false; readonly error: CompileError };

const STATE_NAMES: Readonly<Record<number, "new" | "established" | "related" | "invalid" | "untracked">> = {
  [CtState.NEW]: "new",
  [CtState.ESTABLISHED]: "established",
  [CtState.RELATED]: "related",
  [CtState.INVALID]: "invalid",
  [CtState.UNTRACKED]: "untracked",
};

const HELPERS: Readonly<Record<string, number>> = { ftp: CtHelper.FTP, sip: CtHelper.SIP };

const DELIVERED: Disposition = { kind: "delivered" };

export class Datapath {
  readonly name: string;
  readonly interfaces: readonly InterfaceConfig[];
  readonly fib = new Fib();
  readonly conntrack: Conntrack;
  readonly nat: Nat;
  /** Set to receive every step of every packet; null (the default) costs nothing. */
  trace: ((event: DatapathEvent) => void) | null = null;

  private readonly forwarding: boolean;
  /** Whether this node runs conntrack at all (DatapathOptions.tracking). */
  private tracking: boolean;
  /** The ruleset reads `ct status`/`ct mark`/`ct helper`, which the evaluator takes from `ctx`, not from meta. */
  private readsCtFacts: boolean;
  private readonly trackingOption: "auto" | "always";
  /** The compiled ruleset in force and the IR it came from (replaced at runtime by replaceRuleset). */
  private current: Filter;
  private stageChains: (readonly CompiledChain[])[];
  private currentRuleset: Ruleset;
  /** Effective rp_filter mode per interface (max of all and the interface's own), and for an unknown iif. */
  private readonly rpModes: Uint8Array;
  private readonly rpUnknownIif: RpFilterMode;
  private readonly meta = new PacketMeta();
  private readonly ctx: EvalContext = newEvalContext();
  private readonly nextHop = new Uint32Array(4);
  private readonly fibOracle: FibOracle;
  private readonly filterTrace: (e: TraceEvent) => void;
  private currentHook: Hook = "prerouting";
  /** The packet being walked is a reply holding the entry of the packet it answers (emitReply). */
  private attached = false;
  private sink: DatapathSink | null = null;
  /** One disposition object per interface, built once: a forwarded packet allocates nothing. */
  private readonly forwardedVia: readonly Disposition[];
  /** The WebAssembly fast path and its receive ring (DatapathOptions.fastPath), or null. */
  private readonly fast: FastPath | null;
  private readonly sentVia: readonly Disposition[];
  /** Decisions kept per established flow direction, or null when DatapathOptions.flowCache is false. */
  private readonly flowCache: FlowCache | null;
  /** Per family, whether the ruleset in force lets the forward path's decisions be kept (flow-invariance.ts). */
  private invariance: FlowInvariance;
  /** The FIB generation the kept decisions were derived from. */
  private planFib = 0;
  private replayed = 0;
  private replayedEarly = 0;
  private replayedCompiled = 0;
  /** IPv4 packets may take receiveCachedIpv4: plans are kept, IPv4's forward path is invariant, no raw chains. */
  private cachedIpv4 = false;
  /** The packet receiveCachedIpv4 is reading. */
  private readonly segment = new Ipv4Segment();
  /** The array the previous packet arrived in. */
  private ring: Uint8Array | null = null;

  private constructor(opts: DatapathOptions, filter: Filter) {
    this.name = opts.name;
    this.interfaces = opts.interfaces;
    this.forwarding = opts.forwarding ?? false;
    this.trackingOption = opts.tracking ?? "auto";
    this.currentRuleset = opts.ruleset ?? { tables: [] };
    this.tracking = this.trackingOption === "always" || rulesetUsesConntrack(this.currentRuleset);
    this.readsCtFacts = rulesetReadsCtFacts(this.currentRuleset);
    const rpAll = opts.rpFilter ?? 0;
    this.rpModes = Uint8Array.from(opts.interfaces, (i) => effectiveRpFilter(rpAll, i.rpFilter ?? 0));
    this.rpUnknownIif = effectiveRpFilter(rpAll, 0);
    this.current = filter;
    this.stageChains = stagesWithChains(filter);
    this.forwardedVia = opts.interfaces.map((_, oif): Disposition => ({ kind: "forwarded", oif }));
    this.sentVia = opts.interfaces.map((_, oif): Disposition => ({ kind: "sent", oif }));
    opts.interfaces.forEach((iface, index) => {
      for (const a of iface.addresses ?? []) this.fib.addAddress(index, a.family, a.address, a.prefixLength);
    });
    for (const r of opts.routes ?? []) this.fib.addRoute(r);
    const entries = Math.max(1, Math.floor(opts.conntrack?.maxEntries ?? DEFAULT_MAX_ENTRIES));
    const fast =
      opts.fastPath === undefined || opts.flowCache === false
        ? null
        : new FastPath(entries, indexSlots(entries), opts.fastPath.ringBytes);
    this.conntrack = new Conntrack({
      maxEntries: DEFAULT_MAX_ENTRIES,
      profile: "linux",
      seed: opts.rng.nextU32(),
      ...opts.conntrack,
      ...(fast === null ? {} : { arena: { rec: fast.rec, slots: fast.slots } }),
    });
    fast?.bind(this.conntrack.fastPathTable());
    this.fast = fast;
    this.nat = new Nat({ conntrack: this.conntrack, fib: this.fib, rng: opts.rng, behaviour: opts.nat });
    // Nat chains itself onto conntrack.onDestroy to keep its indexes clean. The helpers' NAT half (nf_nat_sip,
    // nf_nat_ftp) moves expectations of NATed masters and binds the connections they expect (the expectfn).
    const helperNat = new HelperNatHooks(this.conntrack);
    this.conntrack.helperNat = helperNat;
    this.conntrack.onExpected = (e, x) => {
      helperNat.expected(e, x);
    };
    this.flowCache = (opts.flowCache ?? true) ? new FlowCache(this.conntrack) : null;
    this.invariance = forwardPathFlowInvariance(this.currentRuleset);
    this.cachedIpv4 = this.cachedIpv4Allowed();
    this.fibOracle = new FibExpression(this.fib);
    this.ctx.fib = this.fibOracle;
    this.filterTrace = (event) => {
      this.trace?.({ kind: "filter", hook: this.currentHook, event });
    };
  }

  /** Builds a node; a ruleset the evaluator cannot run is an error naming where it was written. */
  static create(opts: DatapathOptions): DatapathBuild {
    const compiled = compileRuleset(opts.ruleset ?? { tables: [] }, {
      interfaces: opts.interfaces.map((i) => i.name),
    });
    if (!compiled.ok) return compiled;
    return { ok: true, value: new Datapath(opts, new Filter(compiled.value)) };
  }

  /** Packets forwarded by a kept plan instead of a walk of every chain (flow-cache.ts), since the node was built. */
  get plansReplayed(): number {
    return this.replayed;
  }

  /** Of those, the packets that took the early IPv4 path (receiveCachedIpv4: packets arriving in one array). */
  get plansReplayedEarly(): number {
    return this.replayedEarly;
  }
  /** Of those, the packets the compiled fast path forwarded (DatapathOptions.fastPath). */
  get plansReplayedCompiled(): number {
    return this.replayedCompiled;
  }

  /** The compiled ruleset in force (its counters count since it was installed). */
  get filter(): Filter {
    return this.current;
  }

  /** The ruleset IR in force. */
  get ruleset(): Ruleset {
    return this.currentRuleset;
  }

  /**
   * Installs a new ruleset at runtime, as `nft -f` or a daemon adding rules (miniupnpd) does: it is compiled first
   * and nothing changes when it does not compile. Conntrack entries and NAT bindings stay (the kernel keeps them
   * across ruleset reloads); counters and limit buckets start again from zero, as for rules created anew.
   */
  replaceRuleset(
    ruleset: Ruleset,
  ): { readonly ok: true; readonly value: null } | { readonly ok: false; readonly error: CompileError } {
    const compiled = compileRuleset(ruleset, { interfaces: this.interfaces.map((i) => i.name) });
    if (!compiled.ok) return compiled;
    this.current = new Filter(compiled.value);
    this.stageChains = stagesWithChains(this.current);
    this.currentRuleset = ruleset;
    this.tracking = this.tracking || this.trackingOption === "always" || rulesetUsesConntrack(ruleset);
    this.readsCtFacts = rulesetReadsCtFacts(ruleset);
    this.invariance = forwardPathFlowInvariance(ruleset);
    this.cachedIpv4 = this.cachedIpv4Allowed();
    this.flowCache?.clear();
    return { ok: true, value: null };
  }

  /** Chains before conntrack (raw priority) would run before the entry is known: receiveCachedIpv4 finds it first. */
  private cachedIpv4Allowed(): boolean {
    return this.flowCache !== null && this.invariance.v4 && this.stageChains[Stage.PRE_RAW * 2].length === 0;
  }

  interfaceIndex(name: string): number {
    return this.interfaces.findIndex((i) => i.name === name);
  }

  /** A packet arrives on interface `iif`: the whole receive path (prerouting, routing, input or forward). */
  receive(bytes: Uint8Array, l3: number, length: number, iif: number, now: number, sink: DatapathSink): Disposition {
    const fast = this.fast;
    if (fast !== null && bytes === fast.ring && this.compiledApplies() && inside(bytes, l3, length)) {
      const compiled = this.receiveCompiled(fast, l3, length, iif, now, sink);
      if (compiled !== null) return compiled;
    }
    return this.receiveInterpreted(bytes, l3, length, iif, now, sink);
  }

  /** `receive` without the compiled fast path: the early IPv4 path, else the walk. */
  private receiveInterpreted(
    bytes: Uint8Array,
    l3: number,
    length: number,
    iif: number,
    now: number,
    sink: DatapathSink,
  ): Disposition {
    // The early path reads through a DataView bound to the array the packets arrive in, as a driver's receive ring;
    // a packet in an array of its own (a simulation's) takes the general path, which replays kept plans too:
    // making a DataView per packet costs more than the early path saves.
    if (bytes === this.ring) {
      if (this.cachedIpv4 && this.trace === null) {
        const early = this.receiveCachedIpv4(bytes, l3, length, iif, now, sink);
        if (early !== null) return early;
      }
    } else this.ring = bytes;
    const meta = this.meta;
    meta.reset();
    const bad = fillPacketMeta(bytes, l3, length, meta);
    if (bad !== null) return { kind: "dropped", hook: "parse", reason: { kind: "malformed", error: bad } };
    meta.iif = iif;
    this.sink = sink;
    this.prepareContext(now);
    this.current.countedLogging = false;

    // PREROUTING
    const v = this.runFilter(Stage.PRE_RAW);
    if (v !== null) return this.refuse("prerouting", v, now);
    const d = this.conntrackStep("prerouting", CtHook.PREROUTING, now);
    if (d !== null) return d;
    const planning = this.plannable();
    if (planning) {
      const plan = this.flowCache!.get(meta.ctEntry, meta.ctDir);
      if (plan !== null && this.planApplies(plan)) return this.forwardByPlan(plan, now, sink);
    }
    return this.receiveAfterConntrack(planning, now, sink);
  }

  /** The ring packets placed in take the compiled fast path (DatapathOptions.fastPath); null without one. */
  get receiveRing(): Uint8Array | null {
    return this.fast?.ring ?? null;
  }

  /**
   * Whether ring packets may take the compiled path: plans are kept and replayed for IPv4 (as for receiveCachedIpv4),
   * nothing is traced, the ruleset reads no ct facts (the plan's are not compared in WebAssembly), and the FIB is
   * the one the plans were made with.
   */
  private compiledApplies(): boolean {
    return this.cachedIpv4 && this.trace === null && !this.readsCtFacts && this.fib.generation === this.planFib;
  }

  /**
   * The compiled fast path (fastpath/assembly/established.ts) on a ring packet: what receiveCachedIpv4 would do to
   * an ACK of an ASSURED ESTABLISHED TCP connection without helper or sequence adjustment — checks, conntrack with
   * the window tracking, both NAT ends, the TTL — done in WebAssembly, then the plan's counters and the transmit.
   * Null (nothing done) for any other packet.
   */
  private receiveCompiled(
    fast: FastPath,
    l3: number,
    length: number,
    iif: number,
    now: number,
    sink: DatapathSink,
  ): Disposition | null {
    const ct = this.conntrack;
    ct.beginPacket(now);
    const node = fast.established(l3, length, iif, now, ct.expiryEpoch, ct.verifiesChecksums);
    if (node < 0) return null;
    return this.finishCompiled(fast.ring, l3, node, fast.total, fast.destination, sink);
  }

  /** What the compiled path leaves to JavaScript for a packet it forwarded as `node`: counters and the transmit. */
  private finishCompiled(
    ring: Uint8Array,
    l3: number,
    node: number,
    total: number,
    destination: number,
    sink: DatapathSink,
  ): Disposition {
    const plan = this.flowCache?.get(node >> 1, node & 1) ?? null;
    if (plan === null) throw new Error(`fast path forwarded node ${String(node)}, which has no plan`);
    this.conntrack.lastCause = CtCause.NONE;
    this.replayedEarly++;
    this.replayedCompiled++;
    this.countByPlan(plan, total);
    const oif = plan.oif;
    const hop = this.nextHop;
    const gw = plan.gateway;
    hop[0] = gw === null ? destination : gw[0];
    hop[1] = 0;
    hop[2] = 0;
    hop[3] = 0;
    this.currentHook = "postrouting";
    sink.transmit(oif, ring, l3, total, hop);
    return this.forwardedVia[oif];
  }

  /**
   * Receives a burst of ring packets — at `l3s[k]`, `lengths[k]` bytes, arrived on `iifs[k]`, for k < `count` — in
   * order, as a NIC's poll hands them over, each disposition into `out[k]`: their table accesses are read ahead,
   * runs of packets the compiled path handles go through it in one call, every other packet through `receive`.
   * A run's packets are all processed before its transmits reach the sink (in order): a sink must not feed packets
   * back into this node during the call. Without the fast path, or for packets not in its ring, or a burst longer
   * than MAX_BURST, it is `receive` on each packet in turn.
   */
  receiveBurst(
    ring: Uint8Array,
    l3s: Int32Array,
    lengths: Int32Array,
    iifs: Int32Array,
    count: number,
    now: number,
    sink: DatapathSink,
    out: Disposition[],
  ): void {
    const fast = this.fast;
    let staged = fast !== null && ring === fast.ring && count <= MAX_BURST;
    for (let k = 0; staged && k < count; k++) staged = inside(ring, l3s[k], lengths[k]);
    if (fast === null || !staged) {
      for (let k = 0; k < count; k++) out[k] = this.receive(ring, l3s[k], lengths[k], iifs[k], now, sink);
      return;
    }
    fast.stage(l3s, lengths, iifs, count);
    fast.readAheadStaged(count);
    const ct = this.conntrack;
    let k = 0;
    while (k < count) {
      if (this.compiledApplies()) {
        ct.beginPacket(now);
        const done = fast.burst(k, count, now, ct.expiryEpoch, ct.verifiesChecksums);
        for (; k < done; k++) {
          const node = fast.forwardedNode(k);
          out[k] = this.finishCompiled(ring, l3s[k], node, fast.forwardedTotal(k), fast.forwardedDestination(k), sink);
        }
        if (k === count) break;
      }
      // Not the compiled path's case (it has looked at this packet and changed nothing): the interpreted paths.
      out[k] = this.receiveInterpreted(ring, l3s[k], lengths[k], iifs[k], now, sink);
      k++;
    }
  }

  /**
   * The receive path of an IPv4 TCP or UDP packet of an entry whose flow direction has a plan, without building
   * anything the plan makes unnecessary: the header is checked as ip_rcv_core and the transport `error()` checks
   * would pass it, the entry found without side effects, and only then is the packet committed — meta filled as
   * fillPacketMeta fills it, conntrack run on the found entry, and the plan replayed if the packet is still
   * ESTABLISHED with the same facts, else the walk continued after conntrack. Null (nothing done) when any of
   * that does not hold: the general path then handles the packet from the start.
   */
  private receiveCachedIpv4(
    bytes: Uint8Array,
    l3: number,
    length: number,
    iif: number,
    now: number,
    sink: DatapathSink,
  ): Disposition | null {
    const ct = this.conntrack;
    const seg = this.segment;
    if (!seg.read(bytes, l3, length, ct.verifiesChecksums) || this.fib.generation !== this.planFib) return null;
    ct.beginPacket(now);
    const node = ct.findIpv4(seg.proto, seg.saddr, seg.sport, seg.daddr, seg.dport, now);
    if (node === NONE) return null;
    const plan = this.flowCache!.get(node >> 1, node & 1);
    if (plan === null || plan.iif !== iif) return null;

    // Committed: meta as fillPacketMeta fills it, then the walk.
    const meta = this.meta;
    meta.reset();
    meta.bytes = bytes;
    meta.l3 = l3;
    meta.l4 = seg.l4;
    meta.length = seg.total;
    meta.saddr[0] = seg.saddr;
    meta.daddr[0] = seg.daddr;
    meta.proto = seg.proto;
    meta.ttl = seg.ttl;
    meta.sport = seg.sport;
    meta.dport = seg.dport;
    meta.payloadLength = seg.payload;
    if (seg.proto === Proto.TCP) {
      meta.seq = seg.seq;
      meta.ack = seg.ack;
      meta.tcpFlags = seg.flags;
      meta.window = seg.window;
    }
    meta.iif = iif;
    this.sink = sink;
    this.prepareContext(now);
    this.current.countedLogging = false;
    // The tcp_error/udp_error checks and the checksum were made by seg.read.
    if (ct.trackVerified(meta, now, node) !== 0)
      return { kind: "dropped", hook: "prerouting", reason: { kind: "conntrack-table-full" } };
    this.syncCtContext();
    if (meta.ctState !== CtState.ESTABLISHED || meta.ctEntry !== node >> 1 || !this.planApplies(plan))
      return this.receiveAfterConntrack(this.plannable(), now, sink);

    this.replayedEarly++;
    this.countByPlan(plan, this.meta.length);
    // Both NAT steps at once (the route they straddle is the plan's): the packet leaves as the inverse of the
    // other direction's tuple on each end the entry translates (nf_nat_packet).
    const e = node >> 1;
    const dir = node & 1;
    const st = ct.status(e);
    const srcBit = dir === CtDir.REPLY ? CtStatus.DST_NAT : CtStatus.SRC_NAT;
    const dstBit = dir === CtDir.REPLY ? CtStatus.SRC_NAT : CtStatus.DST_NAT;
    if ((st & (srcBit | dstBit)) !== 0) {
      const other = dir ^ 1;
      const ports = ct.ports(e, other);
      const nsaddr = (st & srcBit) !== 0 ? ct.ipv4Dst(e, other) : seg.saddr;
      const nsport = (st & srcBit) !== 0 ? ports & 0xffff : seg.sport;
      const ndaddr = (st & dstBit) !== 0 ? ct.ipv4Src(e, other) : seg.daddr;
      const ndport = (st & dstBit) !== 0 ? ports >>> 16 : seg.dport;
      seg.rewriteEnds(nsaddr, nsport, ndaddr, ndport);
      meta.saddr[0] = nsaddr;
      meta.sport = nsport;
      meta.daddr[0] = ndaddr;
      meta.dport = ndport;
    }
    const oif = plan.oif;
    meta.oif = oif;
    const hop = this.nextHop;
    const gw = plan.gateway;
    hop[0] = gw === null ? seg.daddr : gw[0];
    hop[1] = 0;
    hop[2] = 0;
    hop[3] = 0;
    seg.decrementTtl();
    meta.ttl = seg.ttl;
    this.currentHook = "postrouting";
    const c = this.confirm(now);
    if (c !== null) return c;
    // A helper may have resized the packet at confirm (SIP/FTP payload rewriting): send what meta says.
    sink.transmit(oif, meta.bytes, meta.l3, meta.length, hop);
    return this.forwardedVia[oif];
  }

  /** The receive path from PREROUTING's chains after conntrack on; `planning`: keep what it decides (plannable). */
  private receiveAfterConntrack(planning: boolean, now: number, sink: DatapathSink): Disposition {
    const meta = this.meta;
    if (planning) {
      const filter = this.current;
      filter.countedCount = 0;
      filter.countedLogging = true;
    }
    let d = this.afterConntrack("prerouting", Stage.PRE_RAW, now);
    if (d !== null) return d;

    // Routing decision (ip_route_input_noref): local, forward, or an error.
    const family = meta.family;
    const route = this.fib.lookup(family, meta.daddr);
    const type = route?.type ?? RouteType.UNSPEC;
    if (type === RouteType.LOCAL || type === RouteType.BROADCAST || type === RouteType.MULTICAST) {
      const rp = this.rpFilter(meta);
      if (rp !== null) return this.abandon(rp);
      return this.localIn(now);
    }
    const rejection = routeRejection(family, route);
    if (rejection !== null || route === null) {
      // The error goes first: icmp_send attaches it to the packet's entry, which is released only afterwards.
      if (rejection?.kind === "icmp-error") this.sendIcmpError(rejection.type, rejection.code, 0, now);
      return this.abandon({
        kind: "dropped",
        hook: "routing",
        reason: { kind: "no-route", cause: rejection?.cause ?? "no-route" },
      });
    }
    if (!this.forwarding) return this.abandon({ kind: "dropped", hook: "routing", reason: { kind: "not-forwarding" } });
    const rp = this.rpFilter(meta);
    if (rp !== null) return this.abandon(rp);
    meta.oif = route.oif;
    this.setNextHop(route.gateway, meta.daddr);
    this.trace?.({
      kind: "route",
      result: "forward",
      oif: route.oif,
      gateway: this.traceGateway(route.gateway, family),
    });

    // ip_forward: TTL/hop limit is checked and decremented before the FORWARD hook.
    if (meta.ttl <= 1) {
      this.sendIcmpError(family === 4 ? 11 : 3, 0, 0, now);
      return this.abandon({ kind: "dropped", hook: "routing", reason: { kind: "ttl-exceeded" } });
    }
    decrementTtl(meta);

    const v = this.runFilter(Stage.FORWARD);
    if (v !== null) return this.refuse("forward", v, now);
    d = this.postrouting(now);
    if (d !== null) return d;
    if (planning) this.remember(route);
    sink.transmit(meta.oif, meta.bytes, meta.l3, meta.length, this.nextHop);
    return this.forwardedVia[meta.oif];
  }

  /**
   * Whether this packet's forward-path decisions may be kept or replayed: an ESTABLISHED packet of a tracked
   * entry, untraced (a trace shows every step), on a family whose forward chains are flow-invariant.
   */
  private plannable(): boolean {
    const meta = this.meta;
    const cache = this.flowCache;
    if (cache === null || this.trace !== null || meta.ctState !== CtState.ESTABLISHED || meta.ctEntry === NONE)
      return false;
    if (!(meta.family === 4 ? this.invariance.v4 : this.invariance.v6)) return false;
    if (this.fib.generation !== this.planFib) {
      cache.clear();
      this.planFib = this.fib.generation;
    }
    return true;
  }

  /** A kept plan answers for this packet: same interface, a TTL the router may decrement, same ct facts read. */
  private planApplies(plan: ForwardPlan): boolean {
    const meta = this.meta;
    if (plan.iif !== meta.iif || meta.ttl <= 1) return false;
    if (!this.readsCtFacts) return true;
    const ctx = this.ctx;
    return plan.ctStatus === ctx.ctStatus && plan.ctMark === ctx.ctMark && plan.ctHelper === ctx.ctHelper;
  }

  /** Keeps what the walk of this ESTABLISHED packet decided, at the point where it is transmitted. */
  private remember(route: Route): void {
    const meta = this.meta;
    const filter = this.current;
    filter.countedLogging = false;
    // A RST may have killed the entry (freed at confirm): its number will go to another connection.
    if (filter.countedCount > filter.counted.length || !this.conntrack.isListed(meta.ctEntry)) return;
    const ctx = this.ctx;
    this.flowCache!.set(meta.ctEntry, meta.ctDir, {
      iif: meta.iif,
      oif: route.oif,
      gateway: route.gateway,
      ctStatus: ctx.ctStatus,
      ctMark: ctx.ctMark,
      ctHelper: ctx.ctHelper,
      counted: filter.countedCount === 0 ? NOTHING_COUNTED : filter.counted.slice(0, filter.countedCount),
    });
    if (this.fast !== null) this.fast.planIif[this.conntrack.planNumber(meta.ctEntry, meta.ctDir)] = meta.iif;
  }

  /** A replayed packet counts as one more, and counts in every rule counter the plan's walk counted in. */
  private countByPlan(plan: ForwardPlan, length: number): void {
    this.replayed++;
    const filter = this.current;
    const counted = plan.counted;
    for (let i = 0; i < counted.length; i++) {
      filter.packets[counted[i]]++;
      filter.bytes[counted[i]] += length;
    }
  }

  /**
   * The forward path of a packet whose flow direction has a plan: everything the walk decided is taken from it
   * (PREROUTING's, FORWARD's and POSTROUTING's chains accepted, the route, rp_filter), everything per packet is
   * done as the walk does it: the entry's NAT both ways, the TTL, the counters, the helpers at confirm.
   */
  private forwardByPlan(plan: ForwardPlan, now: number, sink: DatapathSink): Disposition {
    this.countByPlan(plan, this.meta.length);
    const meta = this.meta;
    let d = this.natStep("prerouting", Manip.DST, now);
    if (d !== null) return d;
    meta.oif = plan.oif;
    this.setNextHop(plan.gateway, meta.daddr);
    decrementTtl(meta);
    d = this.natStep("postrouting", Manip.SRC, now);
    if (d !== null) return d;
    this.currentHook = "postrouting";
    d = this.confirm(now);
    if (d !== null) return d;
    sink.transmit(meta.oif, meta.bytes, meta.l3, meta.length, this.nextHop);
    return this.forwardedVia[meta.oif];
  }

  /** A packet the node itself sends (its host stack, its own services): routing, OUTPUT, POSTROUTING. */
  send(bytes: Uint8Array, l3: number, length: number, now: number, sink: DatapathSink): Disposition {
    const meta = this.meta;
    meta.reset();
    const bad = fillPacketMeta(bytes, l3, length, meta);
    if (bad !== null) return { kind: "dropped", hook: "parse", reason: { kind: "malformed", error: bad } };
    this.sink = sink;
    this.prepareContext(now);
    this.current.countedLogging = false;
    return this.localOut(now);
  }

  private localOut(now: number): Disposition {
    const meta = this.meta;
    const family = meta.family;
    let route = this.fib.lookup(family, meta.daddr);
    const rejection = routeRejection(family, route);
    if (rejection !== null || route === null)
      return { kind: "dropped", hook: "routing", reason: { kind: "no-route", cause: rejection?.cause ?? "no-route" } };
    meta.oif = route.oif;
    const d = this.hookWithConntrack("output", Stage.OUT_RAW, CtHook.LOCAL_OUT, now);
    if (d !== null) return d;
    // ip_route_me_harder: a DNAT in OUTPUT re-routes the packet.
    route = this.fib.lookup(family, meta.daddr);
    if (route === null || routeRejection(family, route) !== null)
      return this.abandon({ kind: "dropped", hook: "routing", reason: { kind: "no-route", cause: "no-route" } });
    if (route.type === RouteType.LOCAL) {
      // Loopback: the packet comes back in through PREROUTING on lo; modelled as direct local delivery.
      const post = this.postrouting(now);
      if (post !== null) return post;
      this.sink!.deliver(meta);
      return DELIVERED;
    }
    meta.oif = route.oif;
    this.setNextHop(route.gateway, meta.daddr);
    const post = this.postrouting(now);
    if (post !== null) return post;
    this.sink!.transmit(meta.oif, meta.bytes, meta.l3, meta.length, this.nextHop);
    return this.sentVia[meta.oif];
  }

  private localIn(now: number): Disposition {
    const meta = this.meta;
    this.trace?.({ kind: "route", result: "local", oif: NONE, gateway: null });
    this.currentHook = "input";
    let v = this.runFilter(Stage.INPUT);
    if (v !== null) return this.refuse("input", v, now);
    const n = this.natStep("input", Manip.SRC, now);
    if (n !== null) return n;
    v = this.runFilter(Stage.INPUT_LATE);
    if (v !== null) return this.refuse("input", v, now);
    const c = this.confirm(now);
    if (c !== null) return c;
    this.sink!.deliver(meta);
    return DELIVERED;
  }

  /** PREROUTING or OUTPUT: raw chains, conntrack, filter chains, DNAT, the rest. Null when the packet goes on. */
  private hookWithConntrack(
    hook: "prerouting" | "output",
    stage: number,
    ctHook: number,
    now: number,
  ): Disposition | null {
    const v = this.runFilter(stage);
    if (v !== null) return this.refuse(hook, v, now);
    const d = this.conntrackStep(hook, ctHook, now);
    if (d !== null) return d;
    return this.afterConntrack(hook, stage, now);
  }

  /** The conntrack step of PREROUTING or OUTPUT (nf_conntrack_in at −200). Null when the packet goes on. */
  private conntrackStep(hook: "prerouting" | "output", ctHook: number, now: number): Disposition | null {
    const meta = this.meta;
    if (this.attached) {
      // nf_conntrack_in: an skb that already holds a (non-template) entry is not looked up again, so the reply
      // runs no state machine and refreshes no timeout.
      if (this.trace !== null) this.traceConntrack(hook, "attached to the refused packet's entry (nf_ct_attach)");
      this.syncCtContext();
    } else if (this.tracking) {
      // Without tracking the packet keeps no entry, so the NAT steps below pass it untouched.
      const drop = this.conntrack.track(meta, now, ctHook);
      if (this.trace !== null) this.traceConntrack(hook);
      if (drop !== 0) return { kind: "dropped", hook, reason: { kind: "conntrack-table-full" } };
      this.syncCtContext();
    }
    return null;
  }

  /** PREROUTING or OUTPUT after conntrack: filter chains, DNAT, the later chains. Null when the packet goes on. */
  private afterConntrack(hook: "prerouting" | "output", stage: number, now: number): Disposition | null {
    const meta = this.meta;
    let v = this.runFilter(stage + STAGE_FILTER);
    if (v !== null) return this.refuse(hook, v, now);
    if (hook === "prerouting" && this.nat.inbound(meta)) {
      // EIF/ADF setting: an inbound packet to a live mapping was bound to its inside endpoint; later chains must
      // see the new DST_NAT status (`ct status dnat accept`).
      this.syncCtContext();
      if (this.trace !== null) this.traceNatNote(hook, "dst");
    }
    const n = this.natStep(hook, Manip.DST, now);
    if (n !== null) return n;
    v = this.runFilter(stage + STAGE_LATE);
    if (v !== null) return this.refuse(hook, v, now);
    return null;
  }

  private postrouting(now: number): Disposition | null {
    this.currentHook = "postrouting";
    let v = this.runFilter(Stage.POST);
    if (v !== null) return this.refuse("postrouting", v, now);
    const n = this.natStep("postrouting", Manip.SRC, now);
    if (n !== null) return n;
    v = this.runFilter(Stage.POST_LATE);
    if (v !== null) return this.refuse("postrouting", v, now);
    return this.confirm(now);
  }

  /**
   * The NAT step of a hook (nf_nat_inet_fn): for a NEW or RELATED packet whose connection has no binding for this
   * manip yet, the type nat chains choose one (or the null binding); every other tracked packet is translated
   * from the entry's tuples. INVALID and untracked packets have no entry and pass untranslated (§2.2).
   */
  private natStep(
    hook: "prerouting" | "output" | "input" | "postrouting",
    manip: Manip,
    now: number,
  ): Disposition | null {
    const meta = this.meta;
    const e = meta.ctEntry;
    if (e === NONE) return null;
    const done = manip === Manip.SRC ? CtStatus.SRC_NAT_DONE : CtStatus.DST_NAT_DONE;
    const before = this.trace !== null ? describeEndpoints(meta) : "";
    let req: NatRequest | null = null;
    let result: NatVerdict;
    // nf_nat_ipv4_fn / nf_nat_ipv6_fn: a RELATED ICMP packet only gets nf_nat_icmp_reply_translation, never the
    // nat chains, even when its entry has no binding for this manip yet (an error attached to a refused first packet).
    const fresh =
      (meta.ctState === CtState.NEW || (meta.ctState === CtState.RELATED && meta.icmpInner === NONE)) &&
      (this.conntrack.status(e) & done) === 0;
    if (fresh) {
      this.ctx.firstPacket = true;
      const res = this.evaluateStage(natStage(hook));
      const verdict = res.verdict!;
      if (verdict.kind !== "accept") return this.refuse(hook, verdict, now);
      req = res.nat;
      result = this.nat.setup(meta, req, manip);
    } else {
      result = this.nat.translate(meta, manip);
    }
    if (result.kind === "drop")
      return this.abandon({ kind: "dropped", hook, reason: { kind: "nat", reason: result.reason } });
    // A binding sets SRC_NAT/DST_NAT: later chains (`ct status dnat accept` in forward) must see it.
    if (fresh) this.syncCtContext();
    if (this.trace !== null) {
      const after = describeEndpoints(meta);
      if (after !== before || req !== null)
        this.trace({
          kind: "nat",
          hook,
          manip: manip === Manip.SRC ? "src" : "dst",
          rule: req?.rule ?? null,
          before,
          after,
        });
    }
    return null;
  }

  /** __nf_conntrack_confirm, after the helpers (priority 300) have seen the packet. */
  private confirm(now: number): Disposition | null {
    const meta = this.meta;
    if (meta.ctEntry === NONE) return null;
    // nf_confirm: no helper for IP_CT_RELATED_REPLY; __nf_conntrack_confirm: nothing for a non-ORIGINAL ctinfo, and
    // an attached reply in the original direction holds a confirmed entry. A refused first packet leaves no entry.
    if (this.attached && meta.ctDir === CtDir.REPLY) return null;
    if (this.conntrack.helper(meta.ctEntry) !== CtHelper.NONE) {
      const helped = this.conntrack.help(meta, now);
      if (helped === HelperNatResult.HELPER_DROP) {
        const helper = this.conntrack.helper(meta.ctEntry) === CtHelper.SIP ? "sip" : "ftp";
        const reason = { kind: "helper", helper, message: this.conntrack.lastHelperLog } as const;
        return this.abandon({ kind: "dropped", hook: this.currentHook, reason });
      }
      if (helped !== HelperNatResult.ACCEPT) {
        const reason = helped === HelperNatResult.NO_PORT ? "helper-no-port" : "helper-mangle";
        return this.abandon({ kind: "dropped", hook: this.currentHook, reason: { kind: "nat", reason } });
      }
    }
    // nf_confirm: after the helper, the sequence adjustment of a connection whose payload it resized.
    if ((this.conntrack.status(meta.ctEntry) & CtStatus.SEQ_ADJUST) !== 0 && !this.conntrack.seqAdjust(meta))
      return this.abandon({ kind: "dropped", hook: this.currentHook, reason: { kind: "nat", reason: "seq-adjust" } });
    if (this.attached) return null;
    if (!this.conntrack.confirm(meta, now))
      return { kind: "dropped", hook: this.currentHook, reason: { kind: "conntrack-clash" } };
    return null;
  }

  /** Runs the non-nat chains of a Stage; null when they accepted. Applies `ct helper set`/`ct mark set`. */
  private runFilter(stage: number): Verdict | null {
    const meta = this.meta;
    if (this.chainsOf(stage).length === 0) return null;
    const res = this.evaluateStage(stage);
    if (meta.ctEntry !== NONE) {
      if (res.helper !== null) {
        const e = meta.ctEntry;
        const id = HELPERS[res.helper] as number | undefined;
        // nft_ct_helper_obj_eval: only a connection's first packets (the entry is not confirmed), never over a
        // helper already attached (the evaluator has checked family and protocol).
        if (
          id !== undefined &&
          (this.conntrack.status(e) & CtStatus.CONFIRMED) === 0 &&
          this.conntrack.helper(e) === CtHelper.NONE
        )
          this.conntrack.setHelper(e, id);
      }
      if (res.ctMarkSet) this.conntrack.setMark(meta.ctEntry, res.ctMark);
    }
    const v = res.verdict!;
    return v.kind === "accept" ? null : v;
  }

  private chainsOf(stage: number): readonly CompiledChain[] {
    return this.stageChains[stage * 2 + (this.meta.family === 4 ? 0 : 1)];
  }

  /** Evaluates a stage's chains (none: the hook's no-chain verdict), traced. */
  private evaluateStage(stage: number): HookResult {
    const hook = STAGES[stage].hook;
    const res = this.filter.evaluateChains(hook, this.chainsOf(stage), this.meta, this.evalContext(hook));
    if (this.trace !== null && res.verdict !== null && res.verdict.by.kind !== "no-chain")
      this.trace({ kind: "verdict", hook, verdict: res.verdict });
    return res;
  }

  /** The context for an evaluation at `hook`, with the trace sink when tracing. */
  private evalContext(hook: Hook): EvalContext {
    this.currentHook = hook;
    const ctx = this.ctx;
    ctx.trace = this.trace !== null ? this.filterTrace : null;
    return ctx;
  }

  /**
   * A drop or reject verdict: no state survives, and a reject sends its reply (nft_reject_inet_eval) before the
   * packet's unconfirmed entry is released, since the reply holds it (nf_ct_attach).
   */
  private refuse(hook: Hook, verdict: Verdict, now: number): Disposition {
    if (verdict.kind === "reject") {
      this.sendReject(verdict.reply, now);
      this.release();
      return { kind: "rejected", hook, verdict };
    }
    this.release();
    return { kind: "dropped", hook, reason: { kind: "verdict", verdict } };
  }

  private abandon(d: Disposition): Disposition {
    this.release();
    return d;
  }

  /** Frees the packet's unconfirmed entry; an attached reply's entry belongs to the packet it answers. */
  private release(): void {
    if (!this.attached) this.conntrack.discard(this.meta);
  }

  private sendReject(reply: RejectReply, now: number): void {
    const meta = this.meta;
    if (reply.kind === "tcp-reset") {
      const rst = buildTcpReset(meta);
      if (rst === null) return;
      // nf_send_reset: nf_ct_set_closing on the refused packet's entry, between nf_ct_attach and ip_local_out.
      if (meta.ctEntry !== NONE) this.conntrack.setClosing(meta.ctEntry, now);
      this.emitReply("tcp-reset", rst, now);
      return;
    }
    this.sendIcmpError(reply.type, reply.code, 0, now);
  }

  /** icmp_send: the error leaves from the address of the interface the packet came in by (or any address). */
  private sendIcmpError(type: number, code: number, info: number, now: number): void {
    const meta = this.meta;
    const src = this.replySource(meta);
    if (src === null) return;
    const err = buildIcmpError(meta, src, type, code, info);
    if (err !== null) this.emitReply("icmp-error", err, now);
  }

  private replySource(meta: PacketMeta): Uint32Array | null {
    const family = meta.family;
    // A locally addressed packet is answered from the address it was sent to (icmp_send prefers that).
    if (this.fib.isLocalAddress(family, meta.daddr)) return Uint32Array.from(meta.daddr);
    const back = this.fib.lookup(family, meta.saddr);
    const oif = meta.iif !== NONE ? meta.iif : (back?.oif ?? NONE);
    if (oif === NONE) return null;
    return this.fib.sourceAddressFor(oif, family, meta.saddr);
  }

  /**
   * Sends a node-generated reply through the local output path (OUTPUT, POSTROUTING). nf_send_reset and
   * icmp_glue_bits call nf_ct_attach: the reply carries the offending packet's entry as IP_CT_RELATED_REPLY (or
   * IP_CT_RELATED when that packet went in the reply direction; nf_conntrack_attach in nf_conntrack_core.c), so it
   * is classified RELATED, follows the entry's NAT and is never tracked or confirmed itself. The offending packet's
   * walk has ended, so its meta is reused; its entry is handed back in meta.ctEntry for the caller to release.
   */
  private emitReply(what: "tcp-reset" | "icmp-error", bytes: Uint8Array, now: number): void {
    // The reply is itself a RST or an ICMP error, which nf_send_reset and icmp_send never answer (buildTcpReset and
    // buildIcmpError refuse them too): this only keeps a second attached walk from nesting inside this one.
    if (this.attached) return;
    this.trace?.({ kind: "reply", what, bytes: bytes.slice() });
    const sink = this.sink!;
    const meta = this.meta;
    const entry = meta.ctEntry;
    const dir = meta.ctDir;
    meta.reset();
    if (fillPacketMeta(bytes, 0, bytes.length, meta) === null) {
      this.prepareContext(now);
      if (entry !== NONE) {
        meta.ctEntry = entry;
        meta.ctState = CtState.RELATED;
        meta.ctDir = dir ^ 1;
        this.attached = true;
        this.syncCtContext();
      }
      this.localOut(now);
      this.attached = false;
    }
    meta.ctEntry = entry;
    this.sink = sink;
  }

  private rpFilter(meta: PacketMeta): Disposition | null {
    if (meta.family !== 4) return null;
    const iif = meta.iif;
    const mode = iif >= 0 && iif < this.rpModes.length ? (this.rpModes[iif] as RpFilterMode) : this.rpUnknownIif;
    const v = validateSource(this.fib, 4, meta.saddr, meta.iif, mode);
    if (v.kind === "drop") return { kind: "dropped", hook: "routing", reason: { kind: "rp-filter", reason: v.reason } };
    return null;
  }

  private prepareContext(now: number): void {
    const ctx = this.ctx;
    ctx.now = now;
    ctx.firstPacket = false;
    ctx.ctStatus = 0;
    ctx.ctMark = 0;
    ctx.ctHelper = "";
  }

  private syncCtContext(): void {
    const meta = this.meta;
    const ctx = this.ctx;
    const e = meta.ctEntry;
    // Nothing else reads these context fields: without such rules the copy is skipped.
    if (e === NONE || !this.readsCtFacts) return;
    ctx.ctStatus = this.conntrack.status(e);
    ctx.ctMark = this.conntrack.mark(e);
    const h = this.conntrack.helper(e);
    ctx.ctHelper = h === CtHelper.FTP ? "ftp" : h === CtHelper.SIP ? "sip" : "";
  }

  private setNextHop(gateway: Uint32Array | null, daddr: Uint32Array): void {
    const from = gateway ?? daddr;
    const to = this.nextHop;
    to[0] = from[0];
    to[1] = from[1];
    to[2] = from[2];
    to[3] = from[3];
  }

  private traceGateway(gateway: Uint32Array | null, family: Family): string | null {
    return gateway === null ? null : formatWords(family, gateway);
  }

  private traceConntrack(hook: Hook, cause?: string): void {
    const meta = this.meta;
    const named = CT_CAUSE_NAMES[this.conntrack.lastCause] ?? "";
    this.trace!({
      kind: "conntrack",
      hook,
      state: STATE_NAMES[meta.ctState] ?? "invalid",
      direction: meta.ctDir === CtDir.REPLY ? "reply" : "original",
      entry: meta.ctEntry,
      cause: cause ?? named,
    });
  }

  private traceNatNote(hook: Hook, manip: "src" | "dst"): void {
    const s = describeEndpoints(this.meta);
    this.trace!({ kind: "nat", hook, manip, rule: null, before: s, after: s });
  }
}

/** A plan's counters when its walk ran no `counter` statement (shared: plans are never changed). */
const NOTHING_COUNTED = new Int32Array(0);

/** ip_decrease_ttl / hop limit, with the RFC 1624 header checksum update for IPv4. */
function decrementTtl(meta: PacketMeta): void {
  const b = meta.bytes;
  const l3 = meta.l3;
  if (meta.family === 4) {
    const old = readU16(b, l3 + Ipv4Field.TTL);
    b[l3 + Ipv4Field.TTL] = meta.ttl - 1;
    const sum = readU16(b, l3 + Ipv4Field.CHECKSUM);
    writeU16(b, l3 + Ipv4Field.CHECKSUM, updateChecksum16(sum, old, readU16(b, l3 + Ipv4Field.TTL)));
  } else {
    b[l3 + Ipv6Field.HOP_LIMIT] = meta.ttl - 1;
  }
  meta.ttl -= 1;
}

export function formatWords(family: Family, w: ArrayLike<number>): string {
  if (family === 4) {
    const a = w[0];
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  }
  const parts: string[] = [];
  for (let i = 0; i < 4; i++) parts.push((w[i] >>> 16).toString(16), (w[i] & 0xffff).toString(16));
  return parts.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
}

/** `src:sport > dst:dport` of the packet as it is now (traces only). */
export function describeEndpoints(meta: PacketMeta): string {
  const f = meta.family;
  const s = formatWords(f, meta.saddr);
  const d = formatWords(f, meta.daddr);
  const br = (a: string): string => (f === 6 ? `[${a}]` : a);
  if (meta.icmpType !== NONE) return `${s} > ${d} icmp type ${meta.icmpType} id ${meta.sport}`;
  return `${br(s)}:${meta.sport} > ${br(d)}:${meta.dport}`;
}
