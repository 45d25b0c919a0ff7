import { readFileSync } from "node:fs";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { SeededRng } from "../rng.js";
import { parseClassBench } from "./classbench.js";
import type { FiveTupleRule } from "./classifier.js";
import { FiveTupleClassifier, linearFirstMatch, packRules, prefixRange } from "./classifier.js";

// The design notes' data folder sits beside the repository (shared/data), in development and in CI alike.
const DATA = new URL("../../../../shared/data/classbench", import.meta.url).pathname;

/** Small value universes so random rules overlap a lot and every field's edges get exercised. */
const addrRule = fc
  .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }))
  .map(([a, l]) => prefixRange(a >>> 0, l));
const narrowAddr = fc
  .tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 28, max: 32 }))
  .map(([a, l]) => prefixRange(a, l));
const portRange = fc
  .tuple(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 70 }))
  .map(([a, b]) => (a <= b ? [a, b] : [b, a]));
const rule: fc.Arbitrary<FiveTupleRule> = fc
  .record({
    src: fc.oneof(addrRule, narrowAddr),
    dst: fc.oneof(addrRule, narrowAddr),
    sport: fc.oneof(portRange, fc.constant([0, 0xffff])),
    dport: fc.oneof(portRange, fc.constant([0, 0xffff])),
    proto: fc.oneof(fc.constant<[number, number]>([0, 255]), fc.constantFrom<[number, number]>([6, 6], [17, 17])),
  })
  .map((r) => ({
    srcLo: r.src[0],
    srcHi: r.src[1],
    dstLo: r.dst[0],
    dstHi: r.dst[1],
    sportLo: r.sport[0],
    sportHi: r.sport[1],
    dportLo: r.dport[0],
    dportHi: r.dport[1],
    protoLo: r.proto[0],
    protoHi: r.proto[1],
  }));
const key = fc.tuple(
  fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 0xffffffff })),
  fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 0xffffffff })),
  fc.integer({ min: 0, max: 72 }),
  fc.oneof(fc.integer({ min: 0, max: 72 }), fc.integer({ min: 0, max: 0xffff })),
  fc.constantFrom(6, 17, 1),
);

describe("FiveTupleClassifier", () => {
  test.prop(
    [
      fc.array(rule, { minLength: 0, maxLength: 60 }),
      fc.array(key, { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 1, max: 9 }),
    ],
    {
      numRuns: 300,
    },
  )("returns exactly the linear scan's first match", (rules, keys, leafSize) => {
    const c = FiveTupleClassifier.build(rules, { leafSize });
    const boxes = packRules(rules);
    for (const [s, d, sp, dp, p] of keys)
      expect(c.lookup(s, d, sp, dp, p)).toBe(linearFirstMatch(boxes, s, d, sp, dp, p));
    // Every rule's own corners must classify the same too.
    for (const r of rules) {
      for (const [s, d, sp, dp] of [
        [r.srcLo, r.dstLo, r.sportLo, r.dportLo],
        [r.srcHi, r.dstHi, r.sportHi, r.dportHi],
      ])
        expect(c.lookup(s, d, sp, dp, r.protoLo)).toBe(linearFirstMatch(boxes, s, d, sp, dp, r.protoLo));
    }
  });

  it("prefers the earlier of two overlapping rules and misses outside every box", () => {
    const any = {
      srcLo: 0,
      srcHi: 0xffffffff,
      dstLo: 0,
      dstHi: 0xffffffff,
      sportLo: 0,
      sportHi: 0xffff,
      dportLo: 0,
      dportHi: 0xffff,
      protoLo: 0,
      protoHi: 255,
    };
    const ssh = { ...any, dportLo: 22, dportHi: 22, protoLo: 6, protoHi: 6 };
    const c = FiveTupleClassifier.build([ssh, { ...any, protoLo: 6, protoHi: 6 }]);
    expect(c.lookup(1, 2, 3, 22, 6)).toBe(0);
    expect(c.lookup(1, 2, 3, 23, 6)).toBe(1);
    expect(c.lookup(1, 2, 3, 22, 17)).toBe(-1);
  });

  for (const name of ["fw1_1k", "acl1_1k", "ipc1_1k", "fw1_10k", "acl1_10k", "ipc1_10k", "fw5_10k"]) {
    it(`agrees with the linear scan on ClassBench ${name} (random, in-box and edge packets)`, () => {
      const parsed = parseClassBench(readFileSync(`${DATA}/${name}`, "utf8"));
      if (!parsed.ok) throw new Error(parsed.error.message);
      const rules = parsed.rules;
      const c = FiveTupleClassifier.build(rules);
      const boxes = packRules(rules);
      const rng = new SeededRng(name.length * 7919);
      const within = (lo: number, hi: number): number => lo + (rng.nextU32() % (hi - lo + 1));
      const pick = (lo: number, hi: number): number => {
        switch (rng.nextU32() % 4) {
          case 0:
            return lo;
          case 1:
            return hi;
          case 2: // just outside the box, where a neighbour rule may take over
            return lo > 0 ? lo - 1 : Math.min(hi + 1, 0xffffffff);
          default:
            return within(lo, hi);
        }
      };
      let matched = 0;
      const N = 12_000;
      for (let i = 0; i < N; i++) {
        let k: number[];
        if (i % 3 === 0)
          k = [
            rng.nextU32(),
            rng.nextU32(),
            rng.nextU32() & 0xffff,
            rng.nextU32() & 0xffff,
            [6, 17, 1, 47][rng.nextU32() % 4],
          ];
        else {
          const r = rules[rng.nextU32() % rules.length];
          k = [
            pick(r.srcLo, r.srcHi),
            pick(r.dstLo, r.dstHi),
            pick(r.sportLo, r.sportHi) & 0xffff,
            pick(r.dportLo, r.dportHi) & 0xffff,
            within(r.protoLo, r.protoHi),
          ];
        }
        const want = linearFirstMatch(boxes, k[0], k[1], k[2], k[3], k[4]);
        const got = c.lookup(k[0], k[1], k[2], k[3], k[4]);
        if (got !== want) expect({ key: k, got }).toEqual({ key: k, got: want });
        if (want >= 0) matched++;
      }
      // The packets must actually exercise rules, not just miss everything.
      expect(matched).toBeGreaterThan(N / 2);
    });
  }
});
