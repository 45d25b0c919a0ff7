import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { fromHex, hex, readU16, readU32, writeU16 } from "../wire/bytes.js";
import { foldSum, internetChecksum, pseudoHeaderSumV4, sumWords, updateChecksum16 } from "../wire/checksum.js";
import { IPV4_HEADER_LEN, Ipv4Field } from "../wire/ipv4.js";
import { TCP_HEADER_LEN, TcpField } from "../wire/tcp.js";
import { UDP_HEADER_LEN, UdpField } from "../wire/udp.js";
import { TcpTracker, tcpFlagsValid } from "./conntrack/tcp-tracker.js";
import { Ipv4Segment } from "./ipv4-segment.js";
import { Manip, manipPacket } from "./nat/rewrite.js";
import { badChecksums, echoPacket, tcpPacket, udpPacket, v4, words } from "./nat/packets.fixture.js";
import { fillPacketMeta } from "./packet-parse.js";
import { PacketMeta, Proto, TcpFlag } from "./packet-meta.js";

const { FIN, SYN, RST, PSH, ACK, URG, ECE, CWR } = TcpFlag;
const IHL_MASK = 0x0f;
const WORD = 4;
const VERIFIES = 0xffff;
const MF = 0x2000;
const DF = 0x4000;
const EVIL = 0x8000;
const U16_MAX = 0xffff;
const PAD = 0xee;

const fmt4 = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** The IHL of the header at l3, in bytes. */
const headerLen = (b: Uint8Array, l3: number): number => (b[l3] & IHL_MASK) * WORD;

/** Recomputes the IPv4 header checksum (over the IHL's bytes when they fit) so a test edit reaches later checks. */
function fixHeader(b: Uint8Array, l3: number): void {
  const hl = Math.max(IPV4_HEADER_LEN, headerLen(b, l3));
  if (l3 + hl > b.length) return;
  writeU16(b, l3 + Ipv4Field.CHECKSUM, 0);
  writeU16(b, l3 + Ipv4Field.CHECKSUM, internetChecksum(b, l3, hl));
}

/** Recomputes the TCP/UDP checksum over the IPv4 payload as the total length delimits it (as nf_ip_checksum). */
function fixTransport(b: Uint8Array, l3: number): void {
  const hl = headerLen(b, l3);
  const proto = b[l3 + Ipv4Field.PROTOCOL];
  const end = l3 + readU16(b, l3 + Ipv4Field.LENGTH);
  const l4 = l3 + hl;
  const at = l4 + (proto === Proto.TCP ? TcpField.CHECKSUM : UdpField.CHECKSUM);
  if ((proto !== Proto.TCP && proto !== Proto.UDP) || hl < IPV4_HEADER_LEN || end > b.length || at + 2 > end) return;
  if (proto === Proto.UDP && readU16(b, at) === 0) return;
  writeU16(b, at, 0);
  const ps = pseudoHeaderSumV4(readU32(b, l3 + Ipv4Field.SRC), readU32(b, l3 + Ipv4Field.DST), proto, end - l4);
  const sum = ~foldSum(sumWords(b, l4, end - l4, ps)) & U16_MAX;
  writeU16(b, at, proto === Proto.UDP && sum === 0 ? U16_MAX : sum);
}

/** `pkt` inside a larger buffer: `before` junk bytes, the packet, `after` junk bytes. */
function embed(pkt: Uint8Array, before: number, after: number): Uint8Array {
  const out = new Uint8Array(before + pkt.length + after).fill(PAD);
  out.set(pkt, before);
  return out;
}

/** Re-read from scratch, so each hand case sees a fresh segment. */
function readFresh(b: Uint8Array, l3 = 0, length = b.length - l3, verify = true): boolean {
  return new Ipv4Segment().read(b, l3, length, verify);
}

/** Writes a field and keeps the IPv4 header checksum right, so only the edited field can be why it is rejected. */
function edit16(b: Uint8Array, at: number, value: number, l3 = 0): Uint8Array {
  writeU16(b, at, value);
  fixHeader(b, l3);
  return b;
}

/**
 * The reference: what the general path accepts (fillPacketMeta, then tcp_error/udp_error and the checksum as
 * conntrack makes them) restricted to what the fast path may take (option-less, unfragmented IPv4, TTL > 1, TCP
 * without SYN or UDP). Fills `meta`.
 */
function generalPathFastEligible(
  b: Uint8Array,
  l3: number,
  length: number,
  verify: boolean,
  meta: PacketMeta,
): boolean {
  if (!Number.isInteger(l3) || !Number.isInteger(length)) return false;
  if (fillPacketMeta(b, l3, length, meta) !== null) return false;
  if (meta.family !== 4 || headerLen(b, l3) !== IPV4_HEADER_LEN || meta.isFragment || meta.ttl <= 1) return false;
  if (meta.proto === Proto.TCP) {
    if ((meta.tcpFlags & SYN) !== 0 || !tcpFlagsValid(meta.tcpFlags) || TcpTracker.malformed(meta)) return false;
  } else if (meta.proto !== Proto.UDP) {
    return false;
  }
  if (!verify) return true;
  if (meta.proto === Proto.UDP && readU16(b, meta.l4 + UdpField.CHECKSUM) === 0) return true;
  const len = l3 + meta.length - meta.l4;
  const ps = pseudoHeaderSumV4(meta.saddr[0], meta.daddr[0], meta.proto, len);
  return foldSum(sumWords(b, meta.l4, len, ps)) === VERIFIES;
}

