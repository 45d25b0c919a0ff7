// The benchmark contract (PERFORMANCE.md): every bench/*.bench.ts exports `default` a Suite of Measures; a Measure
// times itself and returns one figure in its unit; the harness warms it up (once by default), runs it N times and reports the
// median, because the machine is shared and noisy. Timing helpers live here so every suite times the same way.
import { Bench } from "tinybench";
import pc from "picocolors";

export interface Measure {
  /** Stable id, e.g. "wire.parse-5tuple"; BENCHMARKS.md and scripts key on it. */
  id: string;
  /** e.g. "ns/packet", "GB/s", "lookups/s", "ms", "bytes/flow". */
  unit: string;
  /** Optional one-time setup outside the timing (build fixtures). */
  setup?: () => void | Promise<void>;
  /** One run: does the work and RETURNS the figure in `unit` (it times itself as it sees fit). */
  run: () => number | Promise<number>;
  /** Default 7; the reported figure is the median of the runs, after the warm-up runs. */
  runs?: number;
  /** Discarded runs before the timed ones; default 1. A loop of a few ns per operation keeps tiering up for a
   *  few calls (OSR first, then the whole function), so its first runs are not yet the steady state. */
  warmups?: number;
  lowerIsBetter?: boolean;
}

export interface Suite {
  readonly kind: "suite";
  readonly name: string;
  readonly measures: readonly Measure[];
}

export const DEFAULT_RUNS = 7;

/** Builds a suite; a malformed one (duplicate id, bad run count) is a programming error and throws at load. */
export function defineSuite(name: string, measures: Measure[]): Suite {
  const seen = new Set<string>();
  for (const m of measures) {
    if (m.id === "") throw new Error(`suite ${name}: a measure has an empty id`);
    if (seen.has(m.id)) throw new Error(`suite ${name}: duplicate measure id ${m.id}`);
    seen.add(m.id);
    if (m.runs !== undefined && !(Number.isInteger(m.runs) && m.runs >= 1)) {
      throw new Error(`suite ${name}: measure ${m.id}: runs must be a positive integer, got ${m.runs}`);
    }
    if (m.warmups !== undefined && !(Number.isInteger(m.warmups) && m.warmups >= 0)) {
      throw new Error(`suite ${name}: measure ${m.id}: warmups must be a non-negative integer, got ${m.warmups}`);
    }
  }
  return { kind: "suite", name, measures };
}

