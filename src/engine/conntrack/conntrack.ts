// Connection tracking for one node, after nf_conntrack_core.c. A connection is two tuples (ORIGINAL as the first
// packet saw it, REPLY as its answer will look after NAT), both hashed into one index; an entry created by a packet
// stays UNCONFIRMED (invisible to lookups) until that packet passes the last hook (__nf_conntrack_confirm), so a
// packet dropped on the way leaves no state (SEMANTICS.md §2.1). Classification follows nf_conntrack_in (§2.2,
// §7 item 2): notrack → L4 error → ICMP error lookup → lookup or new → ctinfo → L4 state machine.
//
// Storage is one packed record per entry (entry-layout.ts) and an open-addressed hash index of nodes (one node per
// tuple direction: node = entry * 2 + dir) whose slots carry a few hash bits, so a probe reads a record only when
// those bits agree. IPv4 addresses are stored as they are; an IPv6 address is stored as a 32-bit fold (for hashing
// and a fast first compare) plus its four words in a side table allocated on first use.
import { CtDir, CtState, CtStatus, NONE, Proto } from "../packet-meta.js";
import type { Family, PacketMeta } from "../packet-meta.js";
import { readU16, readU32 } from "../../wire/bytes.js";
import { foldSum, pseudoHeaderSumV4, pseudoHeaderSumV6, sumWords } from "../../wire/checksum.js";
import { formatIpv4, formatIpv6, wordsToIpv6 } from "../../wire/address.js";
import { TcpCause, TcpTracker, TcpVerdict, tcpFlagsValid } from "./tcp-tracker.js";
import { TCP_STATE_NAMES, TcpTimeouts, resolveTimeouts } from "./timeouts.js";
import type { TimeoutProfile, TimeoutTable } from "./timeouts.js";
import { CtHelper, ExpectClass, ExpectFail, ExpectFlag, ftpHelp } from "./alg-helper.js";
import { sipHelp } from "./sip-helper.js";
import { ExpiryClock, PROTO_SHIFT, R, STATUS_MASK } from "./entry-layout.js";
import { SeqAdjustments } from "./seqadj.js";
import type { HelperHost, HelperNat, SipMaster } from "./alg-helper.js";
import type { FastPathTable } from "../fastpath/fast-path.js";
import { HelperNatResult } from "./alg-helper.js";

export interface ConntrackOptions {
  /** nf_conntrack_max. A full table early-drops a non-ASSURED entry near the new tuple's bucket, else the packet
   *  is dropped (`track` returns CtDrop.TABLE_FULL). Unconfirmed entries count, as in the kernel. */
  maxEntries: number;
  /** SEMANTICS §2.3/§2.4: "linux" (kernel defaults), "openwrt" (its sysctl overrides) or an explicit table. */
  profile: TimeoutProfile;
  /** nf_conntrack_tcp_loose: pick up connections from a bare ACK. Default true. */
  tcpLoose?: boolean;
  /** nf_conntrack_tcp_be_liberal: only out-of-window RSTs are INVALID. Default false. */
  tcpBeLiberal?: boolean;
  /** nf_conntrack_tcp_ignore_invalid_rst. Default false. */
  tcpIgnoreInvalidRst?: boolean;
  /** nf_conntrack_tcp_max_retrans. Default 3 ("linux") or 5 ("openwrt"). */
  tcpMaxRetrans?: number;
  /** nf_conntrack_checksum: verify L4 checksums at PREROUTING (bad → INVALID). Default true, OpenWrt false. */
  checksum?: boolean;
  /** Hash seed (e.g. from the node's Rng); a fixed constant by default. */
  seed?: number;
  /** Maximum pending expectations (nf_ct_expect_max). Default 256. */
  maxExpectations?: number;
  /**
   * Storage for the whole table, allocated by the caller (the WebAssembly fast path's memory, fastpath/fast-path.ts):
   * `rec` of maxEntries records, `slots` of indexSlots(maxEntries). The table then starts at its maximum and never
   * grows, so the arrays stay the ones given.
   */
  arena?: { readonly rec: Uint32Array; readonly slots: Int32Array };
}

/** The hash index's slots for a table of `entries` records (two nodes per entry, load at most MAX_LOAD). */
export function indexSlots(entries: number): number {
  return Math.ceil((entries * 2) / MAX_LOAD);
}

/** Why `track` dropped a packet (0: it did not). */
export const CtDrop = { NONE: 0, TABLE_FULL: 1 } as const;

/** Where the packet is: the checksum is verified only at PREROUTING, as tcp_error/udp_error do. */
export const CtHook = { PREROUTING: 0, LOCAL_OUT: 1 } as const;

/** Why the last `track` call gave the verdict it gave (for traces; read `lastCause` right after `track`). */
export const CtCause = {
  NONE: 0,
  NOTRACK: 1,
  TRUNCATED: 2,
  BAD_CHECKSUM: 3,
  TCP_FLAGS: 4,
  TCP_NEW_INVALID: 5,
  TCP_STATE: 6,
  TCP_WINDOW: 7,
  TCP_IGNORED: 8,
  ICMP_TYPE: 9,
  ICMP_NEW_INVALID: 10,
  ICMP_ERROR_NO_MATCH: 11,
  ICMP_ERROR_OUTER_DADDR: 12,
  FRAGMENT: 13,
  TABLE_FULL: 14,
  TCP_REOPEN: 15,
  TCP_RST_KILL: 16,
  EXPECTED: 17,
} as const;

export const CT_CAUSE_NAMES = [
  "none",
  "notrack",
  "truncated",
  "bad checksum",
  "invalid tcp flag combination",
  "invalid new",
  "invalid in tcp state",
  "out of window",
  "ignored",
  "invalid icmp type",
  "icmp type cannot create",
  "icmp error matches no connection",
  "icmp error outer daddr mismatch",
  "non-first fragment",
  "table full",
  "tcp reopen",
  "only reply was rst",
  "expected by helper",
] as const;

export { ExpectClass, ExpectFail, ExpectFlag };

/** ftp_exp_policy and sip_exp_policy max_expected, by ExpectClass (IP_CT_DIR_MAX is 2). */
const FTP_MAX_EXPECTED = [1];
const SIP_MAX_EXPECTED = [1, 4, 4, 2];

/**
 * The NAT half's `expectfn` (nf_nat_helper.c nf_nat_follow_master, nf_nat_sip.c nf_nat_sip_expected): what the
 * expected connection's new entry is bound to when it arrives. NONE: no NAT of its own.
 */
export const ExpectNat = { NONE: 0, FOLLOW_MASTER: 1, SIP_EXPECTED: 2 } as const;

