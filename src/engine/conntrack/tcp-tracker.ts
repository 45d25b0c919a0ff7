// The TCP tracker of nf_conntrack_proto_tcp.c: the flag whitelist (tcp_error), connection pickup (tcp_new), the
// transition table (tcp_conntracks), the window check (tcp_in_window, after Guido van Rooij's "Real Stateful TCP
// Packet Filtering in IP Filter") and the timeout choice of nf_conntrack_tcp_packet. Per-entry state lives in
// typed arrays indexed by the conntrack entry number (the kernel's struct ip_ct_tcp), so the established path does
// no allocation.
import { CtDir, CtStatus, NONE, TcpFlag } from "../packet-meta.js";
import type { PacketMeta } from "../packet-meta.js";
import { readU32 } from "../../wire/bytes.js";
import { TcpState, type TcpTimeouts } from "./timeouts.js";
import { R, STATUS_MASK } from "./entry-layout.js";
import type { ExpiryClock } from "./entry-layout.js";
import type { SeqAdjustments } from "./seqadj.js";

/** enum tcp_bit_set: the row of the transition table a segment selects. */
export const TcpIndex = { SYN: 0, SYNACK: 1, FIN: 2, ACK: 3, RST: 4, NONE: 5 } as const;

const sSS = TcpState.SYN_SENT;
const sSR = TcpState.SYN_RECV;
const sES = TcpState.ESTABLISHED;
const sFW = TcpState.FIN_WAIT;
const sCW = TcpState.CLOSE_WAIT;
const sLA = TcpState.LAST_ACK;
const sTW = TcpState.TIME_WAIT;
const sCL = TcpState.CLOSE;
const sS2 = TcpState.SYN_SENT2;
const sIV = TcpState.INVALID;
const sIG = TcpState.IGNORE;

