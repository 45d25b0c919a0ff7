// The actor's command line and its DNS answers (no sockets here: the actor's probes, C2 and DNS run inside lab
// namespaces in verify.test.ts and verify-dns.test.ts).
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import * as dns from "../wire/dns.js";
import { isHttpResponse, parseActorArgs, parseZones, runActor, scriptedAnswer } from "./actor.js";

describe("parseActorArgs", () => {
  it("splits positionals from --name value options", () => {
    const { positional, options } = parseActorArgs(["192.0.2.1", "22", "--from-port", "4444", "--send", "hi"]);
    expect(positional).toEqual(["192.0.2.1", "22"]);
    expect([...options]).toEqual([
      ["from-port", "4444"],
      ["send", "hi"],
    ]);
  });

  it("keeps a trailing --flag without a value as a positional", () => {
    expect(parseActorArgs(["x", "--wait"]).positional).toEqual(["x", "--wait"]);
  });

  test.prop([
    fc.array(fc.stringMatching(/^[a-z0-9.:]{1,12}$/), { maxLength: 4 }),
    fc.dictionary(fc.stringMatching(/^[a-z][a-z-]{0,8}$/), fc.stringMatching(/^[a-z0-9]{1,6}$/), { maxKeys: 4 }),
  ])("round-trips any positionals followed by options", (positional, opts) => {
    const argv = [...positional, ...Object.entries(opts).flatMap(([k, v]) => [`--${k}`, v])];
    const parsed = parseActorArgs(argv);
    expect(parsed.positional).toEqual(positional);
    expect(Object.fromEntries(parsed.options)).toEqual(opts);
  });
});

describe("runActor", () => {
  it("rejects an unknown sub-command or a bad port with exit 2 and prints nothing", async () => {
    const printed: string[] = [];
    const warned: string[] = [];
    const print = (l: string): void => void printed.push(l);
    const warn = (l: string): void => void warned.push(l);
    expect(await runActor(["frobnicate"], print, warn)).toBe(2);
    expect(await runActor(["tcp-connect", "192.0.2.1", "70000"], print, warn)).toBe(2);
    expect(await runActor(["poll-c2", "192.0.2.1", "443"], print, warn)).toBe(2);
    expect(printed).toEqual([]);
    expect(warned).toHaveLength(3);
    expect(warned[0]).toMatch(/^usage: actor/);
  });
});

describe("scriptedAnswer (Mallory's authoritative server for rebinding)", () => {
  const zones = {
    "evil.example": [
      { address: "203.0.113.66", ttl: 1 },
      { address: "192.168.1.20", ttl: 1 },
    ],
  };
  const ask = (name: string, type: number = dns.DnsType.A, id = 7): Uint8Array => {
    const q = dns.query(id, name, type);
    if (!q.ok) throw new Error(q.error.message);
    return dns.emit(q.value);
  };
  const parsed = (bytes: Uint8Array | undefined): dns.DnsRepr => {
    const r = dns.parse(bytes ?? new Uint8Array(0));
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  };

  it("answers the script in order, the last step repeating, authoritative without recursion", () => {
    const steps = new Map<string, number>();
    const got = [1, 2, 3].map((id) => scriptedAnswer(ask("evil.example", dns.DnsType.A, id), zones, steps));
    expect(got.map((a) => a?.addresses)).toEqual([["203.0.113.66"], ["192.168.1.20"], ["192.168.1.20"]]);
    const first = parsed(got[0]?.reply);
    expect(first).toMatchObject({ id: 1, qr: true, aa: true, ra: false, rcode: dns.DnsRcode.NOERROR });
    expect(first.answers).toEqual([
      expect.objectContaining({ name: "evil.example", ttl: 1, data: { kind: "a", address: 0xcb007142 } }),
    ]);
  });

  it("counts steps per name and type; other types get NODATA without using a step", () => {
    const steps = new Map<string, number>();
    const txt = scriptedAnswer(ask("evil.example", dns.DnsType.TXT), zones, steps);
    expect(parsed(txt?.reply)).toMatchObject({ rcode: dns.DnsRcode.NOERROR, answers: [] });
    const aaaa = scriptedAnswer(ask("EVIL.example.", dns.DnsType.AAAA), zones, steps);
    expect(aaaa?.addresses).toEqual([]);
    expect(scriptedAnswer(ask("evil.example"), zones, steps)?.addresses).toEqual(["203.0.113.66"]);
  });

  it("refuses names outside the zone and says NXDOMAIN for unknown names inside it", () => {
    const steps = new Map<string, number>();
    expect(scriptedAnswer(ask("example.org"), zones, steps)?.rcode).toBe(dns.DnsRcode.REFUSED);
    const nx = scriptedAnswer(ask("www.evil.example"), zones, steps);
    expect(parsed(nx?.reply)).toMatchObject({ aa: true, rcode: dns.DnsRcode.NXDOMAIN });
  });

  it("ignores a response", () => {
    const reply = scriptedAnswer(ask("evil.example"), zones, new Map())?.reply;
    expect(scriptedAnswer(reply ?? new Uint8Array(0), zones, new Map())).toBeNull();
  });

  test.prop([fc.uint8Array({ maxLength: 80 })])("never throws on arbitrary bytes; any answer parses", (bytes) => {
    const a = scriptedAnswer(bytes, zones, new Map());
    if (a !== null) expect(dns.parse(a.reply).ok).toBe(true);
  });
});

describe("parseZones and isHttpResponse", () => {
  it("accepts name → [{address, ttl}] and refuses anything else", () => {
    expect(parseZones('{"evil.example":[{"address":"203.0.113.66","ttl":1},{"address":"::1","ttl":0}]}')).toEqual({
      "evil.example": [
        { address: "203.0.113.66", ttl: 1 },
        { address: "::1", ttl: 0 },
      ],
    });
    for (const bad of [undefined, "", "[]", '{"a":{}}', '{"a":[{"address":"x","ttl":1}]}', '{"a":[{"address":"::1"}]}'])
      expect(parseZones(bad)).toBeNull();
  });

  test.prop([fc.ipV4(), fc.integer({ min: 0, max: 0xffffffff })])("round-trips any IPv4 address and TTL", (a, ttl) => {
    expect(parseZones(JSON.stringify({ n: [{ address: a, ttl }] }))).toEqual({ n: [{ address: a, ttl }] });
  });

  it("takes a status line as an HTTP response, an echoed request not", () => {
    expect(isHttpResponse("HTTP/1.1 200 OK\r\n\r\nok\n")).toBe(true);
    expect(isHttpResponse("GET / HTTP/1.1\r\n")).toBe(false);
    expect(isHttpResponse("SSH-2.0-OpenSSH_7.4\r\n")).toBe(false);
  });

  it("rejects the DNS sub-commands' bad arguments with exit 2", async () => {
    const warned: string[] = [];
    const print = (): void => undefined;
    const warn = (l: string): void => void warned.push(l);
    expect(await runActor(["dns-server", "53"], print, warn)).toBe(2);
    expect(await runActor(["dns-server", "53", "--zones", "{"], print, warn)).toBe(2);
    expect(await runActor(["resolve", "192.0.2.1"], print, warn)).toBe(2);
    expect(await runActor(["resolve", "192.0.2.1", "x.example", "--type", "MX"], print, warn)).toBe(2);
    expect(await runActor(["rebind-browser", "192.0.2.1", "evil.example"], print, warn)).toBe(2);
    expect(warned).toHaveLength(5);
  });
});