interface Fields {
  l3: number;
  l4: number;
  total: number;
  ttl: number;
  proto: number;
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  payload: number;
  tcp: { seq: number; ack: number; flags: number; window: number } | null;
}

function segFields(s: Ipv4Segment): Fields {
  return {
    l3: s.l3,
    l4: s.l4,
    total: s.total,
    ttl: s.ttl,
    proto: s.proto,
    saddr: s.saddr >>> 0,
    daddr: s.daddr >>> 0,
    sport: s.sport,
    dport: s.dport,
    payload: s.payload,
    tcp: s.proto === Proto.TCP ? { seq: s.seq, ack: s.ack, flags: s.flags, window: s.window } : null,
  };
}

function metaFields(m: PacketMeta): Fields {
  return {
    l3: m.l3,
    l4: m.l4,
    total: m.length,
    ttl: m.ttl,
    proto: m.proto,
    saddr: m.saddr[0],
    daddr: m.daddr[0],
    sport: m.sport,
    dport: m.dport,
    payload: m.payloadLength,
    tcp: m.proto === Proto.TCP ? { seq: m.seq, ack: m.ack, flags: m.tcpFlags, window: m.window } : null,
  };
}

function parsed(b: Uint8Array, l3 = 0, length = b.length - l3): Fields {
  const m = new PacketMeta();
  expect(fillPacketMeta(b, l3, length, m)).toBeNull();
  return metaFields(m);
}

const A = "192.0.2.10";
const B = "198.51.100.20";
const ack = (o: { flags?: number; payload?: Uint8Array } = {}): Uint8Array =>
  tcpPacket(A, 51000, B, 443, { flags: ACK, seq: 0x1a2b3c4d, ack: 0x5e6f7081, window: 501, ...o });
const udp = (payload?: Uint8Array, omitChecksum = false): Uint8Array =>
  udpPacket(A, 53000, B, 53, payload, omitChecksum);

// Real packets whose checksums were computed outside this code base (Python struct + RFC 1071 sum): a PSH/ACK with
// a timestamps option and 6 bytes of data, TTL 63; a 13-byte UDP datagram (odd length), TTL 64.
const TCP_PSH_ACK_HEX =
  "4500003abeef40003f06907cc000020ac6336414c73801bb1a2b3c4d5e6f7081801801f559c500000101080a0badf00d00c0ffee68656c6c6f0a";
const UDP_ODD_HEX = "450000291c4640004011d8430a000005cb007135cf0800350015367dabcd0100000100000000000007";

