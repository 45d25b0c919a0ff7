// Compiles the IR once per node into closures and typed arrays the evaluator walks per packet without
// allocating: interface names become indices, sets become KeySets, verdicts become objects built once (so a
// returned verdict is a reference, not an allocation). It also refuses what nft refuses at load time: unknown
// chains and sets, chain loops, jump chains deeper than the kernel's stack, NAT statements outside their hooks.

import { parseIp, ipv6ToWords } from "../../wire/address.js";
import type { PacketMeta } from "../packet-meta.js";
import type { EvalContext } from "./context.js";
import type {
  Chain,
  ChainType,
  Expr,
  Hook,
  Match,
  Origin,
  Rule,
  Ruleset,
  Statement,
  Table,
  Value,
  VerdictExpr,
} from "./ir.js";
import { assertNever } from "./ir.js";
import type { KeyBox } from "./key-set.js";
import { KeySet } from "./key-set.js";
import type { Compiled, Part } from "./selectors.js";
import { fail, partIntervals, selectorInfo } from "./selectors.js";
import {
  ICMP_DEST_UNREACH,
  ICMPV6_CODE_SYMBOLS,
  ICMPV6_DEST_UNREACH,
  ICMPX_TO_ICMP,
  ICMPX_TO_ICMPV6,
} from "./symbols.js";
import { ICMP_CODE_SYMBOLS } from "./symbols.js";
import type { ChainRef, CompileError, LogLine, NatRequest, RejectReply, RuleRef, Verdict } from "./trace.js";

/** Kernel jump stack (NFT_JUMP_STACK_SIZE, net/netfilter/nf_tables_core.c); validation counts jumps and gotos. */
export const JUMP_STACK_SIZE = 16;

export const HOOKS: readonly Hook[] = ["prerouting", "input", "forward", "output", "postrouting"];
/** Position of a hook in HOOKS, by comparison rather than `indexOf` (it runs for every evaluated chain range). */
export function hookIndex(h: Hook): number {
  switch (h) {
    case "prerouting":
      return 0;
    case "input":
      return 1;
    case "forward":
      return 2;
    case "output":
      return 3;
    case "postrouting":
      return 4;
  }
}

export type Test = (meta: PacketMeta, ctx: EvalContext) => boolean;
/** Index into the op's verdict list, or -1 on a miss. */
export type VmapLookup = (meta: PacketMeta, ctx: EvalContext) => number;

export type CompiledVerdict =
  | { readonly t: "accept"; readonly verdict: Verdict }
  | { readonly t: "drop"; readonly verdict: Verdict }
  /** null for a family the reject does not apply to (nft adds a `meta nfproto` dependency). */
  | { readonly t: "reject"; readonly v4: Verdict | null; readonly v6: Verdict | null }
  | { readonly t: "jump" | "goto"; readonly chain: number; readonly target: string }
  | { readonly t: "return" }
  | { readonly t: "continue" };

export type CompiledOp =
  | { readonly op: "match"; readonly test: Test }
  | { readonly op: "counter" }
  | { readonly op: "log"; readonly line: LogLine }
  | {
      readonly op: "limit";
      readonly slot: number;
      /** Bucket cost of one packet (or one byte) and bucket size, in milliseconds of rate. */
      readonly cost: number;
      readonly capacity: number;
      readonly bytes: boolean;
      readonly over: boolean;
    }
  | { readonly op: "mark"; readonly ct: boolean; readonly value: number }
  | {
      readonly op: "nat";
      readonly v4: NatRequest | null;
      readonly v6: NatRequest | null;
      readonly accept: Extract<CompiledVerdict, { t: "accept" }>;
    }
  | { readonly op: "notrack" }
  /** `ct helper set`: the helper (its type), for connections of `proto` (0: any) in `family` (0: both). */
  | { readonly op: "helper"; readonly name: string; readonly proto: number; readonly family: 0 | 4 | 6 }
  | { readonly op: "vmap"; readonly lookup: VmapLookup; readonly verdicts: readonly CompiledVerdict[] }
  | { readonly op: "verdict"; readonly verdict: CompiledVerdict };

