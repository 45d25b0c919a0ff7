import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fc, test } from "@fast-check/vitest";
import {
  consume,
  defineSuite,
  formatFigure,
  formatTable,
  isSelected,
  median,
  nsPerOp,
  runMeasure,
  runSuites,
  sunk,
  tinybenchMedianMs,
  toJsonReport,
  type MeasureOutcome,
} from "./harness.js";
import { main, parseBenchArgs } from "./run.js";

describe("median", () => {
  it("takes the middle of an odd count and the mean of the middle two of an even count, unsorted input", () => {
    expect(median([9, 1, 5])).toBe(5);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  test.prop([fc.array(fc.double({ noNaN: true, min: -1e9, max: 1e9 }), { minLength: 1, maxLength: 50 })])(
    "has at least half the values on each side",
    (xs) => {
      const m = median(xs);
      expect(xs.filter((x) => x <= m).length * 2).toBeGreaterThanOrEqual(xs.length);
      expect(xs.filter((x) => x >= m).length * 2).toBeGreaterThanOrEqual(xs.length);
    },
  );
});

describe("defineSuite", () => {
  it("refuses duplicate ids and non-integer run counts", () => {
    const m = { id: "a.x", unit: "ms", run: () => 1 };
    expect(() => defineSuite("a", [m, m])).toThrow(/duplicate measure id a.x/);
    expect(() => defineSuite("a", [{ ...m, runs: 0 }])).toThrow(/positive integer/);
    expect(() => defineSuite("a", [{ ...m, runs: 2.5 }])).toThrow(/positive integer/);
    expect(defineSuite("a", [m]).measures).toHaveLength(1);
  });
});

describe("runMeasure", () => {
  it("runs setup once, discards the warm-up run and reports median, min and max of the timed runs", async () => {
    let setups = 0;
    let calls = 0;
    // The warm-up returns 1000, which must not appear in min/max/median.
    const figures = [1000, 30, 10, 20, 50, 40];
    const outcome = await runMeasure("s", {
      id: "s.m",
      unit: "ns/op",
      runs: 5,
      setup: () => {
        setups++;
      },
      run: () => figures[calls++],
    });
    expect(setups).toBe(1);
    expect(calls).toBe(6);
    expect(outcome).toEqual({
      kind: "ok",
      suite: "s",
      id: "s.m",
      unit: "ns/op",
      median: 30,
      min: 10,
      max: 50,
      runs: 5,
      lowerIsBetter: false,
    });
  });

  it("discards as many runs as the measure's warmups ask for", async () => {
    let calls = 0;
    // Three warm-ups (OSR-compiled loops) at 1000, 900, 800 must not appear in the figures.
    const figures = [1000, 900, 800, 12, 10, 11];
    const outcome = await runMeasure("s", {
      id: "s.w",
      unit: "ns/op",
      runs: 3,
      warmups: 3,
      run: () => figures[calls++],
    });
    expect(calls).toBe(6);
    expect(outcome).toMatchObject({ kind: "ok", median: 11, min: 10, max: 12, runs: 3 });
    expect(() => defineSuite("s", [{ id: "s.x", unit: "ms", warmups: -1, run: () => 1 }])).toThrow(/warmups/);
  });

  it("lets --runs override the measure's own count, and defaults to 7", async () => {
    let calls = 0;
    const m = { id: "s.m", unit: "x", runs: 3, run: () => ++calls };
    expect((await runMeasure("s", m, 2)).kind).toBe("ok");
    expect(calls).toBe(3);
    calls = 0;
    await runMeasure("s", { id: "s.n", unit: "x", run: () => ++calls });
    expect(calls).toBe(8);
  });

  it("turns a throw, an async rejection or a non-finite figure into a failure", async () => {
    const thrown = await runMeasure("s", {
      id: "s.t",
      unit: "x",
      run: () => {
        throw new Error("fixture missing");
      },
    });
    expect(thrown).toEqual({ kind: "failed", suite: "s", id: "s.t", unit: "x", error: "fixture missing" });
    const rejected = await runMeasure("s", { id: "s.r", unit: "x", run: () => Promise.reject(new Error("nope")) });
    expect(rejected.kind === "failed" && rejected.error).toBe("nope");
    const nan = await runMeasure("s", { id: "s.n", unit: "x", run: () => NaN });
    expect(nan.kind === "failed" && nan.error).toMatch(/not a finite number of x/);
  });
});

describe("selection", () => {
  it("matches a filter against the suite name or the id, any filter sufficing", () => {
    expect(isSelected("wire", "wire.checksum-1500", [])).toBe(true);
    expect(isSelected("wire", "wire.checksum-1500", ["wire"])).toBe(true);
    expect(isSelected("wire", "wire.checksum-1500", ["checksum"])).toBe(true);
    expect(isSelected("engine", "engine.datapath", ["checksum", "datapath"])).toBe(true);
    expect(isSelected("engine", "engine.datapath", ["wire"])).toBe(false);
  });

  it("runs only the selected measures, in order", async () => {
    const ran: string[] = [];
    const mk = (id: string) => ({
      id,
      unit: "x",
      runs: 1,
      run: () => {
        ran.push(id);
        return 1;
      },
    });
    const suites = [defineSuite("wire", [mk("wire.a"), mk("wire.b")]), defineSuite("engine", [mk("engine.a")])];
    const outcomes = await runSuites(suites, { filters: [".a"] });
    expect(outcomes.map((o) => o.id)).toEqual(["wire.a", "engine.a"]);
    expect(ran).toEqual(["wire.a", "wire.a", "engine.a", "engine.a"]);
  });
});

describe("rendering", () => {
  const outcomes: MeasureOutcome[] = [
    {
      kind: "ok",
      suite: "w",
      id: "w.fast",
      unit: "ns/packet",
      median: 3.14159,
      min: 3,
      max: 4,
      runs: 7,
      lowerIsBetter: true,
    },
    { kind: "failed", suite: "w", id: "w.broken", unit: "ms", error: "boom" },
  ];

  it("prints the JSON contract: results with id, median, unit, runs (plus min, max), failures apart", () => {
    const json = JSON.parse(toJsonReport(outcomes));
    expect(json).toEqual({
      results: [{ id: "w.fast", median: 3.14159, unit: "ns/packet", runs: 7, min: 3, max: 4 }],
      failures: [{ id: "w.broken", error: "boom" }],
    });
    expect(Object.keys(JSON.parse(toJsonReport([outcomes[0]])))).toEqual(["results"]);
  });

  it("draws a table with a header and one row per measure, without colour codes when colour is off", () => {
    const table = formatTable(outcomes, false);
    const lines = table.split("\n");
    expect(lines[1]).toMatch(/│ id\s+│ median │ unit\s+│ runs │ min │ max │/);
    expect(lines.find((l) => l.includes("w.fast"))).toMatch(/│ w\.fast\s+│\s+3\.142 │ ns\/packet │\s+7 │\s+3 │\s+4 │/);
    expect(lines.find((l) => l.includes("w.broken"))).toMatch(/FAILED/);
    expect(table).toContain("w.broken failed: boom");
    expect(table).not.toContain("\u001b[");
    expect(formatTable(outcomes, true)).toContain("\u001b[");
  });

  it("formats figures to four significant digits and groups thousands", () => {
    expect(formatFigure(3.14159)).toBe("3.142");
    expect(formatFigure(0.000123456)).toBe("0.0001235");
    expect(formatFigure(12345678.9)).toBe("12,345,679");
    expect(formatFigure(0)).toBe("0");
  });
});

describe("timing helpers", () => {
  it("nsPerOp divides the batch time by the operation count and consumes the accumulator", () => {
    const before = sunk();
    const perOp = nsPerOp(1000, () => {
      let acc = 0;
      for (let i = 0; i < 1000; i++) acc += i;
      return acc;
    });
    expect(perOp).toBeGreaterThan(0);
    expect(sunk()).toBe((before + 499500) | 0);
    consume(-499500);
  });

  it("nsPerOp reports the batch's wall time divided by the operation count", () => {
    // A 2 ms busy-wait over 1000 "operations" is at least 2000 ns each; a scheduler hiccup can only add time.
    const perOp = nsPerOp(1000, () => {
      const end = process.hrtime.bigint() + 2_000_000n;
      let spins = 0;
      while (process.hrtime.bigint() < end) spins++;
      return spins;
    });
    expect(perOp).toBeGreaterThanOrEqual(2000);
    expect(perOp).toBeLessThan(40_000);
  });

  it("tinybenchMedianMs reports a busy-wait of about 2 ms as about 2 ms", async () => {
    const ms = await tinybenchMedianMs(
      () => {
        const end = process.hrtime.bigint() + 2_000_000n;
        while (process.hrtime.bigint() < end);
      },
      { timeMs: 50, iterations: 5 },
    );
    expect(ms).toBeGreaterThan(1.9);
    expect(ms).toBeLessThan(20);
  });
});

describe("parseBenchArgs", () => {
  it("reads filters, --json, --runs, --no-color and --in-process", () => {
    expect(parseBenchArgs(["wire", "--json", "--runs", "3", "--no-color", "--in-process"])).toEqual({
      ok: true,
      args: {
        filters: ["wire"],
        json: true,
        runs: 3,
        color: false,
        help: false,
        inProcess: true,
        suiteFile: undefined,
      },
    });
    expect(parseBenchArgs([])).toEqual({
      ok: true,
      args: {
        filters: [],
        json: false,
        runs: undefined,
        color: true,
        help: false,
        inProcess: false,
        suiteFile: undefined,
      },
    });
  });

  it("rejects a bad run count and unknown options", () => {
    expect(parseBenchArgs(["--runs", "0"]).ok).toBe(false);
    expect(parseBenchArgs(["--runs", "2x"]).ok).toBe(false);
    expect(parseBenchArgs(["--fast"]).ok).toBe(false);
  });
});

describe("bench main over a directory of suites", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mallory-bench-"));
    // Plain objects with kind "suite", so the fixture files need no imports.
    await writeFile(
      join(dir, "alpha.bench.ts"),
      `let n = 0;
export default { kind: "suite", name: "alpha", measures: [
  { id: "alpha.count", unit: "ops", runs: 3, run: () => { process.stdout.write("noise from a measure\\n"); return ++n; } },
  { id: "alpha.other", unit: "ms", runs: 1, run: () => 42 },
] };
`,
    );
    await writeFile(
      join(dir, "beta.bench.ts"),
      `export default { kind: "suite", name: "beta", measures: [
  { id: "beta.throws", unit: "ms", runs: 1, run: () => { throw new Error("fixture not built"); } },
] };
`,
    );
    await writeFile(join(dir, "gamma.bench.ts"), `export default 42;\n`);
    await writeFile(join(dir, "notes.ts"), `throw new Error("not a bench file, never imported");\n`);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function run(argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const stdout: string[] = [];
    // Anything a measure writes to the real stdout is caught here.
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
      stdout.push(typeof s === "string" ? s : new TextDecoder().decode(s));
      return true;
    });
    let code: number;
    try {
      code = await main(argv, dir, { out: (s) => out.push(s), err: (s) => err.push(s), colorDefault: false });
    } finally {
      spy.mockRestore();
    }
    return { code, out: out.join(""), err: err.join(""), stdout: stdout.join("") };
  }

  it("--json prints one JSON object and diverts a measure's own stdout writes to stderr", async () => {
    const r = await run(["alpha", "--json"]);
    expect(r.code).toBe(1); // gamma.bench.ts does not export a Suite
    expect(r.err).toContain("gamma.bench.ts: its default export is not a Suite");
    expect(r.stdout).toBe("");
    expect(r.out.trim().split("\n")).toHaveLength(1);
    const json = JSON.parse(r.out);
    // Runs are 1 (warm-up), 2, 3, 4: median 3.
    expect(json).toEqual({
      results: [
        { id: "alpha.count", median: 3, unit: "ops", runs: 3, min: 2, max: 4 },
        { id: "alpha.other", median: 42, unit: "ms", runs: 1, min: 42, max: 42 },
      ],
    });
  });

  it("exits 1 and names the failing measure when a measure throws", async () => {
    const r = await run(["beta.throws", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).failures).toEqual([{ id: "beta.throws", error: "fixture not built" }]);
    expect(r.err).toContain("beta.throws: FAILED: fixture not built");
  });

  it("prints a table by default, and exits 1 when no measure matches", async () => {
    const table = await run(["alpha.other"]);
    expect(table.out).toMatch(/│ alpha\.other │\s+42 │ ms\s+│\s+1 │/);
    const none = await run(["nothing-like-this"]);
    expect(none.code).toBe(1);
    expect(none.err).toContain('no measure matches "nothing-like-this"');
  });

  it("runs each suite file in a process of its own when isolating, with the same report", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["alpha", "beta", "--json"], dir, {
      out: (s) => out.push(s),
      err: (s) => err.push(s),
      colorDefault: false,
      isolate: true,
    });
    expect(code).toBe(1); // beta.throws fails, gamma is not a suite
    const json = JSON.parse(out.join("")) as { results: { id: string; median: number }[]; failures: unknown[] };
    // Each file's module state is fresh in its process: alpha.count's runs are again 1 (warm-up), 2, 3, 4.
    expect(json.results.map((r) => [r.id, r.median])).toEqual([
      ["alpha.count", 3],
      ["alpha.other", 42],
    ]);
    expect(json.failures).toEqual([{ id: "beta.throws", error: "fixture not built" }]);
    const stderr = err.join("");
    expect(stderr).toContain("gamma.bench.ts: its default export is not a Suite");
    // A measure's own stdout noise reaches stderr through the child, never the report.
    expect(stderr).toContain("noise from a measure");
  }, 30_000);

  it("exits 2 on a usage error", async () => {
    const r = await run(["--runs", "-1"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("usage: npm run bench");
  });
});
