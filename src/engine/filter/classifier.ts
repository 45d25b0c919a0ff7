// A compiled first-match classifier for the common large-ruleset shape: rules made only of IPv4 5-tuple ranges
// (source/destination prefix, source/destination port range, protocol or any). It builds a HyperSplit-style
// decision tree (Qi et al., "Packet Classification Algorithms: From Theory to Practice", INFOCOM 2009): each node
// splits one field at one rule endpoint, chosen to balance the rules falling on either side; a node stops
// splitting when its first (highest-priority) rule covers the node's whole region — then that rule is the
// answer for every packet reaching it — or when few rules remain, which are scanned in priority order. So the
// answer is exactly the linear scan's first match. Everything lives in typed arrays; a lookup allocates nothing.

/** Field order of a rule box and a lookup key. */
export const Dim = { SRC: 0, DST: 1, SPORT: 2, DPORT: 3, PROTO: 4 } as const;
export const DIMS = 5;
const FIELD_MAX = [0xffffffff, 0xffffffff, 0xffff, 0xffff, 0xff] as const;

/** An inclusive box per field; protocol any is 0..255. */
export interface FiveTupleRule {
  readonly srcLo: number;
  readonly srcHi: number;
  readonly dstLo: number;
  readonly dstHi: number;
  readonly sportLo: number;
  readonly sportHi: number;
  readonly dportLo: number;
  readonly dportHi: number;
  readonly protoLo: number;
  readonly protoHi: number;
}

/** Inclusive address range of an IPv4 prefix. */
export function prefixRange(addr: number, len: number): [number, number] {
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return [(addr & mask) >>> 0, (addr | ~mask) >>> 0];
}

/** Rules packed as 10 words each (lo, hi per field, in Dim order). */
export function packRules(rules: readonly FiveTupleRule[]): Uint32Array {
  const out = new Uint32Array(rules.length * DIMS * 2);
  rules.forEach((r, i) => {
    out.set(
      [r.srcLo, r.srcHi, r.dstLo, r.dstHi, r.sportLo, r.sportHi, r.dportLo, r.dportHi, r.protoLo, r.protoHi],
      i * 10,
    );
  });
  return out;
}

/** The reference: index of the first rule containing the packet, or -1. */
export function linearFirstMatch(
  boxes: Uint32Array,
  src: number,
  dst: number,
  sport: number,
  dport: number,
  proto: number,
): number {
  const n = boxes.length / 10;
  for (let i = 0; i < n; i++) {
    const b = i * 10;
    if (
      src >= boxes[b] &&
      src <= boxes[b + 1] &&
      dst >= boxes[b + 2] &&
      dst <= boxes[b + 3] &&
      sport >= boxes[b + 4] &&
      sport <= boxes[b + 5] &&
      dport >= boxes[b + 6] &&
      dport <= boxes[b + 7] &&
      proto >= boxes[b + 8] &&
      proto <= boxes[b + 9]
    )
      return i;
  }
  return -1;
}

export interface ClassifierOptions {
  /** Stop splitting at this many rules and scan them (HyperSplit's binth). */
  readonly leafSize?: number;
  /** Safety bound on tree depth; a node at this depth becomes a scanned leaf. */
  readonly maxDepth?: number;
}

/** Node words: [dimOrLeafTag, left/leafStart, right/leafCount]; split values are kept in a Float64Array. */
const LEAF = -1;
/** A field is "wide" for tree separation when its range spans at least this much (/8 addresses, half the ports). */
const LARGE_SPAN = [0x00ffffff, 0x00ffffff, 0x1_0000, 0x7fff, 0x100] as const;

export class FiveTupleClassifier {
  private constructor(
    private readonly boxes: Uint32Array,
    private readonly nodes: Int32Array,
    private readonly splits: Float64Array,
    private readonly leafRules: Int32Array,
    /** Root node of each tree, and the first rule each tree holds (trees are in that order). */
    private readonly roots: Int32Array,
    private readonly firstRule: Int32Array,
    readonly ruleCount: number,
    readonly nodeCount: number,
    readonly depth: number,
  ) {}

