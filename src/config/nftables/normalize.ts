// A canonical, origin-free form of a ruleset in which two rulesets the kernel stores the same way compare equal
// (deep equality of plain JSON). Every rewrite below is one the kernel makes when it re-prints a ruleset (observed
// with nftables 1.0.6, `nft list ruleset` after `nft -f`), and each keeps behaviour: rulesets that behave
// differently stay different.

import type { IpAddress } from "../../wire/address.js";
import { IPV4_BITS, IPV6_BITS, formatIp, formatPrefix, parseIp, parsePrefix } from "../../wire/address.js";
import type {
  Chain,
  Expr,
  Match,
  MatchOp,
  RejectWith,
  Rule,
  Ruleset,
  Selector,
  Table,
  TableFamily,
  Value,
} from "../../engine/filter/ir.js";
import type { SymbolTable } from "../../engine/filter/symbols.js";
import {
  CT_DIRECTION_SYMBOLS,
  CT_STATE_SYMBOLS,
  CT_STATUS_SYMBOLS,
  FIB_TYPE_SYMBOLS,
  ICMP_CODE_SYMBOLS,
  ICMP_TYPE_SYMBOLS,
  ICMPV6_CODE_SYMBOLS,
  ICMPV6_TYPE_SYMBOLS,
  NFPROTO_IPV4,
  NFPROTO_IPV6,
  NFPROTO_SYMBOLS,
  PROTO_SYMBOLS,
  TCP_FLAG_SYMBOLS,
} from "../../engine/filter/symbols.js";
import { Proto } from "../../engine/packet-meta.js";

/** nft_limit.c NFT_LIMIT_PKT_BURST_DEFAULT: `limit rate 10/second` is stored with burst 5. */
const LIMIT_PKT_BURST_DEFAULT = 5;

/** Which symbolic constants a selector's values may use (`icmp type echo-request` is `icmp type 8`). */
function symbolsOf(s: Selector): SymbolTable | null {
  switch (s.kind) {
    case "payload":
      if (s.protocol === "ip" && s.field === "protocol") return PROTO_SYMBOLS;
      if (s.protocol === "ip6" && s.field === "nexthdr") return PROTO_SYMBOLS;
      if (s.protocol === "tcp" && s.field === "flags") return TCP_FLAG_SYMBOLS;
      if (s.protocol === "icmp")
        return s.field === "type" ? ICMP_TYPE_SYMBOLS : s.field === "code" ? ICMP_CODE_SYMBOLS : null;
      if (s.protocol === "icmpv6")
        return s.field === "type" ? ICMPV6_TYPE_SYMBOLS : s.field === "code" ? ICMPV6_CODE_SYMBOLS : null;
      return null;
    case "meta":
      return s.key === "l4proto" ? PROTO_SYMBOLS : s.key === "nfproto" ? NFPROTO_SYMBOLS : null;
    case "ct":
      return s.key === "state"
        ? CT_STATE_SYMBOLS
        : s.key === "status"
          ? CT_STATUS_SYMBOLS
          : s.key === "direction"
            ? CT_DIRECTION_SYMBOLS
            : null;
    case "fib":
      return s.result === "type" ? FIB_TYPE_SYMBOLS : null;
    case "concat":
      return null;
    default:
      return null;
  }
}

const NAME_SELECTORS = new Set(["meta:iif", "meta:oif", "meta:iifname", "meta:oifname", "ct:helper"]);
const isNameSelector = (s: Selector): boolean =>
  (s.kind === "meta" && NAME_SELECTORS.has(`meta:${s.key}`)) || (s.kind === "ct" && s.key === "helper");

type Ctx = { readonly symbols: SymbolTable | null; readonly names: boolean };

const ctxOf = (s: Selector): Ctx => ({ symbols: symbolsOf(s), names: isNameSelector(s) });
const partCtx = (s: Selector): readonly Ctx[] => (s.kind === "concat" ? s.parts.map(ctxOf) : [ctxOf(s)]);

const key = (v: unknown): string => JSON.stringify(v);
const sortByKey = <T>(xs: readonly T[]): T[] =>
  [...xs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

const addressBits = (a: IpAddress): bigint =>
  a.family === 4 ? BigInt(a.v4) : a.v6.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);

