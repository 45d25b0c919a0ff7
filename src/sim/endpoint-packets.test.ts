import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { PacketMeta, Proto, TcpFlag, fillPacketMeta } from "../engine/index.js";
import { fromHex, hex } from "../wire/bytes.js";
import * as icmpv6 from "../wire/icmpv6.js";
import * as ipv4 from "../wire/ipv4.js";
import * as ipv6 from "../wire/ipv6.js";
import * as tcp from "../wire/tcp.js";
import * as udp from "../wire/udp.js";
import { buildEchoReply, buildTcpSegment, buildUdpDatagram } from "./endpoint-packets.js";
import { addressWords } from "./simulation.js";

const W = (s: string): Uint32Array => addressWords(s)!.words;

describe("endpoint packets", () => {
  it("builds a SYN byte for byte as Linux would put it on the wire (MSS only, DF, TTL 64)", () => {
    const syn = buildTcpSegment({
      family: 4,
      src: W("192.168.1.10"),
      dst: W("192.168.1.20"),
      sport: 40000,
      dport: 5432,
      seq: 1000,
      ack: 0,
      flags: TcpFlag.SYN,
      window: 64240,
      mss: 1460,
      ident: 0x1234,
      payload: null,
    });
    // IPv4 (len 44, id 0x1234, DF, TTL 64, proto 6, checksum), TCP (9c40 → 1538, seq 1000, off 6, SYN, win 64240,
    // checksum, MSS 1460); both checksums computed independently (Python, RFC 1071 sum over the words).
    expect(hex(syn)).toBe(
      "4500002c123440004006a529c0a8010ac0a80114" + "9c401538000003e8000000006002faf0" + "64660000020405b4",
    );
  });

  test.prop([
    fc.constantFrom("4", "6"),
    fc.integer({ min: 0, max: 65535 }),
    fc.integer({ min: 0, max: 65535 }),
    fc.nat({ max: 0xffffffff }),
    fc.nat({ max: 0xffffffff }),
    fc.integer({ min: 0, max: 0xff }),
    fc.uint8Array({ maxLength: 64 }),
  ])(
    "TCP segments and UDP datagrams parse back with the wire layer and valid checksums",
    (fam, sp, dp, seq, ack, flags, data) => {
      const v6 = fam === "6";
      const src = W(v6 ? "2001:db8:1::10" : "192.0.2.1");
      const dst = W(v6 ? "2001:db8:2::20" : "198.51.100.7");
      const seg = buildTcpSegment({
        family: v6 ? 6 : 4,
        src,
        dst,
        sport: sp,
        dport: dp,
        seq,
        ack,
        flags,
        window: 1000,
        mss: flags & 2 ? 1460 : 0,
        ident: 9,
        payload: data,
      });
      const dg = buildUdpDatagram(v6 ? 6 : 4, src, dst, sp, dp, data);
      for (const [pkt, proto] of [
        [seg, 6],
        [dg, 17],
      ] as const) {
        const meta = new PacketMeta();
        expect(fillPacketMeta(pkt, 0, pkt.length, meta)).toBeNull();
        expect(meta.proto).toBe(proto);
        expect([meta.sport, meta.dport, meta.payloadLength]).toEqual([sp, dp, data.length]);
        let l4: Uint8Array;
        let pseudo;
        if (v6) {
          const p = ipv6.parse(pkt);
          if (!p.ok) throw new Error(p.error.message);
          l4 = p.value.payload;
          pseudo = { family: 6 as const, src: p.value.src, dst: p.value.dst };
        } else {
          expect(ipv4.verifyChecksum(pkt)).toBe(true);
          const p = ipv4.parse(pkt);
          if (!p.ok) throw new Error(p.error.message);
          l4 = p.value.payload;
          pseudo = { family: 4 as const, src: p.value.src, dst: p.value.dst };
        }
        if (proto === 6) {
          expect(tcp.verifyChecksum(l4, 0, l4.length, pseudo)).toBe(true);
          const t = tcp.parse(l4);
          expect(t.ok && [t.value.seq, t.value.ack, t.value.flags & 0xff, hex(t.value.payload)]).toEqual([
            seq,
            ack,
            flags,
            hex(data),
          ]);
        } else {
          expect(udp.verifyChecksum(l4, 0, l4.length, pseudo)).toBe(true);
        }
      }
    },
  );

  it("answers an ICMPv6 echo request from the address it was sent to, with a valid checksum", () => {
    const req = icmpv6.emit(
      { kind: "echo-request", code: 0, checksum: 0, id: 0x42, seq: 3, data: fromHex("cafe") },
      { family: 6, src: ipv6Bytes("2001:db8::1"), dst: ipv6Bytes("2001:db8::2") },
    );
    const pkt = ipv6.emit({
      trafficClass: 0,
      flowLabel: 0,
      hopLimit: 64,
      src: ipv6Bytes("2001:db8::1"),
      dst: ipv6Bytes("2001:db8::2"),
      extensions: [],
      nextHeader: Proto.ICMPV6,
      payload: req,
    });
    const meta = new PacketMeta();
    expect(fillPacketMeta(pkt, 0, pkt.length, meta)).toBeNull();
    const reply = buildEchoReply(meta, 0)!;
    const p = ipv6.parse(reply);
    if (!p.ok) throw new Error(p.error.message);
    expect(hex(p.value.src)).toBe(hex(ipv6Bytes("2001:db8::2")));
    const m = icmpv6.parse(p.value.payload);
    expect(m.ok && m.value).toMatchObject({ kind: "echo-reply", id: 0x42, seq: 3 });
    expect(
      icmpv6.verifyChecksum(p.value.payload, 0, p.value.payload.length, {
        family: 6,
        src: p.value.src,
        dst: p.value.dst,
      }),
    ).toBe(true);
  });
});

function ipv6Bytes(s: string): Uint8Array {
  const w = W(s);
  const out = new Uint8Array(16);
  for (let i = 0; i < 4; i++) {
    out[4 * i] = w[i] >>> 24;
    out[4 * i + 1] = (w[i] >>> 16) & 255;
    out[4 * i + 2] = (w[i] >>> 8) & 255;
    out[4 * i + 3] = w[i] & 255;
  }
  return out;
}
