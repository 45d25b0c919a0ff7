// Every corpus ruleset must be usable by the engine, not only parseable: it parses with no error, each table,
// chain and rule points back at the text it came from, and compileRuleset accepts it with the interfaces the file
// names (nft's own load-time checks: known chains and sets, no loops, NAT statements in their hooks). Valid nft that
// Mallory's IR cannot hold is marked in the file with `# mallory-unsupported: <construct>` on its line; there the
// parser must report an "unsupported" diagnostic on exactly those lines and nothing else.

import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIpv4 } from "../../wire/address.js";
import type { Origin, Ruleset, Value, Verdict } from "../../engine/filter/index.js";
import { Filter, compileRuleset, formatCompileError, newEvalContext } from "../../engine/filter/index.js";
import { CtState, NONE, PacketMeta, Proto, TcpFlag } from "../../engine/packet-meta.js";
import { formatNftDiagnostic } from "./diagnostics.js";
import { parseNftText } from "./parser.js";

const CORPUS_DIR = fileURLToPath(new URL("./corpus/", import.meta.url));
const FILES = readdirSync(CORPUS_DIR)
  .filter((f) => f.endsWith(".nft"))
  .sort();

function readIncludeBeside(path: string, from: string): string | null {
  try {
    return readFileSync(resolve(dirname(from), path), "utf8");
  } catch {
    return null;
  }
}

const UNSUPPORTED_MARK = "# mallory-unsupported:";

/** 1-based lines carrying the marker. */
function markedLines(text: string): number[] {
  return text.split("\n").flatMap((line, i) => (line.includes(UNSUPPORTED_MARK) ? [i + 1] : []));
}

function parseCorpusFile(file: string): ReturnType<typeof parseNftText> {
  const path = join(CORPUS_DIR, file);
  return parseNftText(readFileSync(path, "utf8"), { source: path, readInclude: readIncludeBeside });
}

/** Every string constant of the ruleset: interface names (and the odd helper name, harmless as an interface). */
function stringsOf(v: Value, out: Set<string>): void {
  switch (v.kind) {
    case "string":
      out.add(v.value);
      return;
    case "set":
      for (const e of v.elements) stringsOf(e, out);
      return;
    case "concat":
      for (const p of v.parts) stringsOf(p, out);
      return;
    case "range":
      stringsOf(v.lo, out);
      stringsOf(v.hi, out);
      return;
    default:
      return;
  }
}

/** The node's interfaces: `lo` plus every name the file matches on; `eth1.*` wildcards name no interface. */
function interfacesOf(r: Ruleset): string[] {
  const names = new Set<string>(["lo"]);
  for (const t of r.tables) {
    for (const s of t.sets ?? []) for (const e of s.elements) stringsOf(e, names);
    for (const m of t.maps ?? []) for (const e of m.elements) stringsOf(e.key, names);
    for (const c of t.chains)
      for (const rule of c.rules)
        for (const x of rule.exprs) {
          if (x.kind === "match") stringsOf(x.right, names);
          if (x.kind === "vmap" && x.map.kind === "anonymous") for (const e of x.map.entries) stringsOf(e.key, names);
        }
  }
  return [...names].filter((n) => !n.endsWith("*")).sort();
}

function originsOf(r: Ruleset): Origin[] {
  const out: Origin[] = [];
  for (const t of r.tables) {
    out.push(t.origin);
    for (const s of t.sets ?? []) out.push(s.origin);
    for (const m of t.maps ?? []) out.push(m.origin);
    for (const c of t.chains) {
      out.push(c.origin);
      for (const rule of c.rules) out.push(rule.origin);
    }
  }
  return out;
}

function sourceText(source: string, cache: Map<string, string[]>): string[] {
  let lines = cache.get(source);
  if (lines === undefined) {
    const path = [source, resolve(CORPUS_DIR, source)].find((p) => existsSync(p));
    expect(path, `origin source ${source} is a readable file`).toBeDefined();
    lines = readFileSync(path!, "utf8").split("\n");
    cache.set(source, lines);
  }
  return lines;
}

