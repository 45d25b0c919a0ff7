// The compiled form of every set the ruleset tests against (anonymous sets, named sets, verdict maps, single
// values): elements are boxes of inclusive intervals over a key of 32-bit words, one interval per concatenation
// part, like nft's pipapo sets. A one-word key (IPv4 address, port, mark, interface index) is kept as sorted,
// merged intervals and searched in O(log n); wider or concatenated keys are scanned in order. Lookups allocate
// nothing: the caller loads the packet's key into a preallocated Uint32Array.

/** Part widths in 32-bit words: 1 for integers and IPv4 addresses, 4 for IPv6 addresses. */
export type PartWidth = 1 | 4;

export interface KeyBox {
  /** One lo and one hi per word of the key (all parts laid end to end). */
  readonly lo: readonly number[];
  readonly hi: readonly number[];
  /** The map data attached to this element (a verdict index); 0 for plain sets. */
  readonly data: number;
}

export type KeySetBuild =
  { readonly ok: true; readonly set: KeySet } | { readonly ok: false; readonly conflict: string };

export class KeySet {
  private constructor(
    readonly widths: readonly PartWidth[],
    readonly size: number,
    private readonly lo: Uint32Array,
    private readonly hi: Uint32Array,
    private readonly data: Int32Array,
    private readonly sorted1: boolean,
  ) {}

  /** Total key width in words. */
  get width(): number {
    return this.lo.length / Math.max(1, this.size);
  }

  /** Builds the set; interval keys of one word may not overlap with different data (nft refuses those too). */
  static build(widths: readonly PartWidth[], boxes: readonly KeyBox[]): KeySetBuild {
    const w = widths.reduce<number>((a, b) => a + b, 0);
    if (widths.length === 1 && w === 1) return KeySet.buildSorted(widths, boxes);
    const lo = new Uint32Array(boxes.length * w);
    const hi = new Uint32Array(boxes.length * w);
    const data = new Int32Array(boxes.length);
    boxes.forEach((b, i) => {
      for (let k = 0; k < w; k++) {
        lo[i * w + k] = b.lo[k];
        hi[i * w + k] = b.hi[k];
      }
      data[i] = b.data;
    });
    return { ok: true, set: new KeySet(widths, boxes.length, lo, hi, data, false) };
  }

  private static buildSorted(widths: readonly PartWidth[], boxes: readonly KeyBox[]): KeySetBuild {
    const order = boxes
      .map((b) => ({ lo: b.lo[0] >>> 0, hi: b.hi[0] >>> 0, data: b.data }))
      .sort((a, b) => a.lo - b.lo);
    const merged: { lo: number; hi: number; data: number }[] = [];
    for (const b of order) {
      const last = merged.length > 0 ? merged[merged.length - 1] : undefined;
      if (last !== undefined && b.lo <= last.hi + 1) {
        if (b.data !== last.data) {
          if (b.lo <= last.hi)
            return { ok: false, conflict: `elements ${last.lo}-${last.hi} and ${b.lo}-${b.hi} overlap` };
          merged.push(b);
          continue;
        }
        last.hi = Math.max(last.hi, b.hi);
      } else merged.push({ ...b });
    }
    const lo = Uint32Array.from(merged.map((m) => m.lo));
    const hi = Uint32Array.from(merged.map((m) => m.hi));
    const data = Int32Array.from(merged.map((m) => m.data));
    return { ok: true, set: new KeySet(widths, merged.length, lo, hi, data, true) };
  }

  /** The data of the element containing a one-word key, or -1. */
  find1(x: number): number {
    if (this.sorted1) {
      let a = 0;
      let b = this.size - 1;
      while (a <= b) {
        const m = (a + b) >>> 1;
        if (this.lo[m] > x) b = m - 1;
        else if (this.hi[m] < x) a = m + 1;
        else return this.data[m];
      }
      return -1;
    }
    for (let i = 0; i < this.size; i++) if (this.lo[i] <= x && x <= this.hi[i]) return this.data[i];
    return -1;
  }

  /** The data of the first element whose box contains `key`, or -1. */
  find(key: Uint32Array): number {
    if (this.sorted1) return this.find1(key[0]);
    const widths = this.widths;
    const w = key.length;
    for (let i = 0; i < this.size; i++) {
      const base = i * w;
      let at = 0;
      let inside = true;
      for (let p = 0; p < widths.length && inside; p++) {
        const pw = widths[p];
        inside =
          compareWords(key, at, this.lo, base + at, pw) >= 0 && compareWords(key, at, this.hi, base + at, pw) <= 0;
        at += pw;
      }
      if (inside) return this.data[i];
    }
    return -1;
  }
}

/** Lexicographic comparison of `n` unsigned words. */
function compareWords(a: Uint32Array, ai: number, b: Uint32Array, bi: number, n: number): number {
  for (let k = 0; k < n; k++) {
    const x = a[ai + k];
    const y = b[bi + k];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
