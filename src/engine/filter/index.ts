// Public face of the filter engine: the ruleset IR, its compiler and evaluator, trace/verdict types, the compiled
// 5-tuple classifier and the ClassBench parser.
export type * from "./ir.js";
export { assertNever } from "./ir.js";
export type * from "./trace.js";
export { formatCompileError } from "./trace.js";
export type { EvalContext, FibOracle } from "./context.js";
export { newEvalContext } from "./context.js";
export type { CompileOptions, CompiledRuleset, CompiledChain, CompiledRule } from "./compile.js";
export { compileRuleset, JUMP_STACK_SIZE, HOOKS } from "./compile.js";
export { Filter, HookResult } from "./eval.js";
export { FIB_MISSING, ifnameMatches } from "./selectors.js";
export * from "./symbols.js";
export type { FiveTupleRule, ClassifierOptions } from "./classifier.js";
export { FiveTupleClassifier, linearFirstMatch, packRules, prefixRange, Dim, DIMS } from "./classifier.js";
export type { ClassBenchRule, ClassBenchError, ClassBenchResult } from "./classbench.js";
export { parseClassBench } from "./classbench.js";
export { rulesetReadsCtFacts, rulesetUsesConntrack } from "./uses-conntrack.js";
export type { FlowInvariance } from "./flow-invariance.js";
export { forwardPathFlowInvariance } from "./flow-invariance.js";
