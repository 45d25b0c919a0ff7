// The packed conntrack entry (PERFORMANCE.md W1): one Uint32Array stride per entry holds what nf_conn and its
// struct ip_ct_tcp hold for the datapath, so an established packet reads one record (two cache lines) after the
// hash slot, instead of one cache line in each of ten parallel arrays.

/**
 * Word offsets inside an entry's record. A tuple is three words: source key, destination key, sport << 16 | dport
 * (IPv4 keys are the addresses; IPv6 keys are 32-bit folds, the full words sit in a side table). STATUS holds the
 * CtStatus bits (low 16), the L4 protocol (bits 16–23) and the entry's own bits (24–31, see conntrack.ts `I`).
 * PLANS is read by every established packet with the rest of the record, instead of a table of its own.
 * TCP is where struct ip_ct_tcp starts (13 words, tcp-tracker.ts `W`); UDP keeps its stream_ts there too, as the
 * kernel's union nf_conntrack_proto does.
 */
export const R = {
  TUPLE: 0,
  TUPLE_WORDS: 3,
  SRC: 0,
  DST: 1,
  PORTS: 2,
  STATUS: 6,
  /** Two 16-bit numbers the node's datapath keeps per direction (its flow cache's plans; 0 = none); on a free
   *  entry, the free list's link. The entry's mark (rarely set) lives in a side table. */
  PLANS: 7,
  EXPIRES: 8,
  TCP: 9,
  TCP_WORDS: 13,
  STRIDE: 22,
} as const;

export const STATUS_MASK = 0xffff;
export const PROTO_SHIFT = 16;
export const INFO_SHIFT = 24;

/** The largest expiry offset a u32 holds; a later expiry (a custom timeout above ~49 days) is clamped to it. */
const EXPIRY_MAX = 0xffffffff;
/** Rebase once `now` is this far (ms) past the epoch, so every live expiry stays representable. */
const REBASE_AFTER = 0x80000000;

/**
 * Expiry times as u32 milliseconds of virtual time after a moving epoch (instead of a Float64 per entry). Integer
 * times are exact; a fractional time is rounded up, so an entry never expires before its timeout.
 */
export class ExpiryClock {
  epoch = 0;

  encode(ms: number): number {
    const d = Math.ceil(ms - this.epoch);
    return d <= 0 ? 0 : d >= EXPIRY_MAX ? EXPIRY_MAX : d;
  }

  decode(stored: number): number {
    return this.epoch + stored;
  }

  /** Has `now` moved far enough from the epoch that `rebase` must run before the next encode? */
  due(now: number): boolean {
    return now - this.epoch >= REBASE_AFTER;
  }

  /** Moves the epoch to `now` (floored), shifting every stored expiry in `rec` (those already past become 0). */
  rebase(now: number, rec: Uint32Array, entries: number): void {
    const shift = Math.floor(now) - this.epoch;
    if (shift <= 0) return;
    for (let i = R.EXPIRES; i < entries * R.STRIDE; i += R.STRIDE) {
      const v = rec[i] - shift;
      rec[i] = v > 0 ? v : 0;
    }
    this.epoch += shift;
  }
}
