import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseSmuggledRegister } from "./slipstream-server.js";

const REGISTER =
  "REGISTER sip:203.0.113.66;transport=tcp SIP/2.0\r\n" +
  "Via: SIP/2.0/TCP 192.168.1.10:3389;branch=z9hG4bK-1\r\n" +
  "Call-ID: a@192.168.1.10\r\nCSeq: 1 REGISTER\r\n" +
  "Contact: <sip:slip@192.168.1.10:3389;transport=tcp>;expires=3600\r\nContent-Length: 0\r\n\r\n";

describe("parseSmuggledRegister", () => {
  it("finds the REGISTER behind padding on the same line and reads its Contact", () => {
    expect(parseSmuggledRegister("x".repeat(1200) + REGISTER)).toEqual({ address: "192.168.1.10", port: 3389 });
  });

  it("defaults the port to 5060 and refuses bodies without a REGISTER or a usable Contact", () => {
    expect(parseSmuggledRegister(REGISTER.replace(":3389;transport", ";transport"))).toEqual({
      address: "192.168.1.10",
      port: 5060,
    });
    expect(parseSmuggledRegister(REGISTER.replace("REGISTER sip", "INVITE sip"))).toBeNull();
    expect(
      parseSmuggledRegister(REGISTER.replace("192.168.1.10:3389;transport", "192.168.1.300:1;transport")),
    ).toBeNull();
    expect(parseSmuggledRegister(REGISTER.replace(/Contact: [^\r]*\r\n/, ""))).toBeNull();
  });

  test.prop([fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 65535 }), fc.nat({ max: 3000 })])(
    "round-trips any Contact address and port after any padding",
    (a, port, pad) => {
      const address = [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join(".");
      const text = "x".repeat(pad) + REGISTER.replace("192.168.1.10:3389;transport", `${address}:${port};transport`);
      expect(parseSmuggledRegister(text)).toEqual({ address, port });
    },
  );

  test.prop([fc.string({ maxLength: 300 })])("never throws on arbitrary text", (text) => {
    const r = parseSmuggledRegister(text);
    if (r !== null) expect(r.port).toBeGreaterThan(0);
  });
});
