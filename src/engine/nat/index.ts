// Public face of the NAT engine: bindings and per-packet translation (nat.ts), port selection (port-allocator.ts),
// RFC 4787 behaviour settings (nat-behaviour.ts) and the in-place rewrite primitives (rewrite.ts).
export { Nat } from "./nat.js";
export { HelperNatHooks, formatAnnouncement, manglePayload } from "./helper-nat.js";
export type { HelperNatConntrack } from "./helper-nat.js";
export type { NatConntrack, NatOptions, NatVerdict } from "./nat.js";
export type { NatRequest } from "../filter/trace.js";
export { LINUX_NAT_BEHAVIOUR, rfc3489Type } from "./nat-behaviour.js";
export type { FilteringBehaviour, MappingBehaviour, NatBehaviour, Rfc3489Type } from "./nat-behaviour.js";
export { NAT_MAX_ATTEMPTS, NAT_MIN_ATTEMPTS, PortAllocator, PortClass, portClassOf } from "./port-allocator.js";
export type { PortProbe, PortSpan, SearchStats } from "./port-allocator.js";
export { Manip, manipPacket, refreshIcmpChecksum, embeddedTransportAt, embeddedProtocol } from "./rewrite.js";
