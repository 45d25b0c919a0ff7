// Public face of the kernel lab: the network of a model in Linux namespaces (`lab up|down|status`), its plan, the
// listeners' log format, and the state file `lab verify` reads to find namespaces, processes and logs.
export { labDown, labStatus, labUp, listenerCommand, processAlive } from "./lab.js";
export type {
  LabDownReport,
  LabError,
  LabResult,
  LabRunOptions,
  LabStatus,
  LabUpReport,
  NamespaceStatus,
} from "./lab.js";
export {
  BRIDGE,
  DEFAULT_PREFIX,
  IFNAME_MAX,
  conntrackSysctls,
  dnsmasqArgs,
  nodeNamespace,
  planLab,
  routeLine,
  segmentNamespace,
} from "./plan.js";
export type {
  LabOptions,
  LabPlan,
  ListenerService,
  PlannedNamespace,
  PlannedResolver,
  ResolverFiles,
  RulesetLoad,
  VethEnd,
  VethPair,
} from "./plan.js";
export { READY_LINE, peerAddress, tcpBehaviour, udpReply } from "./listener-service.js";
export type { ListenerConfig, ListenerEvent, TcpBehaviour } from "./listener-service.js";
export { readState, stateName, statePaths, stateRoot } from "./state.js";
export type { LabProcess, LabProcessKind, LabState } from "./state.js";
export { describeFailure, inNamespace, listNamespaces, probeLab, runCommand } from "./commands.js";
export type { CommandOptions, CommandOutput, LabCapabilities } from "./commands.js";
