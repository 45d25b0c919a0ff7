// Real packets for the engine's tests, built with the wire layer's emitters (correct lengths and checksums), and
// full-recomputation checks used to prove that in-place rewrites leave every checksum valid.

import * as icmpv4 from "../../wire/icmpv4.js";
import * as icmpv6 from "../../wire/icmpv6.js";
import * as ipv4 from "../../wire/ipv4.js";
import * as ipv6 from "../../wire/ipv6.js";
import * as tcp from "../../wire/tcp.js";
import * as udp from "../../wire/udp.js";
import { parseIpv4, parseIpv6 } from "../../wire/address.js";
import { internetChecksum } from "../../wire/checksum.js";
import type { PseudoHeader } from "../../wire/pseudo-header.js";
import { readU16, readU32 } from "../../wire/bytes.js";

export function v4(text: string): number {
  const a = parseIpv4(text);
  if (a === null) throw new Error(`bad IPv4 address ${text}`);
  return a;
}

export function v6(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === null) throw new Error(`bad IPv6 address ${text}`);
  return a;
}

/** An address as the engine holds it (Uint32Array(4)): IPv4 in word 0, IPv6 as four big-endian words. */
export function words(text: string): Uint32Array {
  const out = new Uint32Array(4);
  if (text.includes(":")) {
    const b = v6(text);
    for (let w = 0; w < 4; w++) out[w] = readU32(b, 4 * w);
  } else {
    out[0] = v4(text);
  }
  return out;
}

function ip4(src: string, dst: string, protocol: number, payload: Uint8Array, ttl = 64): Uint8Array {
  return ipv4.emit({
    dscp: 0,
    ecn: 0,
    ident: 0x1234,
    reservedFlag: false,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl,
    protocol,
    checksum: 0,
    src: v4(src),
    dst: v4(dst),
    options: new Uint8Array(0),
    payload,
  });
}

function ip6(src: string, dst: string, nextHeader: number, payload: Uint8Array): Uint8Array {
  return ipv6.emit({
    trafficClass: 0,
    flowLabel: 0,
    hopLimit: 64,
    src: v6(src),
    dst: v6(dst),
    extensions: [],
    nextHeader,
    payload,
  });
}

function pseudo(src: string, dst: string): PseudoHeader {
  return src.includes(":") ? { family: 6, src: v6(src), dst: v6(dst) } : { family: 4, src: v4(src), dst: v4(dst) };
}

function ip(src: string, dst: string, protocol: number, payload: Uint8Array): Uint8Array {
  return src.includes(":") ? ip6(src, dst, protocol, payload) : ip4(src, dst, protocol, payload);
}

export function udpPacket(
  src: string,
  sport: number,
  dst: string,
  dport: number,
  payload: Uint8Array = new Uint8Array([1, 2, 3, 4, 5]),
  omitChecksum = false,
): Uint8Array {
  const seg = udp.emit({ srcPort: sport, dstPort: dport, checksum: 0, payload }, pseudo(src, dst), { omitChecksum });
  return ip(src, dst, 17, seg);
}

export interface TcpOpts {
  flags?: number;
  seq?: number;
  ack?: number;
  window?: number;
  options?: tcp.TcpOption[];
  payload?: Uint8Array;
}

export function tcpPacket(src: string, sport: number, dst: string, dport: number, o: TcpOpts = {}): Uint8Array {
  const seg = tcp.emit(
    {
      srcPort: sport,
      dstPort: dport,
      seq: o.seq ?? 1000,
      ack: o.ack ?? 0,
      flags: o.flags ?? tcp.TcpFlags.SYN,
      window: o.window ?? 64240,
      checksum: 0,
      urgent: 0,
      options: o.options ?? [],
      payload: o.payload ?? new Uint8Array(0),
    },
    pseudo(src, dst),
  );
  return ip(src, dst, 6, seg);
}

export function echoPacket(src: string, dst: string, id: number, reply = false, seq = 1): Uint8Array {
  const data = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
  if (src.includes(":")) {
    const m = icmpv6.emit(
      { kind: reply ? "echo-reply" : "echo-request", code: 0, checksum: 0, id, seq, data },
      pseudo(src, dst),
    );
    return ip6(src, dst, 58, m);
  }
  const m = icmpv4.emit({ kind: reply ? "echo-reply" : "echo-request", code: 0, checksum: 0, id, seq, data });
  return ip4(src, dst, 1, m);
}

/** An ICMP error from `src` to `dst` quoting the first `quote` bytes of `offending` (default: all of it). */
export function icmpErrorPacket(src: string, dst: string, offending: Uint8Array, quote = offending.length): Uint8Array {
  const embedded = offending.slice(0, quote);
  if (src.includes(":")) {
    const m = icmpv6.emit(
      { kind: "dest-unreachable", code: 4, checksum: 0, length: 0, unused: 0, embedded },
      pseudo(src, dst),
    );
    return ip6(src, dst, 58, m);
  }
  const m = icmpv4.emit({
    kind: "dest-unreachable",
    code: 3,
    checksum: 0,
    unused: 0,
    length: 0,
    nextHopMtu: 0,
    embedded,
  });
  return ip4(src, dst, 1, m);
}

/**
 * Recomputes every checksum of an IPv4/IPv6 packet from scratch (IP header, TCP/UDP/ICMP/ICMPv6, and for ICMP
 * errors the embedded IP header) and returns the names of those that do not verify. UDP checksum 0 over IPv4 is
 * "none" and verifies. The embedded transport checksum is not checked (RFC 5508 REQ-3: it covers data not quoted).
 */
export function badChecksums(b: Uint8Array): string[] {
  const bad: string[] = [];
  const family = b[0] >>> 4;
  let l4: number;
  let proto: number;
  let end: number;
  let ps: PseudoHeader;
  if (family === 4) {
    const hl = (b[0] & 15) * 4;
    if (internetChecksum(b, 0, hl) !== 0) bad.push("ipv4");
    l4 = hl;
    proto = b[9];
    end = readU16(b, 2);
    ps = { family: 4, src: readU32(b, 12), dst: readU32(b, 16) };
  } else {
    l4 = 40;
    proto = b[6];
    end = 40 + readU16(b, 4);
    ps = { family: 6, src: b.slice(8, 24), dst: b.slice(24, 40) };
  }
  const len = end - l4;
  if (proto === 6 && !tcp.verifyChecksum(b, l4, len, ps)) bad.push("tcp");
  if (proto === 17 && !(family === 4 && readU16(b, l4 + 6) === 0) && !udp.verifyChecksum(b, l4, len, ps))
    bad.push("udp");
  if (proto === 1 && !icmpv4.verifyChecksum(b, l4, len)) bad.push("icmpv4");
  if (proto === 58 && !icmpv6.verifyChecksum(b, l4, len, ps)) bad.push("icmpv6");
  if (proto === 1 && icmpv4.isIcmpv4Error(b[l4])) {
    const inner = l4 + 8;
    if (internetChecksum(b, inner, (b[inner] & 15) * 4) !== 0) bad.push("embedded-ipv4");
  }
  return bad;
}
