// `conntrack -L` lines as conntrack-tools 1.4.7 prints them on Linux 6.18 (captured from the differential rig).

import { describe, expect, it } from "vitest";
import { fc, test as fcTest } from "@fast-check/vitest";
import { parseConntrackLine, parseConntrackList } from "./conntrack-text.js";

const TCP =
  "tcp      6 119 SYN_SENT src=192.168.1.10 dst=203.0.113.5 sport=40000 dport=80 [UNREPLIED] src=203.0.113.5 dst=198.51.100.2 sport=80 dport=40000 mark=0 use=1";
const UDP =
  "udp      17 29 src=192.168.1.10 dst=203.0.113.5 sport=5000 dport=53 src=203.0.113.5 dst=198.51.100.2 sport=53 dport=5000 mark=0 use=1";
const ICMP =
  "icmp     1 29 src=192.168.1.10 dst=203.0.113.5 type=8 code=0 id=4660 [UNREPLIED] src=203.0.113.5 dst=198.51.100.2 type=0 code=0 id=4660 mark=0 use=1";
const ASSURED =
  "tcp      6 431999 ESTABLISHED src=192.0.2.9 dst=198.51.100.2 sport=5000 dport=8080 src=192.168.1.20 dst=192.0.2.9 sport=80 dport=5000 [ASSURED] mark=0 use=1";

describe("parseConntrackLine", () => {
  it("reads a TCP entry with its state and flags", () => {
    expect(parseConntrackLine(TCP)).toEqual({
      ok: true,
      value: {
        proto: 6,
        tcpState: "SYN_SENT",
        original: { src: "192.168.1.10", dst: "203.0.113.5", sport: 40000, dport: 80 },
        reply: { src: "203.0.113.5", dst: "198.51.100.2", sport: 80, dport: 40000 },
        unreplied: true,
        assured: false,
      },
    });
  });

  it("reads ICMP tuples as the engine keys them (id, type<<8|code)", () => {
    const r = parseConntrackLine(ICMP);
    expect(r.ok && r.value.original).toEqual({ src: "192.168.1.10", dst: "203.0.113.5", sport: 4660, dport: 0x800 });
    expect(r.ok && r.value.reply.dport).toBe(0);
    expect(r.ok && r.value.tcpState).toBeNull();
  });

  it("reads a DNAT entry marked ASSURED after its reply tuple", () => {
    const r = parseConntrackLine(ASSURED);
    expect(r.ok && [r.value.assured, r.value.unreplied, r.value.reply.src]).toEqual([true, false, "192.168.1.20"]);
  });

  it("reads a listing and refuses lines without two tuples", () => {
    const all = parseConntrackList(`${TCP}\n${UDP}\n\n${ICMP}\n`);
    expect(all.ok && all.value.map((e) => e.proto)).toEqual([6, 17, 1]);
    expect(parseConntrackLine("tcp 6 10 ESTABLISHED src=1.2.3.4 dst=5.6.7.8 sport=1 dport=2").ok).toBe(false);
    expect(parseConntrackLine("garbage").ok).toBe(false);
  });

  const addr = fc.ipV4();
  const port = fc.integer({ min: 0, max: 65535 });
  fcTest.prop([
    fc.constantFrom("tcp 6", "udp 17"),
    addr,
    addr,
    port,
    port,
    addr,
    addr,
    port,
    port,
    fc.boolean(),
    fc.boolean(),
  ])("reads back any line it is given", (p, s1, d1, sp1, dp1, s2, d2, sp2, dp2, unreplied, assured) => {
    const state = p.startsWith("tcp") ? " ESTABLISHED" : "";
    const line = `${p} 30${state} src=${s1} dst=${d1} sport=${String(sp1)} dport=${String(dp1)}${unreplied ? " [UNREPLIED]" : ""} src=${s2} dst=${d2} sport=${String(sp2)} dport=${String(dp2)}${assured ? " [ASSURED]" : ""} mark=0 use=1`;
    const r = parseConntrackLine(line);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.original).toEqual({ src: s1, dst: d1, sport: sp1, dport: dp1 });
    expect(r.value.reply).toEqual({ src: s2, dst: d2, sport: sp2, dport: dp2 });
    expect([r.value.unreplied, r.value.assured]).toEqual([unreplied, assured]);
  });

  fcTest.prop([fc.string()])("never throws on arbitrary text", (text) => {
    expect(typeof parseConntrackLine(text).ok).toBe("boolean");
  });
});
