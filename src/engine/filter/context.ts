// What the evaluator needs from the rest of the datapath besides the packet's PacketMeta: the clock, whether this
// is a connection's first packet (only then do type-nat chains run, SEMANTICS.md §3.1), the packet's conntrack
// entry facts that PacketMeta does not carry, a FIB for `fib` expressions, and an optional trace sink.

import type { PacketMeta } from "../packet-meta.js";
import type { TraceSink } from "./trace.js";

/** Route lookups for `fib` expressions (nft_fib.c). `flags` is a set of FibFlagBit bits. */
export interface FibOracle {
  /** Output interface index of the route, or NONE (-1) when there is none (`fib … oif missing`). */
  oif(meta: PacketMeta, flags: number): number;
  /** RTN_* type of the looked-up address (`fib daddr type local`). */
  addrType(meta: PacketMeta, flags: number): number;
}

export interface EvalContext {
  /** Virtual time in milliseconds (limits are token buckets on it). */
  now: number;
  /** The packet is the first of a new connection: type-nat chains run only then. */
  firstPacket: boolean;
  /** The packet's conntrack entry (meta.ctEntry) status bits, mark and helper name ("" for none). */
  ctStatus: number;
  ctMark: number;
  ctHelper: string;
  fib: FibOracle | null;
  /** Receives trace events when set; null means no tracing and no allocation. */
  trace: TraceSink | null;
}

export function newEvalContext(): EvalContext {
  return { now: 0, firstPacket: true, ctStatus: 0, ctMark: 0, ctHelper: "", fib: null, trace: null };
}
