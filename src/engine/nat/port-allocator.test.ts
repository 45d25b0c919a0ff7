import { describe, expect, it } from "vitest";
import { NONE } from "../packet-meta.js";
import { SeededRng } from "../rng.js";
import { NAT_MAX_ATTEMPTS, PortAllocator, portClassOf } from "./port-allocator.js";

class SetProbe {
  readonly tried: number[] = [];
  constructor(readonly taken: Set<number>) {}
  portFree(p: number): boolean {
    this.tried.push(p);
    return !this.taken.has(p);
  }
}

describe("port classes (nf_nat_l4proto_unique_tuple)", () => {
  it("maps <512, 512..1023 and ≥1024 to their own ranges", () => {
    const s = { min: 0, max: 0 };
    expect(portClassOf(53, s)).toEqual({ min: 1, max: 511 });
    expect(portClassOf(511, s)).toEqual({ min: 1, max: 511 });
    expect(portClassOf(512, s)).toEqual({ min: 600, max: 1023 });
    expect(portClassOf(1023, s)).toEqual({ min: 600, max: 1023 });
    expect(portClassOf(1024, s)).toEqual({ min: 1024, max: 65535 });
  });
});

describe("PortAllocator.search", () => {
  it("a DST search without random starts at the range's first port and walks up", () => {
    const a = new PortAllocator(new SeededRng(1));
    const probe = new SetProbe(new Set([8000, 8001]));
    expect(a.search(8000, 8010, false, probe)).toBe(8002);
    expect(probe.tried).toEqual([8000, 8001, 8002]);
  });

  it("a small range is searched exhaustively once, then fails", () => {
    const a = new PortAllocator(new SeededRng(2));
    const taken = new Set<number>();
    for (let p = 20000; p <= 20009; p++) taken.add(p);
    const probe = new SetProbe(taken);
    expect(a.search(20000, 20009, true, probe)).toBe(NONE);
    expect(new Set(probe.tried).size).toBe(10);
    expect(a.last).toEqual({ probes: 10, rounds: 1 });
  });

  it("a large full range costs 128+64+32+16+8 probes in 5 rounds (attempt halving)", () => {
    const a = new PortAllocator(new SeededRng(3));
    const probe = { portFree: (): boolean => false };
    expect(a.search(1024, 65535, true, probe)).toBe(NONE);
    expect(a.last).toEqual({ probes: NAT_MAX_ATTEMPTS + 64 + 32 + 16 + 8, rounds: 5 });
  });

  it("random starts spread over the range and are reproducible from the seed", () => {
    const starts = (seed: number): number[] => {
      const a = new PortAllocator(new SeededRng(seed));
      return Array.from({ length: 200 }, () => a.search(1024, 65535, true, { portFree: () => true }));
    };
    const s = starts(7);
    expect(starts(7)).toEqual(s);
    expect(Math.min(...s)).toBeLessThan(10000);
    expect(Math.max(...s)).toBeGreaterThan(55000);
    expect(new Set(s).size).toBeGreaterThan(190);
  });

  it("finds the only free port of a nearly full small class", () => {
    const taken = new Set<number>();
    for (let p = 1; p <= 511; p++) if (p !== 300) taken.add(p);
    // 511 ports: the first round covers 128 from a random start; later rounds are random too, so the lone free
    // port may be missed — which is the kernel's behaviour. Over many seeds it is found most of the time.
    let found = 0;
    for (let seed = 0; seed < 200; seed++) {
      const r = new PortAllocator(new SeededRng(seed)).search(1, 511, true, new SetProbe(taken));
      if (r !== NONE) {
        expect(r).toBe(300);
        found++;
      }
    }
    expect(found).toBeGreaterThan(50);
    expect(found).toBeLessThan(200);
  });
});
