// The decisions of the forward path, remembered per established flow direction. When a family's forward chains
// are flow-invariant (filter/flow-invariance.ts), every packet of one direction of one ESTABLISHED entry arriving
// by the same interface gets the same verdicts, the same route and the same rp_filter answer, as long as the
// ruleset and the FIB stay as they were: the first such packet walks everything and its outcome is kept here;
// the next ones run only what is per packet (conntrack with full TCP tracking, the entry's NAT, the TTL, the
// helpers at confirm, counters). Like the kernel's flow offload (nf_flow_table), but proven equal to the walk
// instead of configured by the user: the walk is re-done whenever one of its inputs may have changed.

/** What the walk of one flow direction decided, shared by every flow it was the same for. */
export interface ForwardPlan {
  readonly iif: number;
  readonly oif: number;
  /** The route's gateway, or null when the destination is on-link (the next hop is the packet's destination). */
  readonly gateway: Uint32Array | null;
  /** The entry's status (low 16 bits), mark and helper when the walk ran; compared only if the ruleset reads them. */
  readonly ctStatus: number;
  readonly ctMark: number;
  readonly ctHelper: string;
  /** Rule indexes whose `counter` statements the walk ran, in order. */
  readonly counted: Int32Array;
}

/** Plan numbers are stored in 16 bits; when they run out the cache starts again empty. */
const MAX_PLANS = 0xffff;

/**
 * Where each flow direction's plan number is kept: two 16-bit numbers per conntrack entry (Conntrack keeps them in
 * the entry's record, so an established packet reads them with the rest of it; a reused entry starts at 0).
 */
export interface PlanNumbers {
  planNumber(entry: number, dir: number): number;
  setPlanNumber(entry: number, dir: number, n: number): void;
  clearPlanNumbers(): void;
}

export class FlowCache {
  private readonly plans: ForwardPlan[] = [];
  /**
   * Plan numbers by a hash of the plan's scalar fields, each bucket compared field by field: flows with the same
   * decision share one plan, and keeping one builds no key string (a walk keeps a plan for every new flow direction).
   */
  private readonly buckets = new Map<number, number[]>();

  constructor(private readonly numbers: PlanNumbers) {}

  /** The plan kept for this entry and direction, or null. */
  get(entry: number, dir: number): ForwardPlan | null {
    const p = this.numbers.planNumber(entry, dir);
    return p === 0 ? null : this.plans[p - 1];
  }

  set(entry: number, dir: number, plan: ForwardPlan): void {
    const h = contentHash(plan);
    let bucket = this.buckets.get(h);
    let p = 0;
    if (bucket !== undefined) {
      for (const q of bucket) {
        if (samePlan(this.plans[q - 1], plan)) {
          p = q;
          break;
        }
      }
    }
    if (p === 0) {
      if (this.plans.length >= MAX_PLANS) {
        this.clear();
        bucket = undefined;
      }
      this.plans.push(plan);
      p = this.plans.length;
      if (bucket === undefined) this.buckets.set(h, [p]);
      else bucket.push(p);
    }
    this.numbers.setPlanNumber(entry, dir, p);
  }

  /** Something every plan was derived from changed (the ruleset, a route, an address). */
  clear(): void {
    this.numbers.clearPlanNumbers();
    this.plans.length = 0;
    this.buckets.clear();
  }
}

function contentHash(p: ForwardPlan): number {
  let h = Math.imul(p.iif ^ 0x9e3779b9, 0x85ebca6b) ^ p.oif;
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35) ^ p.ctStatus;
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f) ^ p.ctMark;
  return (h ^ (h >>> 16) ^ p.counted.length) | 0;
}

function sameWords(a: ArrayLike<number> | null, b: ArrayLike<number> | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function samePlan(a: ForwardPlan, b: ForwardPlan): boolean {
  return (
    a.iif === b.iif &&
    a.oif === b.oif &&
    a.ctStatus === b.ctStatus &&
    a.ctMark === b.ctMark &&
    a.ctHelper === b.ctHelper &&
    sameWords(a.gateway, b.gateway) &&
    sameWords(a.counted, b.counted)
  );
}