describe("Ipv4Segment.read: hand cases", () => {
  it("reads a captured PSH/ACK with options and data: every field as fillPacketMeta gives it", () => {
    const b = fromHex(TCP_PSH_ACK_HEX);
    const s = new Ipv4Segment();
    expect(s.read(b, 0, b.length, true)).toBe(true);
    expect(segFields(s)).toEqual({
      l3: 0,
      l4: 20,
      total: 58,
      ttl: 63,
      proto: Proto.TCP,
      saddr: v4("192.0.2.10"),
      daddr: v4("198.51.100.20"),
      sport: 51000,
      dport: 443,
      payload: 6,
      tcp: { seq: 0x1a2b3c4d, ack: 0x5e6f7081, flags: PSH | ACK, window: 501 },
    });
    expect(segFields(s)).toEqual(parsed(b));
  });

  it("reads a captured odd-length UDP datagram", () => {
    const b = fromHex(UDP_ODD_HEX);
    const s = new Ipv4Segment();
    expect(s.read(b, 0, b.length, true)).toBe(true);
    expect(segFields(s)).toEqual({
      l3: 0,
      l4: 20,
      total: 41,
      ttl: 64,
      proto: Proto.UDP,
      saddr: v4("10.0.0.5"),
      daddr: v4("203.0.113.53"),
      sport: 53000,
      dport: 53,
      payload: 13,
      tcp: null,
    });
    expect(segFields(s)).toEqual(parsed(b));
  });

  it.each([
    ["ACK", ACK],
    ["PSH/ACK", PSH | ACK],
    ["FIN/ACK", FIN | ACK],
    ["FIN/PSH/ACK", FIN | PSH | ACK],
    ["RST", RST],
    ["RST/ACK", RST | ACK],
    ["URG/ACK", URG | ACK],
    ["FIN/URG/ACK", FIN | URG | ACK],
    ["ECE/CWR/ACK (ignored bits)", ECE | CWR | ACK],
  ])("accepts a TCP %s and its fields equal fillPacketMeta's", (_name, flags) => {
    const b = ack({ flags, payload: new Uint8Array([1, 2, 3]) });
    const s = new Ipv4Segment();
    expect(s.read(b, 0, b.length, true)).toBe(true);
    expect(s.flags).toBe(flags);
    expect(s.payload).toBe(3);
    expect(segFields(s)).toEqual(parsed(b));
  });

  it("accepts a data segment with a non-SYN options block: payload excludes the options", () => {
    const data = new Uint8Array(1000).map((_, i) => i & 0xff);
    const b = tcpPacket(A, 40000, B, 80, {
      flags: PSH | ACK,
      seq: 7,
      ack: 9,
      options: [{ kind: "nop" }, { kind: "nop" }, { kind: "timestamps", tsval: 1, tsecr: 2 }],
      payload: data,
    });
    const s = new Ipv4Segment();
    expect(s.read(b, 0, b.length, true)).toBe(true);
    expect(s.l4).toBe(20);
    expect(s.total).toBe(20 + 32 + 1000);
    expect(s.payload).toBe(1000);
    expect(segFields(s)).toEqual(parsed(b));
  });

  it("accepts UDP, and UDP with checksum 0 (none) even when its payload is then corrupted", () => {
    const b = udp();
    expect(readFresh(b)).toBe(true);
    const none = udp(new Uint8Array([9, 8, 7, 6, 5, 4, 3]), true);
    expect(readU16(none, 20 + UdpField.CHECKSUM)).toBe(0);
    expect(readFresh(none)).toBe(true);
    none[none.length - 1] ^= 0xff;
    expect(readFresh(none, 0, none.length, true)).toBe(true);
    const s = new Ipv4Segment();
    expect(s.read(none, 0, none.length, true)).toBe(true);
    expect(s.payload).toBe(7);
  });

  it.each([
    ["SYN", SYN],
    ["SYN/ACK", SYN | ACK],
    ["SYN/URG", SYN | URG],
    ["SYN/FIN", SYN | FIN],
    ["SYN/RST", SYN | RST],
    ["no flags", 0],
    ["FIN alone", FIN],
    ["PSH alone", PSH],
    ["URG alone", URG],
    ["FIN/RST", FIN | RST],
    ["RST/FIN/ACK", RST | FIN | ACK],
    ["FIN/PSH/URG (xmas without ACK)", FIN | PSH | URG],
  ])("rejects TCP %s", (_name, flags) => {
    const b = ack({ flags });
    expect(badChecksums(b)).toEqual([]);
    expect(readFresh(b, 0, b.length, true)).toBe(false);
    expect(readFresh(b, 0, b.length, false)).toBe(false);
  });

  it("rejects what is not IPv4 TCP/UDP: ICMP echo, IPv6 TCP and UDP", () => {
    const echo = echoPacket(A, B, 0x4242);
    expect(fillPacketMeta(echo, 0, echo.length, new PacketMeta())).toBeNull();
    expect(readFresh(echo)).toBe(false);
    const t6 = tcpPacket("2001:db8::1", 1234, "2001:db8::2", 80, { flags: ACK });
    const u6 = udpPacket("2001:db8::1", 1234, "2001:db8::2", 53);
    expect(readFresh(t6)).toBe(false);
    expect(readFresh(u6)).toBe(false);
  });

  it("rejects IPv4 with options (IHL 6) that the general path accepts", () => {
    const plain = ack();
    const b = new Uint8Array(plain.length + WORD);
    b.set(plain.subarray(0, IPV4_HEADER_LEN));
    b.set([1, 1, 1, 0], IPV4_HEADER_LEN); // NOP NOP NOP EOL
    b.set(plain.subarray(IPV4_HEADER_LEN), IPV4_HEADER_LEN + WORD);
    b[Ipv4Field.VER_IHL] = 0x46;
    edit16(b, Ipv4Field.LENGTH, b.length);
    expect(badChecksums(b)).toEqual([]);
    expect(fillPacketMeta(b, 0, b.length, new PacketMeta())).toBeNull();
    expect(readFresh(b)).toBe(false);
  });

  it("rejects fragments (MF, any offset) but not DF or the reserved bit", () => {
    expect(readFresh(edit16(ack(), Ipv4Field.FLG_OFF, MF))).toBe(false);
    expect(readFresh(edit16(ack(), Ipv4Field.FLG_OFF, DF | MF))).toBe(false);
    expect(readFresh(edit16(ack(), Ipv4Field.FLG_OFF, 1))).toBe(false);
    expect(readFresh(edit16(udp(), Ipv4Field.FLG_OFF, 0x1fff))).toBe(false);
    expect(readFresh(edit16(ack(), Ipv4Field.FLG_OFF, 0))).toBe(true);
    expect(readFresh(edit16(ack(), Ipv4Field.FLG_OFF, EVIL | DF))).toBe(true);
  });

  it("rejects TTL 1 and 0 and accepts TTL 2", () => {
    const ttl = (t: number, b: Uint8Array): Uint8Array => edit16(b, Ipv4Field.TTL, (t << 8) | b[Ipv4Field.PROTOCOL]);
    expect(readFresh(ttl(1, ack()))).toBe(false);
    expect(readFresh(ttl(0, ack()))).toBe(false);
    expect(readFresh(ttl(1, udp()))).toBe(false);
    const s = new Ipv4Segment();
    const two = ttl(2, ack());
    expect(s.read(two, 0, two.length, true)).toBe(true);
    expect(s.ttl).toBe(2);
  });

  it("rejects a bad header checksum whether or not the transport is verified", () => {
    for (const b of [ack(), udp()]) {
      b[Ipv4Field.CHECKSUM + 1] ^= 0x01;
      expect(readFresh(b, 0, b.length, true)).toBe(false);
      expect(readFresh(b, 0, b.length, false)).toBe(false);
    }
    // A corrupted address the checksum no longer covers.
    const b = udp();
    b[Ipv4Field.DST + 3] ^= 0x80;
    expect(readFresh(b, 0, b.length, false)).toBe(false);
  });

  it("rejects a bad TCP or UDP checksum only when verifyTransport", () => {
    for (const b of [ack({ payload: new Uint8Array([1, 2, 3, 4]) }), udp()]) {
      b[b.length - 1] ^= 0x10;
      expect(readFresh(b, 0, b.length, true)).toBe(false);
      expect(readFresh(b, 0, b.length, false)).toBe(true);
    }
    const b = ack();
    b[IPV4_HEADER_LEN + TcpField.CHECKSUM] ^= 0xff;
    expect(readFresh(b, 0, b.length, true)).toBe(false);
    expect(readFresh(b, 0, b.length, false)).toBe(true);
  });

  it("rejects truncation: length below the total, below 28, and a total length above the given length", () => {
    const b = ack({ payload: new Uint8Array([1, 2, 3]) });
    expect(readFresh(b, 0, b.length - 1)).toBe(false);
    expect(readFresh(b, 0, 27)).toBe(false);
    expect(readFresh(b, 0, 0)).toBe(false);
    expect(readFresh(edit16(ack(), Ipv4Field.LENGTH, 41))).toBe(false);
    // A total below what TCP needs, with a length that covers it.
    expect(readFresh(edit16(ack(), Ipv4Field.LENGTH, 39))).toBe(false);
    // UDP total below header + UDP header.
    expect(readFresh(edit16(udp(), Ipv4Field.LENGTH, 27))).toBe(false);
  });

  it("reads bytes past the total length (link padding) as not part of the packet", () => {
    const pkt = udp(new Uint8Array([1]));
    const b = embed(pkt, 0, 18);
    const s = new Ipv4Segment();
    expect(s.read(b, 0, b.length, true)).toBe(true);
    expect(s.total).toBe(pkt.length);
    expect(segFields(s)).toEqual(parsed(b));
  });

  it("TCP data offset: below 5 or past the segment rejected, exactly the segment accepted", () => {
    const doff = (b: Uint8Array, words4: number): Uint8Array => {
      b[IPV4_HEADER_LEN + TcpField.DATA_OFF] = words4 << 4;
      fixTransport(b, 0);
      return b;
    };
    expect(readFresh(doff(ack(), 4))).toBe(false);
    expect(readFresh(doff(ack(), 0))).toBe(false);
    expect(readFresh(doff(ack(), 6))).toBe(false);
    expect(readFresh(doff(ack({ payload: new Uint8Array(39) }), 15))).toBe(false);
    const full = doff(ack({ payload: new Uint8Array(40) }), 15);
    const s = new Ipv4Segment();
    expect(s.read(full, 0, full.length, true)).toBe(true);
    expect(s.payload).toBe(0);
    expect(segFields(s)).toEqual(parsed(full));
  });

  it("UDP length: below 8 or above what the IP packet holds rejected; shorter than it accepted", () => {
    const ulen = (b: Uint8Array, n: number): Uint8Array => {
      writeU16(b, IPV4_HEADER_LEN + UdpField.LENGTH, n);
      fixTransport(b, 0);
      return b;
    };
    const five = new Uint8Array([1, 2, 3, 4, 5]);
    expect(readFresh(ulen(udp(five), 7))).toBe(false);
    expect(readFresh(ulen(udp(five), 0))).toBe(false);
    expect(readFresh(ulen(udp(five), UDP_HEADER_LEN + 6))).toBe(false);
    const short = ulen(udp(five), UDP_HEADER_LEN + 2);
    const s = new Ipv4Segment();
    expect(s.read(short, 0, short.length, true)).toBe(true);
    expect(s.payload).toBe(2);
    expect(segFields(s)).toEqual(parsed(short));
    expect(readFresh(ulen(udp(five), UDP_HEADER_LEN), 0)).toBe(true);
  });

  it("reads a packet inside a larger buffer at a non-zero l3", () => {
    const pkt = ack({ payload: new Uint8Array([5, 6, 7]) });
    const b = embed(pkt, 14, 9);
    const s = new Ipv4Segment();
    expect(s.read(b, 14, pkt.length, true)).toBe(true);
    expect(s.l3).toBe(14);
    expect(s.l4).toBe(34);
    expect(segFields(s)).toEqual(parsed(b, 14, pkt.length));
    // The same bytes at the wrong offset are not a packet.
    expect(readFresh(b, 13, pkt.length)).toBe(false);
  });

  it("rejects spans outside the buffer and offsets or lengths that are not integers", () => {
    const pkt = udp();
    const b = embed(pkt, 4, 0);
    expect(readFresh(b, 4, pkt.length)).toBe(true);
    expect(readFresh(b, 4, pkt.length + 1)).toBe(false);
    expect(readFresh(b, 5, pkt.length)).toBe(false);
    expect(readFresh(b, -4, pkt.length)).toBe(false);
    expect(readFresh(b, 4.5, pkt.length)).toBe(false);
    expect(readFresh(b, Number.NaN, pkt.length)).toBe(false);
    expect(readFresh(b, 4, pkt.length + 0.5)).toBe(false);
    expect(readFresh(b, 4, Number.NaN)).toBe(false);
    expect(readFresh(b, 2 ** 32 + 4, pkt.length)).toBe(false);
    expect(readFresh(b, 4, Number.POSITIVE_INFINITY)).toBe(false);
    // Room after the packet, so only the integer checks stand between a fractional or NaN l3 and offset 0.
    const roomy = embed(pkt, 0, 4);
    expect(readFresh(roomy, 0, pkt.length)).toBe(true);
    for (const verify of [true, false]) {
      expect(readFresh(roomy, 0.5, pkt.length, verify)).toBe(false);
      expect(readFresh(roomy, Number.NaN, pkt.length, verify)).toBe(false);
      expect(readFresh(roomy, -0.5, pkt.length, verify)).toBe(false);
    }
  });

  it("reads a subarray view (byteOffset ≠ 0) at its own offsets", () => {
    const pkt = ack();
    const outer = embed(pkt, 7, 3);
    const view = outer.subarray(7, 7 + pkt.length);
    const s = new Ipv4Segment();
    expect(s.read(view, 0, view.length, true)).toBe(true);
    expect(segFields(s)).toEqual(parsed(pkt));
  });
});

