import { describe, expect, it } from "vitest";
import type { Ruleset } from "../../engine/filter/ir.js";
import { probeSandbox, withNetns } from "./kernel-sandbox.js";
import { DEPENDENCIES, MSS_CLAMP, SETS_MAPS_NAT, THREE_FAMILIES } from "./json-reader.fixture.js";
import { readNftJson } from "./json-reader.js";
import { normalizeRuleset } from "./normalize.js";
import { parseNftText } from "./parser.js";
import { exprText, writeNftText } from "./text-writer.js";

const FIXTURES = { SETS_MAPS_NAT, THREE_FAMILIES, DEPENDENCIES, MSS_CLAMP };
const read = (json: string): Ruleset => readNftJson(json, { source: "k.json" }).ruleset!;
const sandbox = probeSandbox();

describe("writeNftText", () => {
  it("writes tables, sets, chains and rules in nft's layout", () => {
    const text = writeNftText(read(DEPENDENCIES.json));
    expect(text.startsWith("table ip a {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n")).toBe(
      true,
    );
    expect(text).toContain("\t\tip protocol tcp counter tcp dport 24 accept\n");
    expect(text).toContain("\t\treject with icmp type port-unreachable\n");
    expect(writeNftText({ tables: [] }, { flush: true })).toBe("flush ruleset\n\n");
  });

  it("keeps bitmask tests and exact comparisons apart", () => {
    const x = read(SETS_MAPS_NAT.json).tables[0].chains[0].rules.map((r) => r.exprs.map(exprText).join(" "));
    expect(x[1]).toBe("ct state established,related accept");
    expect(x[2]).toBe("ct state == { established, related } accept");
    expect(x[19]).toBe("tcp flags & (syn | ack) == syn accept");
    expect(x[20]).toBe("tcp flags syn accept");
    expect(x[26]).toBe("fib saddr . iif oif missing drop");
    const post = read(SETS_MAPS_NAT.json).tables[0].chains[3].rules.map((r) => r.exprs.map(exprText).join(" "));
    expect(post[3]).toBe("ip saddr 10.0.0.0/8 tcp dport 80 snat ip to 203.0.113.9:1000-2000 fully-random");
  });

  it.each(Object.entries(FIXTURES))("%s: the kernel stores our text exactly as the original ruleset", (_name, f) => {
    if (sandbox.missing !== null) {
      console.warn(`skipped: needs ${sandbox.missing}`);
      return;
    }
    const ours = writeNftText(read(f.json));
    withNetns((ns) => {
      const check = ns.nft(["-c", "-f", "-"], { input: ours });
      expect(check.stderr).toBe("");
      expect(ns.nft(["-f", "-"], { input: ours }).status).toBe(0);
      const back = ns.nft(["-j", "list", "ruleset"]);
      expect(normalizeRuleset(read(back.stdout))).toEqual(normalizeRuleset(read(f.json)));
    });
  });

  it.each(Object.entries(FIXTURES))("%s: write → parse gives the same IR", (_name, f) => {
    const ir = read(f.json);
    const again = parseNftText(writeNftText(ir), { source: "w.nft" });
    expect(again.diagnostics).toEqual([]);
    expect(normalizeRuleset(again.ruleset!)).toEqual(normalizeRuleset(ir));
  });
});