describe("nftables corpus", () => {
  it("holds at least 25 rulesets the IR fully expresses, one of which includes another file", () => {
    const full = FILES.filter((f) => markedLines(readFileSync(join(CORPUS_DIR, f), "utf8")).length === 0);
    expect(full.length).toBeGreaterThanOrEqual(25);
    expect(FILES.some((f) => readFileSync(join(CORPUS_DIR, f), "utf8").includes('include "include/'))).toBe(true);
  });

  for (const file of FILES) {
    const marked = markedLines(readFileSync(join(CORPUS_DIR, file), "utf8"));
    if (marked.length > 0) {
      it(`${file}: reports each construct beyond the IR where it is written (lines ${marked.join(", ")})`, () => {
        const got = parseCorpusFile(file);
        expect(got.ruleset).toBeNull();
        expect(got.diagnostics.filter((d) => d.severity === "error").map(formatNftDiagnostic)).toEqual([]);
        const unsupported = got.diagnostics.filter((d) => d.severity === "unsupported");
        expect([...new Set(unsupported.map((d) => d.line))].sort((a, b) => a - b)).toEqual(marked);
        for (const d of unsupported) {
          expect(d.source.endsWith(file)).toBe(true);
          expect(d.column).toBeGreaterThan(0);
          expect(d.message.length).toBeGreaterThan(0);
        }
      });
      continue;
    }

    it(`${file}: parses, keeps origins, and compiles for the engine`, () => {
      const got = parseCorpusFile(file);
      expect(got.diagnostics.filter((d) => d.severity !== "warning").map(formatNftDiagnostic)).toEqual([]);
      expect(got.ruleset).not.toBeNull();
      const ruleset = got.ruleset!;
      const rules = ruleset.tables.flatMap((t) => t.chains.flatMap((c) => c.rules));
      expect(ruleset.tables.length).toBeGreaterThan(0);

      // Each origin points at the first character of a declaration in the file (or in the included file).
      const cache = new Map<string, string[]>();
      for (const o of originsOf(ruleset)) {
        const line = sourceText(o.source, cache)[o.line - 1];
        expect(line, `${o.source}:${o.line}`).toBeDefined();
        const ch = line.charAt(o.column - 1);
        expect(ch.trim(), `${o.source}:${o.line}:${o.column} is on a token`).not.toBe("");
        expect(ch, `${o.source}:${o.line}:${o.column} is not in a comment`).not.toBe("#");
      }
      expect(new Set(rules.map((r) => `${r.origin.source}:${r.origin.line}:${r.origin.column}`)).size).toBe(
        rules.length,
      );

      const compiled = compileRuleset(ruleset, { interfaces: interfacesOf(ruleset) });
      if (!compiled.ok) expect.fail(formatCompileError(compiled.error));
      expect(compiled.value.rules.length).toBe(rules.length);
    });
  }
});

