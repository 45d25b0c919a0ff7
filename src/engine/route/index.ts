// Public face of the routing engine: the FIB (longest-prefix match, route types, `fib` expression queries) and
// IPv4 reverse-path filtering.
export { Fib, FibExpression, FibFlag, RouteType, routeRejection, prefixContains, isMulticast } from "./fib.js";
export type {
  FibPacket,
  Route,
  RouteSpec,
  RouteOrigin,
  AddRouteResult,
  InterfaceAddress,
  RouteRejection,
} from "./fib.js";
export { RpFilterMode, effectiveRpFilter, validateSource } from "./rp-filter.js";
export type { RpFilterVerdict } from "./rp-filter.js";
