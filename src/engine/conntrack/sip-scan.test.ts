// The SIP scanner against nf_conntrack_sip.c's behaviour: fixed messages for each function and quirk, plus
// property tests (arbitrary bytes never throw and stay in bounds; generated messages are read as a plain model
// of RFC 3261 header syntax reads them).
import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import {
  SIP_DEFAULT_PORT,
  SipHeader,
  SipScan,
  getHeader,
  parseAddressParam,
  parseHeaderUri,
  parseNumericalParam,
  parseRequest,
  parseTransport,
  sipBytes,
  sipStrtouint,
} from "./sip-scan.js";
import { formatIpv4 } from "../../wire/address.js";

const enc = (s: string): Uint8Array => sipBytes(s);
const text = (b: Uint8Array, s: SipScan): string =>
  String.fromCharCode(...b.subarray(s.matchOff, s.matchOff + s.matchLen));

function uri(msg: string, type: SipHeader): { r: number; span: string; addr: string; port: number } {
  const b = enc(msg);
  const s = new SipScan();
  const r = parseHeaderUri(b, 0, 0, b.length, type, 4, s);
  return { r, span: r > 0 ? text(b, s) : "", addr: formatIpv4(s.addr[0]), port: s.port };
}

const REGISTER =
  "REGISTER sip:203.0.113.5 SIP/2.0\r\n" +
  "Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK1;rport\r\n" +
  "From: <sip:alice@192.168.1.20>;tag=1\r\n" +
  "To: <sip:alice@203.0.113.5>\r\n" +
  "CSeq: 7 REGISTER\r\n" +
  "Contact: <sip:alice@192.168.1.20:5062;transport=udp>;expires=600\r\n" +
  "Content-Length: 0\r\n\r\n";

