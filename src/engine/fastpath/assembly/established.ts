// AssemblyScript: the established-packet fast path of one node (src/engine/fastpath/fast-path.ts loads it). For a TCP
// segment in the node's receive ring it makes the checks Datapath.receiveCachedIpv4 makes (Ipv4Segment.read:
// ip_rcv_core, tcp_error and the checksums), finds the conntrack entry in the node's table (Conntrack.findIpv4, the
// same hash and index), and — only for the common case, an ASSURED ESTABLISHED connection without helper or sequence
// adjustment whose flow direction has a plan from this interface, an ACK segment without options inside the window
// — commits what the JavaScript path would: TcpTracker.inWindow's accept path and packet()'s tail, the expiry,
// both NAT ends and the TTL with their RFC 1624 checksum updates. Anything else returns -1 before writing a byte,
// and the JavaScript path handles the packet from the start. The two are held equal by
// src/engine/datapath-flow-cache.test.ts and, against Linux, by src/lab/differential/flow-cache.test.ts.
//
// Layouts mirror src/engine/conntrack/entry-layout.ts (R) and tcp-tracker.ts (W, WF, LP, F); constants are named
// after them. Compiled by scripts/build-fastpath.ts into fastpath/established-wasm.ts.

// R: word offsets in an entry's record (stride 22 words).
const STRIDE: u32 = 22 * 4;
const RECORD_MIDDLE: u32 = 11 * 4;
const R_STATUS: u32 = 6 * 4;
const R_PLANS: u32 = 7 * 4;
const R_EXPIRES: u32 = 8 * 4;
const R_TCP: u32 = 9 * 4;
// W: word offsets inside the TCP words.
const W_END: u32 = 0;
const W_MAXEND: u32 = 4;
const W_MAXWIN: u32 = 8;
const W_MAXACK: u32 = 12;
const W_PER_DIR: u32 = 16;
const W_WFLAGS: u32 = 32;
const W_LAST: u32 = 36;
const W_LAST_PACKED: u32 = 48;
// WF: the flags word: per direction td_scale | flags << 4 (10 bits, dir 1 at bit 16), state at bit 10.
const WF_DIR_SHIFT: u32 = 16;
const WF_STATE_SHIFT: u32 = 10;
const WF_STATE_MASK: u32 = 0x3f;
const SCALE_BITS: u32 = 4;
const SCALE_MASK: u32 = 0xf;
const F_DATA_UNACKNOWLEDGED: u32 = 0x10;
const F_MAXACK_SET: u32 = 0x20;
const DATA_UNACKNOWLEDGED_EITHER: u32 =
  (F_DATA_UNACKNOWLEDGED << SCALE_BITS) | (F_DATA_UNACKNOWLEDGED << (SCALE_BITS + WF_DIR_SHIFT));
// LP: the packed last_* word.
const LP_WIN_MASK: u32 = 0xffff;
const LP_INFO_SHIFT: u32 = 16;
const LP_INFO_DIR_BIT: u32 = 3;
const LP_DIR_SHIFT: u32 = 19;
const LP_INDEX_DIR_MASK: u32 = 0x000f0000;
const LP_KEEP_ON_NEW_SEGMENT: u32 = 0x0ff70000;
const LP_RETRANS_SHIFT: u32 = 28;
const LP_RETRANS_MAX: u32 = 15;
const LP_RETRANS_ONE: u32 = 1 << 28;
const MAXACKWINCONST: u32 = 66000;
const TCP_ESTABLISHED: u32 = 3;
const TCP_INDEX_ACK: u32 = 3;
// CtStatus and the entry's own bits (conntrack.ts I).
const ST_SEEN_REPLY: u32 = 1 << 1;
const ST_ASSURED: u32 = 1 << 2;
const ST_CONFIRMED: u32 = 1 << 3;
const ST_SRC_NAT: u32 = 1 << 4;
const ST_DST_NAT: u32 = 1 << 5;
const ST_DYING: u32 = 1 << 9;
const ST_SEQ_ADJUST: u32 = 1 << 11;
const I_V6: u32 = 1 << 24;
const I_HELPER: u32 = 0xf << 28;
const PROTO_SHIFT: u32 = 16;
const PROTO_TCP: u32 = 6;
const EXPIRY_MAX: f64 = 4294967295;
// TCP flags: an ACK with only PSH, URG, ECE or CWR beside it (all on tcp_error's whitelist; get_conntrack_index ACK).
const TCP_ACK: u32 = 0x10;
const TCP_ACK_ONLY_MASK: u32 = ~(0x08 | 0x20 | 0x40 | 0x80) & 0xff;
const EMPTY: i32 = -1;

