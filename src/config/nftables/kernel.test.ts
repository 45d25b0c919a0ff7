// The kernel is the referee: every corpus file is loaded with the real `nft -f` inside a throwaway network
// namespace, and our text parser, our JSON reader and the kernel's own re-printing (`nft list ruleset`, `nft -j
// list ruleset`) must give the same normalised IR. Then our writers' output must pass `nft -c -f` / `nft -j -c
// -f`, load for real, and come back as the same IR. Skipped, with the reason in the test name, only when root,
// `nft` or `ip netns` is missing.

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Ruleset } from "../../engine/filter/ir.js";
import type { NftDiagnostic } from "./diagnostics.js";
import { formatNftDiagnostic } from "./diagnostics.js";
import { readNftJson } from "./json-reader.js";
import { writeNftJson } from "./json-writer.js";
import type { NetnsSandbox } from "./kernel-sandbox.js";
import { SANDBOX_PREFIX, leakedNamespaces, listSandboxNamespaces, probeSandbox, withNetns } from "./kernel-sandbox.js";
import { normalizeRuleset } from "./normalize.js";
import { parseNftText } from "./parser.js";
import { writeNftText } from "./text-writer.js";

const CORPUS_DIR = fileURLToPath(new URL("./corpus/", import.meta.url));
const FILES = readdirSync(CORPUS_DIR)
  .filter((f) => f.endsWith(".nft"))
  .sort();

/** Files with constructs beyond Mallory's IR (see corpus.test.ts): the kernel must still load them, and our readers
 *  must say "unsupported" about its re-print rather than fail or guess. */
const BEYOND_IR = new Set(
  FILES.filter((f) => readFileSync(join(CORPUS_DIR, f), "utf8").includes("# mallory-unsupported:")),
);

const caps = probeSandbox();
const skip = caps.missing !== null;
const needs = skip ? ` [skipped: needs ${caps.missing}]` : "";

/** `nft -f` resolves relative includes through -I; ours resolve against the including file's directory. */
function readIncludeBeside(path: string, from: string): string | null {
  try {
    return readFileSync(resolve(dirname(from), path), "utf8");
  } catch {
    return null;
  }
}

function expectRuleset(got: { ruleset: Ruleset | null; diagnostics: NftDiagnostic[] }, what: string): Ruleset {
  const errors = got.diagnostics.filter((d) => d.severity !== "warning").map(formatNftDiagnostic);
  expect(errors, `${what}: diagnostics`).toEqual([]);
  expect(got.ruleset, `${what}: ruleset`).not.toBeNull();
  return got.ruleset!;
}

function nftOk(ns: NetnsSandbox, args: readonly string[], opts: { cwd?: string; input?: string } = {}): string {
  const out = ns.nft(args, opts);
  expect(out.stderr, `nft ${args.join(" ")}`).toBe("");
  expect(out.status, `nft ${args.join(" ")} exit status`).toBe(0);
  return out.stdout;
}

interface KernelView {
  readonly text: string;
  readonly json: string;
}

/** Lists what the kernel holds, as text and as JSON. */
function listKernel(ns: NetnsSandbox): KernelView {
  return { text: nftOk(ns, ["list", "ruleset"]), json: nftOk(ns, ["-j", "list", "ruleset"]) };
}

function parseFile(path: string): Ruleset {
  return expectRuleset(
    parseNftText(readFileSync(path, "utf8"), { source: path, readInclude: readIncludeBeside }),
    basename(path),
  );
}