export function isSuite(x: unknown): x is Suite {
  return (
    typeof x === "object" &&
    x !== null &&
    (x as { kind?: unknown }).kind === "suite" &&
    typeof (x as { name?: unknown }).name === "string" &&
    Array.isArray((x as { measures?: unknown }).measures)
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Timing helpers for measures.

let sinkValue = 0;

/**
 * Consumes a value computed by timed work so V8 cannot prove it dead and drop the loop. Call it once per batch
 * with an accumulator, not per operation.
 */
export function consume(x: number): void {
  sinkValue = (sinkValue + x) | 0;
}

/** The running total of everything consumed (exported so the sink is observable, hence never dead). */
export function sunk(): number {
  return sinkValue;
}

/** Nanoseconds since `start` (a `process.hrtime.bigint()` reading). */
export function elapsedNs(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

/**
 * Times one call of `batch`, which performs `ops` operations and returns an accumulator of their results; the
 * accumulator is consumed. Returns nanoseconds per operation. For operations of a few ns, `ops` should be ≥ 1M so
 * the two clock reads and the call are noise.
 */
export function nsPerOp(ops: number, batch: () => number): number {
  const start = process.hrtime.bigint();
  const acc = batch();
  const ns = elapsedNs(start);
  consume(acc);
  return ns / ops;
}

/**
 * Median latency of `fn` in milliseconds measured by tinybench, for whole operations (a build, a query) where
 * tinybench's per-call bookkeeping (~tens of ns) is negligible. Throws what `fn` throws.
 */
export async function tinybenchMedianMs(fn: () => unknown, opts: { timeMs?: number; iterations?: number } = {}) {
  const bench = new Bench({ time: opts.timeMs ?? 200, iterations: opts.iterations ?? 5, throws: true });
  bench.add("task", fn);
  const [task] = await bench.run();
  const result = task.result;
  if (result.state === "errored") throw result.error;
  if (result.state !== "completed") throw new Error(`tinybench task ended in state ${result.state}`);
  return result.latency.p50;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

// ---------------------------------------------------------------------------------------------------------------
// Running.

export interface MeasureResult {
  readonly kind: "ok";
  readonly suite: string;
  readonly id: string;
  readonly unit: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
  readonly lowerIsBetter: boolean;
}

export interface MeasureFailure {
  readonly kind: "failed";
  readonly suite: string;
  readonly id: string;
  readonly unit: string;
  readonly error: string;
}

export type MeasureOutcome = MeasureResult | MeasureFailure;

function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Runs one measure: setup, its warm-up runs (default 1), then `runs` timed runs. A throw or a non-finite figure is a failure. */
export async function runMeasure(suite: string, m: Measure, runsOverride?: number): Promise<MeasureOutcome> {
  const runs = runsOverride ?? m.runs ?? DEFAULT_RUNS;
  const fail = (error: string): MeasureFailure => ({ kind: "failed", suite, id: m.id, unit: m.unit, error });
  try {
    await m.setup?.();
    const figures: number[] = [];
    const warmups = m.warmups ?? 1;
    for (let i = 0; i < warmups + runs; i++) {
      const figure = await m.run();
      if (typeof figure !== "number" || !Number.isFinite(figure)) {
        return fail(`run ${i} returned ${String(figure)}, not a finite number of ${m.unit}`);
      }
      // The warm-up runs pay for JIT tiering and cold caches.
      if (i >= warmups) figures.push(figure);
    }
    return {
      kind: "ok",
      suite,
      id: m.id,
      unit: m.unit,
      median: median(figures),
      min: Math.min(...figures),
      max: Math.max(...figures),
      runs,
      lowerIsBetter: m.lowerIsBetter ?? false,
    };
  } catch (e) {
    return fail(describeError(e));
  }
}

/** A measure is selected when there are no filters or any filter is a substring of its suite name or its id. */
export function isSelected(suite: string, id: string, filters: readonly string[]): boolean {
  return filters.length === 0 || filters.some((f) => suite.includes(f) || id.includes(f));
}

export interface RunOptions {
  filters?: readonly string[];
  runs?: number;
  onProgress?: (line: string) => void;
}

export async function runSuites(suites: readonly Suite[], opts: RunOptions = {}): Promise<MeasureOutcome[]> {
  const filters = opts.filters ?? [];
  const outcomes: MeasureOutcome[] = [];
  for (const suite of suites) {
    for (const m of suite.measures) {
      if (!isSelected(suite.name, m.id, filters)) continue;
      opts.onProgress?.(`${m.id}: running (${opts.runs ?? m.runs ?? DEFAULT_RUNS} runs + ${m.warmups ?? 1} warm-up)`);
      const outcome = await runMeasure(suite.name, m, opts.runs);
      opts.onProgress?.(
        outcome.kind === "ok"
          ? `${m.id}: ${formatFigure(outcome.median)} ${outcome.unit}`
          : `${m.id}: FAILED: ${outcome.error}`,
      );
      outcomes.push(outcome);
    }
  }
  return outcomes;
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering.

/** Four significant digits, thousands grouped; enough to compare runs without pretending to more precision. */
export function formatFigure(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  if (x === 0) return "0";
  return Number(x.toPrecision(4)).toString();
}

/** The one JSON object `--json` prints: `{"results":[...]}`, plus `failures` only when a measure failed. */
export function toJsonReport(outcomes: readonly MeasureOutcome[]): string {
  const results = outcomes
    .filter((o): o is MeasureResult => o.kind === "ok")
    .map((o) => ({ id: o.id, median: o.median, unit: o.unit, runs: o.runs, min: o.min, max: o.max }));
  const failures = outcomes
    .filter((o): o is MeasureFailure => o.kind === "failed")
    .map((o) => ({ id: o.id, error: o.error }));
  return JSON.stringify(failures.length > 0 ? { results, failures } : { results });
}

const COLUMNS = ["id", "median", "unit", "runs", "min", "max"] as const;
const RIGHT_ALIGNED = new Set<string>(["median", "runs", "min", "max"]);

/** A boxed text table (cli-table style), one row per outcome; each failure's error follows the table. */
export function formatTable(outcomes: readonly MeasureOutcome[], color: boolean): string {
  const c = pc.createColors(color);
  const rows: string[][] = outcomes.map((o) =>
    o.kind === "ok"
      ? [o.id, formatFigure(o.median), o.unit, String(o.runs), formatFigure(o.min), formatFigure(o.max)]
      : [o.id, "FAILED", o.unit, "", "", ""],
  );
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (l: string, m: string, r: string) => l + widths.map((w) => "─".repeat(w + 2)).join(m) + r;
  const cells = (cols: readonly string[], paint: (s: string, i: number) => string) =>
    "│" +
    cols
      .map((s, i) => {
        const padded = RIGHT_ALIGNED.has(COLUMNS[i]) ? s.padStart(widths[i]) : s.padEnd(widths[i]);
        return ` ${paint(padded, i)} `;
      })
      .join("│") +
    "│";
  const out = [line("┌", "┬", "┐"), cells(COLUMNS, (s) => c.bold(s)), line("├", "┼", "┤")];
  outcomes.forEach((o, k) => {
    out.push(
      cells(rows[k], (s, i) => {
        if (o.kind === "failed") return i === 1 ? c.red(s) : s;
        return i === 1 ? c.cyan(s) : i >= 4 ? c.dim(s) : s;
      }),
    );
  });
  out.push(line("└", "┴", "┘"));
  for (const o of outcomes) if (o.kind === "failed") out.push(c.red(`${o.id} failed: ${o.error}`));
  return out.join("\n");
}