/** Edits a typist makes: drop a character, insert one of nft's delimiters or a word, or repeat a slice. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.constantFrom(
      "{",
      "}",
      ";",
      ",",
      ".",
      "-",
      "/",
      ":",
      '"',
      "\\",
      "\n",
      " ",
      "$x",
      "@s",
      "accept",
      "0x",
      "-1",
    ),
  }),
  fc.record({ kind: fc.constant("repeat" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(text: string, m: Mutation): string {
  const at = m.at % (text.length + 1);
  switch (m.kind) {
    case "delete":
      return text.slice(0, at) + text.slice(at + m.len);
    case "insert":
      return text.slice(0, at) + m.text + text.slice(at);
    case "repeat":
      return text.slice(0, at + m.len) + text.slice(at);
  }
}

describe("mutated corpus files", () => {
  const texts = FILES.map((f) => ({ file: f, text: readFileSync(join(CORPUS_DIR, f), "utf8") }));

  it("give a ruleset the engine compiles or a positioned error, never an exception", () => {
    fc.assert(
      fc.property(fc.nat(texts.length - 1), fc.array(mutation, { minLength: 1, maxLength: 3 }), (i, ms) => {
        const { file, text } = texts[i];
        const source = join(CORPUS_DIR, file);
        const mutated = ms.reduce(mutate, text);
        const got = parseNftText(mutated, { source, readInclude: readIncludeBeside });
        if (got.ruleset === null) {
          const blocking = got.diagnostics.filter((d) => d.severity !== "warning");
          expect(blocking.length).toBeGreaterThan(0);
          const lines = mutated.split("\n").length;
          for (const d of blocking) {
            expect(d.line).toBeGreaterThanOrEqual(1);
            expect(d.column).toBeGreaterThanOrEqual(1);
            // An include's diagnostics point into the included file, which the mutation did not touch.
            if (d.source === source) expect(d.line).toBeLessThanOrEqual(lines + 1);
          }
        } else {
          // A mutation that still parses must still be something the engine accepts or refuses as a value.
          const compiled = compileRuleset(got.ruleset, { interfaces: interfacesOf(got.ruleset) });
          expect(typeof compiled.ok).toBe("boolean");
        }
      }),
      { numRuns: 400, seed: 20260511 },
    );
  });
});

describe("the parsed fw4 default behaves as fw4 does (SEMANTICS.md §4.1)", () => {
  const file = "01-fw4-default.nft";
  const lines = readFileSync(join(CORPUS_DIR, file), "utf8").split("\n");
  const got = parseCorpusFile(file);
  const ifaces = ["lo", "br-lan", "eth1"];
  const [LO, LAN, WAN] = [0, 1, 2];
  const compiled = got.ruleset === null ? null : compileRuleset(got.ruleset, { interfaces: ifaces });
  const filter = compiled?.ok === true ? new Filter(compiled.value) : null;

  function tcpSyn(iif: number, oif: number, src: string, dst: string, dport: number): PacketMeta {
    const m = new PacketMeta();
    m.reset();
    m.family = 4;
    m.saddr[0] = parseIpv4(src)!;
    m.daddr[0] = parseIpv4(dst)!;
    m.proto = Proto.TCP;
    m.l4 = 20;
    m.length = 60;
    m.sport = 40000;
    m.dport = dport;
    m.tcpFlags = TcpFlag.SYN;
    m.iif = iif;
    m.oif = oif;
    m.ctState = CtState.NEW;
    return m;
  }

  /** The text of the rule that decided, from the corpus file itself. */
  function decidedBy(v: Verdict | null): string {
    if (v === null || v.by.kind !== "rule") return v === null ? "none" : v.by.kind;
    return lines[v.by.rule.origin.line - 1].trim();
  }

  it("compiles", () => {
    expect(got.ruleset).not.toBeNull();
    expect(filter).not.toBeNull();
  });

  it("rejects a new TCP connection from the WAN to the router with a TCP reset from handle_reject", () => {
    const r = filter!.evaluateHook("input", tcpSyn(WAN, NONE, "198.51.100.7", "203.0.113.2", 22), newEvalContext());
    expect(r.verdict).toMatchObject({ kind: "reject", reply: { kind: "tcp-reset" } });
    expect(decidedBy(r.verdict)).toMatch(/^meta l4proto tcp reject with tcp reset/);
  });

  it("accepts the same connection from the LAN in accept_from_lan", () => {
    const r = filter!.evaluateHook("input", tcpSyn(LAN, NONE, "192.168.1.10", "192.168.1.1", 22), newEvalContext());
    expect(r.verdict?.kind).toBe("accept");
    expect(decidedBy(r.verdict)).toMatch(/^iifname "br-lan" counter packets 0 bytes 0 accept/);
  });

  it("forwards LAN to WAN through accept_to_wan, and rejects a new WAN to LAN flow", () => {
    const out = filter!.evaluateHook(
      "forward",
      tcpSyn(LAN, WAN, "192.168.1.10", "198.51.100.7", 443),
      newEvalContext(),
    );
    expect(out.verdict?.kind).toBe("accept");
    expect(decidedBy(out.verdict)).toMatch(/^oifname "eth1" counter packets 0 bytes 0 accept/);
    const back = filter!.evaluateHook(
      "forward",
      tcpSyn(WAN, LAN, "198.51.100.7", "192.168.1.10", 22),
      newEvalContext(),
    );
    expect(back.verdict).toMatchObject({ kind: "reject", reply: { kind: "tcp-reset" } });
  });

  it("accepts loopback before anything else", () => {
    const r = filter!.evaluateHook("input", tcpSyn(LO, NONE, "127.0.0.1", "127.0.0.1", 22), newEvalContext());
    expect(decidedBy(r.verdict)).toMatch(/^iif "lo" accept/);
  });
});
