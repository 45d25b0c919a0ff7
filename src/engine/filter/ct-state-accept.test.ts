// The evaluator's inline path for `ct state <flags> accept` rules: which rules take it, and that it gives the same
// verdicts and trace events as the generic op dispatch (the same ruleset with the tag removed).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CtState, PacketMeta, Proto } from "../packet-meta.js";
import { compileRuleset, Filter, newEvalContext } from "./index.js";
import type { CompiledRuleset, Expr, Rule, Ruleset, TraceEvent, Value } from "./index.js";

const IFACES = ["lan", "wan"];
const origin = { source: "ct.nft", line: 1, column: 1 };
const rule = (...exprs: Expr[]): Rule => ({ origin, exprs });
const sym = (name: string): Value => ({ kind: "symbol", name });
const ctState = (op: "in" | "==" | "!=", names: string[], mask?: string): Expr => ({
  kind: "match",
  left: { kind: "ct", key: "state" },
  op,
  right: names.length === 1 && op !== "in" ? sym(names[0]) : { kind: "set", elements: names.map(sym) },
  ...(mask !== undefined ? { mask: sym(mask) } : {}),
});
const ACCEPT: Expr = { kind: "accept" };
const DROP: Expr = { kind: "drop" };
const iif = (name: string): Expr => ({
  kind: "match",
  left: { kind: "meta", key: "iifname" },
  op: "==",
  right: { kind: "string", value: name },
});

function forward(rules: Rule[], policy: "accept" | "drop" = "drop"): Ruleset {
  return {
    tables: [
      {
        family: "inet",
        name: "fw",
        origin,
        chains: [{ name: "forward", origin, base: { type: "filter", hook: "forward", priority: 0, policy }, rules }],
      },
    ],
  };
}

function compiled(rs: Ruleset): CompiledRuleset {
  const c = compileRuleset(rs, { interfaces: IFACES });
  if (!c.ok) throw new Error(JSON.stringify(c.error));
  return c.value;
}

/** The same compiled ruleset with every rule on the generic path. */
function untagged(c: CompiledRuleset): CompiledRuleset {
  const chains = c.chains.map((ch) => ({
    ...ch,
    rules: ch.rules.map((r) => ({ ...r, ctStateAccept: 0, acceptVerdict: null })),
  }));
  const byIndex = (ch: { index: number }) => chains[ch.index];
  return { ...c, chains, hooks: c.hooks.map((fams) => fams.map((list) => list.map(byIndex))) };
}

const STATES = [0, CtState.INVALID, CtState.ESTABLISHED, CtState.RELATED, CtState.NEW, CtState.UNTRACKED];
const NAMES = ["invalid", "established", "related", "new", "untracked"];

function run(f: Filter, ctStateValue: number, iifIndex: number): { verdict: unknown; events: TraceEvent[] } {
  const m = new PacketMeta();
  m.family = 4;
  m.proto = Proto.TCP;
  m.ctState = ctStateValue;
  m.iif = iifIndex;
  const ctx = newEvalContext();
  ctx.firstPacket = false;
  const events: TraceEvent[] = [];
  ctx.trace = (e) => events.push(e);
  const res = f.evaluateHook("forward", m, ctx);
  const verdict = res.verdict;
  // Without a trace sink the verdict must be the same object.
  ctx.trace = null;
  expect(f.evaluateHook("forward", m, ctx).verdict).toBe(verdict);
  return { verdict, events };
}

describe("ct state accept rules", () => {
  it("tags exactly `ct state <flag list> accept`", () => {
    const c = compiled(
      forward([
        rule(ctState("in", ["established", "related"]), ACCEPT),
        rule(ctState("in", ["invalid"]), DROP),
        rule(ctState("in", ["established"]), { kind: "counter" }, ACCEPT),
        rule(ctState("!=", ["new"]), ACCEPT),
        rule(ctState("in", ["new", "untracked"], "new"), ACCEPT),
        rule(iif("lan"), ACCEPT),
        rule(ctState("in", ["new"]), ACCEPT),
      ]),
    );
    const tags = c.chains[0].rules.map((r) => r.ctStateAccept);
    expect(tags).toEqual([CtState.ESTABLISHED | CtState.RELATED, 0, 0, 0, 0, 0, CtState.NEW]);
    expect(c.chains[0].rules[0].acceptVerdict).toEqual({ kind: "accept", by: { kind: "rule", rule: c.rules[0] } });
    expect(c.chains[0].rules[1].acceptVerdict).toBeNull();
  });

  it("accepts established and related packets by the rule, and lets the others fall through", () => {
    const f = new Filter(compiled(forward([rule(ctState("in", ["established", "related"]), ACCEPT)])));
    const est = run(f, CtState.ESTABLISHED, 0);
    expect(est.verdict).toMatchObject({ kind: "accept", by: { kind: "rule" } });
    expect(est.events.map((e) => e.kind)).toEqual(["chain-enter", "rule"]);
    expect(run(f, CtState.NEW, 0).verdict).toMatchObject({ kind: "drop", by: { kind: "policy" } });
    // No entry: nft_ct.c reads `invalid`, which this rule does not name.
    expect(run(f, 0, 0).verdict).toMatchObject({ kind: "drop", by: { kind: "policy" } });
  });

  it("gives the generic path's verdicts and trace events for any states, flags and following rules", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            names: fc.subarray(NAMES, { minLength: 1 }),
            verdict: fc.constantFrom(ACCEPT, DROP),
            lan: fc.boolean(),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.constantFrom(...STATES),
        fc.integer({ min: 0, max: 1 }),
        fc.constantFrom<"accept" | "drop">("accept", "drop"),
        (specs, state, iifIndex, policy) => {
          const rules = specs.map((s) =>
            s.lan ? rule(iif("lan"), ctState("in", s.names), s.verdict) : rule(ctState("in", s.names), s.verdict),
          );
          const c = compiled(forward(rules, policy));
          const fast = run(new Filter(c), state, iifIndex);
          const generic = run(new Filter(untagged(c)), state, iifIndex);
          expect(fast.verdict).toBe(generic.verdict);
          expect(fast.events).toEqual(generic.events);
        },
      ),
      { numRuns: 300 },
    );
  });
});
