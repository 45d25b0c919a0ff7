// The NAT engine of one node, after net/netfilter/nf_nat_core.c (nf_nat_setup_info, get_unique_tuple,
// find_appropriate_src, nf_nat_packet), nf_nat_masquerade.c, nf_nat_redirect.c and nf_nat_proto.c
// (SEMANTICS.md §2.6, §2.7, §2.10, §7).
//
// A binding is made once per connection and per manip type, on its first packet: the new reply tuple is computed
// and written into the UNCONFIRMED conntrack entry (so confirm() hashes it and a clash dies there, as in the
// kernel). Every later packet is rewritten from the entry's two tuples at the NAT hooks: DST manip at
// prerouting/output, SRC manip at postrouting/input; the reply direction gets the reverse translation.
//
// Tuple bookkeeping works on the REPLY tuple (src:sport → dst:dport as the answer will look): a SRC manip chooses
// its destination (X':x'), a DST manip its source. ICMP query tuples keep the identifier in sport in both
// directions (conntrack stores type<<8|code in dport), so the identifier plays the port for ICMP.
//
// Two indexes on typed arrays, kept by this engine and cleaned through conntrack's onDestroy hook:
// - by source (nf_nat_bysource): entries that went through a SRC manip, keyed by their ORIGINAL source X:x;
//   find_appropriate_src reuses X':x' for X:x's next connection (EIM).
// - by external endpoint: SNATed entries keyed by X':x', for the EIF/ADF filtering settings (full cone).

import type { NatRequest } from "../filter/trace.js";
import type { Family, PacketMeta } from "../packet-meta.js";
import { CtDir, CtState, CtStatus, NONE, Proto } from "../packet-meta.js";
import type { Rng } from "../rng.js";
import type { Fib } from "../route/fib.js";
import { internetChecksum, pseudoHeaderSumV6, sumWords, foldSum } from "../../wire/checksum.js";
import { Ipv6Field } from "../../wire/ipv6.js";
import { LINUX_NAT_BEHAVIOUR } from "./nat-behaviour.js";
import type { NatBehaviour } from "./nat-behaviour.js";
import { PortAllocator, PortClass, portClassOf } from "./port-allocator.js";
import type { PortProbe, PortSpan } from "./port-allocator.js";
import { Manip, embeddedProtocol, embeddedTransportAt, manipPacket, refreshIcmpChecksum } from "./rewrite.js";

/** What NAT needs of conntrack (src/engine/conntrack/conntrack.ts `Conntrack` satisfies it). */
export interface NatConntrack {
  readonly capacity: number;
  onDestroy?: (e: number) => void;
  family(e: number): Family;
  proto(e: number): number;
  src(e: number, dir: number, out: Uint32Array): void;
  dst(e: number, dir: number, out: Uint32Array): void;
  sport(e: number, dir: number): number;
  dport(e: number, dir: number): number;
  setReplyTuple(e: number, src: Uint32Array, sport: number, dst: Uint32Array, dport: number): void;
  tupleTaken(
    family: Family,
    proto: number,
    src: Uint32Array,
    sport: number,
    dst: Uint32Array,
    dport: number,
    except?: number,
  ): boolean;
  status(e: number): number;
  setStatus(e: number, bits: number): void;
}

export interface NatOptions {
  conntrack: NatConntrack;
  /** The node's FIB: masquerade's source address (inet_select_addr) and redirect's interface address. */
  fib: Fib;
  /** Port choices (random starts, fully-random ports). */
  rng: Rng;
  /** RFC 4787 behaviour; default Linux (EIM + APDF). */
  behaviour?: Partial<NatBehaviour>;
}

/** Why NAT dropped a packet; `accept` otherwise. Preallocated: no per-packet allocation. */
export type NatVerdict =
  | { readonly kind: "accept" }
  | {
      readonly kind: "drop";
      /** port-exhausted: every attempt found the reply tuple taken (the kernel's clash at confirm);
       * tuple-clash: the only allowed tuple is taken; no-address: masquerade/redirect found no interface address;
       * bad-icmp-checksum: an ICMP error to translate failed its checksum (nf_nat_icmp_reply_translation);
       * helper-no-port / helper-mangle: a helper's NAT half found no free expectation port, or could not rewrite
       * the announcement (helper-nat.ts); seq-adjust: a segment of a resized connection had a malformed option
       * list (nf_ct_seq_adjust). */
      readonly reason:
        | "port-exhausted"
        | "tuple-clash"
        | "no-address"
        | "bad-icmp-checksum"
        | "helper-no-port"
        | "helper-mangle"
        | "seq-adjust";
    };