describe("getHeader and parseHeaderUri (ct_sip_get_header, ct_sip_parse_header_uri)", () => {
  it("finds each header's address and port, skipping the user part", () => {
    expect(uri(REGISTER, SipHeader.VIA_UDP)).toMatchObject({ r: 1, span: "192.168.1.20:5060", port: 5060 });
    expect(uri(REGISTER, SipHeader.FROM)).toMatchObject({ r: 1, span: "192.168.1.20", port: SIP_DEFAULT_PORT });
    expect(uri(REGISTER, SipHeader.TO)).toMatchObject({ r: 1, span: "203.0.113.5", addr: "203.0.113.5" });
    expect(uri(REGISTER, SipHeader.CONTACT)).toMatchObject({ r: 1, span: "192.168.1.20:5062", port: 5062 });
    // The Via of a TCP transport is another header type.
    expect(uri(REGISTER, SipHeader.VIA_TCP).r).toBe(0);
  });

  it("reads compact forms, any case, blanks and continuation lines around the colon", () => {
    expect(uri("INVITE sip:x SIP/2.0\r\nm: <sip:10.0.0.1:5070>\r\n\r\n", SipHeader.CONTACT)).toMatchObject({
      span: "10.0.0.1:5070",
    });
    expect(uri("INVITE sip:x SIP/2.0\r\nCONTACT\t :\r\n  <sip:u@10.0.0.2>\r\n\r\n", SipHeader.CONTACT).span).toBe(
      "10.0.0.2",
    );
    // A compact name must not be followed by a letter: `mx:` is not `m:`.
    expect(uri("INVITE sip:x SIP/2.0\r\nmx: <sip:10.0.0.1>\r\n\r\n", SipHeader.CONTACT).r).toBe(0);
  });

  it("never reads the request line as a header", () => {
    expect(uri("Contact: <sip:10.0.0.1> SIP/2.0\r\n\r\n", SipHeader.CONTACT).r).toBe(0);
  });

  it("ends the search at a name that only starts with the header's (kept kernel quirk)", () => {
    const msg = "OPTIONS sip:x SIP/2.0\r\nTool: 1\r\nTo: <sip:10.0.0.9>\r\n\r\n";
    expect(uri(msg, SipHeader.TO).r).toBe(0);
    expect(uri("OPTIONS sip:x SIP/2.0\r\nTo: <sip:10.0.0.9>\r\n\r\n", SipHeader.TO).span).toBe("10.0.0.9");
  });

  it("passes over values with a port out of 1024–65535 or without an address", () => {
    expect(uri("INVITE sip:x SIP/2.0\r\nContact: <sip:10.0.0.1:80>\r\n\r\n", SipHeader.CONTACT).r).toBe(0);
    expect(uri("INVITE sip:x SIP/2.0\r\nContact: <sip:10.0.0.1:70000>\r\n\r\n", SipHeader.CONTACT).r).toBe(0);
    // No parsable value in the first Contact: the walk resumes after it and finds the next one.
    expect(uri("INVITE sip:x SIP/2.0\r\nContact: *\r\nContact: <sip:10.0.0.3>\r\n\r\n", SipHeader.CONTACT).span).toBe(
      "10.0.0.3",
    );
  });

  it("walks a comma-separated Contact list and repeated headers", () => {
    const b = enc(
      "SIP/2.0 200 OK\r\nContact: <sip:a@10.0.0.1:5061>, <sip:b@10.0.0.2:5062>\r\nContact: <sip:10.0.0.3>\r\n\r\n",
    );
    const s = new SipScan();
    const found: string[] = [];
    let off = 0;
    while (parseHeaderUri(b, 0, off, b.length, SipHeader.CONTACT, 4, s, true) > 0) {
      found.push(`${formatIpv4(s.addr[0])}:${String(s.port)}`);
      off = s.next;
    }
    expect(found).toEqual(["10.0.0.1:5061", "10.0.0.2:5062", "10.0.0.3:5060"]);
  });

  it("reads IPv6 URIs only in brackets", () => {
    const b = enc("REGISTER sip:x SIP/2.0\r\nContact: <sip:u@[2001:db8::5]:5070>\r\n\r\n");
    const s = new SipScan();
    expect(parseHeaderUri(b, 0, 0, b.length, SipHeader.CONTACT, 6, s)).toBe(1);
    expect(text(b, s)).toBe("[2001:db8::5]:5070");
    expect(Array.from(s.addr)).toEqual([0x20010db8, 0, 0, 5]);
    const bare = enc("REGISTER sip:x SIP/2.0\r\nContact: <sip:2001:db8::5>\r\n\r\n");
    expect(parseHeaderUri(bare, 0, 0, bare.length, SipHeader.CONTACT, 6, s)).toBe(0);
  });

  it("reads digits-only headers and a message that starts part-way into an array", () => {
    const b = enc(`xxxx${REGISTER}`);
    const s = new SipScan();
    expect(getHeader(b, 4, 0, b.length - 4, SipHeader.CSEQ, 4, s)).toBe(1);
    expect(text(b.subarray(4), s)).toBe("7");
    expect(getHeader(b, 4, 0, b.length - 4, SipHeader.CONTENT_LENGTH, 4, s)).toBe(1);
    expect(text(b.subarray(4), s)).toBe("0");
  });
});

describe("parseRequest (ct_sip_parse_request)", () => {
  const req = (msg: string): string => {
    const b = enc(msg);
    const s = new SipScan();
    const r = parseRequest(b, 0, b.length, 4, s);
    return r > 0 ? `${text(b, s)} ${String(s.port)}` : String(r);
  };
  it("finds the Request-URI's address, with or without a user part and port", () => {
    expect(req("INVITE sip:bob@198.51.100.7:5070;transport=udp SIP/2.0\r\n")).toBe("198.51.100.7:5070 5070");
    expect(req("OPTIONS sip:203.0.113.5 SIP/2.0\r\n")).toBe("203.0.113.5 5060");
    expect(req("OPTIONS sip:example.com SIP/2.0\r\n")).toBe("0");
    expect(req("OPTIONS tel:+1 SIP/2.0\r\nVia: x\r\n")).toBe("-1");
  });
});

