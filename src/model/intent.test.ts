import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { formatPrefix } from "../wire/address.js";
import { parseIntent, parseUpnpPermission } from "./intent.js";

const nameArb = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,10}$/);

describe("parseIntent", () => {
  it("parses the three forms", () => {
    expect(parseIntent("u -> s:5432/tcp")).toEqual({
      ok: true,
      value: { from: "u", to: "s", port: 5432, proto: "tcp" },
    });
    expect(parseIntent("u->internet")).toEqual({
      ok: true,
      value: { from: "u", to: "internet", port: null, proto: null },
    });
    expect(parseIntent("  u  ->  web:80  ")).toEqual({
      ok: true,
      value: { from: "u", to: "web", port: 80, proto: "tcp" },
    });
    expect(parseIntent("u -> dns:53/udp")).toEqual({
      ok: true,
      value: { from: "u", to: "dns", port: 53, proto: "udp" },
    });
  });

  it.each([
    ["u s", 0, '"->"'],
    ["-> s", 0, "expected a node name before"],
    ["u -> ", 5, 'after "->"'],
    ["u -> s:0", 7, "from 1 to 65535"],
    ["u -> s:abc/tcp", 7, 'got "abc"'],
    ["u -> s:22/sctp", 10, 'got "sctp"'],
    ["u -> s:22/", 10, 'got ""'],
  ])("rejects %j at offset %i", (text, offset, message) => {
    const r = parseIntent(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.offset).toBe(offset);
    expect(r.error.message).toContain(message);
  });

  fcTest.prop([nameArb, nameArb, fc.option(fc.integer({ min: 1, max: 65535 })), fc.constantFrom("tcp", "udp")])(
    "round-trips every well-formed intent",
    (from, to, port, proto) => {
      const text = port === null ? `${from} -> ${to}` : `${from} -> ${to}:${port}/${proto}`;
      expect(parseIntent(text)).toEqual({
        ok: true,
        value: { from, to, port, proto: port === null ? null : proto },
      });
    },
  );

  fcTest.prop([fc.string({ maxLength: 30 })])("never throws, and errors point inside the string", (s) => {
    const r = parseIntent(s);
    if (!r.ok) {
      expect(r.error.offset).toBeGreaterThanOrEqual(0);
      expect(r.error.offset).toBeLessThanOrEqual(s.length);
    }
  });
});

describe("parseUpnpPermission", () => {
  it("parses miniupnpd's sample lines", () => {
    const r = parseUpnpPermission("allow 1024-65535 192.168.1.0/24 1024-65535");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.action).toBe("allow");
    expect(r.value.extPorts).toEqual([1024, 65535]);
    expect(formatPrefix(r.value.prefix)).toBe("192.168.1.0/24");
    expect(r.value.intPorts).toEqual([1024, 65535]);
    const single = parseUpnpPermission("deny 22 192.168.1.20 22");
    expect(single.ok && [single.value.extPorts, formatPrefix(single.value.prefix)]).toEqual([
      [22, 22],
      "192.168.1.20/32",
    ]);
  });

  it.each([
    ["permit 1-2 10.0.0.0/8 1-2", 0, '"allow" or "deny"'],
    ["allow 2-1 10.0.0.0/8 1-2", 6, "port range"],
    ["allow 1-2 10.0.0.0/40 1-2", 10, "IPv4 prefix"],
    ["allow 1-2 10.0.0.0/8 1-70000", 21, "port range"],
    ["allow 1-2 10.0.0.0/8", 0, "got 3"],
  ])("rejects %j at offset %i", (text, offset, message) => {
    const r = parseUpnpPermission(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.offset).toBe(offset);
    expect(r.error.message).toContain(message);
  });

  fcTest.prop([fc.string({ maxLength: 40 })])("never throws on any text", (s) => {
    const r = parseUpnpPermission(s);
    if (!r.ok) expect(r.error.offset).toBeLessThanOrEqual(s.length);
  });
});
