// Reverse-path filtering as Linux does it for IPv4 (fib_frontend.c fib_validate_source / __fib_validate_source;
// SEMANTICS.md §2.9). The effective mode is max(conf.all.rp_filter, conf.<iif>.rp_filter); IPv6 has no rp_filter.

import type { Family } from "../packet-meta.js";
import type { Fib } from "./fib.js";
import { RouteType } from "./fib.js";

/** net.ipv4.conf.*.rp_filter values. */
export const RpFilterMode = { OFF: 0, STRICT: 1, LOOSE: 2 } as const;
export type RpFilterMode = (typeof RpFilterMode)[keyof typeof RpFilterMode];

export type RpFilterVerdict =
  | { readonly kind: "accept"; readonly reason: "off" | "ipv6" | "reverse-route-via-iif" | "reverse-route-exists" }
  | {
      readonly kind: "drop";
      /** local-source: the source is one of the node's own addresses (a martian, dropped in every mode);
       * no-reverse-route: nothing routes back to the source; reverse-route-not-unicast: it routes to a
       * blackhole/unreachable/prohibit route; reverse-route-other-iif: strict mode and the best route back leaves
       * through another interface. */
      readonly reason: "local-source" | "no-reverse-route" | "reverse-route-not-unicast" | "reverse-route-other-iif";
    };

const ACCEPT_OFF: RpFilterVerdict = { kind: "accept", reason: "off" };
const ACCEPT_V6: RpFilterVerdict = { kind: "accept", reason: "ipv6" };
const ACCEPT_VIA_IIF: RpFilterVerdict = { kind: "accept", reason: "reverse-route-via-iif" };
const ACCEPT_ROUTE_EXISTS: RpFilterVerdict = { kind: "accept", reason: "reverse-route-exists" };
const DROP_LOCAL: RpFilterVerdict = { kind: "drop", reason: "local-source" };
const DROP_NO_ROUTE: RpFilterVerdict = { kind: "drop", reason: "no-reverse-route" };
const DROP_NOT_UNICAST: RpFilterVerdict = { kind: "drop", reason: "reverse-route-not-unicast" };
const DROP_OTHER_IIF: RpFilterVerdict = { kind: "drop", reason: "reverse-route-other-iif" };

/** max(all, iface), as devinet.c's IN_DEV_RPFILTER reads it. */
export function effectiveRpFilter(all: number, iface: number): RpFilterMode {
  const m = Math.max(all, iface);
  return m >= 2 ? RpFilterMode.LOOSE : m === 1 ? RpFilterMode.STRICT : RpFilterMode.OFF;
}

/**
 * Validates the source of a packet received on `iif`. Returns preallocated verdicts (no per-packet allocation).
 * Mirrors __fib_validate_source: the route back to the source must be unicast (a local address is a martian even
 * with rp_filter off: fib_validate_source's fast path rejects it too); strict mode needs it to leave through
 * `iif`; loose mode accepts any unicast route; a missing route fails both modes ("last_resort: if (rpf) e_rpf").
 */
export function validateSource(
  fib: Fib,
  family: Family,
  saddr: ArrayLike<number>,
  iif: number,
  mode: RpFilterMode,
): RpFilterVerdict {
  if (family === 6) return ACCEPT_V6;
  if (mode === RpFilterMode.OFF) return fib.isLocalAddress(4, saddr) ? DROP_LOCAL : ACCEPT_OFF;
  const back = fib.lookup(4, saddr);
  if (back === null) return DROP_NO_ROUTE;
  if (back.type === RouteType.LOCAL) return DROP_LOCAL;
  if (back.type !== RouteType.UNICAST) return DROP_NOT_UNICAST;
  if (back.oif === iif) return ACCEPT_VIA_IIF;
  return mode === RpFilterMode.STRICT ? DROP_OTHER_IIF : ACCEPT_ROUTE_EXISTS;
}
