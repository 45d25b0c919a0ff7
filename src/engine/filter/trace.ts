// Decisions are data (STYLE.md §4): every verdict the evaluator returns names the rule or chain policy that made
// it, and trace events mirror `nft monitor trace` (packet enters a chain, a rule matches, a verdict or a policy).
// Verdict objects are built once at compile time and handed out by reference, so returning one allocates nothing.

import type { ChainPolicy, Hook, LogLevel, Origin, TableFamily } from "./ir.js";

export interface ChainRef {
  readonly family: TableFamily;
  readonly table: string;
  readonly chain: string;
  readonly origin: Origin;
}

export interface RuleRef {
  readonly family: TableFamily;
  readonly table: string;
  readonly chain: string;
  /** Position of the rule in its chain, 0-based. */
  readonly position: number;
  /** Index of the rule across the compiled ruleset (counters are stored per this index). */
  readonly index: number;
  readonly origin: Origin;
  readonly handle?: number;
  readonly comment?: string;
}

/** What made a terminal decision: a rule, a chain's policy, or the absence of any base chain on the hook. */
export type Cause =
  | { readonly kind: "rule"; readonly rule: RuleRef }
  | { readonly kind: "policy"; readonly chain: ChainRef }
  | { readonly kind: "no-chain"; readonly hook: Hook };

/** The reply a reject asks the datapath to build (nft_reject: TCP RST or an ICMP/ICMPv6 destination-unreachable). */
export type RejectReply =
  | { readonly kind: "tcp-reset" }
  | { readonly kind: "icmp"; readonly type: number; readonly code: number }
  | { readonly kind: "icmpv6"; readonly type: number; readonly code: number };

export type Verdict =
  | { readonly kind: "accept"; readonly by: Cause }
  | { readonly kind: "drop"; readonly by: Cause }
  | { readonly kind: "reject"; readonly by: Cause; readonly reply: RejectReply };

/** A NAT statement that matched in a type-nat chain, for the NAT engine to apply to the connection. */
export interface NatRequest {
  readonly kind: "snat" | "dnat" | "masquerade" | "redirect";
  readonly family: 4 | 6;
  /** Address range to map to (IPv4 in word 0); absent for masquerade/redirect, which use the interface address. */
  readonly addrMin: Uint32Array | null;
  readonly addrMax: Uint32Array | null;
  /** Port range to map to; -1 when unspecified (keep the port where possible). */
  readonly portMin: number;
  readonly portMax: number;
  readonly random: boolean;
  readonly fullyRandom: boolean;
  readonly persistent: boolean;
  readonly rule: RuleRef;
}

export interface LogLine {
  readonly prefix: string;
  readonly level: LogLevel;
  readonly rule: RuleRef;
}

/** Events shaped like `nft monitor trace` lines; emitted only when the caller passes a sink. */
export type TraceEvent =
  | {
      readonly kind: "chain-enter";
      readonly hook: Hook;
      readonly chain: ChainRef;
      readonly via: "hook" | "jump" | "goto";
    }
  | {
      readonly kind: "rule";
      readonly rule: RuleRef;
      /** The verdict the rule issued: a terminal one, or jump/goto/return/continue (then the walk goes on). */
      readonly verdict: "accept" | "drop" | "reject" | "jump" | "goto" | "return" | "continue" | "nat";
      readonly target?: string;
    }
  | { readonly kind: "return"; readonly from: ChainRef }
  | { readonly kind: "policy"; readonly chain: ChainRef; readonly policy: ChainPolicy };

export type TraceSink = (event: TraceEvent) => void;

/** A ruleset the evaluator cannot run, with where it was written (nft rejects the same rulesets at load time). */
export interface CompileError {
  readonly kind: "compile";
  readonly code:
    | "unknown-chain"
    | "unknown-set"
    | "unknown-interface"
    | "chain-loop"
    | "jump-depth"
    | "bad-value"
    | "unknown-symbol"
    | "unsupported"
    | "nat-outside-nat-chain"
    | "nat-wrong-hook"
    | "duplicate";
  readonly message: string;
  readonly origin: Origin;
}

export function formatCompileError(e: CompileError): string {
  return `${e.origin.source}:${e.origin.line}:${e.origin.column}: ${e.code}: ${e.message}`;
}