/**
 * An address range that covers exactly one CIDR block as that prefix (one address as the address): the interval
 * set stores only the bounds, and nft's segtree.c prints a block-aligned interval as a prefix. Otherwise null.
 */
function addressBlock(loText: string, hiText: string): Value | null {
  const lo = parseIp(loText);
  const hi = parseIp(hiText);
  if (lo === null || hi === null || lo.family !== hi.family) return null;
  const a = addressBits(lo);
  const size = addressBits(hi) - a + 1n;
  if (size <= 0n || (size & (size - 1n)) !== 0n || a % size !== 0n) return null;
  const hostBits = size.toString(2).length - 1;
  const len = (lo.family === 4 ? IPV4_BITS : IPV6_BITS) - hostBits;
  const addr = formatIp(lo);
  return hostBits === 0 ? { kind: "address", addr } : { kind: "prefix", addr, len };
}

/** Canonical value: symbols as numbers, names as strings, addresses and prefixes in canonical text. */
function normValue(v: Value, ctx: readonly Ctx[]): Value {
  const c: Ctx = ctx.length === 1 ? ctx[0] : { symbols: null, names: false };
  switch (v.kind) {
    case "int":
      return v;
    case "symbol": {
      if (c.names) return { kind: "string", value: v.name };
      const n = c.symbols?.get(v.name);
      return n === undefined ? v : { kind: "int", value: n };
    }
    case "string":
      return v;
    case "address": {
      const a = parseIp(v.addr);
      return a === null ? v : { kind: "address", addr: formatIp(a) };
    }
    case "prefix": {
      // The kernel stores the network: `192.0.2.7/24` re-prints as `192.0.2.0/24`, a full-length prefix as the address.
      const p = parsePrefix(`${v.addr}/${v.len}`);
      if (p === null) return v;
      const full = p.prefix.family === 4 ? IPV4_BITS : IPV6_BITS;
      const text = formatPrefix(p.prefix);
      const addr = text.slice(0, text.lastIndexOf("/"));
      return v.len === full ? { kind: "address", addr } : { kind: "prefix", addr, len: v.len };
    }
    case "range": {
      const lo = normValue(v.lo, ctx);
      const hi = normValue(v.hi, ctx);
      return lo.kind === "address" && hi.kind === "address"
        ? (addressBlock(lo.addr, hi.addr) ?? { kind: "range", lo, hi })
        : { kind: "range", lo, hi };
    }
    case "set":
      return { kind: "set", elements: sortByKey(v.elements.map((e) => normValue(e, ctx))) };
    case "setref":
      return v;
    case "concat":
      return {
        kind: "concat",
        parts: v.parts.map((p, i) => normValue(p, [ctx[i] ?? { symbols: null, names: false }])),
      };
    default:
      return v;
  }
}

const intOf = (v: Value): number | null => (v.kind === "int" ? v.value : null);
const isSingleBit = (v: Value): boolean => v.kind === "int" && v.value > 0 && (v.value & (v.value - 1)) === 0;

const FLAG_TABLES: ReadonlySet<SymbolTable> = new Set([TCP_FLAG_SYMBOLS, CT_STATE_SYMBOLS, CT_STATUS_SYMBOLS]);

/** The bits a normalised flag value names (an int or a list of ints), or null if it names something else. */
function bitsOf(v: Value): number | null {
  if (v.kind === "int") return v.value;
  if (v.kind !== "set") return null;
  let bits = 0;
  for (const e of v.elements) {
    if (e.kind !== "int") return null;
    bits |= e.value;
  }
  return bits >>> 0;
}

/** A bit mask as its single bits, lowest first: the one form of an `in` flag list. */
function singleBits(bits: number): Value {
  const elements: Value[] = [];
  for (let b = 1; b !== 0 && b <= bits; b = (b << 1) >>> 0)
    if ((bits & b) !== 0) elements.push({ kind: "int", value: b });
  return { kind: "set", elements };
}

