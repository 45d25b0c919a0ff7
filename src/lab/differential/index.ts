// The differential test of the datapath against the real kernel: random packet sequences replayed through a Linux
// router in namespaces and through the engine, compared packet by packet and conntrack entry by entry.
export type { Side, RulesetVariant, Endpoint, Flow, FlowProto, Dir, Step, Scenario } from "./scenario.js";
export { RouterAddress, LAN_HOSTS, variantRuleset } from "./scenario.js";
export { generateScenario } from "./generator.js";
export type { CtTupleText, KernelCtEntry } from "./conntrack-text.js";
export { parseConntrackLine, parseConntrackList } from "./conntrack-text.js";
export type { RouterUnderTest, StepRecord, RunRecord } from "./replay.js";
export { replay, firstDifference, describePacket, EngineRouter, engineRouterFor } from "./replay.js";
export type { KernelRigOptions, KernelOutput } from "./kernel-rig.js";
export { KernelRig, KernelRouter, probeKernelRig } from "./kernel-rig.js";
