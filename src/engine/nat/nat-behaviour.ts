// RFC 4787 §4.1 mapping and §5 filtering behaviours as explicit settings of a node's NAT (SEMANTICS.md §1.2,
// §2.7, §7 item 6). Linux is EIM (best effort) + APDF; `fully-random` makes it APDM; full cone (EIF) needs the
// out-of-tree fullcone module, which the engine models as an inbound lookup of the external endpoint.

/** Is X':x' reused when X:x sends to a new Y2:y2? Endpoint-independent, address-dependent, address-and-port-dependent. */
export type MappingBehaviour = "eim" | "adm" | "apdm";
/** Which outside endpoints may send in through X':x'? Endpoint-independent, address-dependent, address-and-port-dependent. */
export type FilteringBehaviour = "eif" | "adf" | "apdf";

export interface NatBehaviour {
  readonly mapping: MappingBehaviour;
  readonly filtering: FilteringBehaviour;
}

/** nf_nat_core.c as shipped: EIM while a mapping lives and the new tuple is free; only exact reply tuples enter. */
export const LINUX_NAT_BEHAVIOUR: NatBehaviour = { mapping: "eim", filtering: "apdf" };

/** The RFC 3489 names (RFC 5780 §1.7 table); null for combinations that have none (e.g. APDM + EIF). */
export type Rfc3489Type = "full-cone" | "restricted-cone" | "port-restricted-cone" | "symmetric";

export function rfc3489Type(b: NatBehaviour): Rfc3489Type | null {
  if (b.mapping === "apdm") return b.filtering === "apdf" ? "symmetric" : null;
  if (b.mapping === "adm") return null;
  switch (b.filtering) {
    case "eif":
      return "full-cone";
    case "adf":
      return "restricted-cone";
    case "apdf":
      return "port-restricted-cone";
  }
}