/**
 * One form for bitmask matches (compile.ts reads a mask and an `in` list as the OR of their bits):
 * `& (fin | syn)` and `& fin,syn` are the mask 3; `flags & (syn|ack) != 0` is `flags syn,ack` (any of the bits,
 * nft's netlink_delinearize.c prints it so); an `in` list is its single bits. `== fin|syn` is already one number.
 */
function normFlagMatch(m: Match): Match {
  const bits = m.mask === undefined ? null : bitsOf(m.mask);
  if (bits !== null && m.op === "!=" && intOf(m.right) === 0)
    return { kind: "match", left: m.left, op: "in", right: singleBits(bits) };
  let right = m.right;
  if (m.op === "in") {
    const r = bitsOf(right);
    if (r !== null) right = singleBits(r);
  }
  return { ...m, right, ...(bits === null ? {} : { mask: { kind: "int", value: bits } }) };
}

function normMatch(m: Match): Match {
  const ctx = partCtx(m.left);
  const flags = ctx.length === 1 && ctx[0].symbols !== null && FLAG_TABLES.has(ctx[0].symbols);
  let right = normValue(m.right, ctx);
  let op: MatchOp = m.op;
  // nft collapses a one-element anonymous set: `tcp dport { 22 }` is stored as `tcp dport 22`.
  if (right.kind === "set" && right.elements.length === 1 && (op === "==" || op === "!=")) right = right.elements[0];
  // A conntrack entry is in exactly one state, so `ct state x`, `ct state == x`, `ct state { x, y }` and
  // `ct state x,y` are the same test; the kernel prints whichever it was given.
  if (m.left.kind === "ct" && m.left.key === "state" && m.mask === undefined && (op === "==" || op === "in")) {
    const elements = right.kind === "set" ? right.elements : [right];
    if (elements.every(isSingleBit)) {
      op = "in";
      right = { kind: "set", elements: sortByKey(elements) };
    }
  }
  // `in` on any other bitmask: one named bit and a one-element list are the same.
  if (op === "in" && right.kind !== "set" && right.kind !== "setref") right = { kind: "set", elements: [right] };
  const out: Match = {
    kind: "match",
    left: m.left,
    op,
    right,
    ...(m.mask === undefined ? {} : { mask: normValue(m.mask, ctx) }),
  };
  return flags ? normFlagMatch(out) : out;
}

function defaultReject(family: TableFamily): RejectWith {
  return family === "ip"
    ? { type: "icmp", code: "port-unreachable" }
    : family === "ip6"
      ? { type: "icmpv6", code: "port-unreachable" }
      : { type: "icmpx", code: "port-unreachable" };
}

const sameReject = (a: RejectWith, b: RejectWith): boolean => key(a) === key(b);

const eqMatch = (e: Expr | undefined, sel: (s: Selector) => boolean): Match | null =>
  e?.kind === "match" && e.op === "==" && e.mask === undefined && sel(e.left) ? e : null;

/** The protocol a payload selector implies (its implicit `meta l4proto` dependency), or null. */
function impliedProto(s: Selector): number | null {
  if (s.kind !== "payload") return null;
  switch (s.protocol) {
    case "tcp":
      return Proto.TCP;
    case "udp":
      return Proto.UDP;
    case "icmp":
      return Proto.ICMP;
    case "icmpv6":
      return Proto.ICMPV6;
    default:
      return null;
  }
}

const isL4Dependency = (family: TableFamily) => (s: Selector) =>
  (s.kind === "meta" && s.key === "l4proto") ||
  (family === "ip" && s.kind === "payload" && s.protocol === "ip" && s.field === "protocol") ||
  (family === "ip6" && s.kind === "payload" && s.protocol === "ip6" && s.field === "nexthdr");

const isNfproto = (s: Selector): boolean => s.kind === "meta" && s.key === "nfproto";

