import * as zlib from "node:zlib";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { crc32 } from "./crc32.js";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

// zlib.crc32 exists from Node 20.15; older runtimes skip only the cross-check, never the fixed vectors.
const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

describe("crc32", () => {
  it("gives the CRC-32/ISO-HDLC check value for '123456789'", () => {
    expect(crc32(ascii("123456789"))).toBe(0xcbf43926);
  });

  it("gives known values for the empty input, one zero byte and a pangram", () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(new Uint8Array([0]))).toBe(0xd202ef8d);
    expect(crc32(ascii("The quick brown fox jumps over the lazy dog"))).toBe(0x414fa339);
  });

  it("reads only the requested range", () => {
    const framed = ascii("xx123456789yyy");
    expect(crc32(framed, 2, 9)).toBe(0xcbf43926);
    expect(crc32(framed.subarray(2, 11))).toBe(0xcbf43926);
  });

  it("clamps a range that runs past the end instead of reading undefined", () => {
    const b = ascii("123456789");
    expect(crc32(b, 0, 1000)).toBe(0xcbf43926);
    expect(crc32(b, 9, 5)).toBe(0);
  });

  test.prop([fc.uint8Array({ maxLength: 300 }), fc.nat(300)], { numRuns: 2000 })(
    "continues a running CRC across a split",
    (b, k) => {
      const cut = Math.min(k, b.length);
      expect(crc32(b, cut, b.length - cut, crc32(b, 0, cut))).toBe(crc32(b));
    },
  );

  it.runIf(zlibCrc32 !== undefined)("agrees with node:zlib crc32 on random inputs and ranges", () => {
    const z = zlibCrc32!;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(), fc.nat(), (b, x, y) => {
        const at = b.length === 0 ? 0 : x % (b.length + 1);
        const len = y % (b.length - at + 1);
        expect(crc32(b, at, len)).toBe(z(b.subarray(at, at + len)) >>> 0);
      }),
      { numRuns: 5000 },
    );
  });
});