// ---------------------------------------------------------------------------------------------------------------

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const port = fc.integer({ min: 0, max: U16_MAX });
const flagChoice = fc.constantFrom(
  ACK,
  PSH | ACK,
  FIN | ACK,
  RST,
  RST | ACK,
  ACK | URG,
  FIN | ACK | URG,
  ACK | ECE | CWR,
  SYN,
  SYN | ACK,
  0,
  FIN,
  FIN | RST,
);

const packetSpec = fc.record({
  tcp: fc.boolean(),
  saddr: u32,
  daddr: u32,
  sport: port,
  dport: port,
  flags: flagChoice,
  seq: u32,
  ack: u32,
  window: port,
  timestamps: fc.boolean(),
  payload: fc.uint8Array({ maxLength: 41 }),
  noUdpChecksum: fc.boolean(),
});
type PacketSpec = typeof packetSpec extends fc.Arbitrary<infer T> ? T : never;

function build(p: PacketSpec, flags = p.flags): Uint8Array {
  const src = fmt4(p.saddr);
  const dst = fmt4(p.daddr);
  if (!p.tcp) return udpPacket(src, p.sport, dst, p.dport, p.payload, p.noUdpChecksum);
  return tcpPacket(src, p.sport, dst, p.dport, {
    flags,
    seq: p.seq,
    ack: p.ack,
    window: p.window,
    options: p.timestamps ? [{ kind: "nop" }, { kind: "nop" }, { kind: "timestamps", tsval: p.seq, tsecr: 1 }] : [],
    payload: p.payload,
  });
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.nat(0xff) }),
  fc.record({
    kind: fc.constant("head" as const),
    at: fc.nat(IPV4_HEADER_LEN + TCP_HEADER_LEN - 1),
    value: fc.nat(0xff),
  }),
  fc.record({ kind: fc.constant("verIhl" as const), value: fc.constantFrom(0x45, 0x46, 0x44, 0x4f, 0x65, 0x55) }),
  fc.record({ kind: fc.constant("total" as const), delta: fc.integer({ min: -30, max: 30 }) }),
  fc.record({
    kind: fc.constant("frag" as const),
    value: fc.constantFrom(0, DF, EVIL, MF, 1, 0x1fff, DF | MF, DF | 1),
  }),
  fc.record({ kind: fc.constant("ttl" as const), value: fc.constantFrom(0, 1, 2, 64, 255) }),
  fc.record({ kind: fc.constant("proto" as const), value: fc.constantFrom(1, 6, 17, 58, 132, 0) }),
  fc.record({ kind: fc.constant("tcpFlags" as const), value: fc.nat(0xff) }),
  fc.record({ kind: fc.constant("doff" as const), value: fc.nat(0xff) }),
  fc.record({ kind: fc.constant("udpLen" as const), delta: fc.integer({ min: -12, max: 12 }) }),
  fc.record({ kind: fc.constant("udpNoChecksum" as const) }),
  fc.record({ kind: fc.constant("length" as const), delta: fc.integer({ min: -40, max: 12 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

/** Applies one mutation to the packet at b[l3..) (pkt bytes long); returns the new `length` argument. */
function mutate(b: Uint8Array, l3: number, pktLen: number, length: number, m: Mutation): number {
  const l4 = l3 + IPV4_HEADER_LEN;
  switch (m.kind) {
    case "byte":
      b[l3 + (m.at % pktLen)] = m.value;
      return length;
    case "head":
      b[l3 + m.at] = m.value;
      return length;
    case "verIhl":
      b[l3 + Ipv4Field.VER_IHL] = m.value;
      return length;
    case "total":
      writeU16(b, l3 + Ipv4Field.LENGTH, Math.max(0, readU16(b, l3 + Ipv4Field.LENGTH) + m.delta));
      return length;
    case "frag":
      writeU16(b, l3 + Ipv4Field.FLG_OFF, m.value);
      return length;
    case "ttl":
      b[l3 + Ipv4Field.TTL] = m.value;
      return length;
    case "proto":
      b[l3 + Ipv4Field.PROTOCOL] = m.value;
      return length;
    case "tcpFlags":
      b[l4 + TcpField.FLAGS] = m.value;
      return length;
    case "doff":
      b[l4 + TcpField.DATA_OFF] = m.value;
      return length;
    case "udpLen":
      writeU16(b, l4 + UdpField.LENGTH, Math.max(0, readU16(b, l4 + UdpField.LENGTH) + m.delta));
      return length;
    case "udpNoChecksum":
      writeU16(b, l4 + UdpField.CHECKSUM, 0);
      return length;
    case "length":
      return Math.max(0, length + m.delta);
  }
}

describe("Ipv4Segment.read: accepts exactly what the general path accepts and the fast path may take", () => {
  it("random mutations of valid TCP/UDP packets: same verdict, same fields, never throws", () => {
    let accepted = 0;
    let rejected = 0;
    const seg = new Ipv4Segment();
    const meta = new PacketMeta();
    fc.assert(
      fc.property(
        packetSpec,
        fc.nat(16),
        fc.nat(16),
        fc.array(mutation, { maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (p, before, after, mutations, fixL4, fixIp, verify) => {
          const pkt = build(p);
          const b = embed(pkt, before, after);
          let length = pkt.length;
          for (const m of mutations) length = mutate(b, before, pkt.length, length, m);
          if (fixL4) fixTransport(b, before);
          if (fixIp) fixHeader(b, before);
          const got = seg.read(b, before, length, verify);
          const want = generalPathFastEligible(b, before, length, verify, meta);
          expect(got).toBe(want);
          if (got) {
            accepted++;
            expect(segFields(seg)).toEqual(metaFields(meta));
            // The conntrack-level checks, made again on the parsed facts.
            if (meta.proto === Proto.TCP) {
              expect(tcpFlagsValid(meta.tcpFlags)).toBe(true);
              expect(TcpTracker.malformed(meta)).toBe(false);
            }
          } else {
            rejected++;
          }
        },
      ),
      { numRuns: 6000 },
    );
    // Both outcomes must be well exercised, or the equality above says little.
    expect(accepted).toBeGreaterThan(600);
    expect(rejected).toBeGreaterThan(600);
  });

  it("never throws on arbitrary bytes, offsets and lengths", () => {
    const seg = new Ipv4Segment();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.integer({ min: -4, max: 90 }),
        fc.integer({ min: -4, max: 90 }),
        fc.boolean(),
        (b, l3, length, verify) => {
          if (b.length > 0) b[0] = 0x45;
          const got = seg.read(b, l3, length, verify);
          expect(got).toBe(generalPathFastEligible(b, l3, length, verify, new PacketMeta()));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------

/** manipPacket for the destination end, then the source end: the reference for rewriteEnds. */
function manipBothEnds(b: Uint8Array, l3: number, saddr: number, sport: number, daddr: number, dport: number): void {
  const m = new PacketMeta();
  expect(fillPacketMeta(b, l3, b.length - l3, m)).toBeNull();
  const end = l3 + m.length;
  manipPacket(b, l3, 4, m.proto, m.l4, end, Manip.DST, Uint32Array.of(daddr), dport);
  manipPacket(b, l3, 4, m.proto, m.l4, end, Manip.SRC, Uint32Array.of(saddr), sport);
}

/** The port that makes the transport checksum come out as zero when it replaces `oldPort` (RFC 1624 eqn. 3). */
function portZeroingChecksum(checksum: number, oldPort: number): number {
  return (checksum + oldPort) % U16_MAX;
}

describe("Ipv4Segment.rewriteEnds equals manipPacket DST then SRC", () => {
  const checksumAt = (b: Uint8Array, l3: number): number =>
    l3 + IPV4_HEADER_LEN + (b[l3 + Ipv4Field.PROTOCOL] === Proto.TCP ? TcpField.CHECKSUM : UdpField.CHECKSUM);

  function rewriteBoth(pkt: Uint8Array, l3: number, s: number, sp: number, d: number, dp: number): [string, string] {
    const ours = embed(pkt, l3, 0);
    const ref = ours.slice();
    const seg = new Ipv4Segment();
    expect(seg.read(ours, l3, pkt.length, true)).toBe(true);
    seg.rewriteEnds(s, sp, d, dp);
    manipBothEnds(ref, l3, s, sp, d, dp);
    return [hex(ours), hex(ref)];
  }

  it("hand cases: both ends, one end, ports only, nothing", () => {
    const n1 = v4("203.0.113.7");
    const n2 = v4("10.1.2.3");
    for (const pkt of [ack({ payload: new Uint8Array([1, 2, 3]) }), udp(), udp(undefined, true)]) {
      const s = readU32(pkt, Ipv4Field.SRC);
      const d = readU32(pkt, Ipv4Field.DST);
      const sp = readU16(pkt, IPV4_HEADER_LEN);
      const dp = readU16(pkt, IPV4_HEADER_LEN + 2);
      for (const [ns, nsp, nd, ndp] of [
        [n1, 61000, n2, 8080],
        [n1, 61000, d, dp],
        [s, sp, n2, 8080],
        [s, 1, d, 2],
        [s, sp, d, dp],
        [n1, sp, d, dp],
      ]) {
        const [ours, ref] = rewriteBoth(pkt, 0, ns, nsp, nd, ndp);
        expect(ours).toBe(ref);
        expect(badChecksums(fromHex(ours))).toEqual([]);
      }
      const [same] = rewriteBoth(pkt, 0, s, sp, d, dp);
      expect(same).toBe(hex(pkt));
    }
  });

  it("a UDP checksum that would come out 0 is sent as 0xffff, a TCP one stays 0, as manipPacket", () => {
    for (const pkt of [udp(new Uint8Array([1, 2, 3])), ack()]) {
      const c = readU16(pkt, checksumAt(pkt, 0));
      const sp = readU16(pkt, IPV4_HEADER_LEN);
      const nsp = portZeroingChecksum(c, sp);
      const [ours, ref] = rewriteBoth(pkt, 0, readU32(pkt, Ipv4Field.SRC), nsp, readU32(pkt, Ipv4Field.DST), 9);
      expect(ours).toBe(ref);
      const out = fromHex(ours);
      expect(badChecksums(out)).toEqual([]);
      // The 9 moved the sum: rewrite from that port back to get the zero case exactly.
      const c2 = readU16(out, checksumAt(out, 0));
      const nsp2 = portZeroingChecksum(c2, nsp);
      const [ours2, ref2] = rewriteBoth(out, 0, readU32(out, Ipv4Field.SRC), nsp2, readU32(out, Ipv4Field.DST), 9);
      expect(ours2).toBe(ref2);
      const field = readU16(fromHex(ours2), checksumAt(out, 0));
      expect(field).toBe(out[Ipv4Field.PROTOCOL] === Proto.UDP ? U16_MAX : 0);
    }
  });

  it("a UDP checksum zeroed by the destination manip (0xffff in between) gives the same bytes", () => {
    const pkt = udp(new Uint8Array([0x10, 0x20, 0x30, 0x41]));
    const c = readU16(pkt, checksumAt(pkt, 0));
    const dp = readU16(pkt, IPV4_HEADER_LEN + 2);
    const ndp = portZeroingChecksum(c, dp);
    const s = readU32(pkt, Ipv4Field.SRC);
    const d = readU32(pkt, Ipv4Field.DST);
    const mid = pkt.slice();
    manipPacket(mid, 0, 4, Proto.UDP, IPV4_HEADER_LEN, mid.length, Manip.DST, Uint32Array.of(d), ndp);
    expect(readU16(mid, checksumAt(mid, 0))).toBe(U16_MAX);
    const [ours, ref] = rewriteBoth(pkt, 0, v4("203.0.113.99"), 4444, d, ndp);
    expect(ours).toBe(ref);
    expect(badChecksums(fromHex(ours))).toEqual([]);
    expect(s).not.toBe(v4("203.0.113.99"));
  });

  it("property: random TCP/UDP packets, random or unchanged ends, signed or unsigned addresses", () => {
    const spec = fc.record({
      p: packetSpec,
      l3: fc.nat(12),
      ns: fc.option(u32, { freq: 2 }),
      nd: fc.option(u32, { freq: 2 }),
      nsp: fc.option(port, { freq: 2 }),
      ndp: fc.option(port, { freq: 2 }),
      signedS: fc.boolean(),
      signedD: fc.boolean(),
      zeroAt: fc.constantFrom("none", "none", "mid", "end"),
    });
    fc.assert(
      fc.property(spec, ({ p, l3, ns, nd, nsp, ndp, signedS, signedD, zeroAt }) => {
        const pkt = build(p, ACK);
        const oldS = readU32(pkt, Ipv4Field.SRC);
        const oldD = readU32(pkt, Ipv4Field.DST);
        const s = ns ?? oldS;
        const d = nd ?? oldD;
        const sp = nsp ?? p.sport;
        let dp = ndp ?? p.dport;
        if (zeroAt !== "none") {
          // Choose the destination port so the checksum is zero after the destination manip or at the end.
          const probe = pkt.slice();
          if (zeroAt === "mid") {
            manipPacket(
              probe,
              0,
              4,
              probe[Ipv4Field.PROTOCOL],
              IPV4_HEADER_LEN,
              probe.length,
              Manip.DST,
              Uint32Array.of(d),
              p.dport,
            );
          } else {
            manipBothEnds(probe, 0, s, sp, d, p.dport);
          }
          dp = portZeroingChecksum(readU16(probe, checksumAt(probe, 0)), p.dport);
        }
        const sWord = signedS ? s | 0 : s >>> 0;
        const dWord = signedD ? d | 0 : d >>> 0;
        const ours = embed(pkt, l3, 0);
        const ref = ours.slice();
        const seg = new Ipv4Segment();
        expect(seg.read(ours, l3, pkt.length, true)).toBe(true);
        seg.rewriteEnds(sWord, sp, dWord, dp);
        manipBothEnds(ref, l3, s, sp, d, dp);
        expect(hex(ours)).toBe(hex(ref));
        // Held as int32 words whichever form they were passed in.
        expect(seg.saddr).toBe(s | 0);
        expect(seg.daddr).toBe(d | 0);
        expect([seg.sport, seg.dport]).toEqual([sp, dp]);
        const out = ours.subarray(l3);
        expect(badChecksums(out)).toEqual([]);
        // The rewritten packet is again one the fast path reads, with the new ends.
        const again = new Ipv4Segment();
        expect(again.read(ours, l3, pkt.length, true)).toBe(true);
        expect(segFields(again)).toEqual({ ...segFields(seg), l3, l4: l3 + IPV4_HEADER_LEN });
        if (!p.tcp && p.noUdpChecksum) expect(readU16(out, IPV4_HEADER_LEN + UdpField.CHECKSUM)).toBe(0);
        else if (!p.tcp) expect(readU16(out, IPV4_HEADER_LEN + UdpField.CHECKSUM)).not.toBe(0);
      }),
      { numRuns: 4000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------

/** ip_decrease_ttl as the datapath's general path does it: the TTL byte − 1, RFC 1624 over the TTL/protocol word. */
function decreaseTtlReference(b: Uint8Array, l3: number): void {
  const old = readU16(b, l3 + Ipv4Field.TTL);
  b[l3 + Ipv4Field.TTL] = b[l3 + Ipv4Field.TTL] - 1;
  const c = l3 + Ipv4Field.CHECKSUM;
  writeU16(b, c, updateChecksum16(readU16(b, c), old, readU16(b, l3 + Ipv4Field.TTL)));
}

describe("Ipv4Segment.decrementTtl", () => {
  it("equals ip_decrease_ttl on random packets with TTL 2..255, and the header still verifies", () => {
    fc.assert(
      fc.property(packetSpec, fc.integer({ min: 2, max: 255 }), fc.nat(12), (p, ttl, l3) => {
        const pkt = build(p, ACK);
        pkt[Ipv4Field.TTL] = ttl;
        fixHeader(pkt, 0);
        const ours = embed(pkt, l3, 5);
        const ref = ours.slice();
        const seg = new Ipv4Segment();
        expect(seg.read(ours, l3, pkt.length, true)).toBe(true);
        seg.decrementTtl();
        decreaseTtlReference(ref, l3);
        expect(hex(ours)).toBe(hex(ref));
        expect(seg.ttl).toBe(ttl - 1);
        expect(ours[l3 + Ipv4Field.TTL]).toBe(ttl - 1);
        expect(internetChecksum(ours, l3, IPV4_HEADER_LEN)).toBe(0);
        expect(badChecksums(ours.subarray(l3))).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });

  it("hop after hop from 255: each result reads again until the TTL reaches 1", () => {
    const b = edit16(udp(), Ipv4Field.TTL, (255 << 8) | Proto.UDP);
    const ref = b.slice();
    const seg = new Ipv4Segment();
    let hops = 0;
    while (seg.read(b, 0, b.length, true)) {
      seg.decrementTtl();
      decreaseTtlReference(ref, 0);
      expect(hex(b)).toBe(hex(ref));
      hops++;
    }
    expect(hops).toBe(254);
    expect(b[Ipv4Field.TTL]).toBe(1);
    expect(badChecksums(b)).toEqual([]);
  });

  it("after rewriteEnds, as the datapath does both, all checksums verify", () => {
    const b = ack({ payload: new Uint8Array([1, 2, 3, 4, 5]) });
    const seg = new Ipv4Segment();
    expect(seg.read(b, 0, b.length, true)).toBe(true);
    seg.rewriteEnds(v4("203.0.113.1"), 40001, v4("10.0.0.9"), 22);
    seg.decrementTtl();
    expect(badChecksums(b)).toEqual([]);
    expect(parsed(b)).toMatchObject({
      ttl: 63,
      saddr: v4("203.0.113.1"),
      sport: 40001,
      daddr: v4("10.0.0.9"),
      dport: 22,
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("Ipv4Segment rebinding to another buffer", () => {
  it("fields and edits follow the buffer of the last read", () => {
    const a = ack();
    const u = udpPacket("10.9.8.7", 5000, "203.0.113.5", 6000, new Uint8Array([1, 2]));
    const aCopy = a.slice();
    const seg = new Ipv4Segment();
    expect(seg.read(a, 0, a.length, true)).toBe(true);
    expect(segFields(seg)).toEqual(parsed(a));
    expect(seg.read(u, 0, u.length, true)).toBe(true);
    expect(segFields(seg)).toEqual(parsed(u));
    seg.rewriteEnds(words("198.51.100.1")[0], 7000, seg.daddr, seg.dport);
    seg.decrementTtl();
    expect(hex(a)).toBe(hex(aCopy));
    expect(parsed(u)).toMatchObject({ saddr: v4("198.51.100.1"), sport: 7000, ttl: 63 });
    expect(badChecksums(u)).toEqual([]);
    expect(seg.read(a, 0, a.length, true)).toBe(true);
    expect(segFields(seg)).toEqual(parsed(a));
  });

  it("views over one ArrayBuffer at different offsets are rebound too", () => {
    const p1 = ack();
    const p2 = udp(new Uint8Array([3]));
    const buf = new Uint8Array(100);
    buf.set(p1, 0);
    buf.set(p2, 50);
    const v1 = buf.subarray(0, 50);
    const v2 = buf.subarray(50);
    const seg = new Ipv4Segment();
    expect(seg.read(v1, 0, p1.length, true)).toBe(true);
    expect(segFields(seg)).toEqual(parsed(p1));
    expect(seg.read(v2, 0, p2.length, true)).toBe(true);
    expect(segFields(seg)).toEqual(parsed(p2));
    seg.decrementTtl();
    expect(v2[Ipv4Field.TTL]).toBe(63);
    expect(v1[Ipv4Field.TTL]).toBe(64);
  });

  it("property: any order of reads over several buffers gives each packet's own fields", () => {
    fc.assert(
      fc.property(
        fc.array(packetSpec, { minLength: 2, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (ps, order) => {
          const pkts = ps.map((p) => build(p, ACK));
          const want = pkts.map((b) => parsed(b));
          const seg = new Ipv4Segment();
          for (const i of order) {
            const k = i % pkts.length;
            expect(seg.read(pkts[k], 0, pkts[k].length, true)).toBe(true);
            expect(segFields(seg)).toEqual(want[k]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("Ipv4Segment over a resizable buffer", () => {
  it("rebinds when the buffer grows or shrinks under the same array, and never throws", () => {
    const p = udpPacket("192.0.2.1", 1000, "198.51.100.2", 53);
    const seg = new Ipv4Segment();
    // ES2024's resizable ArrayBuffer (Node 20 has it; the project's lib is ES2023).
    type Resizable = ArrayBuffer & { resize(length: number): void };
    const Resizable = ArrayBuffer as unknown as new (length: number, opts: { maxByteLength: number }) => Resizable;
    const ab = new Resizable(p.length, { maxByteLength: 256 });
    const u = new Uint8Array(ab);
    u.set(p);
    expect(seg.read(u, 0, p.length, true)).toBe(true);
    ab.resize(p.length + 64);
    u.set(p, 64);
    expect(seg.read(u, 64, p.length, true)).toBe(true);
    expect(seg.l3).toBe(64);
    ab.resize(p.length);
    expect(seg.read(u, 0, p.length, true)).toBe(true);
    ab.resize(10);
    expect(seg.read(u, 0, p.length, true)).toBe(false);
  });
});