// The node's table and settings, written once by init().
let recBase: usize = 0;
let slotsBase: usize = 0;
let planIifBase: usize = 0;
let outBase: usize = 0;
let slotCount: u32 = 0;
let homeScale: f64 = 0;
let nodeBits: u32 = 0;
let nodeMask: u32 = 0;
let tagMask: u32 = 0;
let seed: u32 = 0;
let maxRetrans: u32 = 0;
let establishedMs: f64 = 0;
let retransMs: f64 = 0;
let unackMs: f64 = 0;

export function init(
  rec: usize, slots: usize, planIif: usize, out: usize, slotsLen: u32, scale: f64, bits: u32, mask: u32,
  tags: u32, hashSeed: u32, retransLimit: u32, established: f64, retrans: f64, unack: f64,
): void {
  recBase = rec;
  slotsBase = slots;
  planIifBase = planIif;
  outBase = out;
  slotCount = slotsLen;
  homeScale = scale;
  nodeBits = bits;
  nodeMask = mask;
  tagMask = tags;
  seed = hashSeed;
  maxRetrans = retransLimit;
  establishedMs = established;
  retransMs = retrans;
  unackMs = unack;
}

@inline function mix(h: u32, w: u32): u32 {
  h = (h ^ w) * 0xcc9e2d51;
  h = rotl<u32>(h, 15);
  return (h * 0x1b873593) ^ (h >>> 13);
}
@inline function fold(s: u32): u32 {
  s = (s & 0xffff) + (s >>> 16);
  return (s & 0xffff) + (s >>> 16);
}
@inline function before(a: u32, b: u32): bool { return <i32>(a - b) < 0; }
@inline function after(a: u32, b: u32): bool { return <i32>(b - a) < 0; }
@inline function be32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
@inline function be16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
@inline function put32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }
@inline function put16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }

/** Conntrack's hash of an IPv4 TCP tuple (conntrack.ts hash with family 4). */
@inline function tupleHash(saddr: u32, daddr: u32, ports: u32): u32 {
  let h = mix(seed, saddr);
  h = mix(h, daddr);
  h = mix(h, ports);
  h = mix(h, PROTO_TCP | (4 << 8));
  return h ^ (h >>> 16);
}

/** The home slot of hash `h` (conntrack.ts home). */
@inline function home(h: u32): u32 {
  return <u32>Math.floor(<f64>(h >>> 11) * homeScale);
}

/**
 * Reads ahead a burst of `count` packets at ring offsets `offsets[]` (i32): each one's home slot, then the record
 * the slot names, so that the misses of the whole burst overlap before the packets are processed one by one.
 * Reads only; the result is meaningless.
 */
export function readAhead(offsets: usize, count: i32): u32 {
  let touched: u32 = 0;
  for (let k = 0; k < count; k++) {
    const l3 = <usize>load<i32>(offsets + (<usize>k << 2));
    const h = tupleHash(be32(l3 + 12), be32(l3 + 16), be32(l3 + 20));
    store<i32>(outBase + 16 + (<usize>k << 2), load<i32>(slotsBase + (<usize>home(h) << 2)));
  }
  for (let k = 0; k < count; k++) {
    const s = load<i32>(outBase + 16 + (<usize>k << 2));
    if (s == EMPTY) continue;
    const r = recBase + <usize>((<u32>s & nodeMask) >> 1) * STRIDE;
    // An 88-byte record spans two or three cache lines: its first, middle and last words touch them all.
    touched += load<u32>(r) + load<u32>(r, RECORD_MIDDLE) + load<u32>(r, STRIDE - 4);
  }
  return touched;
}