/** Rewrites the rule the way nft's dependency handling (src/payload.c, netlink_delinearize.c) prints it. */
function normExprs(exprs: readonly Expr[], family: TableFamily): Expr[] {
  const xs: Expr[] = exprs.map((e) => (e.kind === "match" ? normMatch(e) : e));
  // `reject with tcp reset` gets an explicit `meta l4proto tcp` unless a TCP match already precedes it.
  for (let i = 0; i < xs.length; i++) {
    const e = xs[i];
    if (e.kind !== "reject" || e.with?.type !== "tcp-reset") continue;
    const tcpBefore = xs
      .slice(0, i)
      .some(
        (p) =>
          p.kind === "match" &&
          (impliedProto(p.left) === Proto.TCP ||
            (isL4Dependency(family)(p.left) && p.op === "==" && intOf(p.right) === Proto.TCP)),
      );
    if (!tcpBefore) {
      xs.splice(i, 0, {
        kind: "match",
        left: { kind: "meta", key: "l4proto" },
        op: "==",
        right: { kind: "int", value: Proto.TCP },
      });
      i++;
    }
  }
  const out: Expr[] = [];
  for (let i = 0; i < xs.length; i++) {
    const e = xs[i];
    const next = xs[i + 1] as Expr | undefined;
    const dep = eqMatch(e, isL4Dependency(family));
    if (dep !== null && next?.kind === "match") {
      const p = intOf(dep.right);
      // `meta l4proto tcp tcp dport 22` is stored as `tcp dport 22`; `meta l4proto tcp th dport 53` as `tcp dport 53`.
      if (p !== null && impliedProto(next.left) === p) continue;
      if (
        p !== null &&
        (p === Proto.TCP || p === Proto.UDP) &&
        next.left.kind === "payload" &&
        next.left.protocol === "th"
      ) {
        xs[i + 1] = {
          ...next,
          left: { kind: "payload", protocol: p === Proto.TCP ? "tcp" : "udp", field: next.left.field },
        };
        continue;
      }
    }
    // In ip and ip6 tables `ip protocol tcp`/`meta l4proto tcp` right before `reject with tcp reset` is the
    // reject's own dependency and prints as plain `reject with tcp reset` (nft evaluate.c stmt_evaluate_reject).
    // Only the ip table's `ip protocol` is rewritten: IPv4 has no extension headers, so it reads what `meta l4proto`
    // reads; `ip6 nexthdr tcp` is a different test (it stops at an extension header) and stays as written.
    if (
      family === "ip" &&
      dep !== null &&
      intOf(dep.right) === Proto.TCP &&
      next?.kind === "reject" &&
      next.with?.type === "tcp-reset"
    ) {
      out.push({ ...dep, left: { kind: "meta", key: "l4proto" } });
      continue;
    }
    const nf = family === "inet" ? eqMatch(e, isNfproto) : null;
    if (nf !== null) {
      const f = intOf(nf.right);
      // `meta nfproto ipv4 ip saddr …` is stored as `ip saddr …` (the address match carries the dependency).
      if (next?.kind === "match" && next.left.kind === "payload") {
        if ((f === NFPROTO_IPV4 && next.left.protocol === "ip") || (f === NFPROTO_IPV6 && next.left.protocol === "ip6"))
          continue;
      }
      // `meta nfproto ipv4 [matches] reject` is stored as `[matches] reject with icmp port-unreachable`, and
      // `meta nfproto ipv4 [matches] reject with icmp …` as `[matches] reject with icmp …`: an icmp reject only
      // fires for IPv4 (nft adds the nfproto dependency back when loading). A statement in between (counter, log,
      // limit) sees the other family's packets too, so then the nfproto stays, as the kernel prints it.
      let j = i + 1;
      while (xs[j]?.kind === "match") j++;
      const rej = xs[j] as Expr | undefined;
      if (rej?.kind === "reject" && (f === NFPROTO_IPV4 || f === NFPROTO_IPV6)) {
        const v6 = f === NFPROTO_IPV6;
        const w = rej.with;
        if (w === undefined || (w.type === "icmpx" && w.code === "port-unreachable")) {
          xs[j] = { kind: "reject", with: { type: v6 ? "icmpv6" : "icmp", code: "port-unreachable" } };
          continue;
        }
        if (w.type === (v6 ? "icmpv6" : "icmp")) continue;
      }
    }
    out.push(e);
  }
  return out.map((e) => {
    // nft's default log level is warn (nft_log.c NFT_LOGLEVEL_WARNING); the kernel does not print it.
    if (e.kind === "log" && e.level === "warn")
      return e.prefix === undefined ? { kind: "log" } : { kind: "log", prefix: e.prefix };
    if (e.kind === "reject")
      return e.with !== undefined && !sameReject(e.with, defaultReject(family)) ? e : { kind: "reject" };
    if (e.kind === "limit" && e.unit === "packets" && e.burst === 0) return { ...e, burst: LIMIT_PKT_BURST_DEFAULT };
    if (e.kind === "vmap" && e.map.kind === "anonymous") {
      const ctx = partCtx(e.key);
      return {
        ...e,
        map: {
          kind: "anonymous",
          entries: sortByKey(e.map.entries.map((x) => ({ ...x, key: normValue(x.key, ctx) }))),
        },
      };
    }
    if ((e.kind === "snat" || e.kind === "dnat") && e.addr !== undefined)
      return { ...e, addr: normValue(e.addr, [{ symbols: null, names: false }]) };
    if (
      (e.kind === "snat" || e.kind === "dnat" || e.kind === "masquerade" || e.kind === "redirect") &&
      e.flags !== undefined
    )
      return e.flags.length === 0 ? { ...e, flags: undefined } : { ...e, flags: [...e.flags].sort() };
    return e;
  });
}

