import { describe, expect, it } from "vitest";
import { fc, test as fcTest } from "@fast-check/vitest";
import { FlowCache } from "./flow-cache.js";
import type { ForwardPlan, PlanNumbers } from "./flow-cache.js";
import { words } from "./datapath.fixture.js";

const ENTRIES = 8;
/** Plan numbers are 16 bits and 0 means "none": 0xffff distinct plans fit. */
const PLAN_LIMIT = 0xffff;

function plan(over: Partial<ForwardPlan> = {}): ForwardPlan {
  return {
    iif: 1,
    oif: 0,
    gateway: words("198.51.100.1"),
    ctStatus: 0x18e,
    ctMark: 0,
    ctHelper: "",
    counted: Int32Array.of(2, 5),
    ...over,
  };
}

/** Field-by-field equality of two plans, written out so the test does not lean on the cache's own key. */
function sameContent(a: ForwardPlan, b: ForwardPlan): boolean {
  const arrays = (x: ArrayLike<number> | null, y: ArrayLike<number> | null): boolean =>
    x === null || y === null
      ? x === y
      : x.length === y.length && Array.prototype.every.call(x, (v: number, i: number) => v === y[i]);
  return (
    a.iif === b.iif &&
    a.oif === b.oif &&
    arrays(a.gateway, b.gateway) &&
    a.ctStatus === b.ctStatus &&
    a.ctMark === b.ctMark &&
    a.ctHelper === b.ctHelper &&
    arrays(a.counted, b.counted)
  );
}

/**
 * The store the cache keeps plan numbers in, as Conntrack keeps them (two 16-bit numbers per entry in its record;
 * conntrack.test.ts checks that side): `reuse` is what allocating a freed entry number does to them.
 */
class TablePlanNumbers implements PlanNumbers {
  private readonly words: Uint16Array;
  constructor(entries: number) {
    this.words = new Uint16Array(entries * 2);
  }
  planNumber(entry: number, dir: number): number {
    return this.words[entry * 2 + dir];
  }
  setPlanNumber(entry: number, dir: number, n: number): void {
    this.words[entry * 2 + dir] = n;
  }
  clearPlanNumbers(): void {
    this.words.fill(0);
  }
  reuse(entry: number): void {
    this.words[entry * 2] = 0;
    this.words[entry * 2 + 1] = 0;
  }
}

/** A cache over a store of `entries` entries; the store too, to reuse entry numbers. */
function cacheOf(entries: number): { cache: FlowCache; numbers: TablePlanNumbers } {
  const numbers = new TablePlanNumbers(entries);
  return { cache: new FlowCache(numbers), numbers };
}

/** Every (entry, dir) of a cache with `entries` entries, as [entry, dir]. */
function nodes(entries: number): [number, number][] {
  const out: [number, number][] = [];
  for (let e = 0; e < entries; e++) out.push([e, 0], [e, 1]);
  return out;
}

describe("FlowCache: empty", () => {
  it("answers null for every node before the first set, and after a clear", () => {
    const { cache } = cacheOf(ENTRIES);
    for (const [e, d] of nodes(ENTRIES)) expect(cache.get(e, d)).toBeNull();
    cache.clear();
    expect(cache.get(3, 0)).toBeNull();
  });
});

describe("FlowCache: set and get", () => {
  it("returns the plan for that entry and direction only", () => {
    const { cache } = cacheOf(ENTRIES);
    const p = plan();
    cache.set(3, 1, p);
    expect(cache.get(3, 1)).toEqual(p);
    expect(cache.get(3, 0)).toBeNull();
    for (const [e, d] of nodes(ENTRIES)) if (e !== 3) expect(cache.get(e, d)).toBeNull();
  });
  it("keeps the two directions of one entry apart", () => {
    const { cache } = cacheOf(ENTRIES);
    const orig = plan({ iif: 1, oif: 0 });
    const reply = plan({ iif: 0, oif: 1, gateway: null });
    cache.set(2, 0, orig);
    cache.set(2, 1, reply);
    expect(cache.get(2, 0)).toEqual(orig);
    expect(cache.get(2, 1)).toEqual(reply);
  });
  it("a later set for the same node replaces the plan", () => {
    const { cache } = cacheOf(ENTRIES);
    cache.set(4, 0, plan({ oif: 0 }));
    cache.set(4, 0, plan({ oif: 2 }));
    expect(cache.get(4, 0)?.oif).toBe(2);
  });
  it("the first and last entries of the table are usable", () => {
    const { cache } = cacheOf(ENTRIES);
    cache.set(0, 0, plan({ ctMark: 1 }));
    cache.set(ENTRIES - 1, 1, plan({ ctMark: 2 }));
    expect(cache.get(0, 0)?.ctMark).toBe(1);
    expect(cache.get(ENTRIES - 1, 1)?.ctMark).toBe(2);
    expect(cache.get(0, 1)).toBeNull();
    expect(cache.get(ENTRIES - 1, 0)).toBeNull();
  });
});