const ACCEPT: NatVerdict = { kind: "accept" };
const DROP_EXHAUSTED: NatVerdict = { kind: "drop", reason: "port-exhausted" };
const DROP_NO_ADDRESS: NatVerdict = { kind: "drop", reason: "no-address" };
const DROP_BAD_ICMP: NatVerdict = { kind: "drop", reason: "bad-icmp-checksum" };

/** What find_appropriate_src saw for X:x: nothing, only mappings toward other destinations (ADM), a reusable one. */
const SourceMapping = { NONE: 0, OTHER_DESTINATION: 1, FOUND: 2 } as const;
type SourceMapping = (typeof SourceMapping)[keyof typeof SourceMapping];

const NAT_MASK = CtStatus.SRC_NAT | CtStatus.DST_NAT;
const INITIAL_BUCKETS = 1024;
const LOOPBACK_V4 = 0x7f000001;
const PORTLESS = -1;

function hasPorts(proto: number): boolean {
  return proto === Proto.TCP || proto === Proto.UDP || proto === Proto.SCTP;
}

function isIcmpProto(family: Family, proto: number): boolean {
  return family === 4 ? proto === Proto.ICMP : proto === Proto.ICMPV6;
}

function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0xcc9e2d51);
  h = (h << 15) | (h >>> 17);
  return Math.imul(h, 0x1b873593) ^ (h >>> 13);
}

function endpointHash(family: Family, proto: number, addr: Uint32Array, port: number): number {
  let h = mix(0x2545f491, (family << 8) | proto);
  h = mix(h, addr[0]);
  if (family === 6) {
    h = mix(h, addr[1]);
    h = mix(h, addr[2]);
    h = mix(h, addr[3]);
  }
  h = mix(h, port);
  return (h ^ (h >>> 16)) >>> 0;
}

function sameAddr(family: Family, a: Uint32Array, b: Uint32Array): boolean {
  if (a[0] !== b[0]) return false;
  return family === 4 || (a[1] === b[1] && a[2] === b[2] && a[3] === b[3]);
}

function copyAddr(from: ArrayLike<number>, to: Uint32Array): void {
  to[0] = from[0];
  to[1] = from.length > 1 ? from[1] : 0;
  to[2] = from.length > 2 ? from[2] : 0;
  to[3] = from.length > 3 ? from[3] : 0;
}

/** Compares addresses word by word (big-endian words): <0, 0, >0. */
function compareAddr(a: Uint32Array, b: Uint32Array): number {
  for (let w = 0; w < 4; w++) if (a[w] !== b[w]) return a[w] < b[w] ? -1 : 1;
  return 0;
}

/**
 * Chains of conntrack entries sharing a key (an endpoint), as index-linked lists over typed arrays: O(1) insert
 * and removal, no objects. Keys are compared by the caller (the hash only picks the bucket).
 */
class EntryChains {
  private heads: Int32Array;
  private next: Int32Array;
  private prev: Int32Array;
  private bucketOf: Int32Array;

  constructor(capacity: number) {
    let buckets = INITIAL_BUCKETS;
    while (buckets < capacity) buckets <<= 1;
    this.heads = new Int32Array(buckets).fill(NONE);
    this.next = new Int32Array(capacity).fill(NONE);
    this.prev = new Int32Array(capacity).fill(NONE);
    this.bucketOf = new Int32Array(capacity).fill(NONE);
  }

  first(hash: number): number {
    return this.heads[hash & (this.heads.length - 1)];
  }

  after(e: number): number {
    return this.next[e];
  }

  has(e: number): boolean {
    return e < this.bucketOf.length && this.bucketOf[e] !== NONE;
  }