/**
 * The segment at `l3` (`length` bytes available), arrived on `iif` at `now` (ms; expiries are stored as ms after
 * `epoch`, ExpiryClock): the node (entry * 2 + direction) it was forwarded as, its IP total length and post-NAT
 * destination written to the out area; or -1 with nothing written. `verify`: the transport checksum is checked
 * (nf_conntrack_checksum).
 */
export function established(l3: usize, length: u32, iif: i32, now: f64, epoch: f64, verify: bool): i32 {
  if (length < 28) return -1;
  // Ipv4Segment.read: ip_rcv_core.
  const w0 = be32(l3);
  if ((w0 >>> 24) != 0x45) return -1;
  const total = w0 & 0xffff;
  if (total > length || total < 28) return -1;
  const w1 = be32(l3 + 4);
  if ((w1 & 0x3fff) != 0) return -1;
  const w2 = be32(l3 + 8);
  const ttl = w2 >>> 24;
  if (ttl <= 1 || ((w2 >>> 16) & 0xff) != PROTO_TCP) return -1;
  const saddr = be32(l3 + 12);
  const daddr = be32(l3 + 16);
  const headerSum = (w0 >>> 16) + (w0 & 0xffff) + (w1 >>> 16) + (w1 & 0xffff) + (w2 >>> 16) + (w2 & 0xffff) +
    (saddr >>> 16) + (saddr & 0xffff) + (daddr >>> 16) + (daddr & 0xffff);
  if (fold(headerSum) != 0xffff) return -1;
  // tcp_error, for a segment without options.
  const l4 = l3 + 20;
  const avail = total - 20;
  if (avail < 20) return -1;
  const ports = be32(l4);
  const seq = be32(l4 + 4);
  const ack = be32(l4 + 8);
  const w3 = be32(l4 + 12);
  const flags = (w3 >>> 16) & 0xff;
  if ((w3 >>> 28) != 5 || (flags & TCP_ACK_ONLY_MASK) != TCP_ACK) return -1;
  const winRaw = w3 & 0xffff;
  const payload = avail - 20;
  if (verify) {
    let hi: u32 = (saddr >>> 16) + (daddr >>> 16) + PROTO_TCP + avail;
    let lo: u32 = (saddr & 0xffff) + (daddr & 0xffff);
    const end = l3 + total;
    let p = l4;
    for (; p + 4 <= end; p += 4) {
      const w = be32(p);
      hi += w >>> 16;
      lo += w & 0xffff;
    }
    if (p + 2 <= end) {
      hi += be16(p);
      p += 2;
    }
    if (p < end) hi += <u32>load<u8>(p) << 8;
    if (fold(hi + lo) != 0xffff) return -1;
  }
  // Conntrack.findIpv4.
  const h = tupleHash(saddr, daddr, ports);
  const tag = h & tagMask;
  let i = home(h);
  let node: u32 = 0xffffffff;
  for (;;) {
    const s = load<i32>(slotsBase + (<usize>i << 2));
    if (s == EMPTY) return -1;
    if (<u32>s >>> nodeBits == tag) {
      const n = <u32>s & nodeMask;
      const r = recBase + <usize>(n >> 1) * STRIDE;
      const t = r + <usize>(n & 1) * 12;
      const st = load<u32>(r, R_STATUS);
      if (load<u32>(t) == saddr && load<u32>(t, 4) == daddr && load<u32>(t, 8) == ports &&
        ((st >>> PROTO_SHIFT) & 0xff) == PROTO_TCP && (st & I_V6) == 0) {
        node = n;
        break;
      }
    }
    i = i + 1 == slotCount ? 0 : i + 1;
  }
  const r = recBase + <usize>(node >> 1) * STRIDE;
  if (!(epoch + <f64>load<u32>(r, R_EXPIRES) > now)) return -1;
  const dir = node & 1;
  const status = load<u32>(r, R_STATUS);
  const needed = ST_CONFIRMED | ST_SEEN_REPLY | ST_ASSURED;
  if ((status & needed) != needed || (status & (ST_DYING | ST_SEQ_ADJUST | I_HELPER)) != 0) return -1;
  // The flow direction's plan, kept for this interface.
  const plan = (load<u32>(r, R_PLANS) >>> (dir * 16)) & 0xffff;
  if (plan == 0 || load<i32>(planIifBase + (<usize>plan << 2)) != iif) return -1;
  // TcpTracker.packet: ESTABLISHED + ACK stays ESTABLISHED; inWindow's accept path.
  const tcp = r + R_TCP;
  const wfw0 = load<u32>(tcp, W_WFLAGS);
  if (((wfw0 >>> WF_STATE_SHIFT) & WF_STATE_MASK) != TCP_ESTABLISHED) return -1;
  const sp = tcp + dir * W_PER_DIR;
  const rp = tcp + (1 - dir) * W_PER_DIR;
  const sMaxwin = load<u32>(sp, W_MAXWIN);
  if (sMaxwin == 0) return -1;
  const end = seq + payload;
  const sack = ack;
  const sEnd = load<u32>(sp, W_END);
  const sMaxend = load<u32>(sp, W_MAXEND);
  const rMaxwin = load<u32>(rp, W_MAXWIN);
  const rEnd = load<u32>(rp, W_END);
  const maxAckWin: u32 = sMaxwin > MAXACKWINCONST ? sMaxwin : MAXACKWINCONST;
  if (!before(seq, sMaxend + 1)) return -1;
  if (!before(sack, rEnd + 1)) return -1;
  if (rMaxwin != 0 && !after(end, sEnd - rMaxwin - 1)) return -1;
  if (!after(sack, rEnd - maxAckWin - 1)) return -1;

  // Committed from here.
  let wfw = wfw0;
  const sFlag = SCALE_BITS + dir * WF_DIR_SHIFT;
  const win = winRaw << ((wfw >>> (dir * WF_DIR_SHIFT)) & SCALE_MASK);
  const swin = win + (sack - ack);
  if (sMaxwin < swin) store<u32>(sp, swin, W_MAXWIN);
  if (after(end, sEnd)) {
    store<u32>(sp, end, W_END);
    wfw |= F_DATA_UNACKNOWLEDGED << sFlag;
  }
  if ((wfw & (F_MAXACK_SET << sFlag)) == 0) {
    store<u32>(sp, ack, W_MAXACK);
    wfw |= F_MAXACK_SET << sFlag;
  } else if (after(ack, load<u32>(sp, W_MAXACK))) store<u32>(sp, ack, W_MAXACK);
  if (rMaxwin != 0 && after(end, sMaxend)) store<u32>(rp, rMaxwin + end - sMaxend, W_MAXWIN);
  if (after(sack + win, load<u32>(rp, W_MAXEND) - 1)) store<u32>(rp, sack + win + (win == 0 ? 1 : 0), W_MAXEND);
  if (ack == rEnd) wfw &= ~(F_DATA_UNACKNOWLEDGED << (SCALE_BITS + (1 - dir) * WF_DIR_SHIFT));
  // Retransmission counting.
  const l = tcp + W_LAST;
  let lp = load<u32>(tcp, W_LAST_PACKED);
  if (((lp >>> LP_DIR_SHIFT) & 1) == dir && load<u32>(l) == seq && load<u32>(l, 4) == ack && load<u32>(l, 8) == end &&
    (lp & LP_WIN_MASK) == winRaw) {
    if (lp >>> LP_RETRANS_SHIFT < LP_RETRANS_MAX) lp += LP_RETRANS_ONE;
  } else {
    store<u32>(l, seq);
    store<u32>(l, ack, 4);
    store<u32>(l, end, 8);
    lp = (lp & LP_KEEP_ON_NEW_SEGMENT) | (dir << LP_DIR_SHIFT) | (winRaw & LP_WIN_MASK);
  }
  // packet()'s tail: last index and direction, the state (unchanged), the timeout.
  lp = (lp & ~LP_INDEX_DIR_MASK) | ((TCP_INDEX_ACK | (dir << LP_INFO_DIR_BIT)) << LP_INFO_SHIFT);
  store<u32>(tcp, lp, W_LAST_PACKED);
  store<u32>(tcp, wfw, W_WFLAGS);
  let timeout = establishedMs;
  if (lp >>> LP_RETRANS_SHIFT >= maxRetrans && establishedMs > retransMs) timeout = retransMs;
  else if ((wfw & DATA_UNACKNOWLEDGED_EITHER) != 0 && establishedMs > unackMs) timeout = unackMs;
  else if ((lp & LP_WIN_MASK) == 0 && establishedMs > retransMs) timeout = retransMs;
  // ExpiryClock.encode(now + timeout).
  const d = Math.ceil(now + timeout - epoch);
  store<u32>(r, d <= 0 ? 0 : d >= EXPIRY_MAX ? 0xffffffff : <u32>d, R_EXPIRES);

  // Both NAT ends at once, from the other direction's tuple (nf_nat_packet), then the TTL.
  const srcBit = dir == 1 ? ST_DST_NAT : ST_SRC_NAT;
  const dstBit = dir == 1 ? ST_SRC_NAT : ST_DST_NAT;
  let ndaddr = daddr;
  if ((status & (srcBit | dstBit)) != 0) {
    const other = r + <usize>(1 - dir) * 12;
    const oports = load<u32>(other, 8);
    const nsaddr = (status & srcBit) != 0 ? load<u32>(other, 4) : saddr;
    const sport = ports >>> 16;
    const dport = ports & 0xffff;
    const nsport = (status & srcBit) != 0 ? oports & 0xffff : sport;
    ndaddr = (status & dstBit) != 0 ? load<u32>(other) : daddr;
    const ndport = (status & dstBit) != 0 ? oports >>> 16 : dport;
    let ipDelta: u32 = 0;
    if (nsaddr != saddr) {
      put32(l3 + 12, nsaddr);
      ipDelta += (~saddr & 0xffff) + (~(saddr >>> 16) & 0xffff) + (nsaddr & 0xffff) + (nsaddr >>> 16);
    }
    if (ndaddr != daddr) {
      put32(l3 + 16, ndaddr);
      ipDelta += (~daddr & 0xffff) + (~(daddr >>> 16) & 0xffff) + (ndaddr & 0xffff) + (ndaddr >>> 16);
    }
    if (ipDelta != 0) put16(l3 + 10, ~fold((~be16(l3 + 10) & 0xffff) + ipDelta) & 0xffff);
    let l4Delta = ipDelta;
    if (sport != nsport || dport != ndport) {
      put32(l4, (nsport << 16) | ndport);
      if (sport != nsport) l4Delta += (~sport & 0xffff) + nsport;
      if (dport != ndport) l4Delta += (~dport & 0xffff) + ndport;
    }
    if (nsaddr != saddr || ndaddr != daddr || sport != nsport || dport != ndport)
      put16(l4 + 16, ~fold((~be16(l4 + 16) & 0xffff) + l4Delta) & 0xffff);
  }
  // ip_decrease_ttl.
  const old = be16(l3 + 8);
  const next = old - 0x100;
  put16(l3 + 8, next);
  put16(l3 + 10, ~fold((~be16(l3 + 10) & 0xffff) + (~old & 0xffff) + next) & 0xffff);
  store<u32>(outBase, total);
  store<u32>(outBase, ndaddr, 4);
  return <i32>node;
}

/**
 * `established` for packets `from` to `count` - 1 of a burst (ring offsets, lengths and interfaces as i32 arrays):
 * each one's node, IP total length and post-NAT destination go to `results` (three words a packet), until a packet
 * is not the fast path's case. Returns its index (nothing of it written), or `count`.
 */
export function burst(
  offsets: usize, lengths: usize, iifs: usize, from: i32, count: i32, now: f64, epoch: f64, verify: bool,
  results: usize,
): i32 {
  for (let k = from; k < count; k++) {
    const at = <usize>k << 2;
    const node = established(<usize>load<i32>(offsets + at), load<u32>(lengths + at), load<i32>(iifs + at), now, epoch,
      verify);
    if (node < 0) return k;
    const out = results + <usize>k * 12;
    store<i32>(out, node);
    store<u32>(out, load<u32>(outBase), 4);
    store<u32>(out, load<u32>(outBase, 4), 8);
  }
  return count;
}
