import { isIPv6 } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatIp,
  formatIpv4,
  formatIpv6,
  formatPrefix,
  ipv6ToWords,
  isDocumentationV4,
  isDocumentationV6,
  isLinkLocalV6,
  isPrivateV4,
  isSharedV4,
  isUlaV6,
  maskV4,
  parseIp,
  parseIpv4,
  parseIpv6,
  parsePrefix,
  prefixContains,
  wordsToIpv6,
} from "./address.js";
import { hex } from "./bytes.js";

const v6 = (s: string): Uint8Array => {
  const b = parseIpv6(s);
  if (b === null) throw new Error(`fixture ${s} does not parse`);
  return b;
};

/** Node's WHATWG URL serialiser prints IPv6 hosts in RFC 5952 form (without the §5 dotted tail). */
const urlCanonical = (s: string): string => new URL(`http://[${s}]/`).hostname.slice(1, -1);

const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
/** Addresses with long zero runs, where `::` placement matters. */
const sparse16 = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((groups) => {
    const b = new Uint8Array(16);
    groups.forEach((g, i) => {
      b[2 * i] = g >>> 8;
      b[2 * i + 1] = g & 0xff;
    });
    return b;
  });
const isMapped = (b: Uint8Array): boolean => hex(b.subarray(0, 12)) === "00000000000000000000ffff";
const toBig = (b: Uint8Array): bigint => BigInt(`0x${hex(b)}`);

