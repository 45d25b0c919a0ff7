import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as ipv4 from "../wire/ipv4.js";
import * as ipv6 from "../wire/ipv6.js";
import { internetChecksum } from "../wire/checksum.js";
import { fillPacketMeta } from "./packet-parse.js";
import { NONE, PacketMeta, Proto, TcpFlag } from "./packet-meta.js";
import { echoPacket, icmpErrorPacket, tcpPacket, udpPacket, v4, v6, words } from "./nat/packets.fixture.js";

function parsed(b: Uint8Array, l3 = 0): PacketMeta {
  const m = new PacketMeta();
  const e = fillPacketMeta(b, l3, b.length - l3, m);
  expect(e).toBeNull();
  return m;
}

describe("fillPacketMeta: IPv4", () => {
  it("reads a TCP SYN with its window-scale option", () => {
    const b = tcpPacket("192.168.1.10", 40000, "203.0.113.66", 443, {
      flags: TcpFlag.SYN,
      seq: 0xfffffff0,
      window: 29200,
      options: [{ kind: "mss", value: 1460 }, { kind: "nop" }, { kind: "window-scale", shift: 7 }],
      payload: new Uint8Array(3),
    });
    const m = parsed(b);
    expect(m.family).toBe(4);
    expect(m.saddr[0]).toBe(v4("192.168.1.10"));
    expect(m.daddr[0]).toBe(v4("203.0.113.66"));
    expect([m.proto, m.sport, m.dport, m.seq, m.window, m.wscale, m.tcpFlags]).toEqual([
      6,
      40000,
      443,
      0xfffffff0,
      29200,
      7,
      TcpFlag.SYN,
    ]);
    expect(m.l4).toBe(20);
    expect(m.payloadLength).toBe(3);
    expect(m.length).toBe(b.length);
    expect(m.ttl).toBe(64);
    expect(m.isFragment).toBe(false);
  });

  it("leaves wscale NONE on a non-SYN and reads the ack", () => {
    const m = parsed(
      tcpPacket("10.0.0.1", 1, "10.0.0.2", 2, {
        flags: TcpFlag.ACK,
        ack: 77,
        options: [{ kind: "window-scale", shift: 3 }],
      }),
    );
    expect(m.wscale).toBe(NONE);
    expect(m.ack).toBe(77);
  });

  it("reads UDP at a non-zero l3 offset, with the payload length from the UDP header", () => {
    const pkt = udpPacket("192.168.1.20", 5353, "203.0.113.66", 9999, new Uint8Array(11));
    const framed = new Uint8Array(14 + pkt.length + 6); // Ethernet header before, padding after
    framed.set(pkt, 14);
    const m = parsed(framed.subarray(0, 14 + pkt.length + 6), 14);
    expect([m.l3, m.l4, m.sport, m.dport, m.payloadLength, m.length]).toEqual([14, 34, 5353, 9999, 11, pkt.length]);
  });

  it("ICMP echo: the identifier is the source port; errors point at the embedded header", () => {
    const echo = parsed(echoPacket("192.168.1.10", "203.0.113.66", 0xbeef));
    expect([echo.icmpType, echo.icmpCode, echo.sport, echo.dport, echo.icmpInner]).toEqual([8, 0, 0xbeef, 0, NONE]);
    const offending = udpPacket("198.51.100.2", 5353, "203.0.113.66", 9999);
    const e = parsed(icmpErrorPacket("203.0.113.66", "198.51.100.2", offending));
    expect([e.icmpType, e.icmpCode, e.icmpInner, e.sport]).toEqual([3, 3, 28, 0]);
    // A quote too short for the embedded ports leaves nothing to relate.
    const short = parsed(icmpErrorPacket("203.0.113.66", "198.51.100.2", offending, 24));
    expect(short.icmpInner).toBe(NONE);
  });

  it("fragments: the first carries the transport header, later ones do not", () => {
    const whole = udpPacket("10.0.0.1", 1000, "10.0.0.2", 2000, new Uint8Array(64));
    const base = ipv4.parse(whole);
    if (!base.ok) throw new Error("fixture");
    const first = ipv4.emit({
      ...base.value,
      dontFragment: false,
      moreFragments: true,
      payload: base.value.payload.slice(0, 40),
    });
    const m1 = parsed(first);
    expect([m1.isFragment, m1.fragOffset, m1.l4, m1.sport]).toEqual([true, 0, 20, 1000]);
    const later = ipv4.emit({
      ...base.value,
      dontFragment: false,
      fragmentOffset: 5,
      payload: base.value.payload.slice(40),
    });
    const m2 = parsed(later);
    expect([m2.isFragment, m2.fragOffset, m2.l4, m2.sport, m2.proto]).toEqual([true, 40, NONE, 0, 17]);
  });

  it("returns errors for a bad header checksum and for truncated transport headers", () => {
    const m = new PacketMeta();
    const b = udpPacket("10.0.0.1", 1, "10.0.0.2", 2);
    b[10] ^= 0xff;
    expect(fillPacketMeta(b, 0, b.length, m)).toMatchObject({ protocol: "ipv4", field: "checksum", offset: 10 });
    const t = tcpPacket("10.0.0.1", 1, "10.0.0.2", 2);
    const base = ipv4.parse(t);
    if (!base.ok) throw new Error("fixture");
    const cut = ipv4.emit({ ...base.value, payload: base.value.payload.slice(0, 12) });
    expect(fillPacketMeta(cut, 0, cut.length, m)).toMatchObject({ protocol: "tcp", field: "header", offset: 20 });
    const u = ipv4.emit({ ...base.value, protocol: 17, payload: new Uint8Array([0, 1, 0, 2, 0, 50, 0, 0]) });
    expect(fillPacketMeta(u, 0, u.length, m)).toMatchObject({ protocol: "udp", field: "length" });
    expect(fillPacketMeta(new Uint8Array([0x55]), 0, 1, m)).toMatchObject({ field: "version" });
    expect(fillPacketMeta(b, 4, b.length, m)).toMatchObject({ field: "buffer" });
  });
});