export interface CompiledRule {
  readonly ref: RuleRef;
  readonly ops: readonly CompiledOp[];
  /**
   * For a rule that is exactly `ct state <flags> accept` (the usual first rule of a chain): the state bits, so the
   * evaluator tests them inline instead of dispatching over the ops; 0 for every other rule.
   */
  readonly ctStateAccept: number;
  /** The rule's accept verdict when `ctStateAccept` is set, else null. */
  readonly acceptVerdict: Verdict | null;
}

export interface CompiledBase {
  readonly type: ChainType;
  readonly hook: Hook;
  readonly priority: number;
  readonly policy: Verdict;
  readonly policyName: "accept" | "drop";
  readonly tableFamily: Table["family"];
}

export interface CompiledChain {
  readonly index: number;
  readonly ref: ChainRef;
  readonly rules: readonly CompiledRule[];
  readonly base: CompiledBase | null;
}

export interface CompiledRuleset {
  readonly chains: readonly CompiledChain[];
  /** Base chains per hook index, then per family (0: IPv4, 1: IPv6), in priority order (ties: creation order). */
  readonly hooks: readonly (readonly (readonly CompiledChain[])[])[];
  readonly rules: readonly RuleRef[];
  readonly limitSlots: number;
  /** Accept verdicts for hooks with no base chain, per hook index. */
  readonly noChain: readonly Verdict[];
}

export interface CompileOptions {
  /** The node's interface names; position = interface index (meta.iif/oif). */
  readonly interfaces: readonly string[];
}

const PER_MS = { second: 1e3, minute: 60e3, hour: 3600e3, day: 86400e3, week: 604800e3 } as const;
/** nft_limit.c: NFT_LIMIT_PKT_BURST_DEFAULT. */
const LIMIT_PKT_BURST_DEFAULT = 5;
/** Which hooks each NAT statement may run at (nft_nat_validate, nft_masq_validate, nft_redir_validate). */
const NAT_HOOKS: Readonly<Record<"snat" | "dnat" | "masquerade" | "redirect", readonly Hook[]>> = {
  snat: ["postrouting", "input"],
  dnat: ["prerouting", "output"],
  masquerade: ["postrouting"],
  redirect: ["prerouting", "output"],
};

interface TableScope {
  readonly table: Table;
  readonly chainIndex: ReadonlyMap<string, number>;
  readonly interfaces: readonly string[];
}

interface Builder {
  limitSlots: number;
  readonly rules: RuleRef[];
}

export function compileRuleset(ruleset: Ruleset, options: CompileOptions): Compiled<CompiledRuleset> {
  const builder: Builder = { limitSlots: 0, rules: [] };
  const chains: CompiledChain[] = [];
  // Chain indices are assigned up front so jumps can point forward.
  const scopes: TableScope[] = [];
  let next = 0;
  const seenTables = new Set<string>();
  for (const table of ruleset.tables) {
    const key = `${table.family} ${table.name}`;
    if (seenTables.has(key)) return fail("duplicate", `table ${key} is defined twice`, table.origin);
    seenTables.add(key);
    const chainIndex = new Map<string, number>();
    for (const c of table.chains) {
      if (chainIndex.has(c.name)) return fail("duplicate", `chain ${c.name} is defined twice`, c.origin);
      chainIndex.set(c.name, next++);
    }
    scopes.push({ table, chainIndex, interfaces: options.interfaces });
  }
  for (const scope of scopes) {
    for (const chain of scope.table.chains) {
      const c = compileChain(chain, scope, builder, chains.length);
      if (!c.ok) return c;
      chains.push(c.value);
    }
  }
  const graph = checkGraph(chains);
  if (graph !== null) return { ok: false, error: graph };

  const hooks = HOOKS.map((hook) =>
    [4, 6].map((fam) =>
      chains
        .filter((c) => c.base !== null && c.base.hook === hook && familyApplies(c.base.tableFamily, fam))
        .sort((a, b) => a.base!.priority - b.base!.priority || a.index - b.index),
    ),
  );
  const noChain: Verdict[] = HOOKS.map((hook) => ({ kind: "accept", by: { kind: "no-chain", hook } }));
  return { ok: true, value: { chains, hooks, rules: builder.rules, limitSlots: builder.limitSlots, noChain } };
}

function familyApplies(family: Table["family"], fam: number): boolean {
  return family === "inet" || (family === "ip" ? fam === 4 : fam === 6);
}

