import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { fromHex, readU16, readU32, writeU16, writeU32 } from "./bytes.js";
import {
  finishChecksum,
  foldSum,
  internetChecksum,
  pseudoHeaderSumV4,
  pseudoHeaderSumV6,
  sumWords,
  updateChecksum16,
  updateChecksum32,
  updateChecksumBytes,
  updateUdpChecksum16,
  updateUdpChecksum32,
  updateUdpChecksumBytes,
} from "./checksum.js";
import type { PseudoHeader } from "./pseudo-header.js";
import * as tcp from "./tcp.js";
import * as udp from "./udp.js";

// Offsets of the hand-built IP headers below (RFC 791 §3.1, RFC 8200 §3).
const V4 = { LENGTH: 2, PROTOCOL: 9, CHECKSUM: 10, SRC: 12, DST: 16, HLEN: 20 } as const;
const V6 = { PAYLOAD_LENGTH: 4, NEXT_HEADER: 6, SRC: 8, DST: 24, HLEN: 40 } as const;

describe("RFC 1071 examples", () => {
  it("sums the §3 example bytes to 0xddf2 and complements it", () => {
    const b = fromHex("0001f203f4f5f6f7");
    expect(foldSum(sumWords(b, 0, b.length))).toBe(0xddf2);
    expect(internetChecksum(b, 0, b.length)).toBe(0x220d);
  });

  it("pads an odd tail byte with zero", () => {
    const b = fromHex("0001f203f4f5f6");
    expect(foldSum(sumWords(b, 0, b.length))).toBe((0x0001 + 0xf203 + 0xf4f5 + 0xf600) % 0xffff);
  });

  it("is independent of byte order in the sense of §2(B): swapped bytes give a swapped sum", () => {
    const b = fromHex("0001f203f4f5f6f7");
    const swapped = fromHex("0100 03f2 f5f4 f7f6");
    expect(foldSum(sumWords(swapped, 0, 8))).toBe(0xf2dd);
    expect(foldSum(sumWords(b, 0, 8))).toBe(0xddf2);
  });

  it("validates the header checksum of a captured IPv4 header (sum of all words is 0xffff)", () => {
    const ip = fromHex("4500003c0caf40004006aa09c0000201c0000202");
    expect(internetChecksum(ip, 0, 20)).toBe(0);
    const zeroed = ip.slice();
    writeU16(zeroed, V4.CHECKSUM, 0);
    expect(internetChecksum(zeroed, 0, 20)).toBe(0xaa09);
  });

  it("folds large sums: continuing a sum over 100,000 bytes of 0xff gives the sum of 0xffff words", () => {
    const b = new Uint8Array(100_000).fill(0xff);
    expect(foldSum(sumWords(b, 0, b.length))).toBe(0xffff);
    expect(finishChecksum(sumWords(b, 0, b.length))).toBe(0);
  });

  it("computes the pseudo-header sums of RFC 768 / RFC 8200 §8.1", () => {
    expect(pseudoHeaderSumV4(0xc0000201, 0xc0000202, 6, 40)).toBe(0xc000 + 0x0201 + 0xc000 + 0x0202 + 6 + 40);
    const src = fromHex("20010db8000000000000000000000001");
    const dst = fromHex("20010db8000000000000000000000002");
    const expected = 2 * (0x2001 + 0x0db8) + 1 + 2 + 0x1 + 0x0000 + 17;
    expect(pseudoHeaderSumV6(src, 0, dst, 0, 17, 0x10000)).toBe(expected);
  });
});

/** A valid IPv4 packet carrying `l4` (TCP or UDP) with correct header and L4 checksums. */
function ipv4Packet(protocol: number, src: number, dst: number, l4: Uint8Array): Uint8Array {
  const b = new Uint8Array(V4.HLEN + l4.length);
  b[0] = 0x45;
  writeU16(b, V4.LENGTH, b.length);
  b[8] = 64;
  b[V4.PROTOCOL] = protocol;
  writeU32(b, V4.SRC, src);
  writeU32(b, V4.DST, dst);
  writeU16(b, V4.CHECKSUM, internetChecksum(b, 0, V4.HLEN));
  b.set(l4, V4.HLEN);
  return b;
}

