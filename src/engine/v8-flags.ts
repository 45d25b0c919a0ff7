// The V8 settings for a process that forwards packets through the datapath at volume. The established-packet path
// (Datapath.receiveCachedIpv4 with conntrack's lookup and TCP window tracking, NAT and the TTL) is larger than
// TurboFan's default inlining budget (920 bytes of bytecode per optimised function, 460 per callee), so with the
// defaults a dozen small helpers stay calls. With these two limits raised W1 (BENCHMARKS.md) measured 204–250 →
// 161–165 ns/packet at 200 flows. The flags change how much V8 inlines, never what the code computes. The bench
// runner starts its suite processes with them; the CLI does not: its commands are short and compile-bound, and the
// larger budget made `mallory demo` and `mallory audit` 3–5 % slower (measured three times each).
export const DATAPATH_V8_FLAGS: readonly string[] = [
  "--max-inlined-bytecode-size-cumulative=4000",
  "--max-inlined-bytecode-size=1000",
];