function compileChain(chain: Chain, scope: TableScope, b: Builder, index: number): Compiled<CompiledChain> {
  const ref: ChainRef = {
    family: scope.table.family,
    table: scope.table.name,
    chain: chain.name,
    origin: chain.origin,
  };
  let base: CompiledBase | null = null;
  if (chain.base !== undefined) {
    const spec = chain.base;
    if (spec.type === "nat" && spec.hook === "forward")
      return fail("nat-wrong-hook", `nat chain ${chain.name} cannot attach to the forward hook`, chain.origin);
    base = {
      type: spec.type,
      hook: spec.hook,
      priority: spec.priority,
      policy: { kind: spec.policy, by: { kind: "policy", chain: ref } },
      policyName: spec.policy,
      tableFamily: scope.table.family,
    };
  }
  const rules: CompiledRule[] = [];
  for (let i = 0; i < chain.rules.length; i++) {
    const r = compileRule(chain.rules[i], i, ref, scope, b);
    if (!r.ok) return r;
    rules.push(r.value);
  }
  return { ok: true, value: { index, ref, rules, base } };
}

function compileRule(
  rule: Rule,
  position: number,
  chain: ChainRef,
  scope: TableScope,
  b: Builder,
): Compiled<CompiledRule> {
  const ref: RuleRef = {
    family: chain.family,
    table: chain.table,
    chain: chain.chain,
    position,
    index: b.rules.length,
    origin: rule.origin,
    ...(rule.handle !== undefined ? { handle: rule.handle } : {}),
    ...(rule.comment !== undefined ? { comment: rule.comment } : {}),
  };
  b.rules.push(ref);
  const ops: CompiledOp[] = [];
  for (const e of rule.exprs) {
    const op = compileExpr(e, ref, scope, b);
    if (!op.ok) return op;
    ops.push(op.value);
  }
  const ctState = ctStateAcceptBits(rule, scope);
  const last = ops[ops.length - 1] as CompiledOp | undefined;
  const accept = ctState !== 0 && last?.op === "verdict" && last.verdict.t === "accept" ? last.verdict.verdict : null;
  return {
    ok: true,
    value: { ref, ops, ctStateAccept: accept !== null ? ctState : 0, acceptVerdict: accept },
  };
}

/**
 * The state bits of a rule written `ct state <flag list> accept` (no mask, operator `in`, nothing else), or 0.
 * The generic path for it is compileMatch's flag branch, `(ctStateOf(meta) & bits) !== 0`, followed by the accept.
 */
function ctStateAcceptBits(rule: Rule, scope: TableScope): number {
  if (rule.exprs.length !== 2) return 0;
  const [m, v] = rule.exprs;
  if (m.kind !== "match" || v.kind !== "accept") return 0;
  if (m.left.kind !== "ct" || m.left.key !== "state" || m.op !== "in" || m.mask !== undefined) return 0;
  if (!isFlagList(m.right)) return 0;
  const info = selectorInfo(m.left, rule.origin);
  if (!info.ok || info.value.k !== "key" || !info.value.flags || info.value.parts.length !== 1) return 0;
  const bits = flagBits(info.value.parts[0], m.right, scope, rule.origin);
  return bits.ok ? bits.value : 0;
}

function compileExpr(e: Expr, ref: RuleRef, scope: TableScope, b: Builder): Compiled<CompiledOp> {
  const origin = ref.origin;
  switch (e.kind) {
    case "match": {
      const t = compileMatch(e, scope, origin);
      return t.ok ? { ok: true, value: { op: "match", test: t.value } } : t;
    }
    case "accept":
    case "drop":
    case "reject":
    case "jump":
    case "goto":
    case "return":
    case "continue": {
      const v = compileVerdict(e, ref, scope);
      return v.ok ? { ok: true, value: { op: "verdict", verdict: v.value } } : v;
    }
    default:
      return compileStatement(e, ref, scope, b);
  }
}