describe("parameters (ct_sip_parse_*_param, ct_sip_parse_transport)", () => {
  const b = enc(
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 203.0.113.1:5060;received=198.51.100.2;rport=1025;maddr=10.1.1.1\r\n" +
      "Contact: <sip:u@198.51.100.2:5060;transport=TCP>;expires=300, <sip:v@198.51.100.3>\r\n\r\n",
  );
  const s = new SipScan();
  it("reads address and number parameters of the value they follow", () => {
    expect(parseHeaderUri(b, 0, 0, b.length, SipHeader.VIA_UDP, 4, s)).toBe(1);
    const end = s.matchOff + s.matchLen;
    expect(parseAddressParam(b, 0, end, b.length, enc("received="), 4, false, s)).toBe(1);
    expect(formatIpv4(s.addr[0])).toBe("198.51.100.2");
    expect(parseAddressParam(b, 0, end, b.length, enc("maddr="), 4, true, s)).toBe(1);
    expect(text(b, s)).toBe("10.1.1.1");
    expect(parseNumericalParam(b, 0, end, b.length, enc("rport="), s)).toBe(1);
    expect(s.value).toBe(1025);
    expect(text(b, s)).toBe("1025");
  });
  it("keeps to one list value, and reads the transport", () => {
    expect(parseHeaderUri(b, 0, 0, b.length, SipHeader.CONTACT, 4, s)).toBe(1);
    const end = s.matchOff + s.matchLen;
    expect(parseTransport(b, 0, end, b.length, 6, s)).toBe(6);
    expect(parseTransport(b, 0, end, b.length, 17, s)).toBe(0);
    expect(parseNumericalParam(b, 0, end, b.length, enc("expires="), s)).toBe(1);
    expect(s.value).toBe(300);
    // The second value has no parameters of its own: nothing leaks from the first.
    const second = b.indexOf(0x76, end); // "v@"
    expect(parseNumericalParam(b, 0, second, b.length, enc("expires="), s)).toBe(0);
    expect(parseTransport(b, 0, second, b.length, 17, s)).toBe(17);
  });
});

describe("sipStrtouint", () => {
  it("reads at most 2^32 - 1, else nothing", () => {
    const s = new SipScan();
    expect(sipStrtouint(enc("4294967295x"), 0, 11, s)).toBe(4294967295);
    expect(s.end).toBe(10);
    expect(sipStrtouint(enc("4294967296"), 0, 10, s)).toBe(0);
    expect(s.end).toBe(0);
    expect(sipStrtouint(enc("123456"), 0, 3, s)).toBe(123);
  });
});

describe("properties", () => {
  const types = Object.values(SipHeader);
  test.prop([fc.uint8Array({ maxLength: 300 }), fc.nat(300), fc.constantFrom(...types), fc.constantFrom(4, 6)])(
    "arbitrary bytes never throw, and any match lies inside the message",
    (b, offRaw, type, family) => {
      const s = new SipScan();
      const off = Math.min(offRaw, b.length);
      const r = parseHeaderUri(b, 0, off, b.length, type, family, s, true);
      if (r > 0) {
        expect(s.matchOff).toBeGreaterThanOrEqual(0);
        expect(s.matchOff + s.matchLen).toBeLessThanOrEqual(b.length);
        expect(s.port).toBeGreaterThanOrEqual(1024);
      }
      const q = parseRequest(b, 0, b.length, family, s);
      if (q > 0) expect(s.matchOff + s.matchLen).toBeLessThanOrEqual(b.length);
      getHeader(b, 0, off, b.length, type, family, s);
    },
  );

  const octet = fc.integer({ min: 0, max: 255 });
  const name = fc.constantFrom("Contact", "contact", "CONTACT", "m");
  const blank = fc.constantFrom("", " ", "\t", " \r\n ");
  test.prop([
    fc.array(fc.constantFrom("Accept: */*", "Max-Forwards: 70", "Subject: hi", "X-Contact: <sip:1.2.3.4>"), {
      maxLength: 4,
    }),
    name,
    blank,
    blank,
    fc.tuple(octet, octet, octet, octet),
    fc.option(fc.integer({ min: 1024, max: 65535 }), { nil: undefined }),
    fc.option(fc.constantFrom("alice", "a.b", "+1555"), { nil: undefined }),
    fc.constantFrom("\r\n", "\n"),
  ])("finds a generated Contact wherever the model puts it", (others, hname, before, after, a, port, user, eol) => {
    const address = a.join(".");
    const value = `<sip:${user === undefined ? "" : `${user}@`}${address}${port === undefined ? "" : `:${String(port)}`}>`;
    const lines = ["REGISTER sip:r SIP/2.0", ...others, `${hname}${before}:${after}${value}`, "CSeq: 1 REGISTER"];
    const msg = lines.join(eol) + eol + eol;
    const r = uri(msg, SipHeader.CONTACT);
    expect(r.r).toBe(1);
    expect(r.addr).toBe(address);
    expect(r.port).toBe(port ?? SIP_DEFAULT_PORT);
    expect(r.span).toBe(`${address}${port === undefined ? "" : `:${String(port)}`}`);
  });
});