describe("FlowCache: sharing plans by content", () => {
  it("two flows with equal plan content share one object", () => {
    const { cache } = cacheOf(ENTRIES);
    const first = plan();
    cache.set(0, 0, first);
    cache.set(5, 1, plan());
    cache.set(6, 0, { ...plan(), gateway: words("198.51.100.1"), counted: Int32Array.of(2, 5) });
    expect(cache.get(5, 1)).toBe(first);
    expect(cache.get(6, 0)).toBe(first);
  });
  const differing: readonly [string, Partial<ForwardPlan>][] = [
    ["iif", { iif: 0 }],
    ["oif", { oif: 1 }],
    ["gateway word", { gateway: words("198.51.100.254") }],
    ["gateway on-link", { gateway: null }],
    ["gateway v6", { gateway: words("2001:db8:ff::1") }],
    ["gateway last v6 word", { gateway: words("198.51.100.1").map((w, i) => (i === 3 ? 1 : w)) }],
    ["ctStatus", { ctStatus: 0x18a }],
    ["ctMark", { ctMark: 7 }],
    ["ctHelper", { ctHelper: "ftp" }],
    ["counted order", { counted: Int32Array.of(5, 2) }],
    ["counted length", { counted: Int32Array.of(2) }],
    ["counted none", { counted: new Int32Array(0) }],
  ];
  for (const [name, over] of differing) {
    it(`a plan differing in ${name} is kept apart`, () => {
      const { cache } = cacheOf(ENTRIES);
      const a = plan();
      const b = plan(over);
      cache.set(0, 0, a);
      cache.set(1, 0, b);
      expect(cache.get(0, 0)).toBe(a);
      expect(cache.get(1, 0)).toBe(b);
      expect(cache.get(1, 0)).not.toBe(cache.get(0, 0));
    });
  }
  it("field boundaries are not confused (v4 word vs v6 words, counted splits, helper with separators)", () => {
    const pairs: readonly [ForwardPlan, ForwardPlan][] = [
      [plan({ gateway: Uint32Array.of(1) }), plan({ gateway: Uint32Array.of(0, 0, 0, 1) })],
      [plan({ gateway: null }), plan({ gateway: new Uint32Array(0) })],
      [plan({ gateway: Uint32Array.of(1, 11, 0, 1) }), plan({ gateway: Uint32Array.of(11, 1, 0, 1) })],
      [plan({ counted: Int32Array.of(12) }), plan({ counted: Int32Array.of(1, 2) })],
      [plan({ ctHelper: "a/1", counted: new Int32Array(0) }), plan({ ctHelper: "a", counted: Int32Array.of(1) })],
      [plan({ iif: 11, oif: 1 }), plan({ iif: 1, oif: 11 })],
      [plan({ ctStatus: 1, ctMark: 23 }), plan({ ctStatus: 12, ctMark: 3 })],
    ];
    for (const [a, b] of pairs) {
      const { cache } = cacheOf(ENTRIES);
      cache.set(0, 0, a);
      cache.set(0, 1, b);
      expect(cache.get(0, 0)).toBe(a);
      expect(cache.get(0, 1)).toBe(b);
    }
  });
  const arbPlan: fc.Arbitrary<ForwardPlan> = fc.record({
    iif: fc.integer({ min: 0, max: 3 }),
    oif: fc.integer({ min: 0, max: 3 }),
    gateway: fc
      .option(
        fc.oneof(
          fc.array(fc.constantFrom(0, 1, 11, 0xc6336401), { minLength: 1, maxLength: 1 }),
          fc.array(fc.constantFrom(0, 1, 11, 0xc6336401), { minLength: 4, maxLength: 4 }),
        ),
        { nil: null },
      )
      .map((g) => (g === null ? null : Uint32Array.from(g))),
    ctStatus: fc.integer({ min: 0, max: 3 }),
    ctMark: fc.integer({ min: 0, max: 3 }),
    ctHelper: fc.constantFrom("", "ftp", "/", "1", "ftp/1", ",", "."),
    counted: fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 3 }).map((c) => Int32Array.from(c)),
  });
  // The second plan is the first with at most one field taken from another random plan, so near misses are common.
  const FIELDS = ["iif", "oif", "gateway", "ctStatus", "ctMark", "ctHelper", "counted"] as const;
  const arbPair = fc
    .tuple(arbPlan, arbPlan, fc.option(fc.constantFrom(...FIELDS), { nil: null }))
    .map(([a, other, field]): [ForwardPlan, ForwardPlan] => [
      a,
      field === null ? { ...a } : { ...a, [field]: other[field] },
    ]);
  fcTest.prop([fc.oneof(arbPair, fc.tuple(arbPlan, arbPlan))])(
    "two plans share one object exactly when their content is equal",
    ([a, b]) => {
      const { cache } = cacheOf(2);
      cache.set(0, 0, a);
      cache.set(1, 1, b);
      expect(cache.get(1, 1) === cache.get(0, 0)).toBe(sameContent(a, b));
      expect(cache.get(0, 0)).toBe(a);
    },
  );
});