function compileStatement(s: Statement, ref: RuleRef, scope: TableScope, b: Builder): Compiled<CompiledOp> {
  const origin = ref.origin;
  switch (s.kind) {
    case "counter":
      return { ok: true, value: { op: "counter" } };
    case "log":
      return { ok: true, value: { op: "log", line: { prefix: s.prefix ?? "", level: s.level ?? "warn", rule: ref } } };
    case "limit": {
      if (!(s.rate > 0)) return fail("bad-value", "limit rate must be positive", origin);
      const per = PER_MS[s.per];
      const cost = per / s.rate;
      const bytes = s.unit === "bytes";
      // nft_limit_init: a packet bucket holds `burst` packets; a byte bucket holds rate + burst bytes.
      const capacity = bytes
        ? (per * (s.rate + s.burst)) / s.rate
        : cost * (s.burst > 0 ? s.burst : LIMIT_PKT_BURST_DEFAULT);
      return { ok: true, value: { op: "limit", slot: b.limitSlots++, cost, capacity, bytes, over: s.over } };
    }
    case "mark-set":
      return { ok: true, value: { op: "mark", ct: s.target === "ct", value: s.value >>> 0 } };
    case "snat":
    case "dnat":
    case "masquerade":
    case "redirect": {
      const nat = compileNat(s, ref, scope.table.family);
      if (!nat.ok) return nat;
      return {
        ok: true,
        value: {
          op: "nat",
          v4: nat.value[0],
          v6: nat.value[1],
          accept: { t: "accept", verdict: { kind: "accept", by: { kind: "rule", rule: ref } } },
        },
      };
    }
    case "notrack":
      return { ok: true, value: { op: "notrack" } };
    case "ct-helper-set": {
      // nft_ct_helper_obj_eval: the name is a ct helper object of the table, whose type, protocol and families
      // decide what is attached. An IR without objects (iptables' `-j CT --helper ftp`) names the helper itself.
      const obj = scope.table.ctHelpers?.find((h) => h.name === s.name);
      if (obj === undefined) return { ok: true, value: { op: "helper", name: s.name, proto: 0, family: 0 } };
      const l3 = obj.l3proto ?? scope.table.family;
      const family = l3 === "ip" ? 4 : l3 === "ip6" ? 6 : 0;
      return { ok: true, value: { op: "helper", name: obj.type, proto: obj.protocol === "tcp" ? 6 : 17, family } };
    }
    case "tcp-mss-set":
      // The twin's flows carry no MSS-dependent behaviour, so the clamp compiles to an always-true step.
      if (s.size !== "rt-mtu" && !(Number.isInteger(s.size) && s.size >= 0 && s.size <= 0xffff))
        return fail("bad-value", `bad MSS ${String(s.size)}`, origin);
      return { ok: true, value: { op: "match", test: alwaysTrue } };
    case "vmap": {
      const info = selectorInfo(s.key, origin);
      if (!info.ok) return info;
      if (info.value.k !== "key") return fail("unsupported", "vmap on ct helper is not supported", origin);
      const parts = info.value.parts;
      let entries: readonly { key: Value; verdict: VerdictExpr }[];
      if (s.map.kind === "anonymous") entries = s.map.entries;
      else {
        const name = s.map.name;
        const map = scope.table.maps?.find((m) => m.name === name);
        if (map === undefined)
          return fail("unknown-set", `map @${name} is not defined in table ${scope.table.name}`, origin);
        const list: { key: Value; verdict: VerdictExpr }[] = [];
        for (const el of map.elements) {
          if (el.data.kind !== "verdict") return fail("bad-value", `map @${name} is not a verdict map`, origin);
          list.push({ key: el.key, verdict: el.data.verdict });
        }
        entries = list;
      }
      const verdicts: CompiledVerdict[] = [];
      const boxes: KeyBox[] = [];
      for (const entry of entries) {
        const v = compileVerdict(entry.verdict, ref, scope);
        if (!v.ok) return v;
        const bx = elementBoxes(parts, entry.key, verdicts.length, scope, origin);
        if (!bx.ok) return bx;
        verdicts.push(v.value);
        boxes.push(...bx.value);
      }
      const set = buildSet(parts, boxes, origin);
      if (!set.ok) return set;
      return { ok: true, value: { op: "vmap", lookup: lookupFn(parts, set.value), verdicts } };
    }
    default:
      return assertNever(s);
  }
}

const alwaysTrue: Test = () => true;

