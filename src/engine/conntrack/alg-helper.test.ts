// FTP payload parsing (nf_conntrack_ftp.c): fixed messages plus property tests (SIP's scanner: sip-scan.test.ts).
import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import { parseFtp, payloadText } from "./alg-helper.js";

const octet = fc.integer({ min: 0, max: 255 });
const port = fc.integer({ min: 1, max: 65535 });

describe("parseFtp", () => {
  it("reads PORT, EPRT (v4 and v6), 227 and 229", () => {
    expect(parseFtp("PORT 192,168,1,10,4,1\r\n", false)).toMatchObject({ kind: "PORT", port: 1025 });
    expect(parseFtp("PORT 192,168,1,10,4,1\r\n", false)?.address?.words[0]).toBe(0xc0a8010a);
    expect(parseFtp("EPRT |1|132.235.1.2|6275|\r\n", false)).toMatchObject({ kind: "EPRT", port: 6275 });
    const v6 = parseFtp("EPRT |2|2001:db8::1|5282|\r\n", false);
    expect(v6?.address?.family).toBe(6);
    expect(Array.from(v6?.address?.words ?? [])).toEqual([0x20010db8, 0, 0, 1]);
    expect(parseFtp("227 Entering Passive Mode (203,0,113,66,195,80).\r\n", true)).toMatchObject({
      kind: "227",
      port: 50000,
    });
    expect(parseFtp("229 Entering Extended Passive Mode (|||6446|)\r\n", true)).toEqual({
      kind: "229",
      address: null,
      port: 6446,
      at: 36,
      len: 8,
    });
  });

  it("locates the argument the NAT half rewrites (nf_conntrack_ftp matchoff/matchlen)", () => {
    const at = (s: string, fromServer: boolean): string => {
      const r = parseFtp(s, fromServer);
      return r === null ? "" : s.slice(r.at, r.at + r.len);
    };
    expect(at("PORT 192,168,1,10,4,1\r\n", false)).toBe("192,168,1,10,4,1");
    expect(at("EPRT |1|132.235.1.2|6275|\r\n", false)).toBe("|1|132.235.1.2|6275|");
    expect(at("227 Entering Passive Mode (203,0,113,66,195,80).\r\n", true)).toBe("203,0,113,66,195,80");
    expect(at("229 Entering Extended Passive Mode (|||6446|)\r\n", true)).toBe("|||6446|");
  });

  it("rejects out-of-range octets, port 0, mismatched EPRT families and the wrong direction", () => {
    expect(parseFtp("PORT 192,168,1,300,4,1\r\n", false)).toBeNull();
    expect(parseFtp("PORT 192,168,1,10,0,0\r\n", false)).toBeNull();
    expect(parseFtp("EPRT |2|10.0.0.1|5282|\r\n", false)).toBeNull();
    expect(parseFtp("PORT 192,168,1,10,4,1\r\n", true)).toBeNull();
    expect(parseFtp("227 Entering Passive Mode (203,0,113,66,195,80)\r\n", false)).toBeNull();
    expect(parseFtp("USER anonymous\r\n", false)).toBeNull();
  });

  test.prop([octet, octet, octet, octet, port])("PORT round-trips any endpoint", (a, b, c, d, p) => {
    const r = parseFtp(`PORT ${a},${b},${c},${d},${p >> 8},${p & 0xff}\r\n`, false);
    expect(r?.port).toBe(p);
    expect(r?.address?.words[0]).toBe(((a << 24) | (b << 16) | (c << 8) | d) >>> 0);
  });

  test.prop([octet, octet, octet, octet, port])("227 round-trips any endpoint", (a, b, c, d, p) => {
    const r = parseFtp(`227 Entering Passive Mode (${a},${b},${c},${d},${p >> 8},${p & 0xff})\r\n`, true);
    expect(r?.port).toBe(p);
    expect(r?.address?.words[0]).toBe(((a << 24) | (b << 16) | (c << 8) | d) >>> 0);
  });

  test.prop([fc.string({ maxLength: 200 }), fc.boolean()])("never throws; any result has a valid port", (s, dir) => {
    const r = parseFtp(s, dir);
    if (r) {
      expect(r.port).toBeGreaterThanOrEqual(1);
      expect(r.port).toBeLessThanOrEqual(65535);
    }
  });
});

describe("payloadText", () => {
  test.prop([fc.uint8Array({ maxLength: 10000 })])("keeps one character per byte", (b) => {
    const s = payloadText(b);
    expect(s.length).toBe(b.length);
    for (let i = 0; i < b.length; i += 997) expect(s.charCodeAt(i)).toBe(b[i]);
  });
});
