// The bytes side of the datapath's established IPv4 path (Datapath.receiveCachedIpv4): an option-less,
// unfragmented IPv4 TCP or UDP packet read and checked with one DataView load per field, and the two in-place
// edits that path makes (both NAT ends, the TTL). Every check is one the general path makes too — ip_rcv_core's
// version, length and header checksum, tcp_error's flags and data offset, udp_error's length, and the transport
// checksum conntrack verifies at PREROUTING — so a packet read here is one the general path accepts, and anything
// else is left to the general path, which names what is wrong with it.

import { foldSum } from "../wire/checksum.js";
import { IPV4_HEADER_LEN, Ipv4Field } from "../wire/ipv4.js";
import { TCP_HEADER_LEN, TcpField } from "../wire/tcp.js";
import { UDP_HEADER_LEN, UDP_NO_CHECKSUM, UdpField } from "../wire/udp.js";
import { Proto, TcpFlag } from "./packet-meta.js";
import { tcpFlagsValid } from "./conntrack/tcp-tracker.js";

/** Version 4 and IHL 5 in the header's first byte. */
const VERSION_IHL_NO_OPTIONS = 0x45;
/** More-fragments and fragment offset: any of them set makes the packet a fragment. */
const FRAGMENT_BITS = 0x3fff;
const DATA_OFF_SHIFT = 4;
const WORD = 4;
/** The folded one's-complement sum of data whose checksum verifies (RFC 1071 §1). */
const VERIFIES = 0xffff;
/** TTL is the high byte of the TTL/protocol word: decrementing it lowers the word by 0x100. */
const TTL_UNIT = 0x100;
/** A computed UDP checksum of 0 is sent as all ones (RFC 768). */
const UDP_ZERO_SENT_AS = 0xffff;
const EMPTY_BYTES = new Uint8Array(0);

/** One packet's fields, overwritten by every `read` (one instance per datapath: nothing is allocated per packet). */
export class Ipv4Segment {
  private bytes: Uint8Array = EMPTY_BYTES;
  private view: DataView = new DataView(EMPTY_BYTES.buffer);
  /** The length `view` was made for (a DataView left out of bounds by a shrink throws even on `byteLength`). */
  private viewLength = 0;
  l3 = 0;
  l4 = 0;
  total = 0;
  ttl = 0;
  proto = 0;
  /** Addresses as int32 words (`>>> 0` for the unsigned value): V8 passes those without boxing. */
  saddr = 0;
  daddr = 0;
  sport = 0;
  dport = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  /** Transport payload bytes (TCP data after the options, UDP data). */
  payload = 0;

  /**
   * Reads the packet at bytes[l3..l3+length): true when it is an option-less, unfragmented IPv4 packet with a TTL
   * above 1 carrying TCP without SYN (a SYN's options are the general path's) or UDP, whose headers and header
   * checksum are valid and, when `verifyTransport`, whose transport checksum verifies too.
   */
  read(bytes: Uint8Array, l3: number, length: number, verifyTransport: boolean): boolean {
    if ((l3 | 0) !== l3 || (length | 0) !== length || l3 < 0 || length < IPV4_HEADER_LEN + UDP_HEADER_LEN) return false;
    if (l3 + length > bytes.length) return false;
    // A length-tracking array over a resizable ArrayBuffer keeps its identity when the buffer grows or shrinks.
    if (bytes !== this.bytes || bytes.length !== this.viewLength) {
      this.bytes = bytes;
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.viewLength = bytes.length;
    }
    const v = this.view;
    const w0 = v.getUint32(l3);
    if (w0 >>> 24 !== VERSION_IHL_NO_OPTIONS) return false;
    const total = w0 & 0xffff;
    if (total > length || total < IPV4_HEADER_LEN + UDP_HEADER_LEN) return false;
    const w1 = v.getUint32(l3 + Ipv4Field.IDENT);
    if ((w1 & FRAGMENT_BITS) !== 0) return false;
    const w2 = v.getUint32(l3 + Ipv4Field.TTL);
    const ttl = w2 >>> 24;
    const proto = (w2 >>> 16) & 0xff;
    if (ttl <= 1) return false;
    const saddr = v.getUint32(l3 + Ipv4Field.SRC);
    const daddr = v.getUint32(l3 + Ipv4Field.DST);
    // ip_fast_csum: the header's ten 16-bit words sum to 0xffff.
    const headerSum =
      (w0 >>> 16) +
      (w0 & 0xffff) +
      (w1 >>> 16) +
      (w1 & 0xffff) +
      (w2 >>> 16) +
      (w2 & 0xffff) +
      (saddr >>> 16) +
      (saddr & 0xffff) +
      (daddr >>> 16) +
      (daddr & 0xffff);
    if (foldSum(headerSum) !== VERIFIES) return false;
    const l4 = l3 + IPV4_HEADER_LEN;
    const avail = total - IPV4_HEADER_LEN;
    const ports = v.getUint32(l4);
    let checksumAt: number;
    if (proto === Proto.TCP) {
      if (avail < TCP_HEADER_LEN) return false;
      const w3 = v.getUint32(l4 + TcpField.DATA_OFF);
      const doff = (w3 >>> (24 + DATA_OFF_SHIFT)) * WORD;
      const flags = (w3 >>> 16) & 0xff;
      if (doff < TCP_HEADER_LEN || doff > avail || (flags & TcpFlag.SYN) !== 0 || !tcpFlagsValid(flags)) return false;
      this.seq = v.getUint32(l4 + TcpField.SEQ);
      this.ack = v.getUint32(l4 + TcpField.ACK);
      this.flags = flags;
      this.window = w3 & 0xffff;
      this.payload = avail - doff;
      checksumAt = l4 + TcpField.CHECKSUM;
    } else if (proto === Proto.UDP) {
      const ulen = v.getUint16(l4 + UdpField.LENGTH);
      if (ulen < UDP_HEADER_LEN || ulen > avail) return false;
      this.payload = ulen - UDP_HEADER_LEN;
      this.seq = 0;
      this.ack = 0;
      this.flags = 0;
      this.window = 0;
      checksumAt = l4 + UdpField.CHECKSUM;
    } else return false;
    if (verifyTransport && !(proto === Proto.UDP && v.getUint16(checksumAt) === UDP_NO_CHECKSUM)) {
      // nf_ip_checksum: the pseudo-header and the whole transport segment (RFC 793 §3.1, RFC 768).
      let hi = (saddr >>> 16) + (daddr >>> 16) + proto + avail;
      let lo = (saddr & 0xffff) + (daddr & 0xffff);
      const end = l3 + total;
      let i = l4;
      for (; i + WORD <= end; i += WORD) {
        const w = v.getUint32(i);
        hi += w >>> 16;
        lo += w & 0xffff;
      }
      if (i + 2 <= end) {
        hi += v.getUint16(i);
        i += 2;
      }
      if (i < end) hi += bytes[i] << 8;
      if (foldSum(hi + lo) !== VERIFIES) return false;
    }
    this.l3 = l3;
    this.l4 = l4;
    this.total = total;
    this.ttl = ttl;
    this.proto = proto;
    this.saddr = saddr | 0;
    this.daddr = daddr | 0;
    this.sport = ports >>> 16;
    this.dport = ports & 0xffff;
    return true;
  }