function compileNat(
  s: Extract<Statement, { kind: "snat" | "dnat" | "masquerade" | "redirect" }>,
  rule: RuleRef,
  tableFamily: Table["family"],
): Compiled<[NatRequest | null, NatRequest | null]> {
  const flags = s.flags ?? [];
  const portMin = s.port?.lo ?? -1;
  const portMax = s.port?.hi ?? -1;
  if (s.port !== undefined && !(s.port.lo >= 0 && s.port.lo <= s.port.hi && s.port.hi <= 0xffff))
    return fail("bad-value", `bad port range ${s.port.lo}-${s.port.hi}`, rule.origin);
  const make = (family: 4 | 6, addrMin: Uint32Array | null, addrMax: Uint32Array | null): NatRequest => ({
    kind: s.kind,
    family,
    addrMin,
    addrMax,
    portMin,
    portMax,
    random: flags.includes("random"),
    fullyRandom: flags.includes("fully-random"),
    persistent: flags.includes("persistent"),
    rule,
  });
  const v4ok = tableFamily !== "ip6";
  const v6ok = tableFamily !== "ip";
  if (s.kind === "masquerade" || s.kind === "redirect")
    return { ok: true, value: [v4ok ? make(4, null, null) : null, v6ok ? make(6, null, null) : null] };
  if (s.addr === undefined) {
    // `dnat to :port` keeps the address and changes only the port.
    const fam = s.family === "ip6" ? 6 : s.family === "ip" ? 4 : 0;
    return {
      ok: true,
      value: [fam !== 6 && v4ok ? make(4, null, null) : null, fam !== 4 && v6ok ? make(6, null, null) : null],
    };
  }
  const range = natAddrRange(s.addr);
  if (range === null) return fail("bad-value", `bad ${s.kind} address ${JSON.stringify(s.addr)}`, rule.origin);
  const [family, lo, hi] = range;
  if ((s.family === "ip" && family !== 4) || (s.family === "ip6" && family !== 6) || (family === 4 ? !v4ok : !v6ok))
    return fail("bad-value", `${s.kind} address family does not match the statement or table`, rule.origin);
  const req = make(family, lo, hi);
  return { ok: true, value: family === 4 ? [req, null] : [null, req] };
}

function addrToWords(text: string): [4 | 6, Uint32Array] | null {
  const a = parseIp(text);
  if (a === null) return null;
  const w = new Uint32Array(4);
  if (a.family === 4) {
    w[0] = a.v4;
    return [4, w];
  }
  ipv6ToWords(a.v6, 0, w);
  return [6, w];
}

function natAddrRange(v: Value): [4 | 6, Uint32Array, Uint32Array] | null {
  if (v.kind === "address") {
    const a = addrToWords(v.addr);
    return a === null ? null : [a[0], a[1], a[1]];
  }
  if (v.kind === "range" && v.lo.kind === "address" && v.hi.kind === "address") {
    const lo = addrToWords(v.lo.addr);
    const hi = addrToWords(v.hi.addr);
    return lo === null || hi === null || lo[0] !== hi[0] ? null : [lo[0], lo[1], hi[1]];
  }
  if (v.kind === "prefix") {
    const a = addrToWords(v.addr);
    if (a === null) return null;
    const lo = new Uint32Array(4);
    const hi = new Uint32Array(4);
    const words = a[0] === 4 ? 1 : 4;
    for (let i = 0; i < words; i++) {
      const bits = Math.max(0, Math.min(32, v.len - 32 * i));
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      lo[i] = (a[1][i] & mask) >>> 0;
      hi[i] = (a[1][i] | ~mask) >>> 0;
    }
    return [a[0], lo, hi];
  }
  return null;
}

function rejectReply(
  v: Extract<VerdictExpr, { kind: "reject" }>,
  family: Table["family"],
): [RejectReply | null, RejectReply | null] | null {
  const w =
    v.with ??
    (family === "ip"
      ? { type: "icmp", code: "port-unreachable" }
      : family === "ip6"
        ? { type: "icmpv6", code: "port-unreachable" }
        : { type: "icmpx", code: "port-unreachable" });
  switch (w.type) {
    case "tcp-reset":
      return [{ kind: "tcp-reset" }, { kind: "tcp-reset" }];
    case "icmp": {
      const code = ICMP_CODE_SYMBOLS.get(w.code);
      return code === undefined ? null : [{ kind: "icmp", type: ICMP_DEST_UNREACH, code }, null];
    }
    case "icmpv6": {
      const code = ICMPV6_CODE_SYMBOLS.get(w.code);
      return code === undefined ? null : [null, { kind: "icmpv6", type: ICMPV6_DEST_UNREACH, code }];
    }
    case "icmpx": {
      const c4 = ICMPX_TO_ICMP[w.code];
      const c6 = ICMPX_TO_ICMPV6[w.code];
      return [
        { kind: "icmp", type: ICMP_DEST_UNREACH, code: c4 },
        { kind: "icmpv6", type: ICMPV6_DEST_UNREACH, code: c6 },
      ];
    }
    default:
      return assertNever(w);
  }
}