export interface ConntrackTupleView {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

/** One entry as `conntrack -L` would show it. */
export interface ConntrackEntryView {
  id: number;
  family: Family;
  proto: number;
  /** TCP state name, or "UNREPLIED"/"REPLIED"/"ASSURED" for other protocols. */
  state: string;
  status: number;
  confirmed: boolean;
  timeoutAt: number;
  mark: number;
  helper: number;
  master: number;
  original: ConntrackTupleView;
  reply: ConntrackTupleView;
}

/** One pending expectation. */
export interface ExpectationView {
  id: number;
  master: number;
  family: Family;
  proto: number;
  /** null: any source address (wildcard). */
  src: string | null;
  /** 0: any source port. */
  sport: number;
  dst: string;
  dport: number;
  flags: number;
  timeoutAt: number;
  /** ExpectNat: how the expected connection is translated when it arrives. */
  nat: number;
  /** The address and port the NAT half moved the expectation away from (exp->saved_addr/saved_proto). */
  saved: string | null;
  savedPort: number;
}

const MS = 1000;
/** udp_packet: a flow becomes a stream only once it is 2 s old (ct->proto.udp.stream_ts). */
const UDP_STREAM_AGE_MS = 2000;
/** NF_CT_EVICTION_RANGE: buckets early_drop scans; with nf_conntrack_max = buckets they hold ~2 tuples each. */
const EVICTION_RANGE = 8;
const EVICTION_SLOTS = EVICTION_RANGE * 2;
/** Highest load of the hash index (nodes per slot); linear probing stays short below it. */
const MAX_LOAD = 0.75;
/** nf_conntrack_ftp.c NUM_SEQ_TO_REMEMBER, and the words per direction of ftpLines (count, then the numbers). */
const FTP_LINES_REMEMBERED = 2;
const FTP_LINE_WORDS = 1 + FTP_LINES_REMEMBERED;
/** A plan number per direction in the R.PLANS word. */
const PLAN_BITS = 16;
const PLAN_MASK = 0xffff;
const EMPTY = -1;
/** 2^-21: scales the top 21 bits of a hash onto [0, slots) (multiply-shift range reduction). */
const HOME_SCALE = 2 ** -21;
const HOME_SHIFT = 11;
const DEFAULT_SEED = 0x9e3779b9;
const DEFAULT_MAX_EXPECT = 256;

/** The entry's own bits in the top byte of its R.STATUS word (the helper in the top nibble). */
/** Entries allocated up front; the table doubles from here as connections arrive, up to maxEntries. */
const INITIAL_ENTRIES = 256;
const I = { V6: 1 << 24, USED: 1 << 25, HASHED: 1 << 26, HELPER_SHIFT: 28 } as const;
const HELPER_MASK = 0xf;
const PROTO_MASK = 0xff;

/** ICMP types (RFC 792/RFC 4443) that conntrack gives meaning to. */
const ICMP = {
  ECHO_REPLY: 0,
  ECHO: 8,
  TIMESTAMP: 13,
  INFO_REQUEST: 15,
  ADDRESS_MASK: 17,
  MAX_TYPE: 18,
  V6_ERROR_LIMIT: 128,
  V6_ECHO: 128,
  V6_ECHO_REPLY: 129,
  V6_NI_QUERY: 139,
  V6_NI_REPLY: 140,
} as const;

/** nf_conntrack_proto_icmp.c invmap[]: request ↔ reply (+1 so 0 means "no inverse"). */
const ICMP_INVERSE = new Int16Array(256).fill(-1);
ICMP_INVERSE[8] = 0;
ICMP_INVERSE[0] = 8;
ICMP_INVERSE[13] = 14;
ICMP_INVERSE[14] = 13;
ICMP_INVERSE[15] = 16;
ICMP_INVERSE[16] = 15;
ICMP_INVERSE[17] = 18;
ICMP_INVERSE[18] = 17;
const ICMPV6_INVERSE = new Int16Array(256).fill(-1);
ICMPV6_INVERSE[128] = 129;
ICMPV6_INVERSE[129] = 128;
ICMPV6_INVERSE[139] = 140;
ICMPV6_INVERSE[140] = 139;

/** icmp_error: types carrying an offending datagram (RFC 1122 §3.2.2). */
function isIcmpv4Error(t: number): boolean {
  return t === 3 || t === 4 || t === 5 || t === 11 || t === 12;
}
/** icmp_new valid_new[]: only requests start a connection. */
function icmpv4CanCreate(t: number): boolean {
  return t === ICMP.ECHO || t === ICMP.TIMESTAMP || t === ICMP.INFO_REQUEST || t === ICMP.ADDRESS_MASK;
}
function icmpv6CanCreate(t: number): boolean {
  return t === ICMP.V6_ECHO || t === ICMP.V6_NI_QUERY;
}
/** icmpv6_error noct_valid_new[]: MLD and NDP are never tracked (130–136, 143). */
function icmpv6Untracked(t: number): boolean {
  return (t >= 130 && t <= 136) || t === 143;
}

/** Offsets inside the headers this file reads (RFC 791, RFC 8200, RFC 768, RFC 9293, RFC 792). */
const IP4 = { VER_IHL: 0, PROTOCOL: 9, SRC: 12, DST: 16, MIN_LEN: 20 } as const;
const IP6 = { NEXT_HEADER: 6, SRC: 8, DST: 24, LEN: 40 } as const;
const L4 = { SRC_PORT: 0, DST_PORT: 2, UDP_LEN: 8, TCP_DATA_OFF: 12, ICMP_TYPE: 0, ICMP_CODE: 1, ICMP_ID: 4 } as const;
const UDP_CHECKSUM = 6;
const PROTO_UDPLITE = 136;

function hasPorts(proto: number): boolean {
  return proto === Proto.TCP || proto === Proto.UDP || proto === PROTO_UDPLITE || proto === Proto.SCTP;
}

function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0xcc9e2d51);
  h = (h << 15) | (h >>> 17);
  return Math.imul(h, 0x1b873593) ^ (h >>> 13);
}

/** The 32-bit key an address is hashed and first compared by. */
function addrKey(family: Family, a: Uint32Array): number {
  if (family === 4) return a[0] >>> 0;
  return mix(mix(mix(mix(0x6a09e667, a[0]), a[1]), a[2]), a[3]) >>> 0;
}

export class Conntrack implements HelperHost {
  readonly capacity: number;
  readonly timeouts: Readonly<TimeoutTable>;
  /** Why the last `track` call decided what it did (a CtCause). */
  lastCause: number = CtCause.NONE;
  /** Called when an entry is destroyed (timeout, early drop, RST close, reopen, discard): NAT drops its indexes. */
  onDestroy?: (e: number) => void;
  /**
   * init_conntrack's `exp->expectfn(ct, exp)`: called when a new, still UNCONFIRMED entry matched expectation `x`
   * (read it with the expectation* accessors during the call). NAT binds the entry here.
   */
  onExpected?: (e: number, x: number) => void;
  /** The helpers' NAT half (nf_nat_sip / nf_nat_ftp), installed by the node when it does NAT. */
  helperNat: HelperNat | null = null;

  /** Entry records (entry-layout.ts R); the free list threads through the R.PLANS word of free entries. */
  private rec: Uint32Array;
  /** Entries allocated so far: the table starts small and doubles up to `capacity` (nf_conntrack_max), so a twin
   *  of many nodes does not allocate every node's maximum up front. */
  private allocated: number;
  /** Hash index, linear probing: per slot `node | tag << nodeBits` (tag: low hash bits), or EMPTY. */
  private slots: Int32Array;
  private slotCount: number;
  /** slotCount · 2^-21, exact (a power-of-two scale): home() is one multiply. */
  private homeScale = 0;
  private readonly nodeBits: number;
  private readonly nodeMask: number;
  private readonly tagMask: number;
  private readonly clock = new ExpiryClock();
  private v6: Uint32Array | null = null;
  private readonly tcp: TcpTracker;
  private readonly masters = new Map<number, number>();
  /** Sequence adjustment of the connections a helper resized a TCP payload of (nf_conn's seqadj extension). */
  private readonly seqadj = new SeqAdjustments();
  /**
   * The FTP helper's line starts per entry (struct nf_ct_ftp_master: seq_aft_nl): per direction a count and up to
   * two sequence numbers right after a segment that ended in \n.
   */
  private readonly ftpLines = new Map<number, Uint32Array>();
  /** The SIP helper's state per entry (struct nf_ct_sip_master), for the entries it has seen. */
  private readonly sipMasters = new Map<number, SipMaster>();
  /** The last nf_ct_helper_log line: why a helper dropped the packet it returned HELPER_DROP for. */
  lastHelperLog = "";
  /** `ct mark` of the entries that have one (nf_conn's mark; most entries never get one). */
  private readonly marks = new Map<number, number>();

  private freeHead = NONE;
  private used = 0;
  private pendingFree = NONE;
  private readonly seed: number;
  private readonly checksum: boolean;
  private readonly udpMs: number;
  private readonly udpStreamMs: number;
  private readonly icmpMs: number;
  private readonly icmpv6Ms: number;
  private readonly genericMs: number;

  // Expectations: a small table scanned linearly (only consulted when a new entry is created).
  private readonly expCap: number;
  private readonly expMaster: Int32Array;
  private readonly expInfo: Uint8Array; // family (bit0 v6) | proto in a separate array
  private readonly expProto: Uint8Array;
  private readonly expFlags: Uint8Array;
  private readonly expSrcAny: Uint8Array;
  private readonly expAddr: Uint32Array; // 8 words: src[4], dst[4]
  private readonly expPort: Uint16Array; // sport (0 = any), dport
  private readonly expExpires: Float64Array;
  private readonly expNat: Uint8Array;
  private readonly expSaved: Uint32Array; // 4 words
  private readonly expSavedPort: Uint16Array;
  private readonly expDir: Uint8Array;
  private readonly expClass: Uint8Array;
  /** Insertion order, for evicting a class's oldest expectation (evict_oldest_expect). */
  private readonly expOrder: Float64Array;
  private expInserted = 0;
  private expCount = 0;

  // Scratch for the packet being classified (no per-packet allocation).
  private readonly kSrc = new Uint32Array(4);
  private readonly kDst = new Uint32Array(4);
  private readonly tSrc = new Uint32Array(4);
  private readonly tDst = new Uint32Array(4);

  constructor(opts: ConntrackOptions) {
    const cap = Math.max(1, Math.floor(opts.maxEntries));
    this.capacity = cap;
    this.timeouts = resolveTimeouts(opts.profile);
    const openwrt = opts.profile === "openwrt";
    this.checksum = opts.checksum ?? !openwrt;
    this.seed = (opts.seed ?? DEFAULT_SEED) >>> 0;
    // Node numbers (entry * 2 + direction) are sized for the maximum, so growing never changes a slot's layout.
    let bits = 1;
    while (2 ** bits < cap * 2) bits++;
    this.nodeBits = bits;
    this.nodeMask = 2 ** bits - 1;
    this.tagMask = bits >= 31 ? 0 : 2 ** (31 - bits) - 1;
    const arena = opts.arena;
    this.allocated = arena === undefined ? Math.min(cap, INITIAL_ENTRIES) : cap;
    this.slotCount = indexSlots(this.allocated);
    if (arena !== undefined && (arena.rec.length !== cap * R.STRIDE || arena.slots.length !== this.slotCount))
      throw new Error(`conntrack arena: ${String(cap)} records and ${String(this.slotCount)} index slots expected`);
    this.rec = arena?.rec.fill(0) ?? new Uint32Array(this.allocated * R.STRIDE);
    this.homeScale = this.slotCount * HOME_SCALE;
    this.slots = (arena?.slots ?? new Int32Array(this.slotCount)).fill(EMPTY);
    this.linkFree(0, this.allocated);
    this.tcp = new TcpTracker(
      this.rec,
      {
        loose: opts.tcpLoose ?? true,
        beLiberal: opts.tcpBeLiberal ?? false,
        maxRetrans: opts.tcpMaxRetrans ?? (openwrt ? 5 : 3),
        ignoreInvalidRst: opts.tcpIgnoreInvalidRst ?? false,
      },
      new TcpTimeouts(this.timeouts),
      this.clock,
      this.seqadj,
    );
    this.udpMs = this.timeouts.udp * MS;
    this.udpStreamMs = this.timeouts.udpStream * MS;
    this.icmpMs = this.timeouts.icmp * MS;
    this.icmpv6Ms = this.timeouts.icmpv6 * MS;
    this.genericMs = this.timeouts.generic * MS;

    const ec = opts.maxExpectations ?? DEFAULT_MAX_EXPECT;
    this.expCap = ec;
    this.expMaster = new Int32Array(ec).fill(NONE);
    this.expInfo = new Uint8Array(ec);
    this.expProto = new Uint8Array(ec);
    this.expFlags = new Uint8Array(ec);
    this.expSrcAny = new Uint8Array(ec);
    this.expAddr = new Uint32Array(ec * 8);
    this.expPort = new Uint16Array(ec * 2);
    this.expExpires = new Float64Array(ec);
    this.expNat = new Uint8Array(ec);
    this.expSaved = new Uint32Array(ec * 4);
    this.expSavedPort = new Uint16Array(ec);
    this.expDir = new Uint8Array(ec);
    this.expClass = new Uint8Array(ec);
    this.expOrder = new Float64Array(ec);
  }

