// W2 classification (PERFORMANCE.md): ClassBench fw1_10k through the compiled 5-tuple classifier, with the linear
// first-match scan for contrast. Lookup keys are drawn once (half inside a random rule's box, half uniformly
// random) and checked against the linear scan in setup, so a fast wrong classifier cannot report a figure.
import { readFileSync } from "node:fs";
import { SeededRng } from "../src/engine/rng.js";
import { FiveTupleClassifier, linearFirstMatch, packRules, parseClassBench } from "../src/engine/filter/index.js";
import type { ClassBenchRule } from "../src/engine/filter/index.js";
import { consume, defineSuite } from "./harness.js";

const FILE = new URL("../../shared/data/classbench/fw1_10k", import.meta.url);
const KEYS = 1 << 18;
const LOOKUPS = 1_000_000;
const LINEAR_LOOKUPS = 20_000;
const CHECKED = 20_000;

let rules: ClassBenchRule[] = [];
let boxes: Uint32Array = new Uint32Array(0);
let keys = new Uint32Array(0);
let classifier: FiveTupleClassifier | null = null;

function load(): void {
  if (rules.length > 0) return;
  const parsed = parseClassBench(readFileSync(FILE, "utf8"));
  if (!parsed.ok) throw new Error(`fw1_10k line ${parsed.error.line}: ${parsed.error.message}`);
  rules = parsed.rules;
  boxes = packRules(rules);
  const rng = new SeededRng(10_000);
  keys = new Uint32Array(KEYS * 5);
  const within = (lo: number, hi: number): number => lo + (rng.nextU32() % (hi - lo + 1));
  for (let i = 0; i < KEYS; i++) {
    const k = i * 5;
    if (i % 2 === 0) {
      const r = rules[rng.nextU32() % rules.length];
      keys[k] = within(r.srcLo, r.srcHi);
      keys[k + 1] = within(r.dstLo, r.dstHi);
      keys[k + 2] = within(r.sportLo, r.sportHi);
      keys[k + 3] = within(r.dportLo, r.dportHi);
      keys[k + 4] = within(r.protoLo, r.protoHi);
    } else {
      keys[k] = rng.nextU32();
      keys[k + 1] = rng.nextU32();
      keys[k + 2] = rng.nextU32() & 0xffff;
      keys[k + 3] = rng.nextU32() & 0xffff;
      keys[k + 4] = [6, 17, 1, 47][rng.nextU32() % 4];
    }
  }
}

function built(): FiveTupleClassifier {
  if (classifier === null) {
    classifier = FiveTupleClassifier.build(rules);
    for (let i = 0; i < CHECKED; i++) {
      const k = i * 5;
      const want = linearFirstMatch(boxes, keys[k], keys[k + 1], keys[k + 2], keys[k + 3], keys[k + 4]);
      const got = classifier.lookup(keys[k], keys[k + 1], keys[k + 2], keys[k + 3], keys[k + 4]);
      if (got !== want) throw new Error(`classifier disagrees with the linear scan on key ${i}: ${got} vs ${want}`);
    }
  }
  return classifier;
}

function lookupsPerSecond(n: number, lookup: (k: number) => number): number {
  let acc = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) acc += lookup((i % KEYS) * 5);
  const ns = Number(process.hrtime.bigint() - start);
  consume(acc);
  return (n / ns) * 1e9;
}

export default defineSuite("classifier", [
  {
    id: "classifier.fw1_10k-lookups-per-s",
    unit: "lookups/s",
    setup: () => {
      load();
      built();
    },
    run: () => {
      const c = built();
      return lookupsPerSecond(LOOKUPS, (k) => c.lookup(keys[k], keys[k + 1], keys[k + 2], keys[k + 3], keys[k + 4]));
    },
  },
  {
    id: "classifier.fw1_10k-build-ms",
    unit: "ms",
    lowerIsBetter: true,
    setup: load,
    run: () => {
      const start = process.hrtime.bigint();
      const c = FiveTupleClassifier.build(rules);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      consume(c.nodeCount);
      return ms;
    },
  },
  {
    id: "classifier.fw1_10k-bytes-per-rule",
    unit: "bytes/rule",
    lowerIsBetter: true,
    runs: 1,
    setup: load,
    run: () => {
      const c = FiveTupleClassifier.build(rules);
      return c.bytes / c.ruleCount;
    },
  },
  {
    id: "classifier.linear-fw1_10k-lookups-per-s",
    unit: "lookups/s",
    runs: 3,
    setup: load,
    run: () =>
      lookupsPerSecond(LINEAR_LOOKUPS, (k) =>
        linearFirstMatch(boxes, keys[k], keys[k + 1], keys[k + 2], keys[k + 3], keys[k + 4]),
      ),
  },
]);