function compileVerdict(v: VerdictExpr, rule: RuleRef, scope: TableScope): Compiled<CompiledVerdict> {
  const by = { kind: "rule", rule } as const;
  switch (v.kind) {
    case "accept":
      return { ok: true, value: { t: "accept", verdict: { kind: "accept", by } } };
    case "drop":
      return { ok: true, value: { t: "drop", verdict: { kind: "drop", by } } };
    case "reject": {
      const replies = rejectReply(v, scope.table.family);
      if (replies === null)
        return fail("unknown-symbol", `unknown reject code in ${JSON.stringify(v.with)}`, rule.origin);
      const [r4, r6] = replies;
      const allow4 = scope.table.family !== "ip6";
      const allow6 = scope.table.family !== "ip";
      return {
        ok: true,
        value: {
          t: "reject",
          v4: r4 !== null && allow4 ? { kind: "reject", by, reply: r4 } : null,
          v6: r6 !== null && allow6 ? { kind: "reject", by, reply: r6 } : null,
        },
      };
    }
    case "jump":
    case "goto": {
      const target = scope.chainIndex.get(v.target);
      if (target === undefined)
        return fail("unknown-chain", `chain ${v.target} does not exist in table ${scope.table.name}`, rule.origin);
      return { ok: true, value: { t: v.kind, chain: target, target: v.target } };
    }
    case "return":
      return { ok: true, value: { t: "return" } };
    case "continue":
      return { ok: true, value: { t: "continue" } };
    default:
      return assertNever(v);
  }
}

/** The boxes one set element covers: the product of its parts' intervals (a wildcard name may give several). */
function elementBoxes(
  parts: readonly Part[],
  value: Value,
  data: number,
  scope: TableScope,
  origin: Origin,
): Compiled<KeyBox[]> {
  const values: readonly Value[] = parts.length === 1 ? [value] : value.kind === "concat" ? value.parts : [];
  if (values.length !== parts.length)
    return fail("bad-value", `element ${JSON.stringify(value)} does not have ${parts.length} parts`, origin);
  let boxes: { lo: number[]; hi: number[] }[] = [{ lo: [], hi: [] }];
  for (let p = 0; p < parts.length; p++) {
    const ivs = partIntervals(parts[p], values[p], scope.interfaces, origin);
    if (!ivs.ok) return ivs;
    const nextBoxes: { lo: number[]; hi: number[] }[] = [];
    for (const bx of boxes)
      for (const iv of ivs.value) nextBoxes.push({ lo: [...bx.lo, ...iv.lo], hi: [...bx.hi, ...iv.hi] });
    boxes = nextBoxes;
  }
  return { ok: true, value: boxes.map((bx) => ({ ...bx, data })) };
}

function buildSet(parts: readonly Part[], boxes: readonly KeyBox[], origin: Origin): Compiled<KeySet> {
  const built = KeySet.build(
    parts.map((p) => p.width),
    boxes,
  );
  return built.ok
    ? { ok: true, value: built.set }
    : fail("bad-value", `conflicting intervals: ${built.conflict}`, origin);
}

function lookupFn(parts: readonly Part[], set: KeySet): VmapLookup {
  const scalar = parts.length === 1 ? parts[0].scalar : null;
  if (scalar !== null)
    return (meta, ctx) => {
      const x = scalar(meta, ctx);
      return x < 0 ? -1 : set.find1(x);
    };
  const key = new Uint32Array(parts.reduce((a, p) => a + p.width, 0));
  return (meta, ctx) => {
    let at = 0;
    for (const p of parts) {
      if (!p.load(meta, ctx, key, at)) return -1;
      at += p.width;
    }
    return set.find(key);
  };
}

