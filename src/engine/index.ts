// Public face of the engine: one node's netfilter-like datapath (Datapath), the per-packet metadata it fills, the
// injected randomness, the reply builders, and the parts (filter, conntrack, nat, route) as namespaces.
export { Datapath, Priority, describeEndpoints, formatWords } from "./datapath.js";
export type {
  DatapathBuild,
  DatapathEvent,
  DatapathOptions,
  DatapathSink,
  Disposition,
  DropReason,
  InterfaceConfig,
} from "./datapath.js";
export { CtDir, CtState, CtStatus, NONE, PacketMeta, Proto, TcpFlag } from "./packet-meta.js";
export type { Family } from "./packet-meta.js";
export { fillPacketMeta } from "./packet-parse.js";
export { DEFAULT_TTL, buildIcmpError, buildTcpReset } from "./reject.js";
export { SeededRng } from "./rng.js";
export type { Rng } from "./rng.js";
export * as filter from "./filter/index.js";
export * as conntrack from "./conntrack/index.js";
export * as nat from "./nat/index.js";
export * as route from "./route/index.js";
