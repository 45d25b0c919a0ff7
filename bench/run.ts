// `npm run bench [-- FILTER... --json --runs N --no-color]`: discovers bench/*.bench.ts, runs the measures whose
// suite name or id contains a filter, and prints a table, or with --json exactly one JSON object on stdout.
// Each suite file runs in a process of its own (`--suite-file`), so that one suite's imports, heap and JIT state
// do not colour another's figures: under tsx, merely importing a CommonJS package (yaml, commander, ipaddr.js)
// invalidates V8's ArrayBuffer-detaching protector for the whole process, after which every typed-array and
// DataView access carries a detach check (~1 ns per parsed packet, measured; plain node does not do this).
import { spawn } from "node:child_process";
import { setFlagsFromString } from "node:v8";
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  formatTable,
  isSelected,
  isSuite,
  runSuites,
  toJsonReport,
  type MeasureOutcome,
  type Suite,
} from "./harness.js";
import { DATAPATH_V8_FLAGS } from "../src/engine/v8-flags.js";

export const USAGE = `usage: npm run bench -- [FILTER...] [--json] [--runs N] [--no-color]
  FILTER      run only measures whose suite name or id contains one of these substrings
  --json      print exactly one JSON object {"results":[{"id","median","unit","runs","min","max"}]} on stdout
  --runs N    timed runs per measure (after one warm-up), overriding each measure's own count
  --no-color  plain table
  --in-process  run every suite in this process instead of one process per suite file`;

export interface BenchArgs {
  readonly filters: string[];
  readonly json: boolean;
  readonly runs: number | undefined;
  readonly color: boolean;
  readonly help: boolean;
  readonly inProcess: boolean;
  /** Internal: run only this suite file and print its outcomes as JSON (the child side of isolation). */
  readonly suiteFile: string | undefined;
}

export type ParsedBenchArgs = { ok: true; args: BenchArgs } | { ok: false; message: string };

export function parseBenchArgs(argv: readonly string[]): ParsedBenchArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: "boolean", default: false },
        runs: { type: "string" },
        "no-color": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        "in-process": { type: "boolean", default: false },
        "suite-file": { type: "string" },
      },
    });
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
  const { values, positionals } = parsed;
  let runs: number | undefined;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!/^\d+$/.test(values.runs) || runs < 1) {
      return { ok: false, message: `--runs needs a positive integer, got "${values.runs}"` };
    }
  }
  return {
    ok: true,
    args: {
      filters: positionals,
      json: values.json,
      runs,
      color: !values["no-color"],
      help: values.help,
      inProcess: values["in-process"],
      suiteFile: values["suite-file"],
    },
  };
}

export interface LoadedSuites {
  readonly suites: Suite[];
  /** Files that failed to import or did not export a Suite as default, with the reason. */
  readonly broken: { file: string; message: string }[];
}

export async function suiteFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith(".bench.ts")).sort();
}

export async function loadSuites(dir: string, only?: readonly string[]): Promise<LoadedSuites> {
  const files = only ?? (await suiteFiles(dir));
  const suites: Suite[] = [];
  const broken: { file: string; message: string }[] = [];
  for (const file of files) {
    try {
      const mod = (await import(pathToFileURL(join(dir, file)).href)) as { default?: unknown };
      if (isSuite(mod.default)) suites.push(mod.default);
      else broken.push({ file, message: "its default export is not a Suite (use defineSuite)" });
    } catch (e) {
      broken.push({ file, message: e instanceof Error ? e.message : String(e) });
    }
  }
  return { suites, broken };
}

/** Sends writes to process.stdout to stderr until the returned function restores the stream's own `write`. */
function divertStdoutToStderr(): () => void {
  const stdout = process.stdout;
  const own = Object.getOwnPropertyDescriptor(stdout, "write");
  stdout.write = process.stderr.write.bind(process.stderr);
  return () => {
    if (own) Object.defineProperty(stdout, "write", own);
    else Reflect.deleteProperty(stdout, "write");
  };
}

export interface BenchIo {
  out: (s: string) => void;
  err: (s: string) => void;
  colorDefault: boolean;
  /** Run each suite file in a child process (the command line's default; tests run in-process). */
  isolate?: boolean;
}

/** What a `--suite-file` child prints on stdout: one JSON object. */
interface ChildReport {
  readonly outcomes: MeasureOutcome[];
  readonly broken: { file: string; message: string }[];
  readonly selected: boolean;
}