function ipv6Packet(nextHeader: number, src: Uint8Array, dst: Uint8Array, l4: Uint8Array): Uint8Array {
  const b = new Uint8Array(V6.HLEN + l4.length);
  b[0] = 0x60;
  writeU16(b, V6.PAYLOAD_LENGTH, l4.length);
  b[V6.NEXT_HEADER] = nextHeader;
  b[7] = 64;
  b.set(src, V6.SRC);
  b.set(dst, V6.DST);
  b.set(l4, V6.HLEN);
  return b;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const payload = fc.uint8Array({ maxLength: 64 });
const addr6 = fc.uint8Array({ minLength: 16, maxLength: 16 });

const tcpSegment = fc.record({
  srcPort: u16,
  dstPort: u16,
  seq: u32,
  ack: u32,
  flags: fc.integer({ min: 0, max: 0xfff }),
  window: u16,
  checksum: fc.constant(0),
  urgent: u16,
  options: fc.constant([]),
  payload,
});

const udpDatagram = fc.record({ srcPort: u16, dstPort: u16, checksum: fc.constant(0), payload });

/** Full recomputation: the L4 checksum field of a copy, recomputed from scratch. */
function fullTcpChecksum(b: Uint8Array, at: number, pseudo: PseudoHeader): number {
  const c = b.slice();
  tcp.fillChecksum(c, at, c.length - at, pseudo);
  return readU16(c, at + tcp.TcpField.CHECKSUM);
}
function fullUdpChecksum(b: Uint8Array, at: number, pseudo: PseudoHeader): number {
  const c = b.slice();
  udp.fillChecksum(c, at, c.length - at, pseudo);
  return readU16(c, at + udp.UdpField.CHECKSUM);
}
function v4Pseudo(b: Uint8Array): PseudoHeader {
  return { family: 4, src: readU32(b, V4.SRC), dst: readU32(b, V4.DST) };
}
function v6Pseudo(b: Uint8Array): PseudoHeader {
  return { family: 6, src: b.slice(V6.SRC, V6.SRC + 16), dst: b.slice(V6.DST, V6.DST + 16) };
}

describe("incremental update (RFC 1624) equals full recomputation", () => {
  fcTest.prop([tcpSegment, u32, u32, u32, u16, u16], { numRuns: 3000 })(
    "IPv4/TCP: NAT rewrites source address and port (SNAT), then destination (DNAT)",
    (seg, src, dst, newAddr, newSrcPort, newDstPort) => {
      const b = ipv4Packet(6, src, dst, tcp.emit(seg, { family: 4, src, dst }));
      const t = V4.HLEN;
      // SNAT: address in the IP header and the TCP pseudo-header, then the port.
      writeU32(b, V4.SRC, newAddr);
      writeU16(b, V4.CHECKSUM, updateChecksum32(readU16(b, V4.CHECKSUM), src, newAddr));
      let c = updateChecksum32(readU16(b, t + tcp.TcpField.CHECKSUM), src, newAddr);
      writeU16(b, t + tcp.TcpField.SRC_PORT, newSrcPort);
      c = updateChecksum16(c, seg.srcPort, newSrcPort);
      // DNAT on the same packet: destination port.
      writeU16(b, t + tcp.TcpField.DST_PORT, newDstPort);
      c = updateChecksum16(c, seg.dstPort, newDstPort);
      writeU16(b, t + tcp.TcpField.CHECKSUM, c);

      expect(internetChecksum(b, 0, V4.HLEN)).toBe(0);
      const zeroed = b.slice(0, V4.HLEN);
      writeU16(zeroed, V4.CHECKSUM, 0);
      expect(readU16(b, V4.CHECKSUM)).toBe(internetChecksum(zeroed, 0, V4.HLEN));
      expect(c).toBe(fullTcpChecksum(b, t, v4Pseudo(b)));
      expect(tcp.verifyChecksum(b, t, b.length - t, v4Pseudo(b))).toBe(true);
    },
  );

  fcTest.prop([udpDatagram, fc.boolean(), u32, u32, u32, u16], { numRuns: 3000 })(
    "IPv4/UDP: address and port rewrite; a zero (absent) checksum stays zero, a computed zero becomes 0xffff",
    (dgram, omit, src, dst, newAddr, newPort) => {
      const b = ipv4Packet(17, src, dst, udp.emit(dgram, { family: 4, src, dst }, { omitChecksum: omit }));
      const u = V4.HLEN;
      const before = readU16(b, u + udp.UdpField.CHECKSUM);
      writeU32(b, V4.DST, newAddr);
      let c = updateUdpChecksum32(before, dst, newAddr);
      writeU16(b, u + udp.UdpField.DST_PORT, newPort);
      c = updateUdpChecksum16(c, dgram.dstPort, newPort);
      writeU16(b, u + udp.UdpField.CHECKSUM, c);

      if (omit) expect(c).toBe(0);
      else {
        expect(c).not.toBe(0);
        expect(c).toBe(fullUdpChecksum(b, u, v4Pseudo(b)));
      }
      expect(udp.verifyChecksum(b, u, b.length - u, v4Pseudo(b))).toBe(true);
    },
  );

  fcTest.prop([tcpSegment, addr6, addr6, addr6, u16], { numRuns: 2000 })(
    "IPv6/TCP: a 16-byte address rewrite (NPTv6/NAT66) and a port rewrite",
    (seg, src, dst, newSrc, newPort) => {
      const b = ipv6Packet(6, src, dst, tcp.emit(seg, { family: 6, src, dst }));
      const t = V6.HLEN;
      let c = updateChecksumBytes(readU16(b, t + tcp.TcpField.CHECKSUM), b, V6.SRC, newSrc, 0, 16);
      b.set(newSrc, V6.SRC);
      c = updateChecksum16(c, seg.srcPort, newPort);
      writeU16(b, t + tcp.TcpField.SRC_PORT, newPort);
      writeU16(b, t + tcp.TcpField.CHECKSUM, c);
      expect(c).toBe(fullTcpChecksum(b, t, v6Pseudo(b)));
    },
  );

  fcTest.prop([udpDatagram, addr6, addr6, addr6], { numRuns: 2000 })(
    "IPv6/UDP: a 16-byte address rewrite keeps the mandatory checksum exact",
    (dgram, src, dst, newDst) => {
      const b = ipv6Packet(17, src, dst, udp.emit(dgram, { family: 6, src, dst }));
      const u = V6.HLEN;
      const c = updateUdpChecksumBytes(readU16(b, u + udp.UdpField.CHECKSUM), b, V6.DST, newDst, 0, 16);
      b.set(newDst, V6.DST);
      writeU16(b, u + udp.UdpField.CHECKSUM, c);
      expect(c).toBe(fullUdpChecksum(b, u, v6Pseudo(b)));
      expect(udp.verifyChecksum(b, u, b.length - u, v6Pseudo(b))).toBe(true);
    },
  );

  fcTest.prop([u16, addr6, addr6], { numRuns: 2000 })(
    "updateChecksumBytes equals word-by-word updateChecksum16",
    (checksum, oldBytes, newBytes) => {
      let c = checksum;
      for (let i = 0; i < 16; i += 2) c = updateChecksum16(c, readU16(oldBytes, i), readU16(newBytes, i));
      expect(updateChecksumBytes(checksum, oldBytes, 0, newBytes, 0, 16)).toBe(c);
    },
  );

  it("UDP corner: a rewrite whose full checksum computes to 0 must transmit 0xffff (RFC 768)", () => {
    const src = 0xc0000201;
    const oldDst = 0xc0000202;
    const newDst = 0xcb007105;
    // Choose the last payload word so that, after the rewrite, the computed checksum is exactly 0.
    const after = udp.emit(
      { srcPort: 5353, dstPort: 53, checksum: 0, payload: new Uint8Array(4) },
      {
        family: 4,
        src,
        dst: newDst,
      },
    );
    const computed = readU16(after, udp.UdpField.CHECKSUM);
    const payloadWord = new Uint8Array(4);
    writeU16(payloadWord, 2, computed);
    const before = udp.emit(
      { srcPort: 5353, dstPort: 53, checksum: 0, payload: payloadWord },
      {
        family: 4,
        src,
        dst: oldDst,
      },
    );
    const b = ipv4Packet(17, src, oldDst, before);
    writeU32(b, V4.DST, newDst);
    const oldChecksum = readU16(before, udp.UdpField.CHECKSUM);

    expect(updateChecksum32(oldChecksum, oldDst, newDst)).toBe(0); // the generic update would mean "no checksum"
    const c = updateUdpChecksum32(oldChecksum, oldDst, newDst);
    expect(c).toBe(0xffff);
    expect(fullUdpChecksum(b, V4.HLEN, v4Pseudo(b))).toBe(0xffff);
    writeU16(b, V4.HLEN + udp.UdpField.CHECKSUM, c);
    expect(udp.verifyChecksum(b, V4.HLEN, b.length - V4.HLEN, v4Pseudo(b))).toBe(true);
  });

  it("UDP corner: an absent IPv4 checksum (0) stays 0 through a rewrite", () => {
    expect(updateUdpChecksum16(0, 1234, 4321)).toBe(0);
    expect(updateUdpChecksum32(0, 0xc0000201, 0xc6336401)).toBe(0);
    expect(updateChecksum16(0, 1234, 4321)).not.toBe(0); // why UDP needs its own update
  });

  it("known limit of eqn. 3: all-zero data (echo reply id 0 seq 0) gives 0x0000 where the full sum gives 0xffff", () => {
    const icmp = fromHex("0000 0000 1234 0000"); // echo reply, id 0x1234
    writeU16(icmp, 2, internetChecksum(icmp, 0, 8));
    const c = updateChecksum16(readU16(icmp, 2), 0x1234, 0);
    writeU16(icmp, 4, 0);
    writeU16(icmp, 2, 0);
    expect(internetChecksum(icmp, 0, 8)).toBe(0xffff);
    expect(c).toBe(0x0000);
  });
});

describe("sumWords wide path", () => {
  /** The RFC 1071 definition, one 16-bit word at a time: the reference the 32-bit path must fold to. */
  function referenceChecksum(b: Uint8Array, at: number, len: number): number {
    let sum = 0;
    let i = at;
    for (; i + 1 < at + len; i += 2) sum += (b[i] << 8) | b[i + 1];
    if (i < at + len) sum += b[i] << 8;
    return finishChecksum(sum);
  }

  fcTest.prop(
    [fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat({ max: 64 }), fc.nat({ max: 64 }), fc.boolean()],
    { numRuns: 2000 },
  )("folds to the word-by-word checksum for any span, offset and sub-array", (data, cutStart, cutEnd, viaSubarray) => {
    // A sub-array exercises a non-zero byteOffset (STYLE.md §15); odd offsets and lengths exercise the tail.
    const b = viaSubarray ? data.subarray(Math.min(3, data.length)) : data;
    const at = Math.min(cutStart, b.length);
    const len = Math.max(0, b.length - at - cutEnd);
    expect(internetChecksum(b, at, len)).toBe(referenceChecksum(b, at, len));
    // Summing twice over the same (now cached) array gives the same answer.
    expect(internetChecksum(b, at, len)).toBe(referenceChecksum(b, at, len));
  });

  it("handles a 2 MiB buffer whose sum needs intermediate folding", () => {
    const b = new Uint8Array(2 * 1024 * 1024).fill(0xff);
    expect(internetChecksum(b, 0, b.length)).toBe(referenceChecksum(b, 0, b.length));
  });
});

describe("sumWords short spans and foldSum", () => {
  /** Word-by-word sum with the original semantics: a byte past the array reads as 0 (`undefined << 8` is 0). */
  function referenceSum(b: Uint8Array, at: number, len: number, sum: number): number {
    let i = at;
    for (; i + 1 < at + len; i += 2) sum += (b[i] << 8) | b[i + 1];
    if (i < at + len) sum += b[i] << 8;
    return sum > 0x3fffffff ? referenceFold(sum) : sum;
  }
  function referenceFold(sum: number): number {
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
    return sum;
  }

  fcTest.prop(
    [
      fc.uint8Array({ minLength: 0, maxLength: 80 }),
      fc.nat({ max: 90 }),
      fc.nat({ max: 90 }),
      fc.nat({ max: 0x3fffffff }),
    ],
    { numRuns: 3000 },
  )("returns the same unfolded sum as the word loop, in bounds or past the end", (b, at, len, start) => {
    expect(sumWords(b, at, len, start)).toBe(referenceSum(b, at, len, start));
  });

  it("sums a 20-byte IPv4 header to 0xffff when its checksum is right (RFC 791 example header)", () => {
    const h = fromHex("4500003c1c4640004006b1e6ac100a63ac100a0c");
    expect(sumWords(h, 0, 20)).toBe(0x2fffd);
    expect(foldSum(sumWords(h, 0, 20))).toBe(0xffff);
    h[V4.CHECKSUM] ^= 1;
    expect(internetChecksum(h, 0, 20)).not.toBe(0);
  });

  fcTest.prop([fc.oneof(fc.nat({ max: 0x1ffff }), fc.nat({ max: 0xffffffff }), fc.maxSafeNat())], {
    numRuns: 3000,
  })("foldSum equals repeated folding for every non-negative integer", (sum) => {
    const folded = foldSum(sum);
    expect(folded).toBe(referenceFold(sum));
    expect(folded).toBeLessThanOrEqual(0xffff);
  });

  it("folds the edges of the 32-bit fast path exactly", () => {
    expect(foldSum(0xffff)).toBe(0xffff);
    expect(foldSum(0x10000)).toBe(1);
    expect(foldSum(0x1fffe)).toBe(0xffff);
    expect(foldSum(0x1ffff)).toBe(1);
    expect(foldSum(0xffffffff)).toBe(0xffff);
    expect(foldSum(0x100000000)).toBe(1);
  });
});