describe("FlowCache: entry reuse, clear", () => {
  it("a reused entry number has no plan, for both directions, and other entries keep theirs", () => {
    const { cache, numbers } = cacheOf(ENTRIES);
    for (const [e, d] of nodes(ENTRIES)) cache.set(e, d, plan({ ctMark: e * 2 + d }));
    numbers.reuse(3);
    for (const [e, d] of nodes(ENTRIES)) {
      if (e === 3) expect(cache.get(e, d)).toBeNull();
      else expect(cache.get(e, d)?.ctMark).toBe(e * 2 + d);
    }
  });
  it("a reused entry can be given a plan again, and its old plan is still shared by others", () => {
    const { cache, numbers } = cacheOf(ENTRIES);
    const shared = plan();
    cache.set(1, 0, shared);
    cache.set(2, 0, plan());
    numbers.reuse(1);
    expect(cache.get(2, 0)).toBe(shared);
    cache.set(1, 0, plan());
    expect(cache.get(1, 0)).toBe(shared);
  });
  it("clear empties every node and forgets plan contents", () => {
    const { cache } = cacheOf(ENTRIES);
    const old = plan();
    for (const [e, d] of nodes(ENTRIES)) cache.set(e, d, plan({ ctMark: e }));
    cache.set(0, 0, old);
    cache.clear();
    for (const [e, d] of nodes(ENTRIES)) expect(cache.get(e, d)).toBeNull();
    // The same content after a clear is a new plan: the old object is not handed back.
    const fresh = plan();
    cache.set(4, 1, fresh);
    expect(cache.get(4, 1)).toBe(fresh);
  });
});

describe("FlowCache against a Map model", () => {
  const MODEL_ENTRIES = 6;
  const POOL = 5;
  type Op =
    | { readonly op: "set"; readonly entry: number; readonly dir: number; readonly plan: number }
    | { readonly op: "reuse"; readonly entry: number }
    | { readonly op: "clear" };
  const arbOp: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        op: fc.constant("set" as const),
        entry: fc.integer({ min: 0, max: MODEL_ENTRIES - 1 }),
        dir: fc.integer({ min: 0, max: 1 }),
        plan: fc.integer({ min: 0, max: POOL - 1 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant("reuse" as const),
        entry: fc.integer({ min: 0, max: MODEL_ENTRIES - 1 }),
      }),
    },
    { weight: 1, arbitrary: fc.constant<Op>({ op: "clear" }) },
  );
  // A pool with repeats in content, so sharing is exercised; fresh objects on each set.
  const pooled = (i: number): ForwardPlan =>
    plan({ oif: i % 3, ctMark: i % 2, gateway: i === 4 ? null : words("198.51.100.1") });

  fcTest.prop([fc.array(arbOp, { maxLength: 60 })])("gives the answers of a Map keyed by node", (ops) => {
    const { cache, numbers } = cacheOf(MODEL_ENTRIES);
    const model = new Map<number, ForwardPlan>();
    for (const o of ops) {
      switch (o.op) {
        case "set": {
          const p = pooled(o.plan);
          cache.set(o.entry, o.dir, p);
          model.set(o.entry * 2 + o.dir, p);
          break;
        }
        case "reuse":
          numbers.reuse(o.entry);
          model.delete(o.entry * 2);
          model.delete(o.entry * 2 + 1);
          break;
        case "clear":
          cache.clear();
          model.clear();
          break;
      }
      for (const [e, d] of nodes(MODEL_ENTRIES)) {
        const want = model.get(e * 2 + d) ?? null;
        expect(cache.get(e, d)).toEqual(want);
      }
    }
  });
});

describe("FlowCache: running out of plan numbers", () => {
  it(`keeps ${String(PLAN_LIMIT)} distinct plans, and the next distinct one starts the cache again`, () => {
    const entries = 0x8000;
    const { cache } = cacheOf(entries);
    const distinct = (i: number): ForwardPlan => plan({ ctMark: i });
    for (let i = 0; i < PLAN_LIMIT; i++) cache.set(i >> 1, i & 1, distinct(i));
    expect(cache.get(0, 0)?.ctMark).toBe(0);
    expect(cache.get((PLAN_LIMIT - 1) >> 1, (PLAN_LIMIT - 1) & 1)?.ctMark).toBe(PLAN_LIMIT - 1);

    // Content already held takes no new number: nothing is cleared.
    const again = distinct(17);
    cache.set(entries - 1, 1, again);
    expect(cache.get(entries - 1, 1)?.ctMark).toBe(17);
    expect(cache.get(0, 0)?.ctMark).toBe(0);

    // The 65536th distinct plan.
    const newcomer = distinct(PLAN_LIMIT);
    cache.set(entries - 1, 1, newcomer);
    expect(cache.get(entries - 1, 1)).toBe(newcomer);
    expect(cache.get(0, 0)).toBeNull();
    expect(cache.get(8, 1)).toBeNull();
    expect(cache.get((PLAN_LIMIT - 1) >> 1, (PLAN_LIMIT - 1) & 1)).toBeNull();

    // After the restart the same content as an early plan is a new plan again, and still kept apart.
    const early = distinct(0);
    cache.set(0, 0, early);
    expect(cache.get(0, 0)).toBe(early);
    expect(cache.get(entries - 1, 1)).toBe(newcomer);
  });
});