describe("IPv4 text", () => {
  it("parses dotted quads to unsigned integers", () => {
    expect(parseIpv4("192.0.2.1")).toBe(0xc0000201);
    expect(parseIpv4("255.255.255.255")).toBe(0xffffffff);
    expect(parseIpv4("0.0.0.0")).toBe(0);
    expect(parseIpv4("10.0.0.255")).toBe(0x0a0000ff);
  });

  it.each([
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.04",
    "1..2.3",
    " 1.2.3.4",
    "1.2.3.4/8",
    "0x1.2.3.4",
    "+1.2.3.4",
    "1.2.3.-4",
  ])("rejects %j", (s) => {
    expect(parseIpv4(s)).toBeNull();
  });

  it("formats and parses back every address", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const s = formatIpv4(n);
        expect(parseIpv4(s)).toBe(n);
        expect(s).toMatch(/^(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*)){3}$/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("IPv6 text", () => {
  it.each([
    ["::", "00000000000000000000000000000000"],
    ["::1", "00000000000000000000000000000001"],
    ["2001:db8::1", "20010db8000000000000000000000001"],
    ["2001:0DB8:0000:0000:0000:0000:0000:0001", "20010db8000000000000000000000001"],
    ["fe80::c426:14ff:fe28:e68b", "fe80000000000000c42614fffe28e68b"],
    ["::ffff:192.0.2.1", "00000000000000000000ffffc0000201"],
    ["64:ff9b::198.51.100.7", "0064ff9b0000000000000000c6336407"],
    ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
    ["::2:3:4:5:6:7:8", "00000002000300040005000600070008"],
    ["1:2:3:4:5:6:192.0.2.1", "000100020003000400050006c0000201"],
    ["1::8", "00010000000000000000000000000008"],
  ])("parses %s", (text, expected) => {
    expect(hex(v6(text))).toBe(expected);
  });

  it.each([
    "",
    ":",
    ":::",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8",
    "1::2::3",
    ":1::",
    "1:",
    ":1:2:3:4:5:6:7:8",
    "12345::",
    "g::",
    "fe80::1%eth0",
    "fe80::1%1",
    "[::1]",
    "::1.2.3",
    "1.2.3.4::",
    "::1.2.3.4:5",
    "::ffff:01.2.3.4",
    "::ffff:256.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4",
    " ::1",
    "::1/128",
  ])("rejects %j", (s) => {
    expect(parseIpv6(s)).toBeNull();
  });

  it.each([
    // RFC 5952 §4 examples.
    ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:DB8::AbCd", "2001:db8::abcd"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"],
    // §5: IPv4-mapped addresses keep the dotted tail, as glibc inet_ntop prints them.
    ["::ffff:c000:201", "::ffff:192.0.2.1"],
  ])("formats %s canonically as %s", (text, canonical) => {
    expect(formatIpv6(v6(text))).toBe(canonical);
  });

  it("formats like Node's URL serialiser and parses back (random and sparse addresses)", () => {
    fc.assert(
      fc.property(fc.oneof(bytes16, sparse16), (b) => {
        const s = formatIpv6(b);
        expect(hex(v6(s))).toBe(hex(b));
        expect(isIPv6(s)).toBe(true);
        if (isMapped(b)) expect(s).toMatch(/^::ffff:\d+\.\d+\.\d+\.\d+$/);
        else expect(s).toBe(urlCanonical(s));
      }),
      { numRuns: 5000 },
    );
  });

  it("accepts every RFC 4291 §2.2 spelling of an address: full, upper case, leading zeros, any `::`, dotted tail", () => {
    const spelling = fc.record({
      b: fc.oneof(bytes16, sparse16),
      upper: fc.boolean(),
      pad: fc.boolean(),
      dotted: fc.boolean(),
      compress: fc.nat(),
    });
    fc.assert(
      fc.property(spelling, ({ b, upper, pad, dotted, compress }) => {
        const groups: string[] = [];
        for (let i = 0; i < 8; i++) {
          const g = ((b[2 * i] << 8) | b[2 * i + 1]).toString(16);
          groups.push(pad ? g.padStart(4, "0") : g);
        }
        if (dotted) groups.splice(6, 2, `${b[12]}.${b[13]}.${b[14]}.${b[15]}`);
        const zeroRuns: [number, number][] = [];
        for (let i = 0; i < groups.length; i++) {
          for (let j = i; j < groups.length && /^0+$/.test(groups[j]); j++) zeroRuns.push([i, j + 1]);
        }
        let text = groups.join(":");
        if (zeroRuns.length > 0) {
          const [from, to] = zeroRuns[compress % zeroRuns.length];
          text = `${groups.slice(0, from).join(":")}::${groups.slice(to).join(":")}`;
        }
        if (upper) text = text.toUpperCase();
        const parsed = parseIpv6(text);
        expect(parsed && hex(parsed)).toBe(hex(b));
        expect(isIPv6(text)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it("never accepts what Node rejects, on mutated address text", () => {
    const alphabet = fc.constantFrom(..."0123456789abcdefABCDEFg:.%/[] ".split(""));
    const mutated = fc
      .tuple(bytes16, fc.array(fc.tuple(fc.nat(), alphabet, fc.boolean()), { maxLength: 3 }))
      .map(([b, edits]) => {
        let s = formatIpv6(b);
        for (const [pos, ch, insert] of edits) {
          const i = pos % (s.length + 1);
          s = s.slice(0, i) + ch + s.slice(insert ? i : i + 1);
        }
        return s;
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string({ maxLength: 45 })), (s) => {
        const parsed = parseIpv6(s);
        if (parsed !== null) {
          expect(isIPv6(s)).toBe(true);
          expect(urlCanonical(s)).toBe(urlCanonical(formatIpv6(parsed)));
        } else if (!s.includes("%")) {
          // Node also accepts leading zeros in a dotted tail, which inet_pton (and we) reject.
          if (isIPv6(s)) expect(s).toMatch(/(^|[.:])0\d/);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it("converts to and from the engine's four big-endian words", () => {
    const words = new Uint32Array(4);
    ipv6ToWords(v6("2001:db8::c0a8:101"), 0, words);
    expect(Array.from(words)).toEqual([0x20010db8, 0, 0, 0xc0a80101]);
    fc.assert(
      fc.property(bytes16, fc.nat(8), (b, at) => {
        const framed = new Uint8Array(at + 24);
        framed.set(b, at);
        ipv6ToWords(framed, at, words);
        expect(
          BigInt(words[0]) * 2n ** 96n + BigInt(words[1]) * 2n ** 64n + BigInt(words[2]) * 2n ** 32n + BigInt(words[3]),
        ).toBe(toBig(b));
        const back = new Uint8Array(at + 16);
        wordsToIpv6(words, back, at);
        expect(hex(back.subarray(at))).toBe(hex(b));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("either family", () => {
  it("parses and formats by family", () => {
    expect(parseIp("203.0.113.9")).toEqual({ family: 4, v4: 0xcb007109 });
    const a = parseIp("2001:db8::9");
    expect(a?.family).toBe(6);
    expect(a && formatIp(a)).toBe("2001:db8::9");
    expect(formatIp({ family: 4, v4: 0xc6336401 })).toBe("198.51.100.1");
    expect(parseIp("not an address")).toBeNull();
    expect(parseIp("1.2.3.4.5")).toBeNull();
  });
});

describe("prefixes", () => {
  it("parses prefixes and bare addresses", () => {
    expect(parsePrefix("10.0.0.0/8")).toEqual({ prefix: { family: 4, addr: 0x0a000000, len: 8 }, hostBitsSet: false });
    expect(parsePrefix("192.0.2.7")).toEqual({ prefix: { family: 4, addr: 0xc0000207, len: 32 }, hostBitsSet: false });
    expect(parsePrefix("0.0.0.0/0")).toEqual({ prefix: { family: 4, addr: 0, len: 0 }, hostBitsSet: false });
    const p6 = parsePrefix("2001:db8::/32");
    expect(p6?.hostBitsSet).toBe(false);
    expect(p6 && formatPrefix(p6.prefix)).toBe("2001:db8::/32");
    expect(parsePrefix("::1")?.prefix.len).toBe(128);
  });

  it("normalises host bits and reports them", () => {
    const p = parsePrefix("10.1.2.3/8");
    expect(p).toEqual({ prefix: { family: 4, addr: 0x0a000000, len: 8 }, hostBitsSet: true });
    const q = parsePrefix("2001:db8:1:2::1/33");
    expect(q?.hostBitsSet).toBe(true);
    expect(q && formatPrefix(q.prefix)).toBe("2001:db8::/33");
    expect(parsePrefix("255.255.255.255/1")?.prefix).toEqual({ family: 4, addr: 0x80000000, len: 1 });
  });

  it.each([
    "10.0.0.0/33",
    "::/129",
    "10.0.0.0/",
    "10.0.0.0/08",
    "10.0.0.0/-1",
    "10.0.0.0/8/8",
    "/8",
    "10.0.0/8",
    "::/ 64",
  ])("rejects %j", (s) => {
    expect(parsePrefix(s)).toBeNull();
  });

  it("computes IPv4 masks", () => {
    expect(maskV4(0)).toBe(0);
    expect(maskV4(1)).toBe(0x80000000);
    expect(maskV4(8)).toBe(0xff000000);
    expect(maskV4(24)).toBe(0xffffff00);
    expect(maskV4(31)).toBe(0xfffffffe);
    expect(maskV4(32)).toBe(0xffffffff);
  });

  it("contains exactly the addresses sharing the first len bits (checked against BigInt arithmetic)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.nat(32),
        (p, a, len) => {
          const parsed = parsePrefix(`${formatIpv4(p)}/${len}`);
          expect(parsed).not.toBeNull();
          if (parsed === null) return;
          const shift = BigInt(32 - len);
          expect(prefixContains(parsed.prefix, { family: 4, v4: a })).toBe(BigInt(a) >> shift === BigInt(p) >> shift);
          expect(prefixContains(parsed.prefix, { family: 4, v4: p })).toBe(true);
          expect(prefixContains(parsed.prefix, { family: 6, v6: new Uint8Array(16) })).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(bytes16, bytes16, fc.nat(128), fc.boolean(), (p, a, len, shareHead) => {
        const addr = shareHead ? Uint8Array.from(p) : a;
        if (shareHead) addr[15] ^= a[15];
        const parsed = parsePrefix(`${formatIpv6(p)}/${len}`);
        expect(parsed).not.toBeNull();
        if (parsed === null) return;
        const shift = BigInt(128 - len);
        expect(prefixContains(parsed.prefix, { family: 6, v6: addr })).toBe(toBig(addr) >> shift === toBig(p) >> shift);
        expect(parsed.hostBitsSet).toBe(toBig(p) !== (toBig(p) >> shift) << shift);
        expect(prefixContains(parsed.prefix, { family: 4, v4: 0 })).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("range predicates", () => {
  const v4 = (s: string): number => parseIpv4(s) ?? -1;
  it.each([
    ["10.0.0.1", true],
    ["10.255.255.255", true],
    ["172.16.0.1", true],
    ["172.31.255.255", true],
    ["172.32.0.0", false],
    ["172.15.255.255", false],
    ["192.168.1.1", true],
    ["192.169.0.0", false],
    ["100.64.0.1", false],
    ["8.8.8.8", false],
  ])("isPrivateV4(%s) = %s", (s, want) => {
    expect(isPrivateV4(v4(s))).toBe(want);
  });

  it("knows shared and documentation IPv4 space", () => {
    expect(isSharedV4(v4("100.64.0.0"))).toBe(true);
    expect(isSharedV4(v4("100.127.255.255"))).toBe(true);
    expect(isSharedV4(v4("100.128.0.0"))).toBe(false);
    for (const s of ["192.0.2.0", "192.0.2.255", "198.51.100.17", "203.0.113.254"])
      expect(isDocumentationV4(v4(s))).toBe(true);
    for (const s of ["192.0.3.0", "198.51.101.1", "203.0.112.255", "10.0.0.1"])
      expect(isDocumentationV4(v4(s))).toBe(false);
  });

  it("knows documentation, ULA and link-local IPv6 space", () => {
    expect(isDocumentationV6(v6("2001:db8::1"))).toBe(true);
    expect(isDocumentationV6(v6("2001:db8:ffff::"))).toBe(true);
    expect(isDocumentationV6(v6("3fff:fff::1"))).toBe(true);
    expect(isDocumentationV6(v6("3fff:1000::"))).toBe(false);
    expect(isDocumentationV6(v6("2001:db9::1"))).toBe(false);
    expect(isUlaV6(v6("fd00::1"))).toBe(true);
    expect(isUlaV6(v6("fc12::"))).toBe(true);
    expect(isUlaV6(v6("fe00::"))).toBe(false);
    expect(isLinkLocalV6(v6("fe80::1"))).toBe(true);
    expect(isLinkLocalV6(v6("febf::1"))).toBe(true);
    expect(isLinkLocalV6(v6("fec0::1"))).toBe(false);
    const framed = new Uint8Array(20);
    framed.set(v6("fe80::1"), 4);
    expect(isLinkLocalV6(framed, 4)).toBe(true);
    expect(isLinkLocalV6(framed, 0)).toBe(false);
  });
});