  /**
   * Rewrites both ends of the packet last read to saddr:sport > daddr:dport (addresses as 32-bit words, signed or
   * not) with one RFC 1624 update per
   * checksum: the bytes manipPacket (nat/rewrite.ts) gives for the destination manip and then the source manip,
   * since fold(fold(A) + B) = fold(A + B), and a UDP checksum mangled to 0xffff in between reads back as the same
   * zero (a property test holds the two together).
   */
  rewriteEnds(saddrWord: number, sport: number, daddrWord: number, dport: number): void {
    const saddr = saddrWord | 0;
    const daddr = daddrWord | 0;
    const v = this.view;
    const l3 = this.l3;
    const l4 = this.l4;
    const oldS = this.saddr;
    const oldD = this.daddr;
    const oldSport = this.sport;
    const oldDport = this.dport;
    let ipDelta = 0;
    if (oldS !== saddr) {
      v.setUint32(l3 + Ipv4Field.SRC, saddr);
      ipDelta += (~oldS & 0xffff) + (~(oldS >>> 16) & 0xffff) + (saddr & 0xffff) + (saddr >>> 16);
    }
    if (oldD !== daddr) {
      v.setUint32(l3 + Ipv4Field.DST, daddr);
      ipDelta += (~oldD & 0xffff) + (~(oldD >>> 16) & 0xffff) + (daddr & 0xffff) + (daddr >>> 16);
    }
    if (ipDelta !== 0) {
      const at = l3 + Ipv4Field.CHECKSUM;
      v.setUint16(at, ~foldSum((~v.getUint16(at) & 0xffff) + ipDelta) & 0xffff);
    }
    let l4Delta = ipDelta;
    if (oldSport !== sport || oldDport !== dport) {
      v.setUint32(l4, ((sport << 16) | dport) >>> 0);
      if (oldSport !== sport) l4Delta += (~oldSport & 0xffff) + sport;
      if (oldDport !== dport) l4Delta += (~oldDport & 0xffff) + dport;
    }
    this.saddr = saddr;
    this.daddr = daddr;
    this.sport = sport;
    this.dport = dport;
    // Nothing changed: manipPacket's stores would write the checksum it read.
    if (oldS === saddr && oldD === daddr && oldSport === sport && oldDport === dport) return;
    const udp = this.proto === Proto.UDP;
    const at = l4 + (udp ? UdpField.CHECKSUM : TcpField.CHECKSUM);
    const old = v.getUint16(at);
    if (udp && old === UDP_NO_CHECKSUM) return;
    const sum = ~foldSum((~old & 0xffff) + l4Delta) & 0xffff;
    v.setUint16(at, udp && sum === 0 ? UDP_ZERO_SENT_AS : sum);
  }

  /** ip_decrease_ttl on the packet last read, with the RFC 1624 header checksum update (updateChecksum16). */
  decrementTtl(): void {
    const v = this.view;
    const at = this.l3 + Ipv4Field.TTL;
    const old = v.getUint16(at);
    const next = old - TTL_UNIT;
    v.setUint16(at, next);
    const c = this.l3 + Ipv4Field.CHECKSUM;
    v.setUint16(c, ~foldSum((~v.getUint16(c) & 0xffff) + (~old & 0xffff) + next) & 0xffff);
    this.ttl -= 1;
  }
}
