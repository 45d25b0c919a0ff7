// The FTP helper's reading of a segment against nf_conntrack_ftp.c (each case one Linux 6.18 showed in
// src/lab/differential/ftp-commands.test.ts or its code states), plus property tests.
import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import { FtpKind, FtpMatch, findFtp } from "./ftp-scan.js";
import { sipBytes } from "./sip-scan.js";
import { formatIpv4 } from "../../wire/address.js";

const OWN = Uint32Array.of(0xc0a80105, 0, 0, 0); // 192.168.1.5

function read(text: string, fromServer = false, family: 4 | 6 = 4) {
  const b = sipBytes(text);
  const m = new FtpMatch();
  const found = findFtp(b, 0, b.length, fromServer, family, OWN, m);
  return {
    found,
    kind: m.kind,
    addr: formatIpv4(m.addr[0]),
    port: m.port,
    arg: text.slice(m.matchOff, m.matchOff + m.matchLen),
    pattern: m.pattern,
  };
}

describe("findFtp (find_pattern and the try_* parsers)", () => {
  it("reads PORT in any case and locates its numbers", () => {
    expect(read("PORT 192,168,1,5,4,1\r\n")).toMatchObject({ found: 1, kind: FtpKind.PORT, port: 1025 });
    expect(read("port 192,168,1,5,4,2\r\n")).toMatchObject({ found: 1, addr: "192.168.1.5", arg: "192,168,1,5,4,2" });
  });

  it("reads numbers the kernel's way: an octet past 255 spills, the port keeps 16 bits", () => {
    // (300 << 8 | 1) & 0xffff = 11265 = 44 · 256 + 1, as Linux rewrote it.
    expect(read("PORT 192,168,1,5,300,1\r\n")).toMatchObject({ found: 1, port: 11265 });
    expect(read("PORT 192,168,1,300,4,1\r\n").addr).toBe("192.168.1.44");
  });

  it("looks only at the segment's start", () => {
    expect(read("NOOP\r\nPORT 192,168,1,5,4,8\r\n").found).toBe(0);
  });

  it("counts a command it cannot read to the end as cut short", () => {
    expect(read("PORT  192,168,1,5,4,9\r\n")).toMatchObject({ found: -1, pattern: "PORT" });
    expect(read("PORT 192,168,1,5,4\r\n").found).toBe(-1);
    expect(read("POR").found).toBe(-1);
    expect(read("PORTX\r\n").found).toBe(-1);
    expect(read("229 Entering Extended Passive Mode (|||)\r\n", true)).toMatchObject({ found: -1, pattern: "229 " });
  });

  it("reads EPRT with any printable non-digit delimiter, for the connection's family only", () => {
    expect(read("EPRT |1|192.168.1.5|1030|\r\n")).toMatchObject({ found: 1, port: 1030, arg: "|1|192.168.1.5|1030|" });
    expect(read("EPRT !1!192.168.1.5!1031!\r\n")).toMatchObject({ found: 1, port: 1031 });
    expect(read("EPRT |2|2001:db8::1|1032|\r\n").found).toBe(-1);
    const v6 = sipBytes("EPRT |2|2001:db8::1|1032|\r\n");
    const m = new FtpMatch();
    expect(findFtp(v6, 0, v6.length, false, 6, OWN, m)).toBe(1);
    expect(Array.from(m.addr)).toEqual([0x20010db8, 0, 0, 1]);
  });

  it("reads 227 with or without parentheses (RFC 1123 §4.1.2.6) and 229 (RFC 2428)", () => {
    expect(read("227 Entering Passive Mode (203,0,113,5,195,80).\r\n", true)).toMatchObject({
      found: 1,
      kind: FtpKind.PASV,
      addr: "203.0.113.5",
      port: 50000,
      arg: "203,0,113,5,195,80",
    });
    expect(read("227 =203,0,113,5,195,81\r\n", true)).toMatchObject({ found: 1, port: 50001 });
    expect(read("229 Entering Extended Passive Mode (|||6446|)\r\n", true)).toMatchObject({
      found: 1,
      kind: FtpKind.EPSV,
      addr: "192.168.1.5",
      port: 6446,
      arg: "|||6446|",
    });
  });

  it("reads commands only from the client and replies only from the server", () => {
    expect(read("227 Entering Passive Mode (203,0,113,5,195,80).\r\n", false).found).toBe(0);
    expect(read("PORT 192,168,1,5,4,1\r\n", true).found).toBe(0);
  });

  test.prop([fc.uint8Array({ maxLength: 120 }), fc.boolean(), fc.constantFrom(4, 6)])(
    "arbitrary bytes never throw, and a match lies inside the segment",
    (b, fromServer, family) => {
      const m = new FtpMatch();
      if (findFtp(b, 0, b.length, fromServer, family, OWN, m) === 1) {
        expect(m.matchOff + m.matchLen).toBeLessThanOrEqual(b.length);
        expect(m.port).toBeLessThanOrEqual(0xffff);
      }
    },
  );

  test.prop([fc.array(fc.nat(999), { minLength: 6, maxLength: 6 }), fc.constantFrom("PORT ", "227 Entering (")])(
    "any six numbers round-trip through PORT and 227 with the kernel's arithmetic",
    (n, prefix) => {
      const text = `${prefix}${n.join(",")}${prefix === "PORT " ? "\r\n" : ").\r\n"}`;
      const r = read(text, prefix !== "PORT ");
      const port = ((n[4] << 8) | n[5]) & 0xffff;
      expect(r.found).toBe(1);
      expect(r.port).toBe(port);
      expect(r.addr).toBe(formatIpv4(((n[0] << 24) | (n[1] << 16) | (n[2] << 8) | n[3]) >>> 0));
      expect(r.arg).toBe(n.join(","));
    },
  );
});
