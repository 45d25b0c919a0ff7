// NAPT port selection as nf_nat_core.c nf_nat_l4proto_unique_tuple does it when the preferred tuple is taken:
// pick the port class (or the configured range), start at an offset, probe up to 128 consecutive ports, then halve
// the number of attempts with a fresh random start until fewer than 16 remain. Whether a port is free is asked of
// a `PortProbe` (the NAT engine checks the full reply tuple against conntrack), so the search never allocates.

import type { Rng } from "../rng.js";
import { NONE } from "../packet-meta.js";

/** NF_NAT_MAX_ATTEMPTS: the first round's probes. */
export const NAT_MAX_ATTEMPTS = 128;
/** The halving stops below this many attempts. */
export const NAT_MIN_ATTEMPTS = 16;
const U16_MASK = 0xffff;

/** Port classes of an unspecified range (nf_nat_l4proto_unique_tuple; RFC 4787 REQ-3a keeps <1024 below 1024). */
export const PortClass = {
  /** Ports below 512: "credential passing" convention, mapped within 1..511. */
  LOW: { min: 1, max: 511 },
  /** 512..1023 map within 600..1023. */
  PRIVILEGED: { min: 600, max: 1023 },
  /** Everything else maps within 1024..65535. */
  EPHEMERAL: { min: 1024, max: 65535 },
  /** ICMP query identifiers: the whole 16-bit space. */
  ICMP_ID: { min: 0, max: 65535 },
} as const;

/** A port range (inclusive); reused by callers, never allocated per packet. */
export interface PortSpan {
  min: number;
  max: number;
}

/** The class an unspecified SNAT range searches for `port`. */
export function portClassOf(port: number, out: PortSpan): PortSpan {
  const c = port < 512 ? PortClass.LOW : port < 1024 ? PortClass.PRIVILEGED : PortClass.EPHEMERAL;
  out.min = c.min;
  out.max = c.max;
  return out;
}

/** Answers whether a candidate port gives a free reply tuple. */
export interface PortProbe {
  portFree(port: number): boolean;
}

/** Counters of the last search, for traces and tests. */
export interface SearchStats {
  probes: number;
  rounds: number;
}

export class PortAllocator {
  readonly last: SearchStats = { probes: 0, rounds: 0 };

  constructor(private readonly rng: Rng) {}

  /**
   * Searches [min, max] for a free port. `randomStart` picks the first offset from the Rng (SNAT, and DNAT with
   * `random`); otherwise the search starts at `min` (DNAT's `off = 0`). Returns the port, or NONE when every
   * attempt found the tuple taken — the kernel then leaves a clashing tuple and the packet dies at confirm.
   */
  search(min: number, max: number, randomStart: boolean, probe: PortProbe): number {
    const size = max - min + 1;
    let off = randomStart ? this.rng.nextU32() & U16_MASK : 0;
    let attempts = Math.min(size, NAT_MAX_ATTEMPTS);
    this.last.probes = 0;
    this.last.rounds = 0;
    for (;;) {
      this.last.rounds++;
      for (let i = 0; i < attempts; i++, off++) {
        const port = min + (off % size);
        this.last.probes++;
        if (probe.portFree(port)) return port;
      }
      if (attempts >= size || attempts < NAT_MIN_ATTEMPTS) return NONE;
      attempts >>>= 1;
      off = this.rng.nextU32() & U16_MASK;
    }
  }
}
