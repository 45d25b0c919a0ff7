// How each nft selector reads the packet, and which values it accepts. A selector compiles to one or more key
// parts (a concatenation has several); each part knows its width in words, how to load the packet's value
// without allocating, and how to turn IR values (symbols, interface names, addresses, prefixes) into intervals.
// Payload selectors carry nft's implicit protocol dependency (`tcp dport` needs `meta l4proto tcp`): when the
// dependency fails the load fails and the match is false whatever its operator, as in the kernel (NFT_BREAK).

import { readU16 } from "../../wire/bytes.js";
import { ipv6ToWords, parseIp } from "../../wire/address.js";
import { Ipv4Field } from "../../wire/ipv4.js";
import { CtState, NONE, Proto } from "../packet-meta.js";
import type { PacketMeta } from "../packet-meta.js";
import type { EvalContext } from "./context.js";
import type { Origin, Selector, Value } from "./ir.js";
import { assertNever } from "./ir.js";
import type { PartWidth } from "./key-set.js";
import type { SymbolTable } from "./symbols.js";
import {
  CT_DIRECTION_SYMBOLS,
  CT_STATE_SYMBOLS,
  CT_STATUS_SYMBOLS,
  FIB_TYPE_SYMBOLS,
  FibFlagBit,
  ICMP_CODE_SYMBOLS,
  ICMP_TYPE_SYMBOLS,
  ICMPV6_CODE_SYMBOLS,
  ICMPV6_TYPE_SYMBOLS,
  NFPROTO_IPV4,
  NFPROTO_IPV6,
  NFPROTO_SYMBOLS,
  PROTO_SYMBOLS,
  TCP_FLAG_SYMBOLS,
} from "./symbols.js";
import type { CompileError } from "./trace.js";

/** IPv6 header fields the selectors read (RFC 8200 §3). */
const Ip6Field = { PAYLOAD_LEN: 4, NEXT_HEADER: 6 } as const;
/** ICMP/ICMPv6 identifier offset in an echo header (RFC 792, RFC 4443 §4.1). */
const ICMP_ID = 4;
/** Protocols `th` (transport header) applies to: nft's th is valid for TCP, UDP, UDP-Lite, SCTP and DCCP. */
const UDPLITE = 136;
const DCCP = 33;
/** The value `fib … oif` loads when there is no route, matched by the symbol `missing` (nft_fib: oif 0). */
export const FIB_MISSING = 0x7fffffff;
const U32_MAX = 0xffffffff;

/** Reads a one-word value of the packet, or -1 when the selector does not apply to it. */
export type ScalarLoad = (meta: PacketMeta, ctx: EvalContext) => number;
/** Writes the part's words at out[at..]; false when the selector does not apply. */
export type KeyLoad = (meta: PacketMeta, ctx: EvalContext, out: Uint32Array, at: number) => boolean;

export type PartKind =
  | { readonly k: "int"; readonly max: number; readonly symbols: SymbolTable | null }
  | { readonly k: "addr4" }
  | { readonly k: "addr6" }
  | { readonly k: "ifindex"; readonly allowMissing: boolean }
  | { readonly k: "ifname" };

export interface Part {
  readonly kind: PartKind;
  readonly width: PartWidth;
  readonly load: KeyLoad;
  /** Set for one-word parts: the same load returning the value directly. */
  readonly scalar: ScalarLoad | null;
}

export type SelectorInfo =
  { readonly k: "key"; readonly parts: readonly Part[]; readonly flags: boolean } | { readonly k: "helper" };

export interface Interval {
  readonly lo: readonly number[];
  readonly hi: readonly number[];
}

export type Compiled<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: CompileError };

export function fail(code: CompileError["code"], message: string, origin: Origin): { ok: false; error: CompileError } {
  return { ok: false, error: { kind: "compile", code, message, origin } };
}

const scalarPart = (kind: PartKind, scalar: ScalarLoad): Part => ({
  kind,
  width: 1,
  scalar,
  load: (meta, ctx, out, at) => {
    const x = scalar(meta, ctx);
    if (x < 0) return false;
    out[at] = x;
    return true;
  },
});

const intKind = (max: number, symbols: SymbolTable | null = null): PartKind => ({ k: "int", max, symbols });
const U8 = 0xff;
const U16 = 0xffff;