/** Bits named by a flag value: an integer, a symbol, or a list of them (`established,related`, `syn|ack`). */
function flagBits(part: Part, v: Value, scope: TableScope, origin: Origin): Compiled<number> {
  const items = v.kind === "set" ? v.elements : [v];
  let bits = 0;
  for (const item of items) {
    const ivs = partIntervals(part, item, scope.interfaces, origin);
    if (!ivs.ok) return ivs;
    for (const iv of ivs.value) {
      if (iv.lo[0] !== iv.hi[0]) return fail("bad-value", "a flag value cannot be a range", origin);
      bits |= iv.lo[0];
    }
  }
  return { ok: true, value: bits >>> 0 };
}

const isFlagList = (v: Value): boolean =>
  v.kind === "int" ||
  v.kind === "symbol" ||
  (v.kind === "set" && v.elements.every((e) => e.kind === "int" || e.kind === "symbol"));

function compileMatch(m: Match, scope: TableScope, origin: Origin): Compiled<Test> {
  const infoR = selectorInfo(m.left, origin);
  if (!infoR.ok) return infoR;
  const info = infoR.value;
  if (info.k === "helper") {
    const name = m.right.kind === "string" ? m.right.value : m.right.kind === "symbol" ? m.right.name : null;
    if (name === null || (m.op !== "==" && m.op !== "!="))
      return fail("unsupported", "ct helper compares to a name with == or !=", origin);
    return m.op === "=="
      ? { ok: true, value: (_m, c) => c.ctHelper === name }
      : { ok: true, value: (_m, c) => c.ctHelper !== name };
  }
  const parts = info.parts;
  const scalar = parts.length === 1 ? parts[0].scalar : null;

  let mask = 0xffffffff;
  if (m.mask !== undefined) {
    if (scalar === null) return fail("unsupported", "a bit mask needs a single integer selector", origin);
    const b = flagBits(parts[0], m.mask, scope, origin);
    if (!b.ok) return b;
    mask = b.value;
  }
  const masked = mask !== 0xffffffff;

  // `in` on a flag type: any of the named bits is set (nft's implicit bitmask match).
  if (info.flags && m.op === "in" && scalar !== null && isFlagList(m.right)) {
    const b = flagBits(parts[0], m.right, scope, origin);
    if (!b.ok) return b;
    const bits = b.value;
    return {
      ok: true,
      value: (meta, ctx) => {
        const x = scalar(meta, ctx);
        return x >= 0 && (x & mask & bits) >>> 0 !== 0;
      },
    };
  }

  if (m.op === "<" || m.op === ">" || m.op === "<=" || m.op === ">=") {
    if (scalar === null) return fail("unsupported", `${m.op} needs a single one-word selector`, origin);
    const ivs = partIntervals(parts[0], m.right, scope.interfaces, origin);
    if (!ivs.ok) return ivs;
    if (ivs.value.length !== 1 || ivs.value[0].lo[0] !== ivs.value[0].hi[0])
      return fail("bad-value", `${m.op} compares with a single value`, origin);
    const v = ivs.value[0].lo[0];
    const test: Test =
      m.op === "<"
        ? (meta, ctx) => {
            const x = scalar(meta, ctx);
            return x >= 0 && (x & mask) >>> 0 < v;
          }
        : m.op === ">"
          ? (meta, ctx) => {
              const x = scalar(meta, ctx);
              return x >= 0 && (x & mask) >>> 0 > v;
            }
          : m.op === "<="
            ? (meta, ctx) => {
                const x = scalar(meta, ctx);
                return x >= 0 && (x & mask) >>> 0 <= v;
              }
            : (meta, ctx) => {
                const x = scalar(meta, ctx);
                return x >= 0 && (x & mask) >>> 0 >= v;
              };
    return { ok: true, value: test };
  }

  let elements: readonly Value[];
  if (m.right.kind === "set") elements = m.right.elements;
  else if (m.right.kind === "setref") {
    const name = m.right.name;
    const set = scope.table.sets?.find((s) => s.name === name);
    if (set === undefined)
      return fail("unknown-set", `set @${name} is not defined in table ${scope.table.name}`, origin);
    elements = set.elements;
  } else elements = [m.right];
  const boxes: KeyBox[] = [];
  for (const el of elements) {
    const bx = elementBoxes(parts, el, 0, scope, origin);
    if (!bx.ok) return bx;
    boxes.push(...bx.value);
  }
  const negate = m.op === "!=";

  if (scalar !== null) {
    if (boxes.length === 1 && boxes[0].lo[0] === boxes[0].hi[0]) {
      const v = boxes[0].lo[0] >>> 0;
      if (masked)
        return {
          ok: true,
          value: (meta, ctx) => {
            const x = scalar(meta, ctx);
            return x >= 0 && ((x & mask) >>> 0 === v) !== negate;
          },
        };
      return {
        ok: true,
        value: (meta, ctx) => {
          const x = scalar(meta, ctx);
          return x >= 0 && (x === v) !== negate;
        },
      };
    }
    const set = buildSet(parts, boxes, origin);
    if (!set.ok) return set;
    const ks = set.value;
    return {
      ok: true,
      value: (meta, ctx) => {
        const x = scalar(meta, ctx);
        return x >= 0 && ks.find1((x & mask) >>> 0) >= 0 !== negate;
      },
    };
  }
  const set = buildSet(parts, boxes, origin);
  if (!set.ok) return set;
  const lookup = lookupFn(parts, set.value);
  // A failed load is NFT_BREAK: the rule stops whatever the operator. lookupFn returns -1 for both a failed
  // load and a miss, so loads are checked separately here.
  const key = new Uint32Array(parts.reduce((a, p) => a + p.width, 0));
  const loads = (meta: PacketMeta, ctx: EvalContext): boolean => {
    let at = 0;
    for (const p of parts) {
      if (!p.load(meta, ctx, key, at)) return false;
      at += p.width;
    }
    return true;
  };
  if (!negate) return { ok: true, value: (meta, ctx) => lookup(meta, ctx) >= 0 };
  return { ok: true, value: (meta, ctx) => loads(meta, ctx) && lookup(meta, ctx) < 0 };
}

