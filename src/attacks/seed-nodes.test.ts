import { describe, expect, it } from "vitest";
import type { Chain, Expr, Origin, Ruleset, Selector, Value } from "../engine/filter/index.js";
import { SeededRng } from "../engine/rng.js";
import {
  HOST_S_HARDENED_NFT,
  HOST_S_NFT,
  ROUTER_HARDENED_NFT,
  ROUTER_NFT,
  createHostS,
  createRouter,
  hostSRuleset,
  routerRuleset,
  rulesetLine,
} from "./seed-nodes.js";

// A minimal IR → nft writer for the expressions the seed rulesets use, written independently of seed-nodes.ts so
// that the check below compares two descriptions of each rule rather than one with itself.
function selectorText(s: Selector): string {
  switch (s.kind) {
    case "payload":
      return `${s.protocol} ${s.field}`;
    case "meta":
      return s.key;
    case "ct":
      return `ct ${s.key}`;
    default:
      return `<${s.kind}>`;
  }
}

function valueText(v: Value, inFlags: boolean): string {
  switch (v.kind) {
    case "int":
      return String(v.value);
    case "symbol":
      return v.name;
    case "string":
      return `"${v.value}"`;
    case "address":
      return v.addr;
    case "prefix":
      return `${v.addr}/${String(v.len)}`;
    case "set":
      return inFlags
        ? v.elements.map((e) => valueText(e, false)).join(",")
        : `{ ${v.elements.map((e) => valueText(e, false)).join(", ")} }`;
    default:
      return `<${v.kind}>`;
  }
}

function exprText(e: Expr): string {
  switch (e.kind) {
    case "match":
      // nft prints flag lists (`ct state established,related`) without braces and omits `==`/`in`.
      return `${selectorText(e.left)} ${valueText(e.right, e.left.kind === "ct")}`;
    case "accept":
    case "drop":
    case "masquerade":
      return e.kind;
    default:
      return `<${e.kind}>`;
  }
}

const lineOf = (origin: Origin): string | null => rulesetLine(origin);

const VARIANTS: readonly { name: string; ruleset: Ruleset; text: string }[] = [
  { name: "seed-home router", ruleset: routerRuleset(false), text: ROUTER_NFT },
  { name: "seed-home-hardened router", ruleset: routerRuleset(true), text: ROUTER_HARDENED_NFT },
  { name: "seed-home S", ruleset: hostSRuleset(false), text: HOST_S_NFT },
  { name: "seed-home-hardened S", ruleset: hostSRuleset(true), text: HOST_S_HARDENED_NFT },
];

function chains(rs: Ruleset): Chain[] {
  return rs.tables.flatMap((t) => t.chains);
}

describe("seed rulesets: IR origins point at the nft text", () => {
  for (const v of VARIANTS) {
    it(`${v.name}: every table, chain, policy and rule origin is that line of the text`, () => {
      const lines = v.text.split("\n");
      for (const t of v.ruleset.tables) {
        expect(lineOf(t.origin)).toBe(`table ${t.family} ${t.name} {`);
        for (const c of t.chains) {
          expect(lineOf(c.origin)).toBe(`chain ${c.name} {`);
          const base = c.base;
          expect(base).toBeDefined();
          if (base === undefined) continue;
          const prio = base.type === "nat" ? "srcnat" : "filter";
          expect(lineOf({ ...c.origin, line: c.origin.line + 1 })).toBe(
            `type ${base.type} hook ${base.hook} priority ${prio}; policy ${base.policy};`,
          );
          for (const r of c.rules) {
            expect(lineOf(r.origin)).toBe(r.exprs.map(exprText).join(" "));
            const raw = lines[r.origin.line - 1];
            expect(raw.slice(r.origin.column - 1)).toBe(raw.trim());
          }
        }
      }
      // Every line of the text that is a rule is in the IR (no rule only in the text).
      const ruleLines = new Set(chains(v.ruleset).flatMap((c) => c.rules.map((r) => r.origin.line)));
      lines.forEach((l, i) => {
        const t = l.trim();
        const structural = t === "" || t === "}" || /^(table|chain|type) /.test(t);
        if (!structural) expect(ruleLines.has(i + 1), `line ${String(i + 1)}: ${t}`).toBe(true);
      });
    });
  }

  it("the hardened router differs from the seed one by the egress rule, first in forward", () => {
    const forward = chains(routerRuleset(true)).find((c) => c.name === "forward");
    expect(forward && lineOf(forward.rules[0].origin)).toBe('ip saddr 192.168.1.20 oifname "wan" drop');
    expect(chains(routerRuleset(false)).flatMap((c) => c.rules).length + 1).toBe(
      chains(routerRuleset(true)).flatMap((c) => c.rules).length,
    );
  });

  it("S's seed ruleset is empty and so is its text", () => {
    expect(hostSRuleset(false).tables).toEqual([]);
    expect(HOST_S_NFT).toBe("");
  });

  it("rulesetLine is null for an unknown source or a line past the end", () => {
    expect(rulesetLine({ source: "nowhere.nft", line: 1, column: 1 })).toBeNull();
    expect(rulesetLine({ source: "seed-home/router.nft", line: 999, column: 1 })).toBeNull();
  });
});

describe("seed nodes build on the engine", () => {
  for (const network of ["seed-home", "seed-home-hardened"] as const) {
    it(`${network}: router and S compile, with their interfaces and routes`, () => {
      const router = createRouter(network, new SeededRng(1));
      const s = createHostS(network, new SeededRng(2));
      expect(router.ok && s.ok).toBe(true);
      if (!router.ok || !s.ok) return;
      expect(router.value.interfaces.map((i) => i.name)).toEqual(["wan", "lan"]);
      expect(s.value.interfaces.map((i) => i.name)).toEqual(["lo", "eth0"]);
      // The default route of each node leaves by its uplink.
      expect(router.value.fib.lookup(4, [0x08080808, 0, 0, 0])?.oif).toBe(router.value.interfaceIndex("wan"));
      expect(s.value.fib.lookup(4, [0x08080808, 0, 0, 0])?.oif).toBe(s.value.interfaceIndex("eth0"));
    });
  }
});