  /** Bytes held by the typed arrays allocated so far (entry records with TCP state, hash index; at most what
   *  `maxEntries` needs); no IPv6 side table. */
  tableBytes(): number {
    return this.rec.byteLength + this.slots.byteLength;
  }

  /** Puts entries [from, to) on the free list, lowest index first. */
  private linkFree(from: number, to: number): void {
    for (let e = to - 1; e >= from; e--) {
      this.rec[e * R.STRIDE + R.PLANS] = this.freeHead;
      this.freeHead = e;
    }
  }

  /** Doubles the allocation (up to `capacity`): records and the IPv6 side table are copied, the index rebuilt. */
  private grow(): void {
    const before = this.allocated;
    const after = Math.min(this.capacity, before * 2);
    const rec = new Uint32Array(after * R.STRIDE);
    rec.set(this.rec);
    this.rec = rec;
    this.tcp.rebind(rec);
    if (this.v6 !== null) {
      const v6 = new Uint32Array(after * 16);
      v6.set(this.v6);
      this.v6 = v6;
    }
    this.allocated = after;
    this.linkFree(before, after);
    this.slotCount = indexSlots(after);
    this.homeScale = this.slotCount * HOME_SCALE;
    this.slots = new Int32Array(this.slotCount).fill(EMPTY);
    for (let e = 0; e < before; e++) {
      if (!(this.word(e) & I.HASHED)) continue;
      this.hashNode(e * 2);
      this.hashNode(e * 2 + 1);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Classification (nf_conntrack_in).

  /**
   * nf_conntrack_in: sets meta.ctState (one CtState bit), meta.ctEntry and meta.ctDir. A packet that starts a
   * connection gets a new UNCONFIRMED entry (invisible to lookups until `confirm`). INVALID packets carry no entry
   * (ctEntry NONE), so NAT must skip them. Untracked when meta.notrack. Returns a CtDrop code: non-zero means the
   * packet must be dropped (table full and nothing to early-drop). `hook` says whether this is PREROUTING (checksums
   * are verified there when enabled) or locally generated.
   */
  track(meta: PacketMeta, now: number, hook: number = CtHook.PREROUTING): number {
    this.beginPacket(now);
    return this.classify(meta, now, hook);
  }

  /** What every classification starts with: the entry a packet released is freed, expiry times rebased. */
  beginPacket(now: number): void {
    this.flushPending();
    if (this.clock.due(now)) this.clock.rebase(now, this.rec, this.allocated);
  }

  /**
   * The node (entry * 2 + dir) of a live, confirmed IPv4 entry holding this tuple, or NONE; unlike the lookup of
   * `track` it changes nothing (an expired entry is NONE here and deleted by `track`). Addresses are 32-bit words,
   * signed or not.
   */
  findIpv4(proto: number, saddr: number, sport: number, daddr: number, dport: number, now: number): number {
    const sk = saddr >>> 0;
    const dk = daddr >>> 0;
    const ports = ((sport << 16) | dport) >>> 0;
    const h = this.hash(4, proto, saddr | 0, sport, daddr | 0, dport);
    const tag = h & this.tagMask;
    const slots = this.slots;
    const rec = this.rec;
    const nodeBits = this.nodeBits;
    let i = this.home(h);
    for (;;) {
      const s = slots[i];
      if (s === EMPTY) return NONE;
      if (s >>> nodeBits === tag) {
        const node = s & this.nodeMask;
        const r = (node >> 1) * R.STRIDE;
        const t = r + (node & 1) * R.TUPLE_WORDS;
        const w = rec[r + R.STATUS];
        if (
          rec[t + R.SRC] === sk &&
          rec[t + R.DST] === dk &&
          rec[t + R.PORTS] === ports &&
          ((w >>> PROTO_SHIFT) & PROTO_MASK) === proto &&
          (w & I.V6) === 0
        )
          return this.clock.decode(rec[r + R.EXPIRES]) > now ? node : NONE;
      }
      i = i + 1 === this.slotCount ? 0 : i + 1;
    }
  }

  private classify(meta: PacketMeta, now: number, hook: number): number {
    meta.ctEntry = NONE;
    meta.ctDir = CtDir.ORIGINAL;
    this.lastCause = CtCause.NONE;
    if (meta.notrack) return this.verdict(meta, CtState.UNTRACKED, CtCause.NOTRACK);
    if (meta.isFragment && meta.fragOffset > 0) return this.verdict(meta, CtState.INVALID, CtCause.FRAGMENT);

    const proto = meta.proto;
    const family = meta.family;
    let sport = 0;
    let dport = 0;
    // The L4 error() checks.
    if (proto === Proto.TCP) {
      if (TcpTracker.malformed(meta)) {
        const cause = tcpFlagsValid(meta.tcpFlags) ? CtCause.TRUNCATED : CtCause.TCP_FLAGS;
        return this.verdict(meta, CtState.INVALID, cause);
      }
      sport = meta.sport;
      dport = meta.dport;
    } else if (proto === Proto.UDP || proto === PROTO_UDPLITE) {
      if (meta.bytes.length !== 0 && meta.l4 !== NONE && meta.l4 + L4.UDP_LEN > meta.l3 + meta.length)
        return this.verdict(meta, CtState.INVALID, CtCause.TRUNCATED);
      sport = meta.sport;
      dport = meta.dport;
    } else if (proto === Proto.ICMP && family === 4) {
      const t = meta.icmpType;
      if (t > ICMP.MAX_TYPE || t < 0) return this.verdict(meta, CtState.INVALID, CtCause.ICMP_TYPE);
      if (this.checksum && hook === CtHook.PREROUTING && !this.checksumOk(meta))
        return this.verdict(meta, CtState.INVALID, CtCause.BAD_CHECKSUM);
      if (isIcmpv4Error(t)) return this.icmpError(meta);
      sport = meta.sport;
      dport = ((t & 0xff) << 8) | (meta.icmpCode & 0xff);
    } else if (proto === Proto.ICMPV6 && family === 6) {
      const t = meta.icmpType;
      if (t < 0) return this.verdict(meta, CtState.INVALID, CtCause.ICMP_TYPE);
      if (icmpv6Untracked(t)) return this.verdict(meta, CtState.UNTRACKED, CtCause.NOTRACK);
      if (this.checksum && hook === CtHook.PREROUTING && !this.checksumOk(meta))
        return this.verdict(meta, CtState.INVALID, CtCause.BAD_CHECKSUM);
      if (t < ICMP.V6_ERROR_LIMIT) return this.icmpError(meta);
      sport = meta.sport;
      dport = ((t & 0xff) << 8) | (meta.icmpCode & 0xff);
    } else if (proto === Proto.SCTP) {
      sport = meta.sport;
      dport = meta.dport;
    }
    if (
      this.checksum &&
      hook === CtHook.PREROUTING &&
      (proto === Proto.TCP || proto === Proto.UDP) &&
      !this.checksumOk(meta)
    )
      return this.verdict(meta, CtState.INVALID, CtCause.BAD_CHECKSUM);
    return this.classifyTuple(meta, now, sport, dport, NONE);
  }

  /**
   * `track` at PREROUTING for a TCP or UDP packet whose node the caller has found with `findIpv4` (after
   * `beginPacket`, with the same `now`) and whose tcp_error/udp_error checks it has made — flag combination, header
   * lengths and, when `verifiesChecksums`, the transport checksum: only the state machine is left to run.
   */
  trackVerified(meta: PacketMeta, now: number, node: number): number {
    meta.ctEntry = NONE;
    meta.ctDir = CtDir.ORIGINAL;
    this.lastCause = CtCause.NONE;
    return this.classifyTuple(meta, now, meta.sport, meta.dport, node);
  }

  /**
   * nf_ct_seqadj_set, from a helper that resized the payload of a TCP segment of direction `dir` with sequence
   * number `seq` by `off` bytes: the entry gets IPS_SEQ_ADJUST and its later segments are shifted (`seqAdjust`).
   */
  setSeqAdjust(e: number, dir: number, seq: number, off: number): void {
    if (off === 0) return;
    this.rec[e * R.STRIDE + R.STATUS] |= CtStatus.SEQ_ADJUST;
    this.seqadj.set(e, dir, seq, off);
  }

  /**
   * nf_confirm's nf_ct_seq_adjust, after the helpers: a TCP segment of an entry with IPS_SEQ_ADJUST gets its
   * sequence number, acknowledgement and SACK blocks shifted. False when it must be dropped (a malformed option
   * list, as the kernel drops it).
   */
  seqAdjust(meta: PacketMeta): boolean {
    const e = meta.ctEntry;
    if (e === NONE || meta.proto !== Proto.TCP || meta.l4 === NONE || meta.icmpInner !== NONE) return true;
    if ((this.word(e) & CtStatus.SEQ_ADJUST) === 0) return true;
    return this.seqadj.adjust(meta.bytes, meta.l4, e, meta.ctDir);
  }

  ftpLineStart(e: number, dir: number, seq: number): boolean {
    const w = this.ftpLines.get(e);
    if (w === undefined) return false;
    const at = dir * FTP_LINE_WORDS;
    for (let i = 0; i < w[at]; i++) if (w[at + 1 + i] === seq >>> 0) return true;
    return false;
  }

  noteFtpLineEnd(e: number, dir: number, seq: number): void {
    let w = this.ftpLines.get(e);
    if (w === undefined) {
      w = new Uint32Array(2 * FTP_LINE_WORDS);
      this.ftpLines.set(e, w);
    }
    const at = dir * FTP_LINE_WORDS;
    const s = seq >>> 0;
    const n = w[at];
    for (let i = 0; i < n; i++) if (w[at + 1 + i] === s) return;
    if (n < FTP_LINES_REMEMBERED) {
      w[at + 1 + n] = s;
      w[at] = n + 1;
      return;
    }
    // update_nl_seq: replace the older of the two, if this one is after it.
    const oldest = ((w[at + 1] - w[at + 2]) | 0) < 0 ? 0 : 1;
    if (((w[at + 1 + oldest] - s) | 0) < 0) w[at + 1 + oldest] = s;
  }

  /** Whether PREROUTING packets have their transport checksum verified (nf_conntrack_checksum). */
  get verifiesChecksums(): boolean {
    return this.checksum;
  }

  /** The epoch expiries are stored after (ExpiryClock), which moves only in beginPacket. */
  get expiryEpoch(): number {
    return this.clock.epoch;
  }

  /** What the WebAssembly fast path needs of this table (fixed for its life when it has an arena). */
  fastPathTable(): FastPathTable {
    return {
      seed: this.seed,
      slotCount: this.slotCount,
      homeScale: this.homeScale,
      nodeBits: this.nodeBits,
      nodeMask: this.nodeMask,
      tagMask: this.tagMask,
      ...this.tcp.established(),
    };
  }

  /** nf_conntrack_in from the lookup on (resolve_normal_ct and the L4 state machine), `found` the node or NONE. */
  private classifyTuple(meta: PacketMeta, now: number, sport: number, dport: number, found: number): number {
    const proto = meta.proto;
    const family = meta.family;
    for (let attempt = 0; attempt < 2; attempt++) {
      const node =
        attempt === 0 && found !== NONE
          ? found
          : this.lookup(family, proto, meta.saddr, sport, meta.daddr, dport, NONE, now);
      let e: number;
      let dir: number;
      let ctinfo: number;
      if (node === NONE) {
        // init_conntrack: allocate (early drop when full), build both tuples, match expectations.
        e = this.alloc(family, proto, meta.saddr, sport, meta.daddr, dport, now);
        if (e === NONE) {
          meta.ctState = 0;
          this.lastCause = CtCause.TABLE_FULL;
          return CtDrop.TABLE_FULL;
        }
        dir = CtDir.ORIGINAL;
        ctinfo = CtState.NEW;
        if (this.expCount > 0 && this.matchExpectation(e, now)) ctinfo = CtState.RELATED;
      } else {
        e = node >> 1;
        dir = node & 1;
        // resolve_normal_ct's ctinfo.
        const st = this.word(e);
        if (dir === CtDir.REPLY) ctinfo = CtState.ESTABLISHED;
        else if (st & CtStatus.SEEN_REPLY) ctinfo = CtState.ESTABLISHED;
        else if (st & CtStatus.EXPECTED) ctinfo = CtState.RELATED;
        else ctinfo = CtState.NEW;
      }
      const confirmed = (this.word(e) & CtStatus.CONFIRMED) !== 0;

      // The L4 state machine (nf_conntrack_handle_packet).
      if (proto === Proto.TCP) {
        if (!confirmed && node === NONE && !this.tcp.newConn(e, meta)) {
          this.free(e);
          return this.verdict(meta, CtState.INVALID, CtCause.TCP_NEW_INVALID);
        }
        const v = this.tcp.packet(e, dir, meta, now);
        if (v === TcpVerdict.INVALID) {
          if (!confirmed) this.free(e);
          const c = this.tcp.cause;
          const stateCause = c === TcpCause.INVALID_STATE || c === TcpCause.INVALID_RST;
          return this.verdict(meta, CtState.INVALID, stateCause ? CtCause.TCP_STATE : CtCause.TCP_WINDOW);
        }
        if (v === TcpVerdict.REPEAT) {
          // Reopen: kill the old connection and look the packet up again (-NF_REPEAT).
          this.destroy(e);
          this.lastCause = CtCause.TCP_REOPEN;
          continue;
        }
        if (v === TcpVerdict.IGNORE) this.lastCause = CtCause.TCP_IGNORED;
        else if (v === TcpVerdict.KILL) {
          this.kill(e);
          this.lastCause = CtCause.TCP_RST_KILL;
        } else if (this.tcp.timeout >= 0) this.setExpires(e, now + this.tcp.timeout);
      } else if (proto === Proto.UDP || proto === PROTO_UDPLITE) {
        this.udpPacket(e, node === NONE, now);
      } else if (proto === Proto.ICMP || proto === Proto.ICMPV6) {
        if (node === NONE) {
          const t = meta.icmpType;
          if (!(proto === Proto.ICMP ? icmpv4CanCreate(t) : icmpv6CanCreate(t))) {
            this.free(e);
            return this.verdict(meta, CtState.INVALID, CtCause.ICMP_NEW_INVALID);
          }
        }
        this.setExpires(e, now + (proto === Proto.ICMP ? this.icmpMs : this.icmpv6Ms));
      } else {
        this.setExpires(e, now + this.genericMs);
      }

      if (dir === CtDir.REPLY) this.rec[e * R.STRIDE + R.STATUS] |= CtStatus.SEEN_REPLY;
      meta.ctState = ctinfo;
      meta.ctEntry = e;
      meta.ctDir = dir;
      if (ctinfo === CtState.RELATED && this.lastCause === CtCause.NONE) this.lastCause = CtCause.EXPECTED;
      return CtDrop.NONE;
    }
    return this.verdict(meta, CtState.INVALID, CtCause.TCP_STATE);
  }

  private verdict(meta: PacketMeta, state: number, cause: number): number {
    meta.ctState = state;
    meta.ctEntry = NONE;
    this.lastCause = cause;
    return CtDrop.NONE;
  }

  /** udp_packet: unreplied timeout until a reply; then the stream timeout (and ASSURED) once ≥ 2 s old. */
  private udpPacket(e: number, isNew: boolean, now: number): void {
    if (isNew) this.tcp.setUdpStreamTs(e, now + UDP_STREAM_AGE_MS);
    const st = this.word(e);
    if (st & CtStatus.SEEN_REPLY) {
      const streamTs = this.tcp.udpStreamTs(e);
      let extra = this.udpMs;
      let stream = false;
      if (now > streamTs) {
        extra = this.udpStreamMs;
        stream = (st & CtStatus.ASSURED) === 0;
      }
      this.setExpires(e, now + extra);
      if (stream) this.rec[e * R.STRIDE + R.STATUS] |= CtStatus.ASSURED;
    } else {
      this.setExpires(e, now + this.udpMs);
    }
  }

  /**
   * nf_conntrack_inet_error / icmp_error_message: an ICMP error is RELATED to the connection its embedded header
   * belongs to — look up the inverted embedded tuple; the outer destination must be that tuple's destination.
   */
  private icmpError(meta: PacketMeta): number {
    const b = meta.bytes;
    const at = meta.icmpInner;
    if (at === NONE || b.length === 0) return this.verdict(meta, CtState.INVALID, CtCause.TRUNCATED);
    const family = meta.family;
    let proto: number;
    let l4: number;
    const src = this.kSrc;
    const dst = this.kDst;
    if (family === 4) {
      if (at + IP4.MIN_LEN > b.length) return this.verdict(meta, CtState.INVALID, CtCause.TRUNCATED);
      const ihl = (b[at + IP4.VER_IHL] & 0x0f) * 4;
      proto = b[at + IP4.PROTOCOL];
      src.fill(0);
      dst.fill(0);
      src[0] = readU32(b, at + IP4.SRC);
      dst[0] = readU32(b, at + IP4.DST);
      l4 = at + ihl;
    } else {
      if (at + IP6.LEN > b.length) return this.verdict(meta, CtState.INVALID, CtCause.TRUNCATED);
      proto = b[at + IP6.NEXT_HEADER];
      for (let i = 0; i < 4; i++) {
        src[i] = readU32(b, at + IP6.SRC + i * 4);
        dst[i] = readU32(b, at + IP6.DST + i * 4);
      }
      l4 = at + IP6.LEN;
    }
    // Inverted inner tuple: the embedded packet went src → dst, so its connection is found as dst → src.
    let isport = 0;
    let idport = 0;
    if (hasPorts(proto)) {
      if (l4 + 4 > b.length) return this.verdict(meta, CtState.INVALID, CtCause.TRUNCATED);
      isport = readU16(b, l4 + L4.DST_PORT);
      idport = readU16(b, l4 + L4.SRC_PORT);
    } else if ((proto === Proto.ICMP && family === 4) || (proto === Proto.ICMPV6 && family === 6)) {
      if (l4 + 8 > b.length) return this.verdict(meta, CtState.INVALID, CtCause.TRUNCATED);
      const inv = (family === 4 ? ICMP_INVERSE : ICMPV6_INVERSE)[b[l4 + L4.ICMP_TYPE]];
      if (inv < 0) return this.verdict(meta, CtState.INVALID, CtCause.ICMP_ERROR_NO_MATCH);
      isport = readU16(b, l4 + L4.ICMP_ID);
      idport = (inv << 8) | b[l4 + L4.ICMP_CODE];
    }
    const node = this.lookup(family, proto, dst, isport, src, idport, NONE, -Infinity);
    if (node === NONE) return this.verdict(meta, CtState.INVALID, CtCause.ICMP_ERROR_NO_MATCH);
    const e = node >> 1;
    const dir = node & 1;
    this.dst(e, dir, this.tDst);
    for (let i = 0; i < (family === 4 ? 1 : 4); i++) {
      if (this.tDst[i] !== meta.daddr[i] >>> 0)
        return this.verdict(meta, CtState.INVALID, CtCause.ICMP_ERROR_OUTER_DADDR);
    }
    meta.ctState = CtState.RELATED;
    meta.ctEntry = e;
    meta.ctDir = dir;
    return CtDrop.NONE;
  }

  /** nf_conntrack_checksum at PREROUTING: TCP, UDP (0 = none on IPv4), ICMP, ICMPv6. Synthetic metas pass. */
  private checksumOk(meta: PacketMeta): boolean {
    const b = meta.bytes;
    if (b.length === 0 || meta.l4 === NONE) return true;
    const len = meta.l3 + meta.length - meta.l4;
    if (len < 0 || meta.l4 + len > b.length) return false;
    const proto = meta.proto;
    if (proto === Proto.UDP && meta.family === 4 && readU16(b, meta.l4 + UDP_CHECKSUM) === 0) return true;
    let sum: number;
    if (meta.family === 4) {
      sum = proto === Proto.ICMP ? 0 : pseudoHeaderSumV4(meta.saddr[0], meta.daddr[0], proto, len);
    } else {
      sum = pseudoHeaderSumV6(b, meta.l3 + IP6.SRC, b, meta.l3 + IP6.DST, proto, len);
    }
    return foldSum(sumWords(b, meta.l4, len, sum)) === 0xffff;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Table: hashing, lookup, allocation, early drop, confirmation.

  /**
   * The full 32-bit hash of a tuple: its top bits choose the home slot, its low bits are the slot's tag. Returned
   * as a signed int32 (every use shifts or masks it), which V8 keeps unboxed where an unsigned value above 2^31
   * would be a heap number.
   */
  private hash(family: Family, proto: number, sk: number, sport: number, dk: number, dport: number): number {
    let h = mix(this.seed, sk);
    h = mix(h, dk);
    h = mix(h, (sport << 16) | dport);
    h = mix(h, proto | (family << 8));
    return h ^ (h >>> 16);
  }

  private home(h: number): number {
    return Math.floor((h >>> HOME_SHIFT) * this.homeScale);
  }

  private slotOf(node: number, h: number): number {
    return node | ((h & this.tagMask) << this.nodeBits);
  }

  private v6Store(): Uint32Array {
    this.v6 ??= new Uint32Array(this.allocated * 16);
    return this.v6;
  }

  /** The entry's R.STATUS word: CtStatus bits, protocol and `I` bits. */
  private word(e: number): number {
    return this.rec[e * R.STRIDE + R.STATUS];
  }
  private protoAt(e: number): number {
    return (this.rec[e * R.STRIDE + R.STATUS] >>> PROTO_SHIFT) & PROTO_MASK;
  }
  private expiresAt(e: number): number {
    return this.clock.decode(this.rec[e * R.STRIDE + R.EXPIRES]);
  }
  private setExpires(e: number, ms: number): void {
    this.rec[e * R.STRIDE + R.EXPIRES] = this.clock.encode(ms);
  }

  /** Does node (e, dir) hold exactly this tuple? `ports` is sport << 16 | dport. */
  private nodeIs(
    node: number,
    family: Family,
    proto: number,
    sk: number,
    src: Uint32Array,
    ports: number,
    dk: number,
    dst: Uint32Array,
  ): boolean {
    const rec = this.rec;
    const r = (node >> 1) * R.STRIDE;
    const t = r + (node & 1) * R.TUPLE_WORDS;
    if (rec[t + R.SRC] !== sk || rec[t + R.DST] !== dk || rec[t + R.PORTS] !== ports) return false;
    const w = rec[r + R.STATUS];
    if (((w >>> PROTO_SHIFT) & PROTO_MASK) !== proto) return false;
    const v6 = (w & I.V6) !== 0;
    if (v6 !== (family === 6)) return false;
    if (!v6) return true;
    const v = this.v6Store();
    const o = (node >> 1) * 16 + (node & 1) * 8;
    for (let i = 0; i < 4; i++) if (v[o + i] !== src[i] >>> 0 || v[o + 4 + i] !== dst[i] >>> 0) return false;
    return true;
  }

  /**
   * nf_conntrack_find: the node (entry * 2 + dir) holding this tuple among CONFIRMED entries, or NONE. An expired
   * entry met on the way is deleted on the spot (nf_ct_gc_expired); `now` = -Infinity skips that.
   */
  private lookup(
    family: Family,
    proto: number,
    src: Uint32Array,
    sport: number,
    dst: Uint32Array,
    dport: number,
    except: number,
    now: number,
  ): number {
    const sk = addrKey(family, src);
    const dk = addrKey(family, dst);
    const ports = ((sport << 16) | dport) >>> 0;
    const h = this.hash(family, proto, sk, sport, dk, dport);
    const tag = h & this.tagMask;
    const slots = this.slots;
    let i = this.home(h);
    for (;;) {
      const s = slots[i];
      if (s === EMPTY) return NONE;
      if (s >>> this.nodeBits === tag) {
        const node = s & this.nodeMask;
        const e = node >> 1;
        if (e !== except && this.nodeIs(node, family, proto, sk, src, ports, dk, dst)) {
          if (this.expiresAt(e) > now) return node;
          this.destroy(e);
          i = this.home(h); // the deletion shifted slots back: probe again
          continue;
        }
      }
      i = i + 1 === this.slotCount ? 0 : i + 1;
    }
  }

  private alloc(
    family: Family,
    proto: number,
    src: Uint32Array,
    sport: number,
    dst: Uint32Array,
    dport: number,
    now: number,
  ): number {
    if (this.freeHead === NONE && this.allocated < this.capacity) this.grow();
    if (this.used >= this.capacity || this.freeHead === NONE) {
      const sk = addrKey(family, src);
      const dk = addrKey(family, dst);
      if (!this.earlyDrop(this.hash(family, proto, sk, sport, dk, dport), now)) return NONE;
    }
    const e = this.freeHead;
    const r = e * R.STRIDE;
    this.freeHead = this.rec[r + R.PLANS] | 0;
    this.used++;
    this.rec[r + R.STATUS] = I.USED | (family === 6 ? I.V6 : 0) | (proto << PROTO_SHIFT);
    // A reused number starts without plans: they were kept for the connection it held before.
    this.rec[r + R.PLANS] = 0;
    this.setExpires(e, now);
    this.writeTuple(e, CtDir.ORIGINAL, family, src, sport, dst, dport);
    // nf_ct_invert_tuple: ICMP inverts the type, everything else swaps ends.
    let rdport = sport;
    const rsport = proto === Proto.ICMP || proto === Proto.ICMPV6 ? sport : dport;
    if (proto === Proto.ICMP || proto === Proto.ICMPV6) {
      const inv = (proto === Proto.ICMP ? ICMP_INVERSE : ICMPV6_INVERSE)[dport >> 8];
      rdport = ((inv < 0 ? dport >> 8 : inv) << 8) | (dport & 0xff);
    }
    this.writeTuple(e, CtDir.REPLY, family, dst, rsport, src, rdport);
    if (proto === Proto.TCP) this.tcp.clear(e);
    return e;
  }

  private writeTuple(
    e: number,
    dir: number,
    family: Family,
    src: Uint32Array,
    sport: number,
    dst: Uint32Array,
    dport: number,
  ): void {
    const t = e * R.STRIDE + dir * R.TUPLE_WORDS;
    this.rec[t + R.SRC] = addrKey(family, src);
    this.rec[t + R.DST] = addrKey(family, dst);
    this.rec[t + R.PORTS] = (sport << 16) | dport;
    if (family === 6) {
      const w = this.v6Store();
      const o = e * 16 + dir * 8;
      for (let i = 0; i < 4; i++) {
        w[o + i] = src[i];
        w[o + 4 + i] = dst[i];
      }
    }
  }

  /**
   * early_drop: scan the slots from the new tuple's home (as many tuples as EVICTION_RANGE buckets hold) for a
   * confirmed non-ASSURED entry; kill one. `h` is the new tuple's hash.
   */
  private earlyDrop(h: number, now: number): boolean {
    let i = this.home(h);
    const span = Math.min(EVICTION_SLOTS, this.slotCount);
    for (let k = 0; k < span; k++) {
      const s = this.slots[i];
      if (s !== EMPTY) {
        const e = (s & this.nodeMask) >> 1;
        const st = this.word(e);
        // early_drop_list: expired entries are reaped on the way; otherwise the first non-ASSURED one goes.
        if (this.expiresAt(e) <= now || (!(st & CtStatus.ASSURED) && !(st & CtStatus.DYING))) {
          this.destroy(e);
          return true;
        }
      }
      i = i + 1 === this.slotCount ? 0 : i + 1;
    }
    return false;
  }

  /** The hash of the tuple a node's record holds. */
  private nodeHash(node: number): number {
    const r = (node >> 1) * R.STRIDE;
    const t = r + (node & 1) * R.TUPLE_WORDS;
    const w = this.rec[r + R.STATUS];
    const ports = this.rec[t + R.PORTS];
    const fam: Family = w & I.V6 ? 6 : 4;
    const proto = (w >>> PROTO_SHIFT) & PROTO_MASK;
    return this.hash(fam, proto, this.rec[t + R.SRC], ports >>> 16, this.rec[t + R.DST], ports & 0xffff);
  }

  private hashNode(node: number): void {
    const h = this.nodeHash(node);
    let i = this.home(h);
    while (this.slots[i] !== EMPTY) i = i + 1 === this.slotCount ? 0 : i + 1;
    this.slots[i] = this.slotOf(node, h);
  }

  /** Removes a node by backward-shift deletion (Knuth TAOCP 6.4 Algorithm R), so no tombstones build up. */
  private unhashNode(node: number): void {
    const slots = this.slots;
    const n = this.slotCount;
    let hole = this.home(this.nodeHash(node));
    for (;;) {
      const s = slots[hole];
      if (s === EMPTY) return;
      if ((s & this.nodeMask) === node) break;
      hole = hole + 1 === n ? 0 : hole + 1;
    }
    let j = hole + 1 === n ? 0 : hole + 1;
    while (slots[j] !== EMPTY) {
      const k = this.home(this.nodeHash(slots[j] & this.nodeMask));
      // The slot at j may fill the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? hole < k && k <= j : hole < k || k <= j;
      if (!stays) {
        slots[hole] = slots[j];
        hole = j;
      }
      j = j + 1 === n ? 0 : j + 1;
    }
    slots[hole] = EMPTY;
  }

  /**
   * __nf_conntrack_confirm, at the last hook (postrouting/input): inserts the packet's unconfirmed entry into the
   * hash. Returns false on a clash — either tuple already in the table — and the packet must be dropped (the entry
   * is freed). A no-op (true) for confirmed, untracked and INVALID packets.
   */
  confirm(meta: PacketMeta, now: number): boolean {
    const e = meta.ctEntry;
    if (e === NONE) return true;
    if (this.word(e) & CtStatus.DYING) {
      this.flushPending();
      return true;
    }
    if (this.word(e) & CtStatus.CONFIRMED) return true;
    const fam: Family = this.word(e) & I.V6 ? 6 : 4;
    const proto = this.protoAt(e);
    for (let dir = 0; dir < 2; dir++) {
      this.src(e, dir, this.tSrc);
      this.dst(e, dir, this.tDst);
      if (this.lookup(fam, proto, this.tSrc, this.sport(e, dir), this.tDst, this.dport(e, dir), e, now) !== NONE) {
        this.free(e);
        meta.ctEntry = NONE;
        return false;
      }
    }
    this.hashNode(e * 2);
    this.hashNode(e * 2 + 1);
    this.rec[e * R.STRIDE + R.STATUS] |= I.HASHED;
    this.rec[e * R.STRIDE + R.STATUS] |= CtStatus.CONFIRMED;
    return true;
  }

  /**
   * nf_ct_set_closing, called by nf_send_reset for the connection it resets (a TCP reset never reaches the state
   * machine itself, being attached): a confirmed TCP entry goes to CLOSE with the CLOSE timeout.
   */
  setClosing(e: number, now: number): void {
    if (!(this.word(e) & CtStatus.CONFIRMED) || this.protoAt(e) !== Proto.TCP) return;
    const ms = this.tcp.setClosing(e);
    if (ms >= 0) this.setExpires(e, now + ms);
  }

  /** The packet was dropped before confirmation: free its unconfirmed entry (no state survives, SEMANTICS §2.1). */
  discard(meta: PacketMeta): void {
    const e = meta.ctEntry;
    if (e === NONE) return;
    if (this.word(e) & CtStatus.DYING) this.flushPending();
    else if (!(this.word(e) & CtStatus.CONFIRMED)) this.free(e);
    meta.ctEntry = NONE;
  }

  /** nf_ct_kill while a packet still holds the entry: unhash now, free when the packet is done. */
  private kill(e: number): void {
    if (this.word(e) & I.HASHED) {
      this.unhashNode(e * 2);
      this.unhashNode(e * 2 + 1);
      this.rec[e * R.STRIDE + R.STATUS] &= ~I.HASHED;
    }
    this.rec[e * R.STRIDE + R.STATUS] |= CtStatus.DYING;
    this.pendingFree = e;
  }

  private flushPending(): void {
    if (this.pendingFree !== NONE) {
      const e = this.pendingFree;
      this.pendingFree = NONE;
      this.free(e);
    }
  }

  /** Deletes a confirmed entry now (timeout, early drop, reopen). */
  private destroy(e: number): void {
    if (this.word(e) & I.HASHED) {
      this.unhashNode(e * 2);
      this.unhashNode(e * 2 + 1);
      this.rec[e * R.STRIDE + R.STATUS] &= ~I.HASHED;
    }
    this.free(e);
  }

  private free(e: number): void {
    if (!(this.word(e) & I.USED)) return;
    if (this.word(e) & I.HASHED) {
      this.unhashNode(e * 2);
      this.unhashNode(e * 2 + 1);
    }
    this.onDestroy?.(e);
    if (this.expCount > 0) this.removeExpectationsOf(e);
    this.masters.delete(e);
    this.marks.delete(e);
    this.seqadj.forget(e);
    this.ftpLines.delete(e);
    this.sipMasters.delete(e);
    this.rec[e * R.STRIDE + R.STATUS] = 0;
    this.rec[e * R.STRIDE + R.PLANS] = this.freeHead;
    this.freeHead = e;
    this.used--;
  }

  /** Removes expired entries (the GC worker); above 95 % full it also evicts non-ASSURED and closing TCP entries. */
  gc(now: number): void {
    this.flushPending();
    if (this.clock.due(now)) this.clock.rebase(now, this.rec, this.allocated);
    const pressure = this.used * 100 > this.capacity * 95;
    for (let e = 0; e < this.allocated; e++) {
      if (!(this.word(e) & I.HASHED)) continue;
      if (this.expiresAt(e) <= now) this.destroy(e);
      else if (pressure) {
        const st = this.word(e);
        const closing = this.protoAt(e) === Proto.TCP && TcpTracker.canEarlyDrop(this.tcp.stateOf(e));
        if (!(st & CtStatus.ASSURED) || closing) this.destroy(e);
      }
    }
    for (let x = 0; x < this.expCap; x++) if (this.expMaster[x] !== NONE && this.expExpires[x] <= now) this.unexpect(x);
  }

  /** Entries in use, confirmed or not (nf_conntrack_count). */
  count(): number {
    return this.used;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Tuple and field access for NAT, traces and tests. dir: 0 = ORIGINAL, 1 = REPLY.

  family(e: number): Family {
    return this.word(e) & I.V6 ? 6 : 4;
  }
  proto(e: number): number {
    return this.protoAt(e);
  }
  src(e: number, dir: number, out: Uint32Array): void {
    this.addrOut(e, dir, 0, out);
  }
  /**
   * An IPv4 entry's tuple as int32 words (`>>> 0` for the unsigned value; signed, they need no heap number):
   * source and destination address, sport << 16 | dport.
   */
  ipv4Src(e: number, dir: number): number {
    return this.rec[e * R.STRIDE + dir * R.TUPLE_WORDS + R.SRC] | 0;
  }
  ipv4Dst(e: number, dir: number): number {
    return this.rec[e * R.STRIDE + dir * R.TUPLE_WORDS + R.DST] | 0;
  }
  ports(e: number, dir: number): number {
    return this.rec[e * R.STRIDE + dir * R.TUPLE_WORDS + R.PORTS] | 0;
  }
  dst(e: number, dir: number, out: Uint32Array): void {
    this.addrOut(e, dir, 1, out);
  }
  private addrOut(e: number, dir: number, which: number, out: Uint32Array): void {
    if (this.word(e) & I.V6) {
      const w = this.v6Store();
      const o = e * 16 + dir * 8 + which * 4;
      out[0] = w[o];
      out[1] = w[o + 1];
      out[2] = w[o + 2];
      out[3] = w[o + 3];
    } else {
      out[0] = this.rec[e * R.STRIDE + dir * R.TUPLE_WORDS + which];
      out[1] = 0;
      out[2] = 0;
      out[3] = 0;
    }
  }
  /** Source port (ICMP: the query identifier). */
  sport(e: number, dir: number): number {
    return this.rec[e * R.STRIDE + dir * R.TUPLE_WORDS + R.PORTS] >>> 16;
  }
  /** Destination port (ICMP: type << 8 | code). */
  dport(e: number, dir: number): number {
    return this.rec[e * R.STRIDE + dir * R.TUPLE_WORDS + R.PORTS] & 0xffff;
  }

  /**
   * NAT on an UNCONFIRMED entry: replace the reply tuple (nf_ct_invert_tuple of the translated original, as
   * nf_nat_setup_info does). Must be called before `confirm`, which hashes the new reply tuple.
   */
  setReplyTuple(e: number, src: Uint32Array, sport: number, dst: Uint32Array, dport: number): void {
    const hashed = (this.word(e) & I.HASHED) !== 0;
    if (hashed) this.unhashNode(e * 2 + 1);
    this.writeTuple(e, CtDir.REPLY, this.family(e), src, sport, dst, dport);
    if (hashed) this.hashNode(e * 2 + 1);
  }

  /**
   * nf_nat_used_tuple / nf_conntrack_tuple_taken: does a CONFIRMED entry other than `except` hold this tuple in
   * either direction? NAT port selection asks it with the reply tuple it would create.
   */
  tupleTaken(
    family: Family,
    proto: number,
    src: Uint32Array,
    sport: number,
    dst: Uint32Array,
    dport: number,
    except: number = NONE,
  ): boolean {
    return this.lookup(family, proto, src, sport, dst, dport, except, -Infinity) !== NONE;
  }

  /** CtStatus bits. */
  status(e: number): number {
    return this.rec[e * R.STRIDE + R.STATUS] & STATUS_MASK;
  }
  /** Sets CtStatus bits (NAT: SRC_NAT, DST_NAT, *_DONE). */
  setStatus(e: number, bits: number): void {
    this.rec[e * R.STRIDE + R.STATUS] |= bits;
  }
  /** L4 state: TCP a TcpState; other protocols 0 unreplied, 1 replied, 2 assured. */
  state(e: number): number {
    if (this.protoAt(e) === Proto.TCP) return this.tcp.stateOf(e);
    const st = this.word(e);
    return st & CtStatus.ASSURED ? 2 : st & CtStatus.SEEN_REPLY ? 1 : 0;
  }
  /** Virtual time (ms) at which the entry expires. */
  timeoutAt(e: number): number {
    return this.expiresAt(e);
  }
  mark(e: number): number {
    return this.marks.get(e) ?? 0;
  }
  setMark(e: number, m: number): void {
    const mark = m >>> 0;
    if (mark === 0) this.marks.delete(e);
    else this.marks.set(e, mark);
  }
  /**
   * Is the entry in the table: confirmed, hashed, not killed? A packet may still hold an entry that is not (a RST
   * killed it, or it was freed at confirm), and nothing may be kept for such a number: it will be reused.
   */
  isListed(e: number): boolean {
    return (this.word(e) & (I.USED | I.HASHED | CtStatus.DYING)) === (I.USED | I.HASHED);
  }
  /** The datapath's plan number for one direction of a live entry (0: none). */
  planNumber(e: number, dir: number): number {
    return (this.rec[e * R.STRIDE + R.PLANS] >>> (dir * PLAN_BITS)) & PLAN_MASK;
  }
  setPlanNumber(e: number, dir: number, n: number): void {
    const at = e * R.STRIDE + R.PLANS;
    const shift = dir * PLAN_BITS;
    this.rec[at] = (this.rec[at] & ~(PLAN_MASK << shift)) | ((n & PLAN_MASK) << shift);
  }
  /** Every live entry's plan numbers back to 0 (the plans they named are gone). */
  clearPlanNumbers(): void {
    for (let e = 0; e < this.allocated; e++) if (this.word(e) & I.USED) this.rec[e * R.STRIDE + R.PLANS] = 0;
  }
  /** The master of an EXPECTED entry (nf_nat_follow_master uses it), else NONE. */
  master(e: number): number {
    return this.masters.get(e) ?? NONE;
  }
  /** TCP retransmission count of the entry (tcp_max_retrans), for traces. */
  tcpRetrans(e: number): number {
    return this.tcp.retrans(e);
  }
  /** TCP window bookkeeping of one direction (td_end, td_maxend, td_maxwin, td_scale), for traces and tests. */
  tcpWindow(e: number, dir: number): { end: number; maxend: number; maxwin: number; scale: number } {
    return this.tcp.windowOf(e, dir);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Helpers and expectations (nf_conntrack_helper.c, nf_conntrack_expect.c).

  /** `ct helper set` / `-j CT --helper`: attach a helper (CtHelper.FTP or CtHelper.SIP) to an entry. */
  setHelper(e: number, helper: number): void {
    const i = e * R.STRIDE + R.STATUS;
    this.rec[i] = (this.rec[i] & ~(HELPER_MASK << I.HELPER_SHIFT)) | ((helper & HELPER_MASK) << I.HELPER_SHIFT);
  }
  helper(e: number): number {
    return (this.rec[e * R.STRIDE + R.STATUS] >>> I.HELPER_SHIFT) & HELPER_MASK;
  }

  /**
   * The helper hook (nf_conntrack_helper at priority 300 in postrouting/input, i.e. after NAT set the reply tuple):
   * parses the payload of a packet of a helped entry and creates expectations (FTP: alg-helper.ts ftpHelp; SIP:
   * sip-helper.ts sipHelp). With `helperNat` set and the entry NATed, the NAT half moves the expectation and
   * rewrites the payload. Returns a HelperNatResult (not ACCEPT: drop; HELPER_DROP's reason in lastHelperLog).
   */
  help(meta: PacketMeta, now: number): number {
    const e = meta.ctEntry;
    if (e === NONE || meta.ctState === CtState.INVALID) return HelperNatResult.ACCEPT;
    const h = this.helper(e);
    if (h === CtHelper.NONE) return HelperNatResult.ACCEPT;
    const b = meta.bytes;
    if (b.length === 0 || meta.l4 === NONE) return HelperNatResult.ACCEPT;
    let at: number;
    if (meta.proto === Proto.TCP) {
      if (meta.l4 + L4.TCP_DATA_OFF >= b.length) return HelperNatResult.ACCEPT;
      at = meta.l4 + (b[meta.l4 + L4.TCP_DATA_OFF] >> 4) * 4;
    } else if (meta.proto === Proto.UDP) at = meta.l4 + L4.UDP_LEN;
    else return HelperNatResult.ACCEPT;
    const end = Math.min(meta.l3 + meta.length, b.length);
    if (at >= end) return HelperNatResult.ACCEPT;
    return h === CtHelper.SIP
      ? sipHelp(this, e, meta.ctDir, meta, at, now)
      : ftpHelp(this, e, meta.ctDir, meta, at, now);
  }

  /**
   * nf_ct_expect_related: expect a connection `src:sport → dst:dport` (src null = any address, sport 0 = any port)
   * related to `master`, for `timeoutMs`. A new connection matching it is RELATED with status EXPECTED, and the
   * expectation is used up unless ExpectFlag.PERMANENT; ExpectFlag.INACTIVE ones match only once activated.
   * __nf_ct_expect_check: the same master's expectation of the same tuple and class is replaced, one of another
   * class (or, with `skipMaster` — NF_CT_EXP_F_SKIP_MASTER — of another master) answers ExpectFail.ALREADY, and any
   * other that some connection would match as well answers ExpectFail.BUSY; past the helper's max_expected for the
   * class the master's oldest of that class goes. Returns the expectation id, or an ExpectFail (FULL: table full).
   */
  expect(
    master: number,
    family: Family,
    proto: number,
    src: Uint32Array | null,
    sport: number,
    dst: Uint32Array,
    dport: number,
    timeoutMs: number,
    now: number,
    flags = 0,
    cls: number = ExpectClass.SIGNALLING,
    skipMaster = false,
  ): number {
    let x = NONE;
    for (let i = 0; i < this.expCap; i++) {
      const m = this.expMaster[i];
      if (m !== NONE && this.expExpires[i] <= now) this.unexpect(i);
      if (this.expMaster[i] === NONE) {
        if (x === NONE) x = i;
      } else if (
        (skipMaster || m === master) &&
        this.expectationMeets(i, family, proto, src, sport, dst, dport, true)
      ) {
        if (m !== master || this.expClass[i] !== cls) return ExpectFail.ALREADY;
        x = i;
        this.unexpect(i);
        break;
      } else if (this.expectationMeets(i, family, proto, src, sport, dst, dport, false)) return ExpectFail.BUSY;
    }
    if (x === NONE) return ExpectFail.FULL;
    this.evictOverLimit(master, cls);
    this.expMaster[x] = master;
    this.expInfo[x] = family === 6 ? 1 : 0;
    this.expProto[x] = proto;
    this.expFlags[x] = flags;
    this.expClass[x] = cls;
    this.expOrder[x] = ++this.expInserted;
    this.expSrcAny[x] = src === null ? 1 : 0;
    for (let i = 0; i < 4; i++) {
      this.expAddr[x * 8 + i] = src === null ? 0 : src[i];
      this.expAddr[x * 8 + 4 + i] = dst[i];
    }
    this.expPort[x * 2] = sport;
    this.expPort[x * 2 + 1] = dport;
    this.expExpires[x] = now + timeoutMs;
    this.expNat[x] = ExpectNat.NONE;
    this.expSavedPort[x] = 0;
    this.expCount++;
    return x;
  }

  /** evict_oldest_expect: make room for one more expectation of class `cls` under the master's helper's limit. */
  private evictOverLimit(master: number, cls: number): void {
    const h = this.helper(master);
    const limits = h === CtHelper.SIP ? SIP_MAX_EXPECTED : h === CtHelper.FTP ? FTP_MAX_EXPECTED : null;
    const max = limits?.[cls] ?? 0;
    if (max === 0) return;
    let count = 0;
    let oldest = NONE;
    for (let i = 0; i < this.expCap; i++) {
      if (this.expMaster[i] !== master || this.expClass[i] !== cls) continue;
      count++;
      if (oldest === NONE || this.expOrder[i] < this.expOrder[oldest]) oldest = i;
    }
    if (count >= max && oldest !== NONE) this.unexpect(oldest);
  }

  /**
   * The NAT half took expectation `x` over (nf_nat_sip_expect, nf_nat_ftp): when the expected connection arrives,
   * `nat` (an ExpectNat) binds it, DNAT to `saved`:`savedPort` (null: the master's source, as
   * nf_nat_follow_master uses). `dir` is the master direction the expected connection travels in (exp->dir).
   */
  setExpectationNat(x: number, nat: number, saved: Uint32Array | null, savedPort: number, dir: number): void {
    this.expNat[x] = nat;
    this.expDir[x] = dir;
    for (let i = 0; i < 4; i++) this.expSaved[x * 4 + i] = saved === null ? 0 : saved[i];
    this.expSavedPort[x] = savedPort;
  }
  /** ExpectNat of expectation `x`. */
  expectationNat(x: number): number {
    return this.expNat[x];
  }
  /** The master of expectation `x` (NONE once it is gone). */
  expectationMaster(x: number): number {
    return this.expMaster[x];
  }
  /** The saved (pre-NAT) address of expectation `x`. */
  expectationSaved(x: number, out: Uint32Array): void {
    for (let i = 0; i < 4; i++) out[i] = this.expSaved[x * 4 + i];
  }
  expectationSavedPort(x: number): number {
    return this.expSavedPort[x];
  }
  /** exp->dir: the master direction the expected connection travels in. */
  expectationDir(x: number): number {
    return this.expDir[x];
  }
  /** nf_ct_unexpect_related: withdraw expectation `x` (the NAT half could not rewrite the packet announcing it). */
  unexpectRelated(x: number): void {
    if (x >= 0 && x < this.expCap && this.expMaster[x] !== NONE) this.unexpect(x);
  }

  /**
   * Expectation `x` against `src`:`sport` → `dst`:`dport` (src null, sport 0: any): with `exact`, the same tuple and
   * masks (expect_matches); without, one that some connection would match as well (expect_clash: the masks
   * intersected).
   */
  private expectationMeets(
    x: number,
    family: Family,
    proto: number,
    src: Uint32Array | null,
    sport: number,
    dst: Uint32Array,
    dport: number,
    exact: boolean,
  ): boolean {
    if (this.expInfo[x] !== (family === 6 ? 1 : 0) || this.expProto[x] !== proto) return false;
    if (this.expPort[x * 2 + 1] !== dport) return false;
    const held = this.expPort[x * 2];
    const heldAny = this.expSrcAny[x] === 1;
    if (exact ? held !== sport || heldAny !== (src === null) : held !== 0 && sport !== 0 && held !== sport)
      return false;
    const bySource = src !== null && !heldAny;
    const n = family === 6 ? 4 : 1;
    for (let i = 0; i < n; i++) {
      if (this.expAddr[x * 8 + 4 + i] !== dst[i] >>> 0) return false;
      if (bySource && this.expAddr[x * 8 + i] !== src[i] >>> 0) return false;
    }
    return true;
  }

  /**
   * nf_conntrack_sip.c refresh_signalling_expectation: the master's live signalling-class expectation for
   * `dst`:`dport` over `proto` is activated and its timeout set (a 2xx to REGISTER). False when none matched.
   */
  refreshSignalling(
    master: number,
    proto: number,
    dst: Uint32Array,
    dport: number,
    timeoutMs: number,
    now: number,
  ): boolean {
    const n = this.family(master) === 6 ? 4 : 1;
    for (let x = 0; x < this.expCap; x++) {
      if (this.expMaster[x] !== master || this.expClass[x] !== ExpectClass.SIGNALLING) continue;
      if (this.expProto[x] !== proto || this.expPort[x * 2 + 1] !== dport || this.expExpires[x] <= now) continue;
      let same = true;
      for (let i = 0; i < n; i++) if (this.expAddr[x * 8 + 4 + i] !== dst[i] >>> 0) same = false;
      if (!same) continue;
      this.expFlags[x] &= ~ExpectFlag.INACTIVE;
      this.expExpires[x] = now + timeoutMs;
      return true;
    }
    return false;
  }

  /**
   * nf_conntrack_sip.c flush_expectations: the master's media expectations (every class but signalling) go, or,
   * without `media`, its (first) signalling one.
   */
  flushExpectations(master: number, media: boolean): void {
    for (let x = 0; x < this.expCap; x++) {
      if (this.expMaster[x] !== master || (this.expClass[x] !== ExpectClass.SIGNALLING) !== media) continue;
      this.unexpect(x);
      if (!media) return;
    }
  }

  sipMaster(master: number): SipMaster {
    let m = this.sipMasters.get(master);
    if (m === undefined) {
      m = { registerCseq: 0, inviteCseq: 0, forcedDport: 0 };
      this.sipMasters.set(master, m);
    }
    return m;
  }

  helperLog(message: string): void {
    this.lastHelperLog = message;
  }

  /** nf_ct_refresh. */
  refreshTimeout(e: number, ms: number, now: number): void {
    this.setExpires(e, now + ms);
  }

  private unexpect(x: number): void {
    this.expMaster[x] = NONE;
    this.expCount--;
  }

  private removeExpectationsOf(master: number): void {
    for (let x = 0; x < this.expCap; x++) if (this.expMaster[x] === master) this.unexpect(x);
  }

  /** nf_ct_find_expectation against the new entry's ORIGINAL tuple. */
  private matchExpectation(e: number, now: number): boolean {
    const fam = this.family(e);
    const proto = this.protoAt(e);
    this.src(e, 0, this.tSrc);
    this.dst(e, 0, this.tDst);
    const sport = this.sport(e, 0);
    const dport = this.dport(e, 0);
    const n = fam === 6 ? 4 : 1;
    for (let x = 0; x < this.expCap; x++) {
      const m = this.expMaster[x];
      if (m === NONE) continue;
      if (this.expExpires[x] <= now) {
        this.unexpect(x);
        continue;
      }
      if (this.expFlags[x] & ExpectFlag.INACTIVE) continue;
      if (!(this.word(m) & CtStatus.CONFIRMED)) continue;
      if (this.expInfo[x] !== (fam === 6 ? 1 : 0) || this.expProto[x] !== proto) continue;
      if (this.expPort[x * 2 + 1] !== dport) continue;
      if (this.expPort[x * 2] !== 0 && this.expPort[x * 2] !== sport) continue;
      let ok = true;
      for (let i = 0; i < n && ok; i++) {
        if (this.expAddr[x * 8 + 4 + i] !== this.tDst[i]) ok = false;
        else if (this.expSrcAny[x] === 0 && this.expAddr[x * 8 + i] !== this.tSrc[i]) ok = false;
      }
      if (!ok) continue;
      this.rec[e * R.STRIDE + R.STATUS] |= CtStatus.EXPECTED;
      this.masters.set(e, m);
      const h = this.helper(m);
      if (h !== CtHelper.NONE && h === CtHelper.SIP) this.setHelper(e, h);
      if (this.expNat[x] !== ExpectNat.NONE) this.onExpected?.(e, x);
      if (!(this.expFlags[x] & ExpectFlag.PERMANENT)) this.unexpect(x);
      return true;
    }
    return false;
  }

  /** Pending expectations (tests, `conntrack -E expect`-like listing). */
  listExpectations(): ExpectationView[] {
    const out: ExpectationView[] = [];
    for (let x = 0; x < this.expCap; x++) {
      if (this.expMaster[x] === NONE) continue;
      const family: Family = this.expInfo[x] ? 6 : 4;
      out.push({
        id: x,
        master: this.expMaster[x],
        family,
        proto: this.expProto[x],
        src: this.expSrcAny[x] ? null : formatAddr(family, this.expAddr.subarray(x * 8, x * 8 + 4)),
        sport: this.expPort[x * 2],
        dst: formatAddr(family, this.expAddr.subarray(x * 8 + 4, x * 8 + 8)),
        dport: this.expPort[x * 2 + 1],
        flags: this.expFlags[x],
        timeoutAt: this.expExpires[x],
        nat: this.expNat[x],
        saved: this.expNat[x] === ExpectNat.NONE ? null : formatAddr(family, this.expSaved.subarray(x * 4, x * 4 + 4)),
        savedPort: this.expSavedPort[x],
      });
    }
    return out;
  }

  /** Live entries, confirmed or not (allocation is fine here). */
  list(): ConntrackEntryView[] {
    const out: ConntrackEntryView[] = [];
    const s = new Uint32Array(4);
    const d = new Uint32Array(4);
    for (let e = 0; e < this.allocated; e++) {
      if (!(this.word(e) & I.USED) || this.word(e) & CtStatus.DYING) continue;
      const family = this.family(e);
      const tuple = (dir: number): ConntrackTupleView => {
        this.src(e, dir, s);
        this.dst(e, dir, d);
        return {
          src: formatAddr(family, s),
          dst: formatAddr(family, d),
          sport: this.sport(e, dir),
          dport: this.dport(e, dir),
        };
      };
      const st = this.state(e);
      out.push({
        id: e,
        family,
        proto: this.protoAt(e),
        state:
          this.protoAt(e) === Proto.TCP
            ? (TCP_STATE_NAMES[st] ?? "NONE")
            : st === 2
              ? "ASSURED"
              : st === 1
                ? "REPLIED"
                : "UNREPLIED",
        status: this.status(e),
        confirmed: (this.word(e) & CtStatus.CONFIRMED) !== 0,
        timeoutAt: this.expiresAt(e),
        mark: this.mark(e),
        helper: this.helper(e),
        master: this.master(e),
        original: tuple(0),
        reply: tuple(1),
      });
    }
    return out;
  }
}

function formatAddr(family: Family, w: Uint32Array): string {
  if (family === 4) return formatIpv4(w[0]);
  const b = new Uint8Array(16);
  wordsToIpv6(w, b, 0);
  return formatIpv6(b);
}
