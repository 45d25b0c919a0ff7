import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { hex, readU16, readU32, writeU16, writeU32 } from "../../wire/bytes.js";
import { updateChecksum16, updateChecksum32 } from "../../wire/checksum.js";
import { fillPacketMeta } from "../packet-parse.js";
import { NONE, PacketMeta, Proto, TcpFlag } from "../packet-meta.js";
import { Manip, manipPacket } from "./rewrite.js";
import { badChecksums, echoPacket, tcpPacket, udpPacket, words } from "./packets.fixture.js";

const fmt4 = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const fmt6 = (w: number[]): string =>
  `2001:db8:${(w[0] & 0xffff).toString(16)}:${(w[1] >>> 16).toString(16)}::${(w[2] & 0xffff).toString(16)}:${(w[3] & 0xffff).toString(16)}`;

function rewrite(b: Uint8Array, which: Manip, addr: string, port: number): Uint8Array {
  const m = new PacketMeta();
  expect(fillPacketMeta(b, 0, b.length, m)).toBeNull();
  manipPacket(b, 0, m.family, m.proto, m.l4, m.length, which, words(addr), port);
  return b;
}

describe("manipPacket: incremental checksums equal a full recomputation", () => {
  const port = fc.integer({ min: 0, max: 0xffff });
  const a4 = fc.integer({ min: 0, max: 0xffffffff }).map(fmt4);
  const a6 = fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 4, maxLength: 4 }).map(fmt6);
  const payload = fc.uint8Array({ maxLength: 33 });

  it("IPv4 and IPv6 UDP/TCP, source or destination, any address and port", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.tuple(a4, a4, a4),
        fc.tuple(a6, a6, a6),
        fc.tuple(port, port, port),
        payload,
        (v6, isTcp, src, [s4, d4, n4], [s6, d6, n6], [sp, dp, np], data) => {
          const [s, d, n] = v6 ? [s6, d6, n6] : [s4, d4, n4];
          const build = (a: string, ap: number, b: string, bp: number): Uint8Array =>
            isTcp ? tcpPacket(a, ap, b, bp, { flags: TcpFlag.ACK, payload: data }) : udpPacket(a, ap, b, bp, data);
          const out = rewrite(build(s, sp, d, dp), src ? Manip.SRC : Manip.DST, n, np);
          const expected = src ? build(n, np, d, dp) : build(s, sp, n, np);
          expect(hex(out)).toBe(hex(expected));
          expect(badChecksums(out)).toEqual([]);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("ICMP echo identifiers (v4 without pseudo-header, v6 with)", () => {
    fc.assert(
      fc.property(fc.boolean(), port, port, (v6, id, nid) => {
        const [s, d, n] = v6
          ? ["2001:db8::1", "2001:db8::2", "2001:db8::99"]
          : ["10.0.0.1", "192.0.2.2", "198.51.100.9"];
        const out = rewrite(echoPacket(s, d, id), Manip.SRC, n, nid);
        expect(hex(out)).toBe(hex(echoPacket(n, d, nid)));
      }),
      { numRuns: 500 },
    );
  });

  it("UDP over IPv4 without checksum keeps 0; port NONE leaves ports alone", () => {
    const b = udpPacket("10.0.0.1", 1, "10.0.0.2", 2, new Uint8Array(4), true);
    rewrite(b, Manip.SRC, "192.0.2.1", 7);
    expect(hex(b)).toBe(hex(udpPacket("192.0.2.1", 7, "10.0.0.2", 2, new Uint8Array(4), true)));
    const t = tcpPacket("10.0.0.1", 1, "10.0.0.2", 2);
    rewrite(t, Manip.DST, "192.0.2.1", NONE);
    expect(hex(t)).toBe(hex(tcpPacket("10.0.0.1", 1, "192.0.2.1", 2)));
  });
});

describe("manipPacket: one fold per checksum gives the bytes of one RFC 1624 update per field", () => {
  /** The per-field form: updateChecksum32 for the address, then updateChecksum16 for the port (rewrite.ts before). */
  function sequential(b: Uint8Array, which: Manip, addr: number, port: number): void {
    const field = which === Manip.SRC ? 12 : 16;
    const old = readU32(b, field);
    const l4sum = 20 + 16;
    let c = readU16(b, l4sum);
    if (old !== addr) {
      writeU32(b, field, addr);
      writeU16(b, 10, updateChecksum32(readU16(b, 10), old, addr));
      c = updateChecksum32(c, old, addr);
    }
    const portAt = 20 + (which === Manip.SRC ? 0 : 2);
    const oldPort = readU16(b, portAt);
    if (oldPort !== port) {
      writeU16(b, portAt, port);
      c = updateChecksum16(c, oldPort, port);
    }
    writeU16(b, l4sum, c);
  }

  it("matches for any header bytes, any stored checksums (valid or not), any address and port", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 40, maxLength: 40 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom(0, 0xffff, 0x1234),
        (bytes, src, addr, port, edge) => {
          const which = src ? Manip.SRC : Manip.DST;
          const b = bytes.slice();
          // Edge checksums (0x0000, 0xffff) in either field exercise the folds' carries.
          if (port % 3 === 0) writeU16(b, 10, edge);
          if (port % 5 === 0) writeU16(b, 36, edge);
          const want = b.slice();
          sequential(want, which, addr, port);
          manipPacket(b, 0, 4, Proto.TCP, 20, 40, which, Uint32Array.of(addr, 0, 0, 0), port);
          expect(hex(b)).toBe(hex(want));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