describe("kernel sandbox", () => {
  it.skipIf(skip)(`deletes its namespace even when the body throws${needs}`, () => {
    let name = "";
    expect(() =>
      withNetns((ns) => {
        name = ns.name;
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(name.startsWith(SANDBOX_PREFIX)).toBe(true);
    expect(listSandboxNamespaces()).not.toContain(name);
  });

  it.skipIf(skip)(`starts empty and keeps what it loads to itself${needs}`, () => {
    withNetns((ns) => {
      expect(nftOk(ns, ["list", "ruleset"])).toBe("");
      nftOk(ns, ["-f", "-"], { input: "table inet mallory_probe {\n\tchain c {\n\t}\n}\n" });
      expect(nftOk(ns, ["list", "tables"])).toBe("table inet mallory_probe\n");
      withNetns((other) => {
        expect(nftOk(other, ["list", "ruleset"])).toBe("");
      });
    });
  });

  it.skipIf(skip)(`reports nft's own load errors as a failed status${needs}`, () => {
    withNetns((ns) => {
      const out = ns.nft(["-f", "-"], { input: "table inet t {\n\tchain c {\n\t\ttcp dport 22 acept\n\t}\n}\n" });
      expect(out.status).not.toBe(0);
      expect(out.stderr).toContain("syntax error");
    });
  });
});

describe("corpus through the real kernel", () => {
  it("has at least 25 rulesets", () => {
    expect(FILES.length).toBeGreaterThanOrEqual(25);
  });

  for (const file of FILES) {
    const path = join(CORPUS_DIR, file);

    if (BEYOND_IR.has(file)) {
      it.skipIf(skip)(`${file}: the kernel loads it and our readers flag its re-print as unsupported${needs}`, () => {
        const kernel = withNetns((ns) => {
          nftOk(ns, ["-I", CORPUS_DIR, "-f", path], { cwd: CORPUS_DIR });
          return listKernel(ns);
        });
        for (const got of [
          parseNftText(kernel.text, { source: `kernel:${file}` }),
          readNftJson(kernel.json, { source: `kernel:${file}.json` }),
        ]) {
          expect(got.ruleset).toBeNull();
          expect(got.diagnostics.filter((d) => d.severity === "error").map(formatNftDiagnostic)).toEqual([]);
          expect(got.diagnostics.some((d) => d.severity === "unsupported")).toBe(true);
        }
      });
      continue;
    }

    it.skipIf(skip)(`${file}: our parser, our JSON reader and the kernel's re-print agree${needs}`, () => {
      const ours = normalizeRuleset(parseFile(path));
      const kernel = withNetns((ns) => {
        nftOk(ns, ["-I", CORPUS_DIR, "-f", path], { cwd: CORPUS_DIR });
        return listKernel(ns);
      });
      const fromText = expectRuleset(parseNftText(kernel.text, { source: `kernel:${file}` }), "kernel text");
      const fromJson = expectRuleset(readNftJson(kernel.json, { source: `kernel:${file}.json` }), "kernel json");
      expect(normalizeRuleset(fromText), "kernel text vs the file").toEqual(ours);
      expect(normalizeRuleset(fromJson), "kernel json vs the file").toEqual(ours);
    });

    it.skipIf(skip)(`${file}: writeNftText passes nft -c, loads, and re-imports to the same IR${needs}`, () => {
      const parsed = parseFile(path);
      const ours = normalizeRuleset(parsed);
      const text = writeNftText(parsed);
      const reprint = withNetns((ns) => {
        nftOk(ns, ["-c", "-f", "-"], { input: text });
        nftOk(ns, ["-f", "-"], { input: text });
        return listKernel(ns);
      });
      const reread = expectRuleset(parseNftText(text, { source: `written:${file}` }), "written text");
      expect(normalizeRuleset(reread), "written text re-imported").toEqual(ours);
      const kernel = expectRuleset(parseNftText(reprint.text, { source: `kernel:${file}` }), "kernel text");
      expect(normalizeRuleset(kernel), "kernel re-print of written text").toEqual(ours);
    });

    it.skipIf(skip)(`${file}: writeNftJson passes nft -j -c, loads, and re-imports to the same IR${needs}`, () => {
      const parsed = parseFile(path);
      const ours = normalizeRuleset(parsed);
      const json = writeNftJson(parsed);
      // nft 1.0.6 reads JSON with json_load_file(), which takes neither "-" nor the socket node gives as stdin.
      const dir = mkdtempSync(join(tmpdir(), "mallory-nft-json-"));
      const jsonPath = join(dir, `${file}.json`);
      let reprint: KernelView;
      try {
        writeFileSync(jsonPath, json);
        reprint = withNetns((ns) => {
          nftOk(ns, ["-j", "-c", "-f", jsonPath]);
          nftOk(ns, ["-j", "-f", jsonPath]);
          return listKernel(ns);
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const reread = expectRuleset(readNftJson(json, { source: `written:${file}.json` }), "written json");
      expect(normalizeRuleset(reread), "written json re-imported").toEqual(ours);
      const kernel = expectRuleset(readNftJson(reprint.json, { source: `kernel:${file}.json` }), "kernel json");
      expect(normalizeRuleset(kernel), "kernel re-print of written json").toEqual(ours);
    });
  }
});

describe("cleanup", () => {
  it.skipIf(skip)(`leaves no ${SANDBOX_PREFIX}* namespace behind${needs}`, () => {
    expect(leakedNamespaces()).toEqual([]);
  });
});
