// FTP and SIP payload parsing (nf_conntrack_ftp.c, nf_conntrack_sip.c): fixed messages plus property tests.
import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import { parseFtp, parseSip, payloadText } from "./alg-helper.js";

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

describe("parseSip", () => {
  const register =
    "REGISTER sip:evil.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.10:5060\r\nCSeq: 1 REGISTER\r\n" +
    "Contact: <sip:u@192.168.1.10:5062>;expires=600\r\nContent-Length: 0\r\n\r\n";

  it("reads a REGISTER's Contact and expiry", () => {
    const m = parseSip(register);
    expect(m).toMatchObject({ kind: "request", method: "REGISTER", contact: { port: 5062, expires: 600 } });
    expect(m?.contact?.address.words[0]).toBe(0xc0a8010a);
  });

  it("reads a response's status and CSeq method, and SDP media", () => {
    const ok =
      "SIP/2.0 200 OK\r\nCSeq: 7 INVITE\r\nContent-Type: application/sdp\r\n\r\n" +
      "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\nc=IN IP4 192.168.1.10\r\nm=audio 49170 RTP/AVP 0\r\nm=video 51372 RTP/AVP 31\r\n";
    const m = parseSip(ok);
    expect(m).toMatchObject({ kind: "response", status: 200, method: "INVITE" });
    expect(m?.sdp?.ports).toEqual([49170, 51372]);
    expect(m?.sdp?.address.words[0]).toBe(0xc0a8010a);
  });

  it("defaults the Contact port to 5060 and accepts the compact form and IPv6", () => {
    expect(parseSip("REGISTER sip:x SIP/2.0\r\nm: <sip:10.0.0.1>\r\n\r\n")?.contact?.port).toBe(5060);
    const v6 = parseSip("REGISTER sip:x SIP/2.0\r\nContact: <sip:u@[2001:db8::5]:5070>\r\n\r\n");
    expect(v6?.contact?.address.family).toBe(6);
    expect(v6?.contact?.port).toBe(5070);
  });

  it("locates the Contact's host and port (what nf_nat_sip_expect rewrites)", () => {
    const c = parseSip(register)?.contact;
    expect(c && register.slice(c.at, c.at + c.len)).toBe("192.168.1.10:5062");
    const text = "REGISTER sip:x SIP/2.0\r\nm: <sip:10.0.0.1>\r\n\r\n";
    const d = parseSip(text)?.contact;
    expect(d && text.slice(d.at, d.at + d.len)).toBe("10.0.0.1");
  });

  it("is null for text that is not SIP", () => {
    expect(parseSip("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).toBeNull();
  });

  test.prop([octet, octet, octet, octet, port])("Contact round-trips any IPv4 endpoint", (a, b, c, d, p) => {
    const m = parseSip(`REGISTER sip:r SIP/2.0\r\nContact: <sip:user@${a}.${b}.${c}.${d}:${p}>\r\n\r\n`);
    expect(m?.contact?.port).toBe(p);
    expect(m?.contact?.address.words[0]).toBe(((a << 24) | (b << 16) | (c << 8) | d) >>> 0);
    expect(m?.contact?.len).toBe(`${a}.${b}.${c}.${d}:${p}`.length);
  });

  test.prop([fc.string({ maxLength: 300 })])("never throws on arbitrary text", (s) => {
    const m = parseSip(s);
    if (m?.contact) expect(m.contact.port).toBeGreaterThanOrEqual(1);
  });
});

describe("payloadText", () => {
  test.prop([fc.uint8Array({ maxLength: 10000 })])("keeps one character per byte", (b) => {
    const s = payloadText(b);
    expect(s.length).toBe(b.length);
    for (let i = 0; i < b.length; i += 997) expect(s.charCodeAt(i)).toBe(b[i]);
  });
});
