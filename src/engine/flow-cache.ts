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
  /** Plans by their content, so flows with the same decision share one. */
  private readonly byContent = new Map<string, number>();

  constructor(private readonly numbers: PlanNumbers) {}

  /** The plan kept for this entry and direction, or null. */
  get(entry: number, dir: number): ForwardPlan | null {
    const p = this.numbers.planNumber(entry, dir);
    return p === 0 ? null : this.plans[p - 1];
  }

  set(entry: number, dir: number, plan: ForwardPlan): void {
    const key = planKey(plan);
    let p = this.byContent.get(key);
    if (p === undefined) {
      if (this.plans.length >= MAX_PLANS) this.clear();
      this.plans.push(plan);
      p = this.plans.length;
      this.byContent.set(key, p);
    }
    this.numbers.setPlanNumber(entry, dir, p);
  }

  /** Something every plan was derived from changed (the ruleset, a route, an address). */
  clear(): void {
    this.numbers.clearPlanNumbers();
    this.plans.length = 0;
    this.byContent.clear();
  }
}

function planKey(p: ForwardPlan): string {
  const gw = p.gateway === null ? "-" : Array.from(p.gateway).join(".");
  return `${p.iif}/${p.oif}/${gw}/${p.ctStatus}/${p.ctMark}/${p.ctHelper}/${Array.from(p.counted).join(",")}`;
}