function normRule(r: Rule, family: TableFamily): unknown {
  return { exprs: normExprs(r.exprs, family), ...(r.comment === undefined ? {} : { comment: r.comment }) };
}

function normChain(c: Chain, family: TableFamily): unknown {
  return {
    name: c.name,
    ...(c.base === undefined ? {} : { base: c.base }),
    rules: c.rules.map((r) => normRule(r, family)),
    ...(c.comment === undefined ? {} : { comment: c.comment }),
  };
}

function keyCtx(types: readonly string[]): Ctx[] {
  return types.map((t) => ({
    symbols: t === "inet_proto" ? PROTO_SYMBOLS : t === "ct_state" ? CT_STATE_SYMBOLS : null,
    names: t === "ifname" || t === "iface_index",
  }));
}

function normTable(t: Table): unknown {
  return {
    family: t.family,
    name: t.name,
    ...(t.comment === undefined ? {} : { comment: t.comment }),
    chains: t.chains.map((c) => normChain(c, t.family)),
    sets: sortByKey(
      (t.sets ?? []).map((s) => ({
        name: s.name,
        keyType: s.keyType,
        flags: [...(s.flags ?? [])].sort(),
        elements: sortByKey(s.elements.map((e) => normValue(e, keyCtx(s.keyType)))),
        ...(s.comment === undefined ? {} : { comment: s.comment }),
      })),
    ),
    maps: sortByKey(
      (t.maps ?? []).map((m) => ({
        name: m.name,
        keyType: m.keyType,
        dataType: m.dataType,
        flags: [...(m.flags ?? [])].sort(),
        elements: sortByKey(
          m.elements.map((e) => ({
            key: normValue(e.key, keyCtx(m.keyType)),
            data:
              e.data.kind === "value"
                ? { kind: "value", value: normValue(e.data.value, keyCtx([m.dataType])) }
                : e.data,
          })),
        ),
        ...(m.comment === undefined ? {} : { comment: m.comment }),
      })),
    ),
    // The kernel prints every helper's l3proto, the table's family when none was given.
    ctHelpers: sortByKey(
      (t.ctHelpers ?? []).map((h) => ({
        name: h.name,
        type: h.type,
        protocol: h.protocol,
        l3proto: h.l3proto ?? t.family,
        ...(h.comment === undefined ? {} : { comment: h.comment }),
      })),
    ),
  };
}

/**
 * A canonical, origin- and handle-free plain value for deep comparison: the text parser, the JSON reader and the
 * kernel's re-printing of one ruleset all normalise equal. Table and chain order is kept (it breaks priority ties
 * between base chains); sets, maps and the elements of every set are sorted, as their order has no meaning.
 */
export function normalizeRuleset(r: Ruleset): unknown {
  return { tables: r.tables.map(normTable) };
}