  insert(e: number, hash: number): void {
    this.ensure(e);
    if (this.bucketOf[e] !== NONE) this.remove(e);
    const b = hash & (this.heads.length - 1);
    const head = this.heads[b];
    this.next[e] = head;
    this.prev[e] = NONE;
    if (head !== NONE) this.prev[head] = e;
    this.heads[b] = e;
    this.bucketOf[e] = b;
  }

  remove(e: number): void {
    if (!this.has(e)) return;
    const b = this.bucketOf[e];
    const p = this.prev[e];
    const n = this.next[e];
    if (p === NONE) this.heads[b] = n;
    else this.next[p] = n;
    if (n !== NONE) this.prev[n] = p;
    this.bucketOf[e] = NONE;
    this.next[e] = NONE;
    this.prev[e] = NONE;
  }

  private ensure(e: number): void {
    if (e < this.bucketOf.length) return;
    let cap = this.bucketOf.length;
    while (cap <= e) cap <<= 1;
    const grow = (a: Int32Array): Int32Array => {
      const g = new Int32Array(cap).fill(NONE);
      g.set(a);
      return g;
    };
    this.next = grow(this.next);
    this.prev = grow(this.prev);
    this.bucketOf = grow(this.bucketOf);
  }
}

/** The NAT engine of one node. */
export class Nat implements PortProbe {
  readonly behaviour: NatBehaviour;
  private readonly ct: NatConntrack;
  private readonly fib: Fib;
  private readonly rng: Rng;
  private readonly allocator: PortAllocator;
  private readonly bySource: EntryChains;
  private readonly byExternal: EntryChains;
  /** Interface a SNAT binding was made on (EIF/ADF apply only to packets arriving there). */
  private externalIf: Int32Array;

  // Scratch (no per-packet allocation).
  private readonly oSrc = new Uint32Array(4);
  private readonly oDst = new Uint32Array(4);
  private readonly rSrc = new Uint32Array(4);
  private readonly rDst = new Uint32Array(4);
  private readonly aSrc = new Uint32Array(4);
  private readonly aDst = new Uint32Array(4);
  private readonly addr = new Uint32Array(4);
  private readonly span: PortSpan = { min: 0, max: 0 };
  // The candidate reply tuple the port probe checks.
  private probeFamily: Family = 4;
  private probeProto = 0;
  private probeEntry = NONE;
  private probeManip: Manip = Manip.SRC;
  private probeIcmp = false;
  private rSport = 0;
  private rDport = 0;

  constructor(opts: NatOptions) {
    this.ct = opts.conntrack;
    this.fib = opts.fib;
    this.rng = opts.rng;
    this.behaviour = { ...LINUX_NAT_BEHAVIOUR, ...opts.behaviour };
    this.allocator = new PortAllocator(opts.rng);
    this.bySource = new EntryChains(opts.conntrack.capacity);
    this.byExternal = new EntryChains(opts.conntrack.capacity);
    this.externalIf = new Int32Array(opts.conntrack.capacity).fill(NONE);
    const previous = opts.conntrack.onDestroy;
    opts.conntrack.onDestroy =
      previous === undefined
        ? (e: number): void => {
            this.release(e);
          }
        : (e: number): void => {
            previous(e);
            this.release(e);
          };
  }

  /** The last port search's probe and round counts (traces, tests). */
  get lastSearch(): { readonly probes: number; readonly rounds: number } {
    return this.allocator.last;
  }

  /** Drops an entry from the NAT indexes (nf_nat_cleanup_conntrack); wired to conntrack's onDestroy. */
  release(e: number): void {
    this.bySource.remove(e);
    this.byExternal.remove(e);
  }

  /**
   * The first packet of a connection at a NAT hook (nf_nat_inet_fn → nf_nat_setup_info, then nf_nat_packet):
   * binds the entry for this manip type — `req` from the nat chain, or null for the null binding the kernel
   * makes when no rule matched — and rewrites the packet. A second call for a manip already bound only
   * translates. Packets without an entry (INVALID, untracked) pass untouched, as in the kernel.
   */
  setup(meta: PacketMeta, req: NatRequest | null, manip: Manip): NatVerdict {
    const e = meta.ctEntry;
    if (e === NONE) return ACCEPT;
    const done = manip === Manip.SRC ? CtStatus.SRC_NAT_DONE : CtStatus.DST_NAT_DONE;
    if ((this.ct.status(e) & done) === 0) {
      const v = this.bind(meta, e, req, manip);
      if (v !== ACCEPT) return v;
    }
    return this.translate(meta, manip);
  }

