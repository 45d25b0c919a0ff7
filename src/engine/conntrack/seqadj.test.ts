// nf_conntrack_seqadj.c's rules: where a correction applies, how a later or repeated rewrite moves it, and what a
// segment looks like after nf_ct_seq_adjust / nf_ct_sack_adjust (sequence number, acknowledgement, SACK blocks,
// checksum), on real TCP packets built with the wire emitters.
import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import { badChecksums, tcpPacket } from "../nat/packets.fixture.js";
import { readU32 } from "../../wire/bytes.js";
import { TcpFlag } from "../packet-meta.js";
import { SeqAdjustments } from "./seqadj.js";

const E = 3;
const ORIG = 0;
const REPLY = 1;
const L4 = 20;

function segment(seq: number, ack: number, sack: [number, number][] = [], flags: number = TcpFlag.ACK): Uint8Array {
  return tcpPacket("192.168.1.5", 40000, "203.0.113.66", 21, {
    flags,
    seq,
    ack,
    options:
      sack.length === 0
        ? []
        : [{ kind: "nop" }, { kind: "nop" }, { kind: "sack", blocks: sack.map(([left, right]) => ({ left, right })) }],
    payload: new TextEncoder().encode("NOOP\r\n"),
  });
}

describe("SeqAdjustments: where an offset applies", () => {
  it("has no offset before any rewrite, and nothing changes for a rewrite of the same length", () => {
    const s = new SeqAdjustments();
    expect(s.offset(E, ORIG, 123)).toBe(0);
    s.set(E, ORIG, 100, 0);
    expect(s.has(E)).toBe(false);
  });

  it("applies a rewrite's offset to later sequence numbers only, and stacks a later rewrite on it", () => {
    const s = new SeqAdjustments();
    s.set(E, ORIG, 100, 1);
    expect([s.offset(E, ORIG, 99), s.offset(E, ORIG, 100), s.offset(E, ORIG, 101)]).toEqual([0, 0, 1]);
    expect(s.offset(E, REPLY, 101)).toBe(0);
    s.set(E, ORIG, 200, 2);
    expect([s.offset(E, ORIG, 150), s.offset(E, ORIG, 200), s.offset(E, ORIG, 201)]).toEqual([1, 1, 3]);
    // A retransmission of the first rewritten segment moves nothing (it is not after the correction point).
    s.set(E, ORIG, 100, 1);
    expect([s.offset(E, ORIG, 150), s.offset(E, ORIG, 201)]).toEqual([1, 3]);
    s.forget(E);
    expect(s.offset(E, ORIG, 201)).toBe(0);
  });

  it("compares sequence numbers modulo 2^32", () => {
    const s = new SeqAdjustments();
    s.set(E, REPLY, 0xfffffff0, -2);
    expect(s.offset(E, REPLY, 0xfffffff8)).toBe(-2);
    expect(s.offset(E, REPLY, 5)).toBe(-2);
    expect(s.offset(E, REPLY, 0xffffff00)).toBe(0);
  });
});

describe("SeqAdjustments.adjust (nf_ct_seq_adjust, nf_ct_sack_adjust)", () => {
  it("shifts the sequence number by its direction's offset and the ack and SACK blocks back by the other's", () => {
    const s = new SeqAdjustments();
    s.set(E, ORIG, 100, 1);
    s.set(E, REPLY, 5000, -3);
    // A reply-direction segment: seq in the reply's space, ack and SACK in the original's (as the far end saw it).
    const b = segment(6000, 130, [
      [110, 120],
      [90, 100],
    ]);
    expect(s.adjust(b, L4, E, REPLY)).toBe(true);
    expect(readU32(b, L4 + 4)).toBe(6000 - 3);
    // ack 130 − offset_before 0 is after 100: offset_after 1 comes off.
    expect(readU32(b, L4 + 8)).toBe(129);
    const sackAt = L4 + 20 + 2 + 2;
    expect([readU32(b, sackAt), readU32(b, sackAt + 4), readU32(b, sackAt + 8), readU32(b, sackAt + 12)]).toEqual([
      109, 119, 90, 100,
    ]);
    expect(badChecksums(b)).toEqual([]);
  });

  it("leaves the acknowledgement of a segment without ACK alone", () => {
    const s = new SeqAdjustments();
    s.set(E, ORIG, 100, 4);
    s.set(E, REPLY, 100, 4);
    const b = segment(150, 777, [], TcpFlag.RST);
    expect(s.adjust(b, L4, E, ORIG)).toBe(true);
    expect(readU32(b, L4 + 4)).toBe(154);
    expect(readU32(b, L4 + 8)).toBe(777);
    expect(badChecksums(b)).toEqual([]);
  });

  it("refuses a malformed option list (the kernel drops the segment)", () => {
    const s = new SeqAdjustments();
    s.set(E, REPLY, 100, 1);
    const b = segment(150, 150, [[120, 130]]);
    // The SACK option's length claims more than the header holds.
    b[L4 + 20 + 2 + 1] = 40;
    expect(s.adjust(b, L4, E, ORIG)).toBe(false);
  });

  test.prop([
    fc.integer({ min: -50, max: 50 }),
    fc.integer({ min: -50, max: 50 }),
    fc.nat({ max: 0xffffffff }),
    fc.nat({ max: 0xffffffff }),
    fc.nat({ max: 0xffffffff }),
  ])(
    "every adjusted segment keeps a valid checksum, and shifting back restores the numbers",
    (o1, o2, pos, seq, ack) => {
      const s = new SeqAdjustments();
      s.set(E, ORIG, pos, o1);
      s.set(E, REPLY, pos, o2);
      const b = segment(seq, ack, [[ack, (ack + 10) >>> 0]]);
      expect(s.adjust(b, L4, E, ORIG)).toBe(true);
      expect(badChecksums(b)).toEqual([]);
      const seqOff = s.offset(E, ORIG, seq);
      expect(readU32(b, L4 + 4)).toBe((seq + seqOff) >>> 0);
    },
  );
});