const l4Is = (meta: PacketMeta, proto: number): boolean => meta.proto === proto && meta.l4 !== NONE;
const isTh = (p: number): boolean =>
  p === Proto.TCP || p === Proto.UDP || p === Proto.SCTP || p === UDPLITE || p === DCCP;

function addr4Part(which: "saddr" | "daddr"): Part {
  const scalar: ScalarLoad =
    which === "saddr"
      ? (meta) => (meta.family === 4 ? meta.saddr[0] : -1)
      : (meta) => (meta.family === 4 ? meta.daddr[0] : -1);
  return scalarPart({ k: "addr4" }, scalar);
}

function addr6Part(which: "saddr" | "daddr"): Part {
  const load: KeyLoad = (meta, _ctx, out, at) => {
    if (meta.family !== 6) return false;
    const a = which === "saddr" ? meta.saddr : meta.daddr;
    out[at] = a[0];
    out[at + 1] = a[1];
    out[at + 2] = a[2];
    out[at + 3] = a[3];
    return true;
  };
  return { kind: { k: "addr6" }, width: 4, load, scalar: null };
}

function portPart(proto: "tcp" | "udp" | "th", field: "sport" | "dport"): Part {
  const test = proto === "tcp" ? Proto.TCP : proto === "udp" ? Proto.UDP : -1;
  const scalar: ScalarLoad =
    test < 0
      ? field === "sport"
        ? (m) => (isTh(m.proto) && m.l4 !== NONE ? m.sport : -1)
        : (m) => (isTh(m.proto) && m.l4 !== NONE ? m.dport : -1)
      : field === "sport"
        ? (m) => (l4Is(m, test) ? m.sport : -1)
        : (m) => (l4Is(m, test) ? m.dport : -1);
  return scalarPart(intKind(U16), scalar);
}

function icmpPart(v6: boolean, field: "type" | "code" | "id"): Part {
  const family = v6 ? 6 : 4;
  const proto = v6 ? Proto.ICMPV6 : Proto.ICMP;
  const applies = (m: PacketMeta): boolean => m.family === family && l4Is(m, proto);
  switch (field) {
    case "type":
      return scalarPart(intKind(U8, v6 ? ICMPV6_TYPE_SYMBOLS : ICMP_TYPE_SYMBOLS), (m) =>
        applies(m) ? m.icmpType : -1,
      );
    case "code":
      return scalarPart(intKind(U8, v6 ? ICMPV6_CODE_SYMBOLS : ICMP_CODE_SYMBOLS), (m) =>
        applies(m) ? m.icmpCode : -1,
      );
    case "id":
      return scalarPart(intKind(U16), (m) => (applies(m) ? readU16(m.bytes, m.l4 + ICMP_ID) : -1));
    default:
      return assertNever(field);
  }
}

function fibFlags(flags: readonly string[]): number {
  let bits = 0;
  for (const f of flags) bits |= FibFlagBit[f as keyof typeof FibFlagBit];
  return bits;
}

/** `ct state` as nft_ct.c reads it: without a conntrack entry the state is `invalid` unless the packet is untracked. */
export function ctStateOf(meta: PacketMeta): number {
  return meta.ctState === 0 ? CtState.INVALID : meta.ctState;
}

