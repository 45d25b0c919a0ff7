import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { formatIpv4 } from "../../wire/address.js";
import { parseClassBench } from "./classbench.js";

describe("parseClassBench", () => {
  it("parses the README's example line into a 5-tuple box", () => {
    const r = parseClassBench(
      "@37.184.89.216/29\t37.184.85.16/29\t7648 : 7648\t24032 : 24032\t0x11/0xFF\t0x0000/0x0000\t\n",
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.rules).toHaveLength(1);
    const x = r.rules[0];
    expect([formatIpv4(x.srcLo), formatIpv4(x.srcHi), formatIpv4(x.dstLo), formatIpv4(x.dstHi)]).toEqual([
      "37.184.89.216",
      "37.184.89.223",
      "37.184.85.16",
      "37.184.85.23",
    ]);
    expect([x.sportLo, x.sportHi, x.dportLo, x.dportHi, x.protoLo, x.protoHi, x.line]).toEqual([
      7648, 7648, 24032, 24032, 17, 17, 1,
    ]);
  });
  it("reads protocol mask 0x00 as any protocol and keeps the flags field", () => {
    const r = parseClassBench("@0.0.0.0/0\t10.0.0.0/8\t0 : 65535\t1024 : 65535\t0x00/0x00\t0x0200/0x1200\n");
    expect(r.ok && [r.rules[0].protoLo, r.rules[0].protoHi, r.rules[0].flags, r.rules[0].flagsMask]).toEqual([
      0, 255, 0x200, 0x1200,
    ]);
  });
  it("reports the line and column of a bad field", () => {
    const r = parseClassBench(
      "@1.2.3.4/32\t5.6.7.8/32\t1 : 2\t3 : 4\t0x06/0xFF\n@1.2.3.4/32\t5.6.7.8/33\t1 : 2\t3 : 4\t0x06/0xFF\n",
    );
    expect(r.ok ? null : r.error).toMatchObject({ line: 2, column: 13 });
    const ports = parseClassBench("@1.2.3.4/32\t5.6.7.8/32\t9 : 2\t3 : 4\t0x06/0xFF\n");
    expect(ports.ok ? null : ports.error.message).toMatch(/port range/);
  });
  test.prop([
    fc.array(
      fc.record({
        src: fc.integer({ min: 0, max: 0xffffffff }),
        sl: fc.integer({ min: 0, max: 32 }),
        dst: fc.integer({ min: 0, max: 0xffffffff }),
        dl: fc.integer({ min: 0, max: 32 }),
        sp: fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })),
        dp: fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })),
        proto: fc.option(fc.integer({ min: 0, max: 255 })),
      }),
      { maxLength: 20 },
    ),
  ])("parses what it is given: every formatted rule comes back as its box", (specs) => {
    const text = specs
      .map((s) => {
        const [sl, sh] = s.sp[0] <= s.sp[1] ? s.sp : [s.sp[1], s.sp[0]];
        const [dl, dh] = s.dp[0] <= s.dp[1] ? s.dp : [s.dp[1], s.dp[0]];
        const proto = s.proto === null ? "0x00/0x00" : `0x${s.proto.toString(16).padStart(2, "0")}/0xFF`;
        return `@${formatIpv4(s.src)}/${s.sl}\t${formatIpv4(s.dst)}/${s.dl}\t${sl} : ${sh}\t${dl} : ${dh}\t${proto}\t0x0000/0x0000\t`;
      })
      .join("\n");
    const r = parseClassBench(text);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.rules).toHaveLength(specs.length);
    r.rules.forEach((x, i) => {
      const s = specs[i];
      expect(x.srcLo <= s.src && s.src <= x.srcHi).toBe(true);
      expect(x.srcHi - x.srcLo).toBe(2 ** (32 - s.sl) - 1);
      expect(x.dstHi - x.dstLo).toBe(2 ** (32 - s.dl) - 1);
      expect([x.sportLo, x.sportHi]).toEqual([Math.min(...s.sp), Math.max(...s.sp)]);
      expect([x.protoLo, x.protoHi]).toEqual(s.proto === null ? [0, 255] : [s.proto, s.proto]);
    });
  });
  test.prop([fc.string({ maxLength: 200 })])("never throws on arbitrary text", (text) => {
    const r = parseClassBench(text);
    expect(typeof r.ok).toBe("boolean");
  });
});
