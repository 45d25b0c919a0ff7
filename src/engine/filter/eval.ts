// Runs a compiled ruleset for one packet at one hook, the way nf_tables_core.c's nft_do_chain does: every base
// chain on the hook for the packet's family, in priority order; `accept` ends only the current base chain,
// drop/reject end the hook; jump pushes a return point, goto replaces the chain, return pops (in a base chain it
// means the policy); falling off a base chain applies its policy. Type nat chains run only for a connection's
// first packet, and a NAT statement ends its chain with accept (nft_nat_eval returns NF_ACCEPT).
// Nothing here allocates per packet unless the caller asked for a trace.

import type { PacketMeta } from "../packet-meta.js";
import { Proto } from "../packet-meta.js";
import type { CompiledChain, CompiledRuleset, CompiledVerdict } from "./compile.js";
import { JUMP_STACK_SIZE, hookIndex } from "./compile.js";
import type { EvalContext } from "./context.js";
import { ctStateOf } from "./selectors.js";
import type { Hook } from "./ir.js";
import { assertNever } from "./ir.js";
import type { LogLine, NatRequest, Verdict } from "./trace.js";

/** How many counter statements one packet's logged walk may run and still be replayed. */
const COUNTED_MAX = 32;

/** What one hook did to the packet, refilled for every call (read it before the next call). */
export class HookResult {
  verdict: Verdict | null = null;
  /** The NAT statement that matched in a type-nat chain, for the NAT engine to apply. */
  nat: NatRequest | null = null;
  /** `ct mark set`: the new mark when `ctMarkSet`; meta.mark is updated in place by `meta mark set`. */
  ctMarkSet = false;
  ctMark = 0;
  /** `ct helper set`: the helper to attach (its type), or null. */
  helper: string | null = null;
  /** `notrack` ran (also set on meta.notrack). */
  notrack = false;
  /** Log statements that ran, in order (references to compile-time objects). */
  readonly logs: LogLine[] = [];

  reset(): void {
    this.verdict = null;
    this.nat = null;
    this.ctMarkSet = false;
    this.ctMark = 0;
    this.helper = null;
    this.notrack = false;
    if (this.logs.length !== 0) this.logs.length = 0;
  }
}

/** A node's filter: the compiled ruleset plus its mutable state (counters per rule, token buckets per limit). */
export class Filter {
  /** Packets and bytes counted by `counter` statements, per rule index (CompiledRuleset.rules). */
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  /**
   * While `countedLogging` is set, the rule index of every `counter` statement run is appended here (entries past
   * the array's end are counted in `countedCount` but not stored): what a cached decision must count again.
   */
  readonly counted = new Int32Array(COUNTED_MAX);
  countedCount = 0;
  countedLogging = false;
  private readonly tokens: Float64Array;
  private readonly last: Float64Array;
  private readonly result = new HookResult();
  private readonly stackChain = new Int32Array(JUMP_STACK_SIZE);
  private readonly stackRule = new Int32Array(JUMP_STACK_SIZE);

  constructor(readonly ruleset: CompiledRuleset) {
    this.packets = new Float64Array(ruleset.rules.length);
    this.bytes = new Float64Array(ruleset.rules.length);
    this.tokens = new Float64Array(ruleset.limitSlots).fill(-1);
    this.last = new Float64Array(ruleset.limitSlots);
  }

  /** Runs every base chain attached to `hook` for the packet's family. */
  evaluateHook(hook: Hook, meta: PacketMeta, ctx: EvalContext): HookResult {
    return this.evaluateChains(hook, this.ruleset.hooks[hookIndex(hook)][meta.family === 4 ? 0 : 1], meta, ctx);
  }

  /**
   * The base chains on `hook` of one kind — type nat (`nat` true) or the others — whose priority lies in [lo, hi),
   * in evaluation order. The datapath fixes these ranges between its own fixed-priority steps (conntrack at −200,
   * NAT at −100/100, confirm last), as nf_hook_entries interleaves them; type nat chains all run at the NAT step,
   * in their own priority order (nf_nat_inet_fn calls the registered lookups in order).
   */
  chainsIn(hook: Hook, family: 4 | 6, nat: boolean, lo: number, hi: number): readonly CompiledChain[] {
    const chains = this.ruleset.hooks[hookIndex(hook)][family === 4 ? 0 : 1];
    return chains.filter((c) => {
      const base = c.base!;
      return (base.type === "nat") === nat && base.priority >= lo && base.priority < hi;
    });
  }

  /**
   * Runs the given base chains of `hook` (from `chainsIn`, of this filter, for the packet's family) in order until
   * one gives a verdict other than accept; type nat chains only for a connection's first packet.
   */
  evaluateChains(hook: Hook, chains: readonly CompiledChain[], meta: PacketMeta, ctx: EvalContext): HookResult {
    const res = this.result;
    res.reset();
    let verdict = this.ruleset.noChain[hookIndex(hook)];
    for (let i = 0; i < chains.length; i++) {
      const chain = chains[i];
      if (chain.base!.type === "nat" && !ctx.firstPacket) continue;
      verdict = this.runBaseChain(chain, hook, meta, ctx, res);
      if (verdict.kind !== "accept") break;
    }
    res.verdict = verdict;
    return res;
  }