  /**
   * Every packet of a bound connection at a NAT hook (nf_nat_packet), and RELATED ICMP errors
   * (nf_nat_icmp_reply_translation). Allocation-free.
   */
  translate(meta: PacketMeta, manip: Manip): NatVerdict {
    const e = meta.ctEntry;
    if (e === NONE) return ACCEPT;
    const dir = meta.ctDir;
    let statusbit: number = manip === Manip.SRC ? CtStatus.SRC_NAT : CtStatus.DST_NAT;
    if (dir === CtDir.REPLY) statusbit ^= NAT_MASK;
    if ((this.ct.status(e) & statusbit) === 0) return ACCEPT;
    const other = dir ^ 1;
    const family = meta.family;
    if (meta.ctState === CtState.RELATED && meta.icmpInner !== NONE)
      return this.translateIcmpError(meta, e, other, manip);
    const out = this.addr;
    // The target is the inverse of the other direction's tuple; ICMP keeps its identifier in sport both ways.
    const icmp = isIcmpProto(family, meta.proto);
    let port: number;
    if (manip === Manip.SRC) {
      this.ct.dst(e, other, out);
      port = icmp ? this.ct.sport(e, other) : this.ct.dport(e, other);
    } else {
      this.ct.src(e, other, out);
      port = this.ct.sport(e, other);
    }
    if (!hasPorts(meta.proto) && !icmp) port = NONE;
    manipPacket(meta.bytes, meta.l3, family, meta.proto, meta.l4, meta.l3 + meta.length, manip, out, port);
    this.syncMeta(meta, manip, out, port);
    return ACCEPT;
  }