/** Resolves a selector into its key parts (or the string-valued `ct helper`). */
export function selectorInfo(sel: Selector, origin: Origin): Compiled<SelectorInfo> {
  const key = (part: Part, flags = false): Compiled<SelectorInfo> => ({
    ok: true,
    value: { k: "key", parts: [part], flags },
  });
  switch (sel.kind) {
    case "payload":
      switch (sel.protocol) {
        case "ip":
          switch (sel.field) {
            case "saddr":
            case "daddr":
              return key(addr4Part(sel.field));
            case "protocol":
              return key(
                scalarPart(intKind(U8, PROTO_SYMBOLS), (m) =>
                  m.family === 4 ? m.bytes[m.l3 + Ipv4Field.PROTOCOL] : -1,
                ),
              );
            case "length":
              return key(
                scalarPart(intKind(U16), (m) => (m.family === 4 ? readU16(m.bytes, m.l3 + Ipv4Field.LENGTH) : -1)),
              );
            case "ttl":
              return key(scalarPart(intKind(U8), (m) => (m.family === 4 ? m.ttl : -1)));
            default:
              return assertNever(sel);
          }
        case "ip6":
          switch (sel.field) {
            case "saddr":
            case "daddr":
              return key(addr6Part(sel.field));
            case "nexthdr":
              return key(
                scalarPart(intKind(U8, PROTO_SYMBOLS), (m) =>
                  m.family === 6 ? m.bytes[m.l3 + Ip6Field.NEXT_HEADER] : -1,
                ),
              );
            case "length":
              return key(
                scalarPart(intKind(U16), (m) => (m.family === 6 ? readU16(m.bytes, m.l3 + Ip6Field.PAYLOAD_LEN) : -1)),
              );
            case "hoplimit":
              return key(scalarPart(intKind(U8), (m) => (m.family === 6 ? m.ttl : -1)));
            default:
              return assertNever(sel);
          }
        case "tcp":
          if (sel.field === "flags")
            return key(
              scalarPart(intKind(U8, TCP_FLAG_SYMBOLS), (m) => (l4Is(m, Proto.TCP) ? m.tcpFlags : -1)),
              true,
            );
          return key(portPart("tcp", sel.field));
        case "udp":
        case "th":
          return key(portPart(sel.protocol, sel.field));
        case "icmp":
          return key(icmpPart(false, sel.field));
        case "icmpv6":
          return key(icmpPart(true, sel.field));
        default:
          return assertNever(sel);
      }
    case "meta":
      switch (sel.key) {
        case "iif":
          return key(scalarPart({ k: "ifindex", allowMissing: false }, (m) => (m.iif === NONE ? -1 : m.iif)));
        case "oif":
          return key(scalarPart({ k: "ifindex", allowMissing: false }, (m) => (m.oif === NONE ? -1 : m.oif)));
        case "iifname":
          return key(scalarPart({ k: "ifname" }, (m) => (m.iif === NONE ? -1 : m.iif)));
        case "oifname":
          return key(scalarPart({ k: "ifname" }, (m) => (m.oif === NONE ? -1 : m.oif)));
        case "l4proto":
          return key(scalarPart(intKind(U8, PROTO_SYMBOLS), (m) => m.proto));
        case "nfproto":
          return key(scalarPart(intKind(U8, NFPROTO_SYMBOLS), (m) => (m.family === 4 ? NFPROTO_IPV4 : NFPROTO_IPV6)));
        case "mark":
          return key(scalarPart(intKind(U32_MAX), (m) => m.mark >>> 0));
        default:
          return assertNever(sel);
      }
    case "ct":
      switch (sel.key) {
        case "state":
          return key(scalarPart(intKind(U8, CT_STATE_SYMBOLS), ctStateOf), true);
        case "status":
          return key(
            scalarPart(intKind(U32_MAX, CT_STATUS_SYMBOLS), (m, c) => (m.ctEntry === NONE ? -1 : c.ctStatus >>> 0)),
            true,
          );
        case "direction":
          return key(scalarPart(intKind(1, CT_DIRECTION_SYMBOLS), (m) => (m.ctEntry === NONE ? -1 : m.ctDir)));
        case "mark":
          return key(scalarPart(intKind(U32_MAX), (m, c) => (m.ctEntry === NONE ? -1 : c.ctMark >>> 0)));
        case "helper":
          return { ok: true, value: { k: "helper" } };
        default:
          return assertNever(sel);
      }
    case "fib": {
      const bits = fibFlags(sel.flags);
      if (sel.result === "oif")
        return key(
          scalarPart({ k: "ifindex", allowMissing: true }, (m, c) => {
            if (c.fib === null) return -1;
            const oif = c.fib.oif(m, bits);
            return oif === NONE ? FIB_MISSING : oif;
          }),
        );
      return key(scalarPart(intKind(U8, FIB_TYPE_SYMBOLS), (m, c) => (c.fib === null ? -1 : c.fib.addrType(m, bits))));
    }
    case "concat": {
      const parts: Part[] = [];
      for (const p of sel.parts) {
        const info = selectorInfo(p, origin);
        if (!info.ok) return info;
        if (info.value.k !== "key") return fail("unsupported", "ct helper cannot be part of a concatenation", origin);
        parts.push(...info.value.parts);
      }
      return { ok: true, value: { k: "key", parts, flags: false } };
    }
    default:
      return assertNever(sel);
  }
}

/** Words of an address value for a part, or null when the text is not an address of that family. */
function addrWords(text: string, v6: boolean): number[] | null {
  const a = parseIp(text);
  if (a === null) return null;
  if (a.family === 4) return v6 ? null : [a.v4];
  if (!v6) return null;
  const w = new Uint32Array(4);
  ipv6ToWords(a.v6, 0, w);
  return Array.from(w);
}