/** Runs one suite file's selected measures in the current process. */
async function runFiles(dir: string, files: readonly string[], args: BenchArgs, io: BenchIo): Promise<ChildReport> {
  const { suites, broken } = await loadSuites(dir, files);
  const outcomes = await runSuites(suites, {
    filters: args.filters,
    runs: args.runs,
    onProgress: (line) => {
      io.err(`${line}\n`);
    },
  });
  const selected = suites.some((s) => s.measures.some((m) => isSelected(s.name, m.id, args.filters)));
  return { outcomes, broken, selected };
}

/**
 * Runs one suite file in a child process (`node FLAGS --import tsx run.ts --suite-file F`, FLAGS the CLI's V8
 * settings); its stderr passes through.
 */
function runFileIsolated(dir: string, file: string, args: BenchArgs, io: BenchIo): Promise<ChildReport> {
  const self = fileURLToPath(import.meta.url);
  const argv = [
    // The settings the CLI runs the datapath with (src/engine/v8-flags.ts), as command-line flags.
    ...DATAPATH_V8_FLAGS,
    "--import",
    "tsx",
    self,
    "--suite-file",
    file,
    ...(args.runs !== undefined ? ["--runs", String(args.runs)] : []),
  ];
  argv.push("--", ...args.filters);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, {
      cwd: join(dirname(self), ".."),
      env: { ...process.env, BENCH_DIR: dir },
    });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => {
      io.err(c.toString("utf8"));
    });
    const fail = (message: string): void => {
      resolve({ outcomes: [], broken: [{ file, message }], selected: false });
    };
    child.on("error", (e) => {
      fail(`could not start a bench process: ${e.message}`);
    });
    child.on("close", (code, signal) => {
      const text = Buffer.concat(chunks).toString("utf8").trim();
      try {
        resolve(JSON.parse(text) as ChildReport);
      } catch {
        fail(`its bench process ended (${signal ?? `exit ${String(code)}`}) without a report`);
      }
    });
  });
}

/**
 * Runs the bench command; returns the exit code: 0 all selected measures ran, 1 a measure or a suite file failed
 * (or nothing matched), 2 usage error. In --json mode anything a suite writes to stdout is diverted to stderr so
 * stdout carries the one JSON object only.
 */
export async function main(argv: readonly string[], dir: string, io: BenchIo): Promise<number> {
  const parsed = parseBenchArgs(argv);
  if (!parsed.ok) {
    io.err(`bench: ${parsed.message}\n${USAGE}\n`);
    return 2;
  }
  const args = parsed.args;
  if (args.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  if (args.suiteFile !== undefined) {
    // The child side of isolation: stdout carries only the report.
    const restore = divertStdoutToStderr();
    let report: ChildReport;
    try {
      report = await runFiles(process.env.BENCH_DIR ?? dir, [args.suiteFile], args, io);
    } finally {
      restore();
    }
    io.out(`${JSON.stringify(report)}\n`);
    return 0;
  }
  // In-process runs get the CLI's V8 settings too, before any suite code is optimised.
  if (io.isolate !== true || args.inProcess) for (const flag of DATAPATH_V8_FLAGS) setFlagsFromString(flag);
  const restoreStdout = args.json ? divertStdoutToStderr() : () => undefined;
  let code = 0;
  try {
    const files = await suiteFiles(dir);
    const reports: ChildReport[] = [];
    if (io.isolate === true && !args.inProcess) {
      for (const file of files) reports.push(await runFileIsolated(dir, file, args, io));
    } else reports.push(await runFiles(dir, files, args, io));
    const broken = reports.flatMap((r) => r.broken);
    const outcomes = reports.flatMap((r) => r.outcomes);
    for (const b of broken) io.err(`bench: ${b.file}: ${b.message}\n`);
    if (broken.length > 0) code = 1;
    if (!reports.some((r) => r.selected)) {
      const wanted = args.filters.map((f) => `"${f}"`).join(", ");
      io.err(wanted === "" ? `bench: no measures found in ${dir}\n` : `bench: no measure matches ${wanted}\n`);
      code = 1;
    }
    if (outcomes.some((o) => o.kind === "failed")) code = 1;
    restoreStdout();
    io.out(args.json ? `${toJsonReport(outcomes)}\n` : `${formatTable(outcomes, args.color && io.colorDefault)}\n`);
  } finally {
    restoreStdout();
  }
  return code;
}

if (process.argv.length > 1 && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const code = await main(process.argv.slice(2), dirname(fileURLToPath(import.meta.url)), {
    out: (s) => {
      process.stdout.write(s);
    },
    err: (s) => {
      process.stderr.write(s);
    },
    colorDefault: process.stdout.isTTY && process.env.NO_COLOR === undefined,
    isolate: true,
  });
  process.exitCode = code;
}
