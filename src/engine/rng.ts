// Chance is injected (STYLE.md §6): the engine never calls Math.random. Same seed, same port choices, same trace.

/** A source of uniformly distributed 32-bit integers. */
export interface Rng {
  /** An unsigned integer in 0..2^32-1. */
  nextU32(): number;
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counter), seeded through splitmix32: fast, 128-bit state, no allocation. */
export class SeededRng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** An integer in lo..hi inclusive. */
  between(lo: number, hi: number): number {
    return lo + (this.nextU32() % (hi - lo + 1));
  }
}