  /**
   * EIF/ADF (the fullcone module's inbound half): a NEW packet arriving on `meta.iif` for X':x' of a live SNAT
   * mapping is DNATed to the mapping's inside endpoint X:x — from any source (EIF), or only from an address X:x
   * has sent to (ADF). Call at prerouting for first packets before the dstnat chain; returns true when it bound.
   * A no-op under APDF (Linux), where only exact reply tuples enter.
   */
  inbound(meta: PacketMeta): boolean {
    const filtering = this.behaviour.filtering;
    if (filtering === "apdf") return false;
    const e = meta.ctEntry;
    if (e === NONE || meta.ctDir !== CtDir.ORIGINAL || meta.ctState !== CtState.NEW) return false;
    if (!hasPorts(meta.proto)) return false;
    if ((this.ct.status(e) & CtStatus.DST_NAT_DONE) !== 0) return false;
    const family = meta.family;
    const proto = meta.proto;
    let mapped = NONE;
    for (
      let c = this.byExternal.first(endpointHash(family, proto, meta.daddr, meta.dport));
      c !== NONE;
      c = this.byExternal.after(c)
    ) {
      if (c === e || this.ct.family(c) !== family || this.ct.proto(c) !== proto) continue;
      if (this.externalIf[c] !== meta.iif) continue;
      this.ct.dst(c, CtDir.REPLY, this.aDst);
      if (this.ct.dport(c, CtDir.REPLY) !== meta.dport || !sameAddr(family, this.aDst, meta.daddr)) continue;
      if (filtering === "adf") {
        this.ct.dst(c, CtDir.ORIGINAL, this.aSrc);
        if (!sameAddr(family, this.aSrc, meta.saddr)) continue;
      }
      mapped = c;
      break;
    }
    if (mapped === NONE) return false;
    // The new reply tuple: X:x → Z:z.
    this.ct.src(mapped, CtDir.ORIGINAL, this.rSrc);
    const x = this.ct.sport(mapped, CtDir.ORIGINAL);
    copyAddr(meta.saddr, this.rDst);
    if (this.ct.tupleTaken(family, proto, this.rSrc, x, this.rDst, meta.sport, e)) return false;
    this.ct.setReplyTuple(e, this.rSrc, x, this.rDst, meta.sport);
    this.ct.setStatus(e, CtStatus.DST_NAT | CtStatus.DST_NAT_DONE);
    this.translate(meta, Manip.DST);
    return true;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Binding (get_unique_tuple).

  private bind(meta: PacketMeta, e: number, request: NatRequest | null, manip: Manip): NatVerdict {
    const ct = this.ct;
    const family = ct.family(e);
    // An `ip`-family statement does not apply to IPv6 packets (inet tables): the kernel's null binding then.
    const req = request !== null && request.family === family ? request : null;
    const proto = ct.proto(e);
    const icmp = isIcmpProto(family, proto);
    const ported = hasPorts(proto);
    ct.src(e, CtDir.REPLY, this.rSrc);
    ct.dst(e, CtDir.REPLY, this.rDst);
    this.rSport = ct.sport(e, CtDir.REPLY);
    this.rDport = ct.dport(e, CtDir.REPLY);
    this.probeFamily = family;
    this.probeProto = proto;
    this.probeEntry = e;
    this.probeManip = manip;
    this.probeIcmp = icmp;
    const src = manip === Manip.SRC;
    // The end being manipulated, in original-direction terms: SRC → the reply's destination, DST → its source.
    const curAddr = src ? this.rDst : this.rSrc;
    const curPort = !ported && !icmp ? PORTLESS : icmp ? this.rSport : src ? this.rDport : this.rSport;

    const status = manip === Manip.SRC ? CtStatus.SRC_NAT : CtStatus.DST_NAT;
    const done = manip === Manip.SRC ? CtStatus.SRC_NAT_DONE : CtStatus.DST_NAT_DONE;

    // The range: addresses and ports (nf_nat_range2). Null binding: the current address, no port range.
    const lo = this.aSrc;
    const hi = this.aDst;
    let portMin = -1;
    let portMax = -1;
    let randomAll = false;
    let persistent = false;
    if (req === null) {
      copyAddr(curAddr, lo);
      copyAddr(curAddr, hi);
    } else {
      portMin = req.portMin;
      portMax = req.portMax;
      randomAll = req.random || req.fullyRandom;
      persistent = req.persistent;
      if (req.kind === "masquerade") {
        if (!this.masqueradeAddress(meta, family, lo)) return DROP_NO_ADDRESS;
        copyAddr(lo, hi);
      } else if (req.kind === "redirect") {
        if (!this.redirectAddress(meta, family, lo)) return DROP_NO_ADDRESS;
        copyAddr(lo, hi);
      } else if (req.addrMin === null || req.addrMax === null) {
        copyAddr(curAddr, lo);
        copyAddr(curAddr, hi);
      } else {
        copyAddr(req.addrMin, lo);
        copyAddr(req.addrMax, hi);
      }
    }
    if (src && this.behaviour.mapping === "apdm") {
      randomAll = true;
    }
    const portSpecified = portMin >= 0 && (ported || icmp);

    let seen: SourceMapping = SourceMapping.NONE;
    // 1) SRC only, unless random: keep the original tuple if it is in range and free; else reuse X:x's mapping.
    if (src && !randomAll) {
      const inRange =
        compareAddr(curAddr, lo) >= 0 &&
        compareAddr(curAddr, hi) <= 0 &&
        (!portSpecified || (curPort >= portMin && curPort <= portMax));
      if (inRange) {
        if (!this.taken(curAddr, curPort)) return this.commit(meta, e, curAddr, curPort, status, done);
      } else {
        seen = this.findAppropriateSrc(e, family, proto, lo, hi, portSpecified, portMin, portMax);
        if (seen === SourceMapping.FOUND && !this.taken(this.addr, this.rSportCandidate)) {
          return this.commit(meta, e, this.addr, this.rSportCandidate, status, done);
        }
      }
    }

    // 2) Choose the address in the range (find_best_ips_proto): a hash of the source, plus the destination
    // unless `persistent`, so a client keeps its address (RFC 4787 REQ-2 paired pooling).
    const chosen = this.addr;
    this.pickAddress(family, lo, hi, persistent, chosen);

    // 3) Keep the port when the tuple is in range and free (preservation), unless random. Under ADM a source that
    // already holds a mapping toward another address must not get the same X':x' again: search instead.
    const admFresh = src && this.behaviour.mapping === "adm" && seen !== SourceMapping.NONE;
    if (!randomAll && !admFresh) {
      if (portSpecified) {
        if (curPort >= portMin && curPort <= portMax && (portMin === portMax || !this.taken(chosen, curPort)))
          return this.commit(meta, e, chosen, curPort, status, done);
      } else if (!this.taken(chosen, curPort)) {
        return this.commit(meta, e, chosen, curPort, status, done);
      }
    }
    // nf_nat_l4proto_unique_tuple leaves a port-less protocol's tuple as it is: a clash, if any, drops at confirm.
    if (curPort === PORTLESS) return this.commit(meta, e, chosen, curPort, status, done);

    // 4) Search the port class or the given range (nf_nat_l4proto_unique_tuple).
    const span = this.span;
    if (portSpecified) {
      span.min = Math.min(portMin, portMax);
      span.max = Math.max(portMin, portMax);
    } else if (icmp) {
      span.min = PortClass.ICMP_ID.min;
      span.max = PortClass.ICMP_ID.max;
    } else if (!src) {
      // "If it's dst rewrite, can't change port" (nf_nat_l4proto_unique_tuple): the tuple stays as it is, and the
      // SRC manip at postrouting may still make it unique (a null binding there searches a source port).
      return this.commit(meta, e, chosen, curPort, status, done);
    } else {
      portClassOf(curPort, span);
    }
    copyAddr(chosen, this.oDst);
    const port = this.allocator.search(span.min, span.max, src || randomAll, this);
    if (port === NONE) return DROP_EXHAUSTED;
    return this.commit(meta, e, this.oDst, port, status, done);
  }

  /** PortProbe: is the reply tuple with the chosen address (in `oDst`) and this port free? */
  portFree(port: number): boolean {
    return !this.taken(this.oDst, port);
  }

  /** nf_nat_used_tuple: would the reply tuple with `addr`:`port` at the manipulated end clash? */
  private taken(addr: Uint32Array, port: number): boolean {
    const p = port === PORTLESS ? 0 : port;
    if (this.probeManip === Manip.SRC) {
      // Reply: rSrc:rSport → addr:port (ICMP: the identifier is the reply's sport, the type stays in dport).
      return this.probeIcmp
        ? this.ct.tupleTaken(this.probeFamily, this.probeProto, this.rSrc, p, addr, this.rDport, this.probeEntry)
        : this.ct.tupleTaken(this.probeFamily, this.probeProto, this.rSrc, this.rSport, addr, p, this.probeEntry);
    }
    return this.probeIcmp
      ? this.ct.tupleTaken(
          this.probeFamily,
          this.probeProto,
          addr,
          this.rSport,
          this.rDst,
          this.rDport,
          this.probeEntry,
        )
      : this.ct.tupleTaken(this.probeFamily, this.probeProto, addr, p, this.rDst, this.rDport, this.probeEntry);
  }

  /** The reused port find_appropriate_src found (paired with `this.addr`). */
  private rSportCandidate = 0;

  /**
   * find_appropriate_src: an entry with the same protocol and ORIGINAL source X:x whose mapped source is in range
   * gives X':x' (the first such entry, as the kernel). Under ADM the entry must also have the same destination
   * address.
   */
  private findAppropriateSrc(
    e: number,
    family: Family,
    proto: number,
    lo: Uint32Array,
    hi: Uint32Array,
    portSpecified: boolean,
    portMin: number,
    portMax: number,
  ): SourceMapping {
    const ct = this.ct;
    ct.src(e, CtDir.ORIGINAL, this.oSrc);
    const sport = ct.sport(e, CtDir.ORIGINAL);
    const icmp = isIcmpProto(family, proto);
    const adm = this.behaviour.mapping === "adm";
    let seen: SourceMapping = SourceMapping.NONE;
    if (adm) ct.dst(e, CtDir.ORIGINAL, this.oDst);
    const cand = this.addr;
    for (
      let c = this.bySource.first(endpointHash(family, proto, this.oSrc, sport));
      c !== NONE;
      c = this.bySource.after(c)
    ) {
      if (c === e || ct.family(c) !== family || ct.proto(c) !== proto || ct.sport(c, CtDir.ORIGINAL) !== sport)
        continue;
      ct.src(c, CtDir.ORIGINAL, cand);
      if (!sameAddr(family, cand, this.oSrc)) continue;
      seen = SourceMapping.OTHER_DESTINATION;
      if (adm) {
        ct.dst(c, CtDir.ORIGINAL, cand);
        if (!sameAddr(family, cand, this.oDst)) continue;
      }
      ct.dst(c, CtDir.REPLY, cand);
      const port = icmp ? ct.sport(c, CtDir.REPLY) : ct.dport(c, CtDir.REPLY);
      if (compareAddr(cand, lo) < 0 || compareAddr(cand, hi) > 0) continue;
      if (portSpecified && (port < portMin || port > portMax)) continue;
      this.rSportCandidate = port;
      return SourceMapping.FOUND;
    }
    return seen;
  }

  private pickAddress(family: Family, lo: Uint32Array, hi: Uint32Array, persistent: boolean, out: Uint32Array): void {
    copyAddr(lo, out);
    if (compareAddr(lo, hi) === 0) return;
    // Vary the last word only (ranges wider than 2^32 addresses are not supported, nor needed for a SOHO twin).
    const w = family === 4 ? 0 : 3;
    const size = hi[w] - lo[w] + 1;
    this.ct.src(this.probeEntry, CtDir.ORIGINAL, this.oSrc);
    let h = mix(0x3c6ef372, this.oSrc[w]);
    if (!persistent) {
      this.ct.dst(this.probeEntry, CtDir.ORIGINAL, this.oDst);
      h = mix(h, this.oDst[w]);
    }
    out[w] = (lo[w] + ((h >>> 0) % size)) >>> 0;
  }

  private commit(
    meta: PacketMeta,
    e: number,
    addr: Uint32Array,
    port: number,
    status: number,
    done: number,
  ): NatVerdict {
    const ct = this.ct;
    const src = this.probeManip === Manip.SRC;
    const p = port === PORTLESS ? 0 : port;
    let differs: boolean;
    if (src) {
      const newSport = this.probeIcmp ? p : this.rSport;
      const newDport = this.probeIcmp ? this.rDport : p;
      differs = !sameAddr(this.probeFamily, addr, this.rDst) || newSport !== this.rSport || newDport !== this.rDport;
      if (differs) ct.setReplyTuple(e, this.rSrc, newSport, addr, newDport);
    } else {
      const newSport = this.probeIcmp ? this.rSport : p;
      differs = !sameAddr(this.probeFamily, addr, this.rSrc) || newSport !== this.rSport;
      if (differs) ct.setReplyTuple(e, addr, newSport, this.rDst, this.rDport);
    }
    ct.setStatus(e, differs ? status | done : done);
    if (src) {
      // nf_nat_setup_info adds every SRC-manipped entry (null bindings too) to the by-source hash.
      ct.src(e, CtDir.ORIGINAL, this.oSrc);
      this.bySource.insert(e, endpointHash(this.probeFamily, this.probeProto, this.oSrc, ct.sport(e, CtDir.ORIGINAL)));
      if (differs && hasPorts(this.probeProto)) {
        ct.dst(e, CtDir.REPLY, this.aDst);
        this.byExternal.insert(e, endpointHash(this.probeFamily, this.probeProto, this.aDst, ct.dport(e, CtDir.REPLY)));
        this.ensureExternalIf(e);
        this.externalIf[e] = meta.oif;
      }
    }
    return ACCEPT;
  }

  private ensureExternalIf(e: number): void {
    if (e < this.externalIf.length) return;
    let cap = this.externalIf.length;
    while (cap <= e) cap <<= 1;
    const g = new Int32Array(cap).fill(NONE);
    g.set(this.externalIf);
    this.externalIf = g;
  }

  /**
   * nf_nat_masquerade_ipv4/ipv6: the output interface's address toward the route's next hop (inet_select_addr),
   * or the first address of the interface. No address: the packet is dropped.
   */
  private masqueradeAddress(meta: PacketMeta, family: Family, out: Uint32Array): boolean {
    const route = this.fib.lookup(family, meta.daddr);
    const nexthop = route?.gateway ?? meta.daddr;
    const a = this.fib.sourceAddressFor(meta.oif, family, nexthop);
    if (a === null) return false;
    copyAddr(a, out);
    return true;
  }

  /**
   * nf_nat_redirect_ipv4/ipv6: locally generated packets go to loopback; others to the primary address of the
   * incoming interface.
   */
  private redirectAddress(meta: PacketMeta, family: Family, out: Uint32Array): boolean {
    if (meta.iif === NONE) {
      out.fill(0);
      if (family === 4) out[0] = LOOPBACK_V4;
      else out[3] = 1;
      return true;
    }
    const a = this.fib.sourceAddressFor(meta.iif, family, null);
    if (a === null) return false;
    copyAddr(a, out);
    return true;
  }

  // -------------------------------------------------------------------------------------------------------------
  // ICMP errors (RFC 5508 REQ-4/5; nf_nat_icmp_reply_translation / nf_nat_icmpv6_reply_translation).

  private translateIcmpError(meta: PacketMeta, e: number, other: number, manip: Manip): NatVerdict {
    const b = meta.bytes;
    const family = meta.family;
    const l4 = meta.l4;
    const icmpLen = meta.l3 + meta.length - l4;
    if (!this.icmpChecksumOk(meta, icmpLen)) return DROP_BAD_ICMP;
    // The embedded packet gets the opposite manip from the other direction's tuple as it stands, so it looks
    // like what the receiver sent (or will receive).
    const inner = meta.icmpInner;
    const innerProto = embeddedProtocol(b, inner, family);
    const innerL4 = embeddedTransportAt(b, inner, family);
    const end = meta.l3 + meta.length;
    const innerManip = manip === Manip.SRC ? Manip.DST : Manip.SRC;
    const icmpInner = isIcmpProto(family, innerProto);
    const out = this.addr;
    let port: number;
    if (innerManip === Manip.SRC) {
      this.ct.src(e, other, out);
      port = this.ct.sport(e, other);
    } else {
      this.ct.dst(e, other, out);
      port = icmpInner ? this.ct.sport(e, other) : this.ct.dport(e, other);
    }
    if (!hasPorts(innerProto) && !icmpInner) port = NONE;
    manipPacket(b, inner, family, innerProto, innerL4, end, innerManip, out, port);
    // The outer header: addresses only (an ICMP error has no identifier to rewrite).
    if (manip === Manip.SRC) this.ct.dst(e, other, out);
    else this.ct.src(e, other, out);
    manipPacket(b, meta.l3, family, meta.proto, NONE, end, manip, out, NONE);
    refreshIcmpChecksum(b, meta.l3, family, l4, icmpLen);
    this.syncMeta(meta, manip, out, NONE);
    return ACCEPT;
  }

  private icmpChecksumOk(meta: PacketMeta, len: number): boolean {
    const b = meta.bytes;
    if (meta.family === 4) return internetChecksum(b, meta.l4, len) === 0;
    const sum = pseudoHeaderSumV6(b, meta.l3 + Ipv6Field.SRC, b, meta.l3 + Ipv6Field.DST, Proto.ICMPV6, len);
    return foldSum(sumWords(b, meta.l4, len, sum)) === 0xffff;
  }

  /** Mirrors a rewrite into the PacketMeta so later stages (filter, routing, conntrack confirm) see it. */
  private syncMeta(meta: PacketMeta, manip: Manip, addr: Uint32Array, port: number): void {
    const a = manip === Manip.SRC ? meta.saddr : meta.daddr;
    a[0] = addr[0];
    a[1] = addr[1];
    a[2] = addr[2];
    a[3] = addr[3];
    if (port === NONE || meta.icmpInner !== NONE) return;
    if (isIcmpProto(meta.family, meta.proto)) meta.sport = port;
    else if (manip === Manip.SRC) meta.sport = port;
    else meta.dport = port;
  }
}
