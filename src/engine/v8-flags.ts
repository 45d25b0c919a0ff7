// The V8 settings a process running the datapath should start with. The established-packet path
// (Datapath.receiveCachedIpv4 with conntrack's lookup and TCP window tracking, NAT and the TTL) is larger than
// TurboFan's default inlining budget (920 bytes of bytecode per optimised function, 460 per callee), so with the
// defaults a dozen small helpers stay calls and every call boundary boxes the 32-bit words passed through it.
// With these two limits raised, W1 (BENCHMARKS.md) measured 215–250 → 150–175 ns/packet at 200 flows. The flags
// change how much V8 inlines, never what the code computes. The CLI applies them at start (v8.setFlagsFromString,
// before any datapath code is hot) and the bench runner starts its suite processes with them.
export const DATAPATH_V8_FLAGS: readonly string[] = [
  "--max-inlined-bytecode-size-cumulative=4000",
  "--max-inlined-bytecode-size=1000",
];
