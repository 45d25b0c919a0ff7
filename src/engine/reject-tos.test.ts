// Regression case the kernel referee found (src/lab/differential, seed-30): icmp_send (net/ipv4/icmp.c) sends
// errors with TOS = RT_TOS(offender's TOS) | IPTOS_PREC_INTERNETCONTROL; the engine used to send TOS 0. Values
// measured on Linux 6.18: offender TOS b9 → d8, 1e → de, 03 → c2, ff → de, 00 → c0.

import { describe, expect, it } from "vitest";
import { fc, test as fcTest } from "@fast-check/vitest";
import { udpPacket } from "./datapath.fixture.js";
import { PacketMeta } from "./packet-meta.js";
import { fillPacketMeta } from "./packet-parse.js";
import { buildIcmpError } from "./reject.js";
import { internetChecksum } from "../wire/checksum.js";
import { writeU16 } from "../wire/bytes.js";
import { Ipv4Field } from "../wire/ipv4.js";

function errorTos(tos: number): number {
  const p = udpPacket("203.0.113.5", 53, "198.51.100.2", 40000);
  p[Ipv4Field.DSCP_ECN] = tos;
  writeU16(p, Ipv4Field.CHECKSUM, 0);
  writeU16(p, Ipv4Field.CHECKSUM, internetChecksum(p, 0, 20));
  const meta = new PacketMeta();
  expect(fillPacketMeta(p, 0, p.length, meta)).toBeNull();
  const err = buildIcmpError(meta, Uint32Array.of(meta.daddr[0], 0, 0, 0), 3, 3);
  expect(err).not.toBeNull();
  expect(internetChecksum(err!, 0, 20)).toBe(0);
  return err![Ipv4Field.DSCP_ECN];
}

describe("ICMP error TOS", () => {
  it("matches the kernel's measured values", () => {
    expect([0xb9, 0x1e, 0x03, 0xff, 0x00].map(errorTos)).toEqual([0xd8, 0xde, 0xc2, 0xde, 0xc0]);
  });

  fcTest.prop([fc.integer({ min: 0, max: 255 })])("is always precedence 6 plus the offender's TOS bits", (tos) => {
    expect(errorTos(tos)).toBe((tos & 0x1e) | 0xc0);
  });
});