/** tcp_conntracks[dir][index][old state] → new state, copied row for row from nf_conntrack_proto_tcp.c. */
// prettier-ignore
const TCP_CONNTRACKS: readonly (readonly (readonly number[])[])[] = [
  [ // ORIGINAL       sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2
    /* syn    */     [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2],
    /* synack */     [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR],
    /* fin    */     [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */     [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV],
    /* rst    */     [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */     [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
  [ // REPLY          sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2
    /* syn    */     [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
    /* synack */     [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
    /* fin    */     [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */     [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
    /* rst    */     [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */     [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
];

/** Flat copy of the table for the hot path: [(dir * 6 + index) * 10 + old]. */
const TRANSITIONS = new Uint8Array(2 * 6 * 10);
for (let d = 0; d < 2; d++)
  for (let i = 0; i < 6; i++) for (let s = 0; s < 10; s++) TRANSITIONS[(d * 6 + i) * 10 + s] = TCP_CONNTRACKS[d][i][s];

/** The transition table as data (tests, documentation). */
export function tcpTransition(dir: number, index: number, old: number): number {
  return TRANSITIONS[(dir * 6 + index) * 10 + old];
}

const FLAG_MASK = TcpFlag.FIN | TcpFlag.SYN | TcpFlag.RST | TcpFlag.ACK | TcpFlag.URG;
/** tcp_valid_flags[]: PSH, ECE and CWR are ignored; everything else must be one of these combinations. */
const VALID_FLAGS = new Uint8Array(FLAG_MASK + 1);
for (const f of [
  TcpFlag.SYN,
  TcpFlag.SYN | TcpFlag.URG,
  TcpFlag.SYN | TcpFlag.ACK,
  TcpFlag.RST,
  TcpFlag.RST | TcpFlag.ACK,
  TcpFlag.FIN | TcpFlag.ACK,
  TcpFlag.FIN | TcpFlag.ACK | TcpFlag.URG,
  TcpFlag.ACK,
  TcpFlag.ACK | TcpFlag.URG,
])
  VALID_FLAGS[f] = 1;

/** tcp_error's flag check: true when the combination is on the whitelist. */
export function tcpFlagsValid(flags: number): boolean {
  return VALID_FLAGS[flags & FLAG_MASK] === 1;
}

/** get_conntrack_index. */
export function tcpIndex(flags: number): number {
  if (flags & TcpFlag.RST) return TcpIndex.RST;
  if (flags & TcpFlag.SYN) return flags & TcpFlag.ACK ? TcpIndex.SYNACK : TcpIndex.SYN;
  if (flags & TcpFlag.FIN) return TcpIndex.FIN;
  if (flags & TcpFlag.ACK) return TcpIndex.ACK;
  return TcpIndex.NONE;
}

/** What the tracker decided (enum nf_ct_tcp_action plus the core's repeat/kill outcomes). */
export const TcpVerdict = {
  /** In window; state and timeout updated. */
  ACCEPT: 0,
  /** Let through without touching state (sIG, small overshoot, stale data). */
  IGNORE: 1,
  /** The packet is INVALID; the entry is detached from it. */
  INVALID: 2,
  /** Reopen from TIME_WAIT/CLOSE: kill the entry and look the packet up again (-NF_REPEAT). */
  REPEAT: 3,
  /** Accepted, but the only reply was a RST: the entry dies at once (nf_ct_kill_acct). */
  KILL: 4,
} as const;

/** Why a packet was INVALID or ignored, for traces. */
export const TcpCause = {
  NONE: 0,
  INVALID_STATE: 1,
  SEQ_OVER: 2,
  ACK_OVER: 3,
  SEQ_UNDER: 4,
  ACK_UNDER: 5,
  OVERSHOOT: 6,
  IGNORED_STATE: 7,
  INVALID_RST: 8,
  CHALLENGE_ACK: 9,
} as const;

/** struct ip_ct_tcp_state flags (IP_CT_TCP_FLAG_*), stored above the 4-bit window scale. */
const F = {
  WINDOW_SCALE: 0x01,
  SACK_PERM: 0x02,
  CLOSE_INIT: 0x04,
  BE_LIBERAL: 0x08,
  DATA_UNACKNOWLEDGED: 0x10,
  MAXACK_SET: 0x20,
} as const;
const SCALE_BITS = 4;
const SCALE_MASK = 0xf;
const TCP_MAX_WSCALE = 14;
/** last_flags bits (IP_CT_TCP_SIMULTANEOUS_OPEN, IP_CT_EXP_CHALLENGE_ACK) plus the annotated SYN options. */
const L = { SIMULTANEOUS_OPEN: 0x01, CHALLENGE_ACK: 0x02, WINDOW_SCALE: 0x04, SACK_PERM: 0x08 } as const;
const MAXACKWINCONST = 66000;
/** Outcome of the RST checks in the CLOSE transition. */
const RstCheck = { WINDOW: 0, SKIP_WINDOW: 1, INVALID: 2, KEEP_STATE: 3 } as const;
/**
 * struct ip_ct_tcp in 13 words of the entry's record (entry-layout.ts R.TCP): per direction td_end, td_maxend,
 * td_maxwin, td_maxack (words 0–7); word 8 packs each direction's td_scale|flags in 10 bits (dir 0 at bit 0, dir 1
 * at bit 16) and the state at bit 10; last_seq, last_ack, last_end (9–11); last_win | last_info << 16 |
 * last_wscale+retrans << 24 (12).
 */
const W = {
  END: 0,
  MAXEND: 1,
  MAXWIN: 2,
  MAXACK: 3,
  PER_DIR: 4,
  WFLAGS: 8,
  LAST: 9,
  LAST_PACKED: 12,
} as const;
/** Bits of word W.WFLAGS: a direction's td_scale|flags field, and where the state sits. */
const WF = { DIR_SHIFT: 16, MASK: 0x3ff, STATE_SHIFT: 10, STATE_MASK: 0x3f } as const;
/** DATA_UNACKNOWLEDGED of either direction, as bits of word W.WFLAGS. */
const DATA_UNACKNOWLEDGED_EITHER =
  (F.DATA_UNACKNOWLEDGED << SCALE_BITS) | (F.DATA_UNACKNOWLEDGED << (SCALE_BITS + WF.DIR_SHIFT));
/**
 * Bits of word W.LAST_PACKED: last_win (0–15), last_info (16–23: last_index 16–18, last_dir 19, last_flags 20–23),
 * the annotated SYN's window scale (24–27) and the retransmission count (28–31).
 */
const LP = {
  WIN_MASK: 0xffff,
  INFO_SHIFT: 16,
  INFO_DIR_BIT: 3,
  DIR_SHIFT: 19,
  INDEX_DIR_MASK: 0x000f0000,
  KEEP_ON_NEW_SEGMENT: 0x0ff70000,
  RETRANS_SHIFT: 28,
  RETRANS_MAX: 15,
  RETRANS_ONE: 1 << 28,
} as const;

/** TCP header layout needed to walk options (RFC 9293 §3.1). */
const TCP_HDR = { DATA_OFF: 12, MIN_LEN: 20 } as const;
const OPT = {
  EOL: 0,
  NOP: 1,
  WINDOW: 3,
  SACK_PERM: 4,
  SACK: 5,
  LEN_WINDOW: 3,
  LEN_SACK_PERM: 2,
  SACK_BASE: 2,
} as const;
const SACK_PERBLOCK = 8;

/** Sequence-number order (the kernel's before/after); pass int32 words (`x | 0`): V8 boxes larger values in calls. */
function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
function after(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

export interface TcpTrackerOptions {
  loose: boolean;
  beLiberal: boolean;
  maxRetrans: number;
  ignoreInvalidRst: boolean;
}

export class TcpTracker {
  /** Output of `packet`: the timeout to apply (ms), or -1 for no refresh, and why an INVALID/IGNORE happened. */
  timeout = -1;
  cause: number = TcpCause.NONE;

  /** `rec` is the conntrack table's entry records (entry-layout.ts); `clock` encodes their expiry times. */
  constructor(
    private win: Uint32Array,
    private readonly opts: TcpTrackerOptions,
    private readonly timeouts: TcpTimeouts,
    private readonly clock: ExpiryClock,
    private readonly seqadj: SeqAdjustments,
  ) {}

  /** The table grew: its records moved to a larger array. */
  rebind(rec: Uint32Array): void {
    this.win = rec;
  }

  stateOf(e: number): number {
    return (this.win[e * R.STRIDE + R.TCP + W.WFLAGS] >>> WF.STATE_SHIFT) & WF.STATE_MASK;
  }
  /**
   * nf_conntrack_tcp_set_closing (nf_conntrack_proto_tcp.c): the entry goes to CLOSE; the CLOSE timeout (ms) is
   * returned for the caller to apply, or -1 when the entry already was in CLOSE and keeps its timeout.
   */
  setClosing(e: number): number {
    const old = this.stateOf(e);
    this.setState(e, TcpState.CLOSE);
    return old === TcpState.CLOSE ? -1 : this.timeouts.byState[TcpState.CLOSE];
  }
  private setState(e: number, st: number): void {
    const i = e * R.STRIDE + R.TCP + W.WFLAGS;
    this.win[i] = (this.win[i] & ~(WF.STATE_MASK << WF.STATE_SHIFT)) | (st << WF.STATE_SHIFT);
  }
  /** The entry's CtStatus bits. */
  private status(e: number): number {
    return this.win[e * R.STRIDE + R.STATUS] & STATUS_MASK;
  }
  private wf(e: number, dir: number): number {
    return (this.win[e * R.STRIDE + R.TCP + W.WFLAGS] >>> (dir * WF.DIR_SHIFT)) & WF.MASK;
  }
  private setWf(e: number, dir: number, v: number): void {
    const i = e * R.STRIDE + R.TCP + W.WFLAGS;
    const shift = dir * WF.DIR_SHIFT;
    this.win[i] = (this.win[i] & ~(WF.MASK << shift)) | ((v & WF.MASK) << shift);
  }
  private lastWin(e: number): number {
    return this.win[e * R.STRIDE + R.TCP + W.LAST_PACKED] & 0xffff;
  }
  private setLastWin(e: number, v: number): void {
    const i = e * R.STRIDE + R.TCP + W.LAST_PACKED;
    this.win[i] = (this.win[i] & 0xffff0000) | (v & 0xffff);
  }
  private lastInfo(e: number): number {
    return (this.win[e * R.STRIDE + R.TCP + W.LAST_PACKED] >>> 16) & 0xff;
  }
  private setLastInfo(e: number, v: number): void {
    const i = e * R.STRIDE + R.TCP + W.LAST_PACKED;
    this.win[i] = (this.win[i] & 0xff00ffff) | ((v & 0xff) << 16);
  }
  private lastScaleRetrans(e: number): number {
    return this.win[e * R.STRIDE + R.TCP + W.LAST_PACKED] >>> 24;
  }
  private setLastScaleRetrans(e: number, v: number): void {
    const i = e * R.STRIDE + R.TCP + W.LAST_PACKED;
    this.win[i] = (this.win[i] & 0x00ffffff) | ((v & 0xff) << 24);
  }
  /** UDP's stream_ts (ms) lives in the same record, as in the kernel's union nf_conntrack_proto. */
  udpStreamTs(e: number): number {
    const i = e * R.STRIDE + R.TCP + W.LAST;
    return this.win[i + 1] * 0x100000000 + this.win[i];
  }
  setUdpStreamTs(e: number, ms: number): void {
    const i = e * R.STRIDE + R.TCP + W.LAST;
    this.win[i] = ms % 0x100000000;
    this.win[i + 1] = Math.floor(ms / 0x100000000);
  }

  private flags(e: number, dir: number): number {
    return this.wf(e, dir) >> SCALE_BITS;
  }
  private setFlags(e: number, dir: number, f: number): void {
    this.setWf(e, dir, (this.wf(e, dir) & SCALE_MASK) | (f << SCALE_BITS));
  }
  private scale(e: number, dir: number): number {
    return this.wf(e, dir) & SCALE_MASK;
  }
  private setScale(e: number, dir: number, s: number): void {
    this.setWf(e, dir, (this.wf(e, dir) & ~SCALE_MASK) | s);
  }
  private lastIndex(e: number): number {
    return this.lastInfo(e) & 7;
  }
  private lastDir(e: number): number {
    return (this.lastInfo(e) >> 3) & 1;
  }
  private lastFlags(e: number): number {
    return this.lastInfo(e) >> 4;
  }
  private setLast(e: number, index: number, dir: number): void {
    this.setLastInfo(e, (this.lastInfo(e) & 0xf0) | index | (dir << 3));
  }
  private setLastFlags(e: number, f: number): void {
    this.setLastInfo(e, (this.lastInfo(e) & 0x0f) | (f << 4));
  }
  retrans(e: number): number {
    return this.lastScaleRetrans(e) >> 4;
  }

  /** Window-scale and SACK state of one direction, for tests and traces. */
  windowOf(e: number, dir: number): { end: number; maxend: number; maxwin: number; scale: number } {
    const w = e * R.STRIDE + R.TCP + dir * W.PER_DIR;
    return { end: this.win[w], maxend: this.win[w + 1], maxwin: this.win[w + 2], scale: this.scale(e, dir) };
  }

  /** tcp_error minus the checksum: truncated header or a flag combination off the whitelist. */
  static malformed(meta: PacketMeta): boolean {
    if (!tcpFlagsValid(meta.tcpFlags)) return true;
    const b = meta.bytes;
    if (meta.l4 === NONE || b.length < meta.l4 + TCP_HDR.MIN_LEN) return b.length !== 0;
    const doff = (b[meta.l4 + TCP_HDR.DATA_OFF] >> 4) * 4;
    return doff < TCP_HDR.MIN_LEN || meta.l3 + meta.length - meta.l4 < doff;
  }

  /** Segment end: seq + data length + SYN + FIN (segment_seq_plus_len). */
  private static end(meta: PacketMeta): number {
    const f = meta.tcpFlags;
    return (meta.seq + meta.payloadLength + (f & TcpFlag.SYN ? 1 : 0) + (f & TcpFlag.FIN ? 1 : 0)) >>> 0;
  }

  /**
   * tcp_options: window scale and SACK-permitted from the header bytes; with no bytes (synthetic meta), the parsed
   * `meta.wscale` stands in. Resets scale and every flag but BE_LIBERAL first, as the kernel does.
   */
  private options(e: number, dir: number, meta: PacketMeta): void {
    let f = this.flags(e, dir) & F.BE_LIBERAL;
    let scale = 0;
    const b = meta.bytes;
    if (meta.l4 !== NONE && b.length >= meta.l4 + TCP_HDR.MIN_LEN) {
      const doff = (b[meta.l4 + TCP_HDR.DATA_OFF] >> 4) * 4;
      if (doff <= TCP_HDR.MIN_LEN) return;
      let p = meta.l4 + TCP_HDR.MIN_LEN;
      const stop = Math.min(meta.l4 + doff, b.length);
      while (p < stop) {
        const kind = b[p];
        if (kind === OPT.EOL) break;
        if (kind === OPT.NOP) {
          p++;
          continue;
        }
        if (p + 1 >= stop) break;
        const size = b[p + 1];
        if (size < 2 || p + size > stop) break;
        if (kind === OPT.SACK_PERM && size === OPT.LEN_SACK_PERM) f |= F.SACK_PERM;
        else if (kind === OPT.WINDOW && size === OPT.LEN_WINDOW) {
          scale = Math.min(b[p + 2], TCP_MAX_WSCALE);
          f |= F.WINDOW_SCALE;
        }
        p += size;
      }
    } else if (meta.wscale !== NONE) {
      scale = Math.min(meta.wscale, TCP_MAX_WSCALE);
      f |= F.WINDOW_SCALE;
    } else return;
    this.setFlags(e, dir, f);
    this.setScale(e, dir, scale);
  }

  /** tcp_sack: the highest right edge of the SACK blocks, else `sack`. */
  private static sack(meta: PacketMeta, sack: number): number {
    const b = meta.bytes;
    if (meta.l4 === NONE || b.length < meta.l4 + TCP_HDR.MIN_LEN) return sack;
    const doff = (b[meta.l4 + TCP_HDR.DATA_OFF] >> 4) * 4;
    let p = meta.l4 + TCP_HDR.MIN_LEN;
    const stop = Math.min(meta.l4 + doff, b.length);
    while (p < stop) {
      const kind = b[p];
      if (kind === OPT.EOL) break;
      if (kind === OPT.NOP) {
        p++;
        continue;
      }
      if (p + 1 >= stop) break;
      const size = b[p + 1];
      if (size < 2 || p + size > stop) break;
      if (kind === OPT.SACK && size >= OPT.SACK_BASE + SACK_PERBLOCK && (size - OPT.SACK_BASE) % SACK_PERBLOCK === 0) {
        for (let i = p + OPT.SACK_BASE; i < p + size; i += SACK_PERBLOCK) {
          const right = readU32(b, i + 4);
          if (after(right, sack)) sack = right;
        }
        return sack;
      }
      p += size;
    }
    return sack;
  }

  /** tcp_new: may this packet create an entry? Initialises the ORIGINAL direction's window. */
  newConn(e: number, meta: PacketMeta): boolean {
    const ns = TRANSITIONS[tcpIndex(meta.tcpFlags) * 10 + TcpState.NONE];
    if (ns >= TcpState.INVALID) return false;
    if (ns !== TcpState.SYN_SENT && !this.opts.loose) return false;
    this.clear(e);
    const end = TcpTracker.end(meta);
    const maxwin = meta.window === 0 ? 1 : meta.window;
    const w = e * R.STRIDE + R.TCP;
    this.win[w + W.END] = end;
    this.win[w + W.MAXWIN] = maxwin;
    if (ns === TcpState.SYN_SENT) {
      this.win[w + W.MAXEND] = end;
      this.options(e, CtDir.ORIGINAL, meta);
    } else {
      // Mid-stream pickup: history is lost, so assume SACK and be liberal in both directions.
      this.win[w + W.MAXEND] = (end + maxwin) >>> 0;
      this.setFlags(e, 0, F.SACK_PERM | F.BE_LIBERAL);
      this.setFlags(e, 1, F.SACK_PERM | F.BE_LIBERAL);
    }
    this.setLast(e, TcpIndex.NONE, 0);
    return true;
  }

  clear(e: number): void {
    const t = e * R.STRIDE + R.TCP;
    this.win.fill(0, t, t + R.TCP_WORDS);
  }

  /** tcp_init_sender: first SYN/ACK, or a SYN from the reply side (simultaneous open). */
  private initSender(e: number, dir: number, meta: PacketMeta, end: number, win: number): void {
    const s = e * R.STRIDE + R.TCP + dir * W.PER_DIR;
    this.win[s + W.END] = end;
    this.win[s + W.MAXEND] = end;
    this.win[s + W.MAXWIN] = win === 0 ? 1 : win;
    this.options(e, dir, meta);
    // RFC 7323 §2.2: window scaling only when both sides offered it.
    if (dir === CtDir.REPLY && !(this.flags(e, dir) & F.WINDOW_SCALE && this.flags(e, 1 - dir) & F.WINDOW_SCALE)) {
      this.setScale(e, dir, 0);
      this.setScale(e, 1 - dir, 0);
    }
  }

  /** nf_tcp_log_invalid: BE_LIBERAL (per direction or global) turns a window failure into ACCEPT. */
  private windowFail(e: number, dir: number, verdict: number, cause: number): number {
    if (this.opts.beLiberal || this.flags(e, dir) & F.BE_LIBERAL) return TcpVerdict.ACCEPT;
    this.cause = cause;
    return verdict;
  }

  /** tcp_in_window. */
  private inWindow(e: number, dir: number, index: number, meta: PacketMeta, state: number): number {
    const s = e * R.STRIDE + R.TCP + dir * W.PER_DIR;
    const r = e * R.STRIDE + R.TCP + (1 - dir) * W.PER_DIR;
    const win32 = this.win;
    const fl = meta.tcpFlags;
    const syn = (fl & TcpFlag.SYN) !== 0;
    const hasAck = (fl & TcpFlag.ACK) !== 0;
    let seq = meta.seq >>> 0;
    let ack = meta.ack >>> 0;
    let sack = ack;
    const winRaw = meta.window;
    let win = winRaw;
    let end = TcpTracker.end(meta);
    if (this.flags(e, 1 - dir) & F.SACK_PERM) sack = TcpTracker.sack(meta, sack);
    if (this.status(e) & CtStatus.SEQ_ADJUST) {
      // Take into account NAT sequence number mangling: the ack is in the space the other end was shown.
      const receiverOffset = this.seqadj.offset(e, 1 - dir, (ack - 1) >>> 0);
      ack = (ack - receiverOffset) >>> 0;
      sack = (sack - receiverOffset) >>> 0;
    }

    if (win32[s + W.MAXWIN] === 0) {
      if (syn) {
        this.initSender(e, dir, meta, end, win);
        if (!hasAck) return TcpVerdict.ACCEPT; // simultaneous open
      } else {
        win32[s + W.END] = end;
        const swin = (win << this.scale(e, dir)) >>> 0;
        win32[s + W.MAXWIN] = swin === 0 ? 1 : swin;
        win32[s + W.MAXEND] = (end + win32[s + W.MAXWIN]) >>> 0;
        if (win32[r + W.MAXWIN] === 0) {
          win32[r + W.END] = sack;
          win32[r + W.MAXEND] = sack;
        } else if (sack === (win32[r + W.END] + 1) >>> 0) {
          win32[r + W.END] = sack; // likely a reply to a keepalive
        }
      }
    } else if (syn && after(end, win32[s + W.END]) && (state === TcpState.SYN_SENT || state === TcpState.SYN_RECV)) {
      // RFC 793: a reinitialised TCP uses larger sequence numbers; re-init this direction.
      this.initSender(e, dir, meta, end, win);
      if (dir === CtDir.REPLY && !hasAck) return TcpVerdict.ACCEPT;
    }

    if (!hasAck) {
      ack = sack = win32[r + W.END];
    } else if ((fl & (TcpFlag.ACK | TcpFlag.RST)) === (TcpFlag.ACK | TcpFlag.RST) && ack === 0) {
      ack = sack = win32[r + W.END]; // broken stacks: RST|ACK with ack 0
    }
    if (fl & TcpFlag.RST && seq === 0 && state === TcpState.SYN_SENT) seq = end = win32[s + W.END];

    // From here to the end nothing else writes these words, so each is read once.
    const sEnd = win32[s + W.END];
    const sMaxend = win32[s + W.MAXEND];
    const sMaxwin = win32[s + W.MAXWIN];
    const rMaxwin = win32[r + W.MAXWIN];
    const rEnd = win32[r + W.END];
    const maxAckWin = sMaxwin > MAXACKWINCONST ? sMaxwin : MAXACKWINCONST;
    // I. seq <= sender.td_maxend
    if (!before(seq | 0, (sMaxend + 1) | 0)) {
      const overshot = (end - sMaxend + 1) >>> 0;
      const ackOk = after(sack | 0, (rEnd - maxAckWin - 1) | 0);
      const inRecvWin = rMaxwin !== 0 && after(end | 0, (sEnd - rMaxwin - 1) | 0);
      if (inRecvWin && ackOk && overshot <= rMaxwin && before(sack | 0, (rEnd + 1) | 0)) {
        win32[s + W.END] = end;
        this.setFlags(e, dir, this.flags(e, dir) | F.DATA_UNACKNOWLEDGED);
        return this.windowFail(e, dir, TcpVerdict.IGNORE, TcpCause.OVERSHOOT);
      }
      return this.windowFail(e, dir, TcpVerdict.INVALID, TcpCause.SEQ_OVER);
    }
    // III. sack <= receiver.td_end
    if (!before(sack | 0, (rEnd + 1) | 0)) return this.windowFail(e, dir, TcpVerdict.INVALID, TcpCause.ACK_OVER);
    // II. seq + len >= sender.td_end - receiver.td_maxwin
    if (rMaxwin !== 0 && !after(end | 0, (sEnd - rMaxwin - 1) | 0))
      return this.windowFail(e, dir, TcpVerdict.IGNORE, TcpCause.SEQ_UNDER);
    // IV. sack >= receiver.td_end - MAXACKWINDOW
    if (!after(sack | 0, (rEnd - maxAckWin - 1) | 0))
      return this.windowFail(e, dir, TcpVerdict.IGNORE, TcpCause.ACK_UNDER);

    // The accept path updates both directions' flags in one word (W.WFLAGS), read once and stored once.
    const wfAt = e * R.STRIDE + R.TCP + W.WFLAGS;
    let wfw = win32[wfAt];
    const sFlag = SCALE_BITS + dir * WF.DIR_SHIFT;
    if (!syn) win = (win << ((wfw >>> (dir * WF.DIR_SHIFT)) & SCALE_MASK)) >>> 0;
    const swin = (win + (sack - ack)) >>> 0;
    if (sMaxwin < swin) win32[s + W.MAXWIN] = swin;
    if (after(end | 0, sEnd | 0)) {
      win32[s + W.END] = end;
      wfw |= F.DATA_UNACKNOWLEDGED << sFlag;
    }
    if (hasAck) {
      if ((wfw & (F.MAXACK_SET << sFlag)) === 0) {
        win32[s + W.MAXACK] = ack;
        wfw |= F.MAXACK_SET << sFlag;
      } else if (after(ack | 0, win32[s + W.MAXACK] | 0)) win32[s + W.MAXACK] = ack;
    }
    if (rMaxwin !== 0 && after(end | 0, sMaxend | 0)) win32[r + W.MAXWIN] = (rMaxwin + end - sMaxend) >>> 0;
    if (after((sack + win) | 0, (win32[r + W.MAXEND] - 1) | 0)) {
      win32[r + W.MAXEND] = (sack + win + (win === 0 ? 1 : 0)) >>> 0;
    }
    if (ack === rEnd) wfw &= ~(F.DATA_UNACKNOWLEDGED << (SCALE_BITS + (1 - dir) * WF.DIR_SHIFT));
    win32[wfAt] = wfw;

    // Retransmission counting for tcp_max_retrans: last_seq/ack/end, and last_win, last_dir and the count packed in
    // one word (W.LAST_PACKED), read once.
    if (index === TcpIndex.ACK) {
      const l = e * R.STRIDE + R.TCP + W.LAST;
      const lpAt = e * R.STRIDE + R.TCP + W.LAST_PACKED;
      const lp = win32[lpAt];
      if (
        ((lp >>> LP.DIR_SHIFT) & 1) === dir &&
        win32[l] === seq &&
        win32[l + 1] === ack &&
        win32[l + 2] === end &&
        (lp & LP.WIN_MASK) === winRaw
      ) {
        if (lp >>> LP.RETRANS_SHIFT < LP.RETRANS_MAX) win32[lpAt] = lp + LP.RETRANS_ONE;
      } else {
        win32[l] = seq;
        win32[l + 1] = ack;
        win32[l + 2] = end;
        // Keeps last_index, last_flags and last_wscale; sets last_dir and last_win; zeroes the count.
        win32[lpAt] = (lp & LP.KEEP_ON_NEW_SEGMENT) | (dir << LP.DIR_SHIFT) | (winRaw & LP.WIN_MASK);
      }
    }
    return TcpVerdict.ACCEPT;
  }

  /** nf_tcp_handle_invalid: an out-of-window FIN/RST answering one from the other side shortens an ASSURED entry. */
  private handleInvalid(e: number, dir: number, index: number, now: number): void {
    if (!(this.status(e) & CtStatus.ASSURED)) return;
    if (index !== TcpIndex.RST && index !== TcpIndex.FIN) return;
    const li = this.lastIndex(e);
    if (this.lastDir(e) !== dir && (li === TcpIndex.FIN || li === TcpIndex.RST)) {
      const x = e * R.STRIDE + R.EXPIRES;
      const left = this.clock.decode(this.win[x]) - now;
      if (left < 120_000) return;
      if (left > this.timeouts.unack) this.win[x] = this.clock.encode(now + this.timeouts.unack);
    } else this.setLast(e, index, dir);
  }

  /**
   * nf_conntrack_tcp_packet after tcp_error/tcp_new: runs the transition table and the window check. On ACCEPT,
   * `timeout` holds the new timeout in ms (or -1: keep the old one, as for a retransmitted SYN) and ASSURED may
   * have been set in `status`.
   */
  /** What an established ACK's timeout is chosen from (packet()'s tail), for the WebAssembly fast path. */
  established(): { maxRetrans: number; establishedMs: number; retransMs: number; unackMs: number } {
    const t = this.timeouts;
    return {
      maxRetrans: this.opts.maxRetrans,
      establishedMs: t.byState[TcpState.ESTABLISHED],
      retransMs: t.retrans,
      unackMs: t.unack,
    };
  }

  packet(e: number, dir: number, meta: PacketMeta, now: number): number {
    this.timeout = -1;
    this.cause = TcpCause.NONE;
    const fl = meta.tcpFlags;
    let old = this.stateOf(e);
    const index = tcpIndex(fl);
    let ns = TRANSITIONS[(dir * 6 + index) * 10 + old];
    let skipWindow = false;
    const l = e * R.STRIDE + R.TCP + W.LAST;

    switch (ns) {
      case TcpState.SYN_SENT:
      case TcpState.IGNORE: {
        if (ns === TcpState.SYN_SENT) {
          if (old < TcpState.TIME_WAIT) break;
          // RFC 1122 §4.2.2.13: a SYN may reopen from TIME_WAIT; so may one after an abort (RST) or close.
          if (
            (this.flags(e, dir) | this.flags(e, 1 - dir)) & F.CLOSE_INIT ||
            (this.lastDir(e) === dir && this.lastIndex(e) === TcpIndex.RST)
          )
            return TcpVerdict.REPEAT;
        }
        const ld = this.lastDir(e);
        if (
          index === TcpIndex.SYNACK &&
          this.lastIndex(e) === TcpIndex.SYN &&
          ld !== dir &&
          meta.ack >>> 0 === this.win[l + 2]
        ) {
          // b) the SYN/ACK answers a SYN we ignored: both ends are in sync, we are not — resync from the annotation.
          old = TcpState.SYN_SENT;
          ns = TcpState.SYN_RECV;
          const w = e * R.STRIDE + R.TCP + ld * W.PER_DIR;
          this.win[w + W.END] = this.win[l + 2];
          this.win[w + W.MAXEND] = this.win[l + 2];
          this.win[w + W.MAXWIN] = this.lastWin(e) === 0 ? 1 : this.lastWin(e);
          this.setScale(e, ld, this.lastScaleRetrans(e) & SCALE_MASK);
          const lf = this.lastFlags(e) & ~L.CHALLENGE_ACK;
          this.setLastFlags(e, lf);
          this.setFlags(
            e,
            ld,
            (lf & L.WINDOW_SCALE ? F.WINDOW_SCALE : 0) |
              (lf & L.SACK_PERM ? F.SACK_PERM : 0) |
              (this.flags(e, ld) & F.BE_LIBERAL),
          );
          const o = e * R.STRIDE + R.TCP + dir * W.PER_DIR;
          this.win.fill(0, o, o + W.PER_DIR);
          this.setScale(e, dir, 0);
          this.setFlags(e, dir, this.flags(e, dir) & F.BE_LIBERAL);
          break;
        }
        this.setLast(e, index, dir);
        this.win[l] = meta.seq >>> 0;
        this.win[l + 2] = TcpTracker.end(meta);
        this.setLastWin(e, meta.window);
        if (index === TcpIndex.SYN && dir === CtDir.ORIGINAL) {
          // a) annotate the SYN's options, and the chance of an RFC 5961 challenge ACK in LAST_ACK.
          let lf = this.lastFlags(e) & L.SIMULTANEOUS_OPEN;
          let wscale = 0;
          const saved = this.wf(e, dir);
          this.options(e, dir, meta);
          const seen = this.flags(e, dir);
          if (seen & F.WINDOW_SCALE) {
            lf |= L.WINDOW_SCALE;
            wscale = this.scale(e, dir);
          }
          if (seen & F.SACK_PERM) lf |= L.SACK_PERM;
          this.setWf(e, dir, saved);
          if (old === TcpState.LAST_ACK) lf |= L.CHALLENGE_ACK;
          this.setLastFlags(e, lf);
          this.setLastScaleRetrans(e, (this.lastScaleRetrans(e) & ~SCALE_MASK) | wscale);
        }
        if (old === TcpState.SYN_SENT && index === TcpIndex.ACK && dir === CtDir.REPLY)
          this.win[l + 1] = meta.ack >>> 0;
        this.cause = TcpCause.IGNORED_STATE;
        return TcpVerdict.IGNORE;
      }
      case TcpState.INVALID:
        this.cause = TcpCause.INVALID_STATE;
        return TcpVerdict.INVALID;
      case TcpState.TIME_WAIT:
        if (
          old === TcpState.LAST_ACK &&
          index === TcpIndex.ACK &&
          this.lastDir(e) !== dir &&
          this.lastIndex(e) === TcpIndex.SYN &&
          this.lastFlags(e) & L.CHALLENGE_ACK
        ) {
          // RFC 5961 §4: this ACK answers a SYN, it does not acknowledge the last FIN.
          this.setLastFlags(e, this.lastFlags(e) & ~L.CHALLENGE_ACK);
          this.cause = TcpCause.CHALLENGE_ACK;
          return TcpVerdict.IGNORE;
        }
        break;
      case TcpState.SYN_SENT2:
        this.setLastFlags(e, this.lastFlags(e) | L.SIMULTANEOUS_OPEN);
        break;
      case TcpState.SYN_RECV:
        if (dir === CtDir.REPLY && index === TcpIndex.ACK && this.lastFlags(e) & L.SIMULTANEOUS_OPEN)
          ns = TcpState.ESTABLISHED;
        break;
      case TcpState.CLOSE: {
        if (index !== TcpIndex.RST) break;
        if (TcpTracker.canEarlyDrop(old)) {
          skipWindow = true;
          break;
        }
        const rst = this.closeByRst(e, dir, old, meta);
        if (rst === RstCheck.INVALID) {
          this.cause = TcpCause.INVALID_RST;
          return TcpVerdict.INVALID;
        }
        if (rst === RstCheck.KEEP_STATE) ns = old;
        else if (rst === RstCheck.SKIP_WINDOW) skipWindow = true;
        break;
      }
      default:
        break;
    }

    if (!skipWindow) {
      const res = this.inWindow(e, dir, index, meta, old);
      if (res === TcpVerdict.IGNORE) return res;
      if (res === TcpVerdict.INVALID) {
        this.handleInvalid(e, dir, index, now);
        return res;
      }
    }

    // setLast, setState and the CLOSE_INIT flag as one store per word; the timeout choice reads the stored words.
    const win32 = this.win;
    const lpAt = e * R.STRIDE + R.TCP + W.LAST_PACKED;
    const lp = (win32[lpAt] & ~LP.INDEX_DIR_MASK) | ((index | (dir << LP.INFO_DIR_BIT)) << LP.INFO_SHIFT);
    win32[lpAt] = lp;
    const wfAt = e * R.STRIDE + R.TCP + W.WFLAGS;
    let wfw = (win32[wfAt] & ~(WF.STATE_MASK << WF.STATE_SHIFT)) | (ns << WF.STATE_SHIFT);
    if (old !== ns && ns === TcpState.FIN_WAIT) wfw |= F.CLOSE_INIT << (SCALE_BITS + dir * WF.DIR_SHIFT);
    win32[wfAt] = wfw;

    const t = this.timeouts;
    const byState = t.byState[ns];
    let timeout: number;
    if (lp >>> LP.RETRANS_SHIFT >= this.opts.maxRetrans && byState > t.retrans) timeout = t.retrans;
    else if (index === TcpIndex.RST) timeout = t.byState[TcpState.CLOSE];
    else if (wfw & DATA_UNACKNOWLEDGED_EITHER && byState > t.unack) timeout = t.unack;
    else if ((lp & LP.WIN_MASK) === 0 && byState > t.retrans) timeout = t.retrans;
    else timeout = byState;

    const st = this.status(e);
    if (!(st & CtStatus.SEEN_REPLY)) {
      // "If only reply is a RST, we can consider ourselves not to have an established connection" (--RR).
      if (fl & TcpFlag.RST) return TcpVerdict.KILL;
      // A retransmitted SYN does not renew the timeout, or port reuse would keep the entry alive forever.
      if (index === TcpIndex.SYN && old === TcpState.SYN_SENT) return TcpVerdict.ACCEPT;
      if (ns === TcpState.ESTABLISHED && timeout > t.unack) timeout = t.unack;
    } else if (
      !(st & CtStatus.ASSURED) &&
      (old === TcpState.SYN_RECV || old === TcpState.ESTABLISHED) &&
      ns === TcpState.ESTABLISHED
    ) {
      this.win[e * R.STRIDE + R.STATUS] |= CtStatus.ASSURED;
    }
    this.timeout = timeout;
    return TcpVerdict.ACCEPT;
  }

  /** The RST checks of nf_conntrack_tcp_packet's TCP_CONNTRACK_CLOSE case (RFC 5961 §3.2 and aborted SYNs). */
  private closeByRst(e: number, dir: number, old: number, meta: PacketMeta): number {
    const l = e * R.STRIDE + R.TCP + W.LAST;
    const seq = meta.seq >>> 0;
    let keep = false;
    // td_maxack might be outdated if we let a SYN through earlier.
    if (this.flags(e, 1 - dir) & F.MAXACK_SET && this.lastIndex(e) !== TcpIndex.SYN) {
      const established = old === TcpState.ESTABLISHED && (this.status(e) & CtStatus.ASSURED) !== 0;
      if (seq === 0 && !established) return RstCheck.WINDOW;
      const maxack = this.win[e * R.STRIDE + R.TCP + (1 - dir) * W.PER_DIR + W.MAXACK];
      if (before(seq, maxack) && !this.opts.ignoreInvalidRst) return RstCheck.INVALID;
      if (!established || seq === maxack) return RstCheck.WINDOW;
      // A RST at the end of a data train is exact too.
      if (this.lastIndex(e) === TcpIndex.ACK && this.lastDir(e) === dir && seq === this.win[l + 2])
        return RstCheck.WINDOW;
      keep = true;
    }
    const li = this.lastIndex(e);
    if (
      ((this.status(e) & CtStatus.SEEN_REPLY && li === TcpIndex.SYN) ||
        (!(this.status(e) & CtStatus.ASSURED) && li === TcpIndex.ACK)) &&
      meta.ack >>> 0 === this.win[l + 2]
    )
      return RstCheck.SKIP_WINDOW; // RST answering a SYN or half-open ACK we let through
    if (old === TcpState.SYN_SENT && li === TcpIndex.ACK && this.lastDir(e) === CtDir.REPLY && seq === this.win[l + 1])
      return RstCheck.SKIP_WINDOW; // reset answering a challenge ACK
    return keep ? RstCheck.KEEP_STATE : RstCheck.WINDOW;
  }

  /** tcp_can_early_drop: closing states may go first under pressure. */
  static canEarlyDrop(state: number): boolean {
    return (
      state === TcpState.FIN_WAIT ||
      state === TcpState.LAST_ACK ||
      state === TcpState.TIME_WAIT ||
      state === TcpState.CLOSE ||
      state === TcpState.CLOSE_WAIT
    );
  }
}
