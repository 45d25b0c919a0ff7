// Whether a ruleset needs connection tracking. Linux registers conntrack's hooks in a network namespace only once a
// rule that needs them is loaded (nf_ct_netns_get, called by nft's ct, nat, notrack and helper expressions), so a
// host whose ruleset never mentions ct or NAT tracks nothing and shows no `ct` state (SCENARIOS.md, lab pitfalls).

import type { Expr, Ruleset, Selector } from "./ir.js";

function selectorUsesCt(s: Selector): boolean {
  if (s.kind === "ct") return true;
  return s.kind === "concat" && s.parts.some(selectorUsesCt);
}

function exprUsesCt(e: Expr): boolean {
  switch (e.kind) {
    case "match":
      return selectorUsesCt(e.left);
    case "vmap":
      return selectorUsesCt(e.key);
    case "snat":
    case "dnat":
    case "masquerade":
    case "redirect":
    case "notrack":
    case "ct-helper-set":
      return true;
    case "mark-set":
      return e.target === "ct";
    default:
      return false;
  }
}

/** True when any rule of the ruleset needs conntrack in the node (sets of ct types are only read through ct selectors). */
export function rulesetUsesConntrack(ruleset: Ruleset): boolean {
  return ruleset.tables.some((t) => t.chains.some((c) => c.rules.some((r) => r.exprs.some(exprUsesCt))));
}

function selectorReadsCtFacts(s: Selector): boolean {
  if (s.kind === "ct") return s.key === "status" || s.key === "mark" || s.key === "helper";
  return s.kind === "concat" && s.parts.some(selectorReadsCtFacts);
}

/**
 * True when a rule reads the entry facts the evaluator takes from its context rather than from the packet's meta
 * (`ct status`, `ct mark`, `ct helper`): only then must the datapath copy them from the entry for every packet.
 */
export function rulesetReadsCtFacts(ruleset: Ruleset): boolean {
  return ruleset.tables.some((t) =>
    t.chains.some((c) =>
      c.rules.some((r) =>
        r.exprs.some(
          (e) =>
            (e.kind === "match" && selectorReadsCtFacts(e.left)) || (e.kind === "vmap" && selectorReadsCtFacts(e.key)),
        ),
      ),
    ),
  );
}