function prefixInterval(words: number[], len: number): Interval {
  const lo: number[] = [];
  const hi: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const bits = Math.max(0, Math.min(32, len - 32 * i));
    const mask = bits === 0 ? 0 : (U32_MAX << (32 - bits)) >>> 0;
    lo.push((words[i] & mask) >>> 0);
    hi.push((words[i] | ~mask) >>> 0);
  }
  return { lo, hi };
}

/** Interface names match exactly, or as a prefix when written with a trailing `*` (nft ifname wildcard). */
export function ifnameMatches(pattern: string, name: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** The intervals one value covers in one part; an interface wildcard may cover several (or none). */
export function partIntervals(
  part: Part,
  value: Value,
  interfaces: readonly string[],
  origin: Origin,
): Compiled<Interval[]> {
  const one = (x: number): Compiled<Interval[]> => ({ ok: true, value: [{ lo: [x], hi: [x] }] });
  const kind = part.kind;
  switch (kind.k) {
    case "int": {
      const scalar = (v: Value): number | null => {
        if (v.kind === "int") return Number.isInteger(v.value) && v.value >= 0 && v.value <= kind.max ? v.value : null;
        if (v.kind === "symbol" || v.kind === "string") {
          const name = v.kind === "symbol" ? v.name : v.value;
          return kind.symbols?.get(name) ?? null;
        }
        return null;
      };
      if (value.kind === "range") {
        const lo = scalar(value.lo);
        const hi = scalar(value.hi);
        if (lo === null || hi === null || lo > hi)
          return fail("bad-value", `bad range ${JSON.stringify(value)}`, origin);
        return { ok: true, value: [{ lo: [lo], hi: [hi] }] };
      }
      const x = scalar(value);
      if (x === null)
        return fail(
          value.kind === "symbol" ? "unknown-symbol" : "bad-value",
          `value ${JSON.stringify(value)} does not fit this selector`,
          origin,
        );
      return one(x);
    }
    case "addr4":
    case "addr6": {
      const v6 = kind.k === "addr6";
      const words = (text: string): number[] | null => addrWords(text, v6);
      const family = v6 ? "IPv6" : "IPv4";
      if (value.kind === "address") {
        const w = words(value.addr);
        if (w === null) return fail("bad-value", `${value.addr} is not an ${family} address`, origin);
        return { ok: true, value: [{ lo: w, hi: w }] };
      }
      if (value.kind === "prefix") {
        const w = words(value.addr);
        if (w === null || value.len < 0 || value.len > 32 * w.length)
          return fail("bad-value", `${value.addr}/${value.len} is not an ${family} prefix`, origin);
        return { ok: true, value: [prefixInterval(w, value.len)] };
      }
      if (value.kind === "range" && value.lo.kind === "address" && value.hi.kind === "address") {
        const lo = words(value.lo.addr);
        const hi = words(value.hi.addr);
        if (lo === null || hi === null) return fail("bad-value", `bad ${family} range`, origin);
        return { ok: true, value: [{ lo, hi }] };
      }
      return fail("bad-value", `expected an ${family} address, prefix or range, got ${value.kind}`, origin);
    }
    case "ifindex": {
      if (value.kind === "int") return one(value.value);
      const name = value.kind === "string" ? value.value : value.kind === "symbol" ? value.name : null;
      if (name === null) return fail("bad-value", `expected an interface, got ${value.kind}`, origin);
      if (kind.allowMissing && name === "missing") return one(FIB_MISSING);
      const index = interfaces.indexOf(name);
      // nft resolves iif/oif to an index at load time and refuses unknown interfaces.
      if (index < 0) return fail("unknown-interface", `interface "${name}" does not exist on this node`, origin);
      return one(index);
    }
    case "ifname": {
      const name = value.kind === "string" ? value.value : value.kind === "symbol" ? value.name : null;
      if (name === null) return fail("bad-value", `expected an interface name, got ${value.kind}`, origin);
      const out: Interval[] = [];
      interfaces.forEach((n, i) => {
        if (ifnameMatches(name, n)) out.push({ lo: [i], hi: [i] });
      });
      return { ok: true, value: out };
    }
    default:
      return assertNever(kind);
  }
}
