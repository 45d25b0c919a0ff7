// The committed WebAssembly is what its AssemblyScript source compiles to (scripts/fastpath-wasm.ts), so the two
// never drift apart; and the fast path's memory hands out the views a node's table and ring live in.
import { describe, expect, it } from "vitest";
import { compileFastPath } from "../../../scripts/fastpath-wasm.js";
import { ESTABLISHED_WASM_BASE64 } from "./established-wasm.js";
import { FastPath, MAX_BURST } from "./fast-path.js";
import { R } from "../conntrack/entry-layout.js";

describe("the compiled fast path", () => {
  it("is the compilation of assembly/established.ts (run `npx tsx scripts/fastpath-wasm.ts` after editing it)", async () => {
    const fresh = await compileFastPath();
    expect(Buffer.from(fresh).toString("base64")).toBe(ESTABLISHED_WASM_BASE64);
  }, 60_000);

  it("lays the ring, the index and the records out in one memory, each of the size asked for", () => {
    const fast = new FastPath(1000, 2667, 4096);
    expect(fast.ring.length).toBe(4096);
    expect(fast.slots.length).toBe(2667);
    expect(fast.rec.length).toBe(1000 * R.STRIDE);
    expect(fast.ring.buffer).toBe(fast.rec.buffer);
    // Disjoint: writing the whole of each leaves the others as they were.
    fast.rec.fill(0xffffffff);
    fast.slots.fill(-1);
    fast.ring.fill(0x5a);
    expect(fast.rec.every((w) => w === 0xffffffff)).toBe(true);
    expect(fast.slots.every((w) => w === -1)).toBe(true);
    expect(fast.planIif.every((w) => w === -1)).toBe(true);
  });

  it("refuses a ring of no bytes, and a table no WebAssembly memory can hold, saying why", () => {
    expect(() => new FastPath(16, 43, 0)).toThrow(/ringBytes 0/);
    expect(() => new FastPath(60_000_000, 160_000_000, 4096)).toThrow(/more than a WebAssembly memory holds/);
  });

  it("reads ahead any burst without changing a byte, and refuses packets of an empty table", () => {
    const fast = new FastPath(16, 43, 1024);
    fast.slots.fill(-1);
    fast.ring.fill(0x45);
    const before = Uint8Array.from(fast.ring);
    const l3s = Int32Array.from({ length: MAX_BURST }, (_, i) => (i * 4) % 960);
    const lengths = new Int32Array(MAX_BURST).fill(60);
    fast.stage(l3s, lengths, new Int32Array(MAX_BURST), MAX_BURST);
    fast.readAheadStaged(MAX_BURST);
    expect(fast.burst(0, MAX_BURST, 1000, 0, true)).toBe(0);
    expect(fast.ring).toEqual(before);
    expect(fast.established(0, 60, 0, 1000, 0, true)).toBe(-1);
    expect(fast.ring).toEqual(before);
  });
});