describe("fillPacketMeta: IPv6", () => {
  it("reads UDP and the four address words", () => {
    const m = parsed(udpPacket("2001:db8:1::20", 5353, "2001:db8:ff::66", 9999, new Uint8Array(7)));
    expect(m.family).toBe(6);
    expect(Array.from(m.saddr)).toEqual(Array.from(words("2001:db8:1::20")));
    expect(Array.from(m.daddr)).toEqual(Array.from(words("2001:db8:ff::66")));
    expect([m.proto, m.l4, m.sport, m.dport, m.payloadLength, m.ttl]).toEqual([17, 40, 5353, 9999, 7, 64]);
  });

  it("walks extension headers to the transport header; a non-first fragment has none", () => {
    const inner = tcpPacket("2001:db8:1::20", 22, "2001:db8:ff::66", 50000, { flags: TcpFlag.SYN | TcpFlag.ACK });
    const seg = inner.slice(40);
    const withExt = ipv6.emit({
      trafficClass: 0,
      flowLabel: 0,
      hopLimit: 9,
      src: v6("2001:db8:1::20"),
      dst: v6("2001:db8:ff::66"),
      extensions: [
        { kind: "hop-by-hop", data: new Uint8Array(6) },
        { kind: "fragment", reserved: 0, reservedBits: 0, fragmentOffset: 0, moreFragments: true, ident: 7 },
      ],
      nextHeader: 6,
      payload: seg,
    });
    const m = parsed(withExt);
    expect([m.proto, m.l4, m.sport, m.dport, m.isFragment, m.fragOffset, m.tcpFlags, m.ttl]).toEqual([
      6,
      56,
      22,
      50000,
      true,
      0,
      TcpFlag.SYN | TcpFlag.ACK,
      9,
    ]);
    const later = ipv6.emit({
      trafficClass: 0,
      flowLabel: 0,
      hopLimit: 9,
      src: v6("2001:db8:1::20"),
      dst: v6("2001:db8:ff::66"),
      extensions: [
        { kind: "fragment", reserved: 0, reservedBits: 0, fragmentOffset: 3, moreFragments: false, ident: 7 },
      ],
      nextHeader: 6,
      payload: new Uint8Array(16),
    });
    const m2 = parsed(later);
    expect([m2.proto, m2.l4, m2.isFragment, m2.fragOffset]).toEqual([6, NONE, true, 24]);
  });

  it("ICMPv6 echo and errors", () => {
    const echo = parsed(echoPacket("2001:db8:1::20", "2001:db8:ff::66", 4242));
    expect([echo.proto, echo.icmpType, echo.sport, echo.icmpInner]).toEqual([Proto.ICMPV6, 128, 4242, NONE]);
    const offending = udpPacket("2001:db8:1::20", 5353, "2001:db8:ff::66", 9999);
    const e = parsed(icmpErrorPacket("2001:db8:ff::1", "2001:db8:1::20", offending));
    expect([e.icmpType, e.icmpCode, e.icmpInner]).toEqual([1, 4, 48]);
  });
});