  /** Bytes held by the structure (rule boxes, nodes, split values, leaf lists). */
  get bytes(): number {
    return (
      this.boxes.byteLength +
      this.nodes.byteLength +
      this.splits.byteLength +
      this.leafRules.byteLength +
      this.roots.byteLength +
      this.firstRule.byteLength
    );
  }

  get treeCount(): number {
    return this.roots.length;
  }

  static build(rules: readonly FiveTupleRule[], options: ClassifierOptions = {}): FiveTupleClassifier {
    return FiveTupleClassifier.fromBoxes(packRules(rules), options);
  }

  static fromBoxes(boxes: Uint32Array, options: ClassifierOptions = {}): FiveTupleClassifier {
    const leafSize = options.leafSize ?? 8;
    const maxDepth = options.maxDepth ?? 64;
    const n = boxes.length / 10;
    const nodes: number[] = [];
    const splits: number[] = [];
    const leaves: number[] = [];
    let deepest = 0;
    const region = new Float64Array(DIMS * 2);
    for (let d = 0; d < DIMS; d++) region[2 * d + 1] = FIELD_MAX[d];

    const covers = (r: number, reg: Float64Array): boolean => {
      const b = r * 10;
      for (let d = 0; d < DIMS; d++)
        if (boxes[b + 2 * d] > reg[2 * d] || boxes[b + 2 * d + 1] < reg[2 * d + 1]) return false;
      return true;
    };

    const makeLeaf = (at: number, list: Int32Array, count: number): void => {
      nodes[at * 3] = LEAF;
      nodes[at * 3 + 1] = leaves.length;
      nodes[at * 3 + 2] = count;
      for (let i = 0; i < count; i++) leaves.push(list[i]);
    };

    // Scratch for endpoint sweeps, sized once.
    const los = new Float64Array(n);
    const his = new Float64Array(n);

    const grow = (input: Int32Array, reg: Float64Array, depth: number): number => {
      let list = input;
      const at = nodes.length / 3;
      nodes.push(0, 0, 0);
      splits.push(0);
      deepest = Math.max(deepest, depth);
      if (list.length === 0) {
        makeLeaf(at, list, 0);
        return at;
      }
      // First-match pruning: once a rule covers the whole region, no rule after it can ever win here.
      for (let i = 0; i < list.length; i++)
        if (covers(list[i], reg)) {
          if (i === 0) {
            makeLeaf(at, list, 1);
            return at;
          }
          list = list.subarray(0, i + 1);
          break;
        }
      if (list.length <= leafSize || depth >= maxDepth) {
        makeLeaf(at, list, list.length);
        return at;
      }
      let bestDim = -1;
      let bestPoint = 0;
      let bestCost = Infinity;
      for (let d = 0; d < DIMS; d++) {
        const rlo = reg[2 * d];
        const rhi = reg[2 * d + 1];
        const m = list.length;
        for (let i = 0; i < m; i++) {
          const b = list[i] * 10 + 2 * d;
          los[i] = Math.max(boxes[b], rlo);
          his[i] = Math.min(boxes[b + 1], rhi);
        }
        const sl = los.subarray(0, m).sort();
        const sh = his.subarray(0, m).sort();
        // Candidate split points p (left = [rlo, p-1], right = [p, rhi]) are rule starts and ends+1 inside the
        // region; left holds rules with lo < p, right rules with hi >= p.
        let li = 0;
        let hi = 0;
        const consider = (p: number): void => {
          if (p <= rlo || p > rhi) return;
          while (li < m && sl[li] < p) li++;
          while (hi < m && sh[hi] < p) hi++;
          const left = li;
          const right = m - hi;
          const cost = Math.max(left, right) * 2 + left + right;
          if (cost < bestCost && (left < m || right < m)) {
            bestCost = cost;
            bestDim = d;
            bestPoint = p;
          }
        };
        // Merge the two sorted candidate streams so the sweep indices only move forward.
        let a = 0;
        let c = 0;
        while (a < m || c < m) {
          const pa = a < m ? sl[a] : Infinity;
          const pc = c < m ? sh[c] + 1 : Infinity;
          if (pa <= pc) {
            consider(pa);
            a++;
          } else {
            consider(pc);
            c++;
          }
        }
      }
      if (bestDim < 0) {
        makeLeaf(at, list, list.length);
        return at;
      }
      const d = bestDim;
      const p = bestPoint;
      let nl = 0;
      let nr = 0;
      for (let i = 0; i < list.length; i++) {
        const b = list[i] * 10 + 2 * d;
        if (boxes[b] < p) nl++;
        if (boxes[b + 1] >= p) nr++;
      }
      const left = new Int32Array(nl);
      const right = new Int32Array(nr);
      nl = 0;
      nr = 0;
      for (let i = 0; i < list.length; i++) {
        const r = list[i];
        const b = r * 10 + 2 * d;
        if (boxes[b] < p) left[nl++] = r;
        if (boxes[b + 1] >= p) right[nr++] = r;
      }
      const saveLo = reg[2 * d];
      const saveHi = reg[2 * d + 1];
      nodes[at * 3] = d;
      splits[at] = p;
      reg[2 * d + 1] = p - 1;
      const l = grow(left, reg, depth + 1);
      reg[2 * d + 1] = saveHi;
      reg[2 * d] = p;
      const r = grow(right, reg, depth + 1);
      reg[2 * d] = saveLo;
      nodes[at * 3 + 1] = l;
      nodes[at * 3 + 2] = r;
      return at;
    };

    // EffiCuts-style separation (Vamanan et al., SIGCOMM 2010): rules that are wide in different fields are put
    // in different trees, so a wildcard in one field does not get copied into every cut of another.
    const groups = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      let shape = 0;
      for (let d = 0; d < DIMS; d++)
        if (boxes[i * 10 + 2 * d + 1] - boxes[i * 10 + 2 * d] >= LARGE_SPAN[d]) shape |= 1 << d;
      const g = groups.get(shape);
      if (g === undefined) groups.set(shape, [i]);
      else g.push(i);
    }
    const ordered = [...groups.values()].sort((a, b) => a[0] - b[0]);
    const roots = new Int32Array(ordered.length);
    const firstRule = new Int32Array(ordered.length);
    ordered.forEach((g, t) => {
      region.fill(0);
      for (let d = 0; d < DIMS; d++) region[2 * d + 1] = FIELD_MAX[d];
      roots[t] = grow(Int32Array.from(g), region, 0);
      firstRule[t] = g[0];
    });
    return new FiveTupleClassifier(
      boxes,
      Int32Array.from(nodes),
      Float64Array.from(splits),
      Int32Array.from(leaves),
      roots,
      firstRule,
      n,
      splits.length,
      deepest,
    );
  }

  /** Index of the first rule (in the order given to build) that contains the packet, or -1. */
  lookup(src: number, dst: number, sport: number, dport: number, proto: number): number {
    let best = this.ruleCount;
    const roots = this.roots;
    const firstRule = this.firstRule;
    for (let t = 0; t < roots.length; t++) {
      // Trees are ordered by their first rule: once that is past the best match so far, none can beat it.
      if (firstRule[t] >= best) break;
      const r = this.lookupTree(roots[t], src, dst, sport, dport, proto);
      if (r >= 0 && r < best) best = r;
    }
    return best === this.ruleCount ? -1 : best;
  }

  private lookupTree(root: number, src: number, dst: number, sport: number, dport: number, proto: number): number {
    const nodes = this.nodes;
    const splits = this.splits;
    let at = root;
    for (;;) {
      const d = nodes[at * 3];
      if (d === LEAF) break;
      const v = d === 0 ? src : d === 1 ? dst : d === 2 ? sport : d === 3 ? dport : proto;
      at = v < splits[at] ? nodes[at * 3 + 1] : nodes[at * 3 + 2];
    }
    const start = nodes[at * 3 + 1];
    const end = start + nodes[at * 3 + 2];
    const leaves = this.leafRules;
    const boxes = this.boxes;
    for (let i = start; i < end; i++) {
      const r = leaves[i];
      const b = r * 10;
      if (
        src >= boxes[b] &&
        src <= boxes[b + 1] &&
        dst >= boxes[b + 2] &&
        dst <= boxes[b + 3] &&
        sport >= boxes[b + 4] &&
        sport <= boxes[b + 5] &&
        dport >= boxes[b + 6] &&
        dport <= boxes[b + 7] &&
        proto >= boxes[b + 8] &&
        proto <= boxes[b + 9]
      )
        return r;
    }
    return -1;
  }
}
