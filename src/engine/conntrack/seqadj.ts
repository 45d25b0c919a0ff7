// TCP sequence adjustment after a helper rewrote a payload to another length (net/netfilter/nf_conntrack_seqadj.c).
// Per connection and direction: where the last length-changing rewrite happened (correction_pos, the rewritten
// segment's sequence number) and the offset the sender's sequence numbers carry before and after it. Every later
// segment of a connection with IPS_SEQ_ADJUST gets its sequence number shifted by its own direction's offset and its
// acknowledgement (and SACK blocks) shifted back by the other direction's, so each end keeps seeing its own sequence
// space; conntrack's window check takes acknowledgements back into the sender's space too (nf_ct_seq_offset).
// Only connections a helper rewrote have a record here.

import { readU16, readU32, writeU16, writeU32 } from "../../wire/bytes.js";
import { updateChecksum32 } from "../../wire/checksum.js";
import { TcpField } from "../../wire/tcp.js";
import { TcpFlag } from "../packet-meta.js";

/** Words per direction: correction_pos, offset_before, offset_after. */
const POS = 0;
const BEFORE = 1;
const AFTER = 2;
const PER_DIR = 3;

/** TCP option kinds and sizes nf_ct_sack_adjust walks (RFC 9293 §3.1, RFC 2018 §3). */
const OPT_EOL = 0;
const OPT_NOP = 1;
const OPT_SACK = 5;
const SACK_BLOCK = 8;
const OPT_HEADER = 2;
const TCP_MIN_HEADER = 20;
const DATA_OFF_SHIFT = 4;
const WORD = 4;

function after(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

export class SeqAdjustments {
  private readonly byEntry = new Map<number, Int32Array>();

  /** Does the entry carry sequence adjustment state? */
  has(e: number): boolean {
    return this.byEntry.has(e);
  }

  /**
   * nf_ct_seqadj_set: a segment of direction `dir` with sequence number `seq` had its payload resized by `off` bytes.
   * A rewrite at or before the last correction point (a retransmission of the rewritten segment) moves nothing.
   */
  set(e: number, dir: number, seq: number, off: number): void {
    if (off === 0) return;
    let w = this.byEntry.get(e);
    if (w === undefined) {
      w = new Int32Array(2 * PER_DIR);
      this.byEntry.set(e, w);
    }
    const at = dir * PER_DIR;
    if (w[at + BEFORE] === w[at + AFTER] || after(seq | 0, w[at + POS])) {
      w[at + POS] = seq | 0;
      w[at + BEFORE] = w[at + AFTER];
      w[at + AFTER] = (w[at + AFTER] + off) | 0;
    }
  }

  /** nf_ct_seq_offset: the offset of direction `dir`'s sequence number `seq` (0 for an entry without state). */
  offset(e: number, dir: number, seq: number): number {
    const w = this.byEntry.get(e);
    if (w === undefined) return 0;
    const at = dir * PER_DIR;
    return after(seq | 0, w[at + POS]) ? w[at + AFTER] : w[at + BEFORE];
  }

  /**
   * nf_ct_seq_adjust and nf_ct_sack_adjust on the TCP header at `l4` (the segment travels in direction `dir`): the
   * sequence number moves by this direction's offset, the acknowledgement and SACK blocks back by the other's, and
   * the checksum follows each change. False when the option list is malformed (the kernel drops the packet).
   */
  adjust(b: Uint8Array, l4: number, e: number, dir: number): boolean {
    const w = this.byEntry.get(e);
    if (w === undefined) return true;
    const mine = dir * PER_DIR;
    const theirs = (1 - dir) * PER_DIR;
    const csumAt = l4 + TcpField.CHECKSUM;
    let csum = readU16(b, csumAt);
    const seq = readU32(b, l4 + TcpField.SEQ);
    const seqOff = after(seq | 0, w[mine + POS]) ? w[mine + AFTER] : w[mine + BEFORE];
    const newSeq = (seq + seqOff) >>> 0;
    writeU32(b, l4 + TcpField.SEQ, newSeq);
    // inet_proto_csum_replace4: the RFC 1624 update for each rewritten 32-bit field.
    csum = updateChecksum32(csum, seq, newSeq);
    if ((b[l4 + TcpField.FLAGS] & TcpFlag.ACK) !== 0) {
      const ack = readU32(b, l4 + TcpField.ACK);
      const ackOff = after((ack - w[theirs + BEFORE]) | 0, w[theirs + POS]) ? w[theirs + AFTER] : w[theirs + BEFORE];
      const newAck = (ack - ackOff) >>> 0;
      writeU32(b, l4 + TcpField.ACK, newAck);
      csum = updateChecksum32(csum, ack, newAck);
      const sacked = this.adjustSack(b, l4, w, theirs, csum);
      if (sacked < 0) return false;
      csum = sacked;
    }
    writeU16(b, csumAt, csum);
    return true;
  }

  /** nf_ct_sack_adjust: every SACK block moved back by the other direction's offset; −1 for a malformed list. */
  private adjustSack(b: Uint8Array, l4: number, w: Int32Array, theirs: number, checksum: number): number {
    let csum = checksum;
    let at = l4 + TCP_MIN_HEADER;
    const end = l4 + (b[l4 + TcpField.DATA_OFF] >>> DATA_OFF_SHIFT) * WORD;
    while (at < end) {
      const kind = b[at];
      if (kind === OPT_EOL) return csum;
      if (kind === OPT_NOP) {
        at++;
        continue;
      }
      const size = b[at + 1];
      if (at + 1 === end || at + size > end || size < OPT_HEADER) return -1;
      if (kind === OPT_SACK && size >= OPT_HEADER + SACK_BLOCK && (size - OPT_HEADER) % SACK_BLOCK === 0) {
        for (let s = at + OPT_HEADER; s < at + size; s += WORD) {
          const v = readU32(b, s);
          const off = after((v - w[theirs + BEFORE]) | 0, w[theirs + POS]) ? w[theirs + AFTER] : w[theirs + BEFORE];
          const moved = (v - off) >>> 0;
          writeU32(b, s, moved);
          csum = updateChecksum32(csum, v, moved);
        }
      }
      at += size;
    }
    return csum;
  }

  /** The entry was freed. */
  forget(e: number): void {
    this.byEntry.delete(e);
  }
}