describe("fillPacketMeta: properties", () => {
  const addr = fc.integer({ min: 0, max: 0xffffffff });
  const port = fc.integer({ min: 0, max: 0xffff });
  const fmt = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

  it("UDP and TCP fields equal what was emitted", () => {
    fc.assert(
      fc.property(
        addr,
        addr,
        port,
        port,
        fc.uint8Array({ maxLength: 64 }),
        fc.boolean(),
        (s, d, sp, dp, payload, isTcp) => {
          const b = isTcp
            ? tcpPacket(fmt(s), sp, fmt(d), dp, { flags: TcpFlag.ACK, payload })
            : udpPacket(fmt(s), sp, fmt(d), dp, payload);
          const m = parsed(b);
          expect([m.saddr[0], m.daddr[0], m.sport, m.dport, m.payloadLength]).toEqual([
            s >>> 0,
            d >>> 0,
            sp,
            dp,
            payload.length,
          ]);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("never throws on arbitrary bytes (20k runs)", () => {
    const m = new PacketMeta();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(8), (b, l3) => {
        const r = fillPacketMeta(b, l3, b.length - l3, m);
        if (r !== null) expect(r.kind).toBe("wire");
        else expect(m.l3 + m.length).toBeLessThanOrEqual(b.length);
      }),
      { numRuns: 20000 },
    );
  });

  it("never throws on mutated or truncated real packets (20k runs)", () => {
    const seeds = [
      tcpPacket("192.168.1.10", 40000, "203.0.113.66", 443, { options: [{ kind: "window-scale", shift: 7 }] }),
      udpPacket("2001:db8:1::20", 5353, "2001:db8:ff::66", 9999),
      icmpErrorPacket("203.0.113.66", "198.51.100.2", udpPacket("198.51.100.2", 1, "203.0.113.66", 2)),
      icmpErrorPacket("2001:db8:ff::1", "2001:db8:1::20", tcpPacket("2001:db8:1::20", 1, "2001:db8:ff::66", 2)),
      echoPacket("192.168.1.10", "203.0.113.66", 9),
    ];
    const m = new PacketMeta();
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(200),
        (seed, flips, cut) => {
          const b = seed.slice(0, Math.max(1, seed.length - (cut % 24)));
          for (const [at, v] of flips) b[at % b.length] = v;
          const r = fillPacketMeta(b, 0, b.length, m);
          if (r === null) {
            expect(m.l3 + m.length).toBeLessThanOrEqual(b.length);
            if (m.icmpInner !== NONE) expect(m.icmpInner + 28).toBeLessThanOrEqual(b.length);
          } else expect(r.offset).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 20000 },
    );
  });

  it("IPv4: accepts exactly what the wire view accepts with a verifying header checksum, with the same error", () => {
    // Real headers with their checksums fixed up after mutation half of the time, so both the accepting fast path
    // and every rejection (version, IHL, total length, span, checksum) are reached.
    const seed = tcpPacket("192.168.1.10", 40000, "203.0.113.66", 443, {
      options: [{ kind: "window-scale", shift: 7 }],
    });
    const m = new PacketMeta();
    const view = new ipv4.Ipv4View();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(23), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.nat(seed.length),
        fc.nat(4),
        fc.boolean(),
        (flips, cut, l3, fixChecksum) => {
          const b = new Uint8Array(l3 + seed.length);
          b.set(seed, l3);
          for (const [at, v] of flips) b[l3 + at] = v;
          // Another version goes to the IPv6 parser or its own error, outside this comparison.
          fc.pre(b[l3] >>> 4 === 4);
          const hl = (b[l3] & 0x0f) * 4;
          if (fixChecksum && hl >= 20) {
            b[l3 + 10] = 0;
            b[l3 + 11] = 0;
            const c = internetChecksum(b, l3, hl);
            b[l3 + 10] = c >>> 8;
            b[l3 + 11] = c & 0xff;
          }
          const len = b.length - l3 - cut;
          const r = fillPacketMeta(b, l3, len, m);
          const viewError = len < 1 ? "span" : view.wrap(b, l3, len).check();
          if (viewError !== null) {
            expect(r).not.toBeNull();
            if (typeof viewError !== "string") expect(r).toEqual(viewError);
            return;
          }
          if (internetChecksum(b, l3, hl) !== 0) {
            expect(r?.field).toBe("checksum");
            return;
          }
          if (r !== null) expect(r.protocol).not.toBe("ipv4");
          expect(m.length).toBe((b[l3 + 2] << 8) | b[l3 + 3]);
          expect(m.saddr[0]).toBe(((b[l3 + 12] << 24) | (b[l3 + 13] << 16) | (b[l3 + 14] << 8) | b[l3 + 15]) >>> 0);
        },
      ),
      { numRuns: 5000 },
    );
  });
});