/** nft's load-time graph checks: loops, jump depth (nft_chain_validate), NAT hooks (nft_nat_validate). */
function checkGraph(chains: readonly CompiledChain[]): CompileError | null {
  const edges = chains.map((c) => {
    const out: { to: number; origin: Origin }[] = [];
    for (const r of c.rules)
      for (const op of r.ops) {
        const vs = op.op === "verdict" ? [op.verdict] : op.op === "vmap" ? op.verdicts : [];
        for (const v of vs) if (v.t === "jump" || v.t === "goto") out.push({ to: v.chain, origin: r.ref.origin });
      }
    return out;
  });
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const color = new Uint8Array(chains.length);
  const depth = new Int32Array(chains.length);
  const visit = (i: number): CompileError | null => {
    color[i] = GREY;
    let d = 0;
    for (const e of edges[i]) {
      if (color[e.to] === GREY)
        return {
          kind: "compile",
          code: "chain-loop",
          message: `jump to ${chains[e.to].ref.chain} closes a loop`,
          origin: e.origin,
        };
      if (color[e.to] === WHITE) {
        const inner = visit(e.to);
        if (inner !== null) return inner;
      }
      d = Math.max(d, depth[e.to] + 1);
    }
    depth[i] = d;
    color[i] = BLACK;
    return null;
  };
  for (let i = 0; i < chains.length; i++) {
    if (color[i] !== WHITE) continue;
    const loop = visit(i);
    if (loop !== null) return loop;
  }
  for (const c of chains) {
    if (c.base === null) continue;
    if (depth[c.index] >= JUMP_STACK_SIZE)
      return {
        kind: "compile",
        code: "jump-depth",
        message: `chains reached from ${c.ref.chain} nest deeper than ${JUMP_STACK_SIZE}`,
        origin: c.ref.origin,
      };
    // Every chain this base chain reaches must only hold NAT statements valid for its type and hook.
    const seen = new Set<number>();
    const stack = [c.index];
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (seen.has(i)) continue;
      seen.add(i);
      for (const r of chains[i].rules)
        for (const op of r.ops) {
          if (op.op !== "nat") continue;
          const kind = (op.v4 ?? op.v6)!.kind;
          if (c.base.type !== "nat")
            return {
              kind: "compile",
              code: "nat-outside-nat-chain",
              message: `${kind} is only valid in a type nat chain`,
              origin: r.ref.origin,
            };
          if (!NAT_HOOKS[kind].includes(c.base.hook))
            return {
              kind: "compile",
              code: "nat-wrong-hook",
              message: `${kind} is not valid at the ${c.base.hook} hook`,
              origin: r.ref.origin,
            };
        }
      for (const e of edges[i]) stack.push(e.to);
    }
  }
  return null;
}