  private runBaseChain(base: CompiledChain, hook: Hook, meta: PacketMeta, ctx: EvalContext, res: HookResult): Verdict {
    const chains = this.ruleset.chains;
    const trace = ctx.trace;
    let sp = 0;
    let chain = base;
    let ri = 0;
    if (trace !== null) trace({ kind: "chain-enter", hook, chain: base.ref, via: "hook" });
    for (;;) {
      if (ri >= chain.rules.length) {
        if (sp === 0) return this.policy(base, ctx);
        if (trace !== null) trace({ kind: "return", from: chain.ref });
        sp--;
        chain = chains[this.stackChain[sp]];
        ri = this.stackRule[sp];
        continue;
      }
      const rule = chain.rules[ri++];
      if (rule.ctStateAccept !== 0) {
        // `ct state established,related accept`: runRule's flag test and accept, without the op dispatch.
        if ((ctStateOf(meta) & rule.ctStateAccept) === 0) continue;
        if (trace !== null) trace({ kind: "rule", rule: rule.ref, verdict: "accept" });
        return rule.acceptVerdict!;
      }
      const v = this.runRule(chain, ri - 1, meta, ctx, res);
      if (v === null) continue;
      switch (v.t) {
        case "accept":
        case "drop":
          if (trace !== null) trace({ kind: "rule", rule: rule.ref, verdict: v.t });
          return v.verdict;
        case "reject": {
          const out = (meta.family === 4 ? v.v4 : v.v6)!;
          if (trace !== null) trace({ kind: "rule", rule: rule.ref, verdict: "reject" });
          return out;
        }
        case "jump":
          if (trace !== null) {
            trace({ kind: "rule", rule: rule.ref, verdict: "jump", target: v.target });
            trace({ kind: "chain-enter", hook, chain: chains[v.chain].ref, via: "jump" });
          }
          this.stackChain[sp] = chain.index;
          this.stackRule[sp] = ri;
          sp++;
          chain = chains[v.chain];
          ri = 0;
          break;
        case "goto":
          if (trace !== null) {
            trace({ kind: "rule", rule: rule.ref, verdict: "goto", target: v.target });
            trace({ kind: "chain-enter", hook, chain: chains[v.chain].ref, via: "goto" });
          }
          chain = chains[v.chain];
          ri = 0;
          break;
        case "return":
          if (trace !== null) trace({ kind: "rule", rule: rule.ref, verdict: "return" });
          if (sp === 0) return this.policy(base, ctx);
          sp--;
          chain = chains[this.stackChain[sp]];
          ri = this.stackRule[sp];
          break;
        case "continue":
          if (trace !== null) trace({ kind: "rule", rule: rule.ref, verdict: "continue" });
          break;
        default:
          return assertNever(v);
      }
    }
  }

  private policy(base: CompiledChain, ctx: EvalContext): Verdict {
    const b = base.base!;
    if (ctx.trace !== null) ctx.trace({ kind: "policy", chain: base.ref, policy: b.policyName });
    return b.policy;
  }

  /** Runs one rule's expressions left to right; null when the rule stopped (a match failed) or had no verdict. */
  private runRule(
    chain: CompiledChain,
    ri: number,
    meta: PacketMeta,
    ctx: EvalContext,
    res: HookResult,
  ): CompiledVerdict | null {
    const rule = chain.rules[ri];
    const ops = rule.ops;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      switch (op.op) {
        case "match":
          if (!op.test(meta, ctx)) return null;
          break;
        case "counter":
          this.packets[rule.ref.index]++;
          this.bytes[rule.ref.index] += meta.length;
          if (this.countedLogging) {
            if (this.countedCount < COUNTED_MAX) this.counted[this.countedCount] = rule.ref.index;
            this.countedCount++;
          }
          break;
        case "log":
          res.logs.push(op.line);
          break;
        case "limit": {
          // nft_limit.c: a token bucket refilled by elapsed time, starting full.
          const s = op.slot;
          let tokens = this.tokens[s];
          if (tokens < 0) tokens = op.capacity;
          else tokens = Math.min(op.capacity, tokens + (ctx.now - this.last[s]));
          this.last[s] = ctx.now;
          const cost = op.bytes ? op.cost * meta.length : op.cost;
          const within = tokens >= cost;
          this.tokens[s] = within ? tokens - cost : tokens;
          if (within === op.over) return null;
          break;
        }
        case "mark":
          if (op.ct) {
            res.ctMarkSet = true;
            res.ctMark = op.value;
            ctx.ctMark = op.value;
          } else meta.mark = op.value;
          break;
        case "nat": {
          const req = meta.family === 4 ? op.v4 : op.v6;
          // A NAT statement for the other family carries nft's implicit `meta nfproto` dependency.
          if (req === null) return null;
          res.nat = req;
          if (ctx.trace !== null) ctx.trace({ kind: "rule", rule: rule.ref, verdict: "nat" });
          return op.accept;
        }
        case "notrack":
          res.notrack = true;
          meta.notrack = true;
          break;
        case "helper":
          // nft_ct_helper_obj_eval: an object for the other family (helper4/helper6 unset) or another protocol
          // attaches nothing.
          if ((op.family !== 0 && op.family !== meta.family) || (op.proto !== 0 && op.proto !== meta.proto)) break;
          res.helper = op.name;
          ctx.ctHelper = op.name;
          break;
        case "vmap": {
          const k = op.lookup(meta, ctx);
          if (k < 0) return null;
          return this.familyCheck(op.verdicts[k], meta);
        }
        case "verdict":
          return this.familyCheck(op.verdict, meta);
        default:
          return assertNever(op);
      }
    }
    return null;
  }

  private familyCheck(v: CompiledVerdict, meta: PacketMeta): CompiledVerdict | null {
    if (v.t !== "reject") return v;
    const out = meta.family === 4 ? v.v4 : v.v6;
    if (out === null) return null;
    // nft adds an implicit `meta l4proto tcp` to `reject with tcp reset` (evaluate.c stmt_reject dependency), so the
    // rule never matches other protocols.
    if (out.kind === "reject" && out.reply.kind === "tcp-reset" && meta.proto !== Proto.TCP) return null;
    return v;
  }
}
