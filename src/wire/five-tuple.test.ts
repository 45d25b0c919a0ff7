import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { fromHex, readU16, readU32, writeU16 } from "./bytes.js";
import * as ethernet from "./ethernet.js";
import { EtherType, EthernetField, EthernetView, ETHERNET_HEADER_LEN } from "./ethernet.js";
import {
  dataViewOf,
  EthHot,
  FiveTuple,
  FiveTupleStatus as S,
  fiveTupleStatusName,
  Hot,
  L4Hot,
  TcpHot,
  readFiveTuple,
  V4Hot,
  type LinkType,
} from "./five-tuple.js";
import * as icmpv4 from "./icmpv4.js";
import { Icmpv4View } from "./icmpv4.js";
import * as icmpv6 from "./icmpv6.js";
import { Icmpv6View } from "./icmpv6.js";
import * as ipv4 from "./ipv4.js";
import { IpProtocol, Ipv4Field, IPV4_HEADER_LEN, Ipv4View } from "./ipv4.js";
import * as ipv6 from "./ipv6.js";
import { Ipv6UpperLayer, Ipv6View, upperLayer, type Ipv6Extension } from "./ipv6.js";
import * as tcp from "./tcp.js";
import { TcpField, TcpView, TCP_HEADER_LEN, type TcpOption } from "./tcp.js";
import * as udp from "./udp.js";
import { UdpField, UdpView, UDP_HEADER_LEN } from "./udp.js";

// Captured by tcpdump on veths between network namespaces (Linux 6.x, checksum offload off); the same captures the
// ethernet, ipv4, ipv6, udp, icmpv4 and icmpv6 tests use.
// TCP SYN 192.0.2.1:51938 → 192.0.2.2:8080, in an Ethernet frame, and with an 802.1Q tag (VID 10) inserted.
const SYN_IP =
  "4500003c022e40004006b48ac0000201c0000202cae21f900ce675dd00000000a002fbe02b320000020404d80402080a8c25a466000000000103030a";
const SYN_FRAME = fromHex("a600c440328f c6261428e68b 0800" + SYN_IP);
const VLAN_FRAME = fromHex("a600c440328f c6261428e68b 8100 a00a 0800" + SYN_IP);
// DNS query 192.0.2.1:45827 → 192.0.2.2:53, and [2001:db8::1]:43811 → [2001:db8::2]:53 (raw IP).
const DNS_V4 = fromHex(
  "450000398aba400040112bf6c0000201c0000202b30300350025dece1a2b01000001000000000000076578616d706c6503636f6d0000010001",
);
const DNS_V6 = fromHex(
  "600f28cd0025114020010db800000000000000000000000120010db8000000000000000000000002ab23003500250f3e1a2b01000001000000000000076578616d706c6503636f6d0000010001",
);
// ping 192.0.2.2 (id 0xbe9c) and ping 2001:db8::2 (id 0xbe9d); an ICMP port unreachable.
const ECHO_V4 = fromHex("4500002ccbfc40004001ead0c0000201c00002020800368cbe9c00016d616c6c6f72792d70696e672d763421");
const ECHO_V6 = fromHex(
  "6002102300183a4020010db800000000000000000000000120010db8000000000000000000000002800060c3be9d00016d616c6c6f72792d70696e672d763621",
);
const PORT_UNREACH_V4 = fromHex(
  "45c00055e0360000400115aec0000202c00002010303813700000000450000398aba400040112bf6c0000201c0000202b30300350025dece1a2b01000001000000000000076578616d706c6503636f6d0000010001",
);
// A 1536-byte UDP datagram the kernel fragmented, sent with Hop-by-Hop and Destination Options: its first fragment
// (Hop-by-Hop → Destination Options → Fragment offset 0, M → UDP 37224 → 9), first 8 payload bytes kept.
const V6_ADDRS = "20010db800000000000000000000000120010db8000000000000000000000002";
const FRAG_FIRST_V6 = fromHex(
  "600576d400200040" + V6_ADDRS + "3c00010400000000" + "2c001e04deadbeef" + "110000013b0a9b36" + "9168000906088579",
);

const TEST_NET_1 = 0xc0000201;
const TEST_NET_1_B = 0xc0000202;
const DOC6_WORDS = [0x20010db8, 0, 0, 1];
const DOC6_WORDS_B = [0x20010db8, 0, 0, 2];

function read(bytes: Uint8Array, link: LinkType, at = 0, len = bytes.length - at): { status: number; t: FiveTuple } {
  const t = new FiveTuple();
  return { status: readFiveTuple(dataViewOf(bytes), at, len, link, t), t };
}

function status(bytes: Uint8Array, link: LinkType, at = 0, len = bytes.length - at): string {
  return fiveTupleStatusName(read(bytes, link, at, len).status);
}

const patched = (b: Uint8Array, at: number, value: number): Uint8Array => {
  const c = b.slice();
  c[at] = value;
  return c;
};
const patched16 = (b: Uint8Array, at: number, value: number): Uint8Array => {
  const c = b.slice();
  writeU16(c, at, value);
  return c;
};

describe("captured packets", () => {
  it("reads an Ethernet IPv4 TCP SYN", () => {
    const { status: s, t } = read(SYN_FRAME, "ethernet");
    expect(s).toBe(S.OK);
    expect(t).toMatchObject({ family: 4, src: TEST_NET_1, dst: TEST_NET_1_B, protocol: IpProtocol.TCP });
    expect(t).toMatchObject({ sport: 51938, dport: 8080, l3Offset: 14, l4Offset: 34, end: 74, isFragment: false });
  });

  it("reads the same SYN behind an 802.1Q tag", () => {
    const { status: s, t } = read(VLAN_FRAME, "ethernet");
    expect(s).toBe(S.OK);
    expect(t).toMatchObject({ src: TEST_NET_1, sport: 51938, dport: 8080, l3Offset: 18, l4Offset: 38, end: 78 });
  });

  it("reads a frame inside a larger buffer, through a DataView over a subarray", () => {
    const big = new Uint8Array(300).fill(0xee);
    big.set(VLAN_FRAME, 100);
    const inner = big.subarray(50, 250);
    const t = new FiveTuple();
    expect(readFiveTuple(dataViewOf(inner), 50, VLAN_FRAME.length, "ethernet", t)).toBe(S.OK);
    expect(t).toMatchObject({ sport: 51938, dport: 8080, l3Offset: 68, l4Offset: 88, end: 128 });
    expect(dataViewOf(inner).byteLength).toBe(200);
    expect(dataViewOf(inner).getUint8(50)).toBe(VLAN_FRAME[0]);
  });

  it("reads raw IPv4 and IPv6 UDP", () => {
    const v4 = read(DNS_V4, "raw");
    expect(v4.status).toBe(S.OK);
    expect(v4.t).toMatchObject({ family: 4, protocol: 17, sport: 45827, dport: 53, l4Offset: 20, end: 57 });
    const v6 = read(DNS_V6, "raw");
    expect(v6.status).toBe(S.OK);
    expect(v6.t).toMatchObject({ family: 6, src: 0, dst: 0, protocol: 17, sport: 43811, dport: 53 });
    expect(v6.t).toMatchObject({ l3Offset: 0, l4Offset: 40, end: 77 });
    expect([...v6.t.src6]).toEqual(DOC6_WORDS);
    expect([...v6.t.dst6]).toEqual(DOC6_WORDS_B);
  });

  it("reads IPv6 in an Ethernet frame", () => {
    const frame = ethernet.emit({
      dst: new Uint8Array(6),
      src: new Uint8Array(6),
      vlan: { pcp: 0, dei: false, vid: 7 },
      etherType: EtherType.IPV6,
      payload: DNS_V6,
    });
    expect(read(frame, "ethernet").t).toMatchObject({ family: 6, sport: 43811, dport: 53, l3Offset: 18, end: 95 });
  });

  it("walks Hop-by-Hop, Destination Options and a first Fragment header to UDP", () => {
    // The UDP length covers the whole datagram (1544), not this fragment: UdpView.check rejects it, and so does
    // readFiveTuple (reassemble first, as the kernel does before conntrack).
    const first = read(FRAG_FIRST_V6, "raw");
    expect(first.status).toBe(S.BAD_UDP_LENGTH);
    expect(new UdpView(FRAG_FIRST_V6, 64, 8).check()).not.toBeNull();
    expect(first.t).toMatchObject({ family: 6, protocol: 17, l4Offset: 64, end: 72, isFragment: true });
    const { status: s, t } = read(patched16(FRAG_FIRST_V6, 64 + UdpField.LENGTH, 8), "raw");
    expect(s).toBe(S.OK);
    expect(t).toMatchObject({ protocol: 17, sport: 37224, dport: 9, l4Offset: 64, end: 72, isFragment: true });
  });

  it("takes the ICMP echo identifier as sport and type/code as dport", () => {
    expect(read(ECHO_V4, "raw").t).toMatchObject({ protocol: 1, sport: 0xbe9c, dport: 0x0800 });
    expect(read(ECHO_V6, "raw").t).toMatchObject({ protocol: 58, sport: 0xbe9d, dport: 0x8000 });
    const unreach = read(PORT_UNREACH_V4, "raw");
    expect(unreach.status).toBe(S.OK);
    expect(unreach.t).toMatchObject({ protocol: 1, sport: 0, dport: 0x0303 });
  });

  it("gives other protocols a 3-tuple with ports 0", () => {
    const gre = patched(DNS_V4, Ipv4Field.PROTOCOL, IpProtocol.GRE);
    const r = read(gre, "raw");
    expect(r.status).toBe(S.OK);
    expect(r.t).toMatchObject({ protocol: IpProtocol.GRE, sport: 0, dport: 0, src: TEST_NET_1 });
  });
});

describe("fragments", () => {
  it("reports a non-first IPv4 fragment with its addresses and no ports", () => {
    const frag = patched16(DNS_V4, Ipv4Field.FLG_OFF, 0x2000 | 185); // MF, offset 1480 bytes
    const { status: s, t } = read(frag, "raw");
    expect(fiveTupleStatusName(s)).toBe("non-first-fragment");
    expect(t).toMatchObject({ family: 4, src: TEST_NET_1, protocol: 17, sport: 0, dport: 0, isFragment: true });
    expect(t).toMatchObject({ l4Offset: 20, end: 57 });
  });

  it("reads the ports of a first IPv4 fragment (MF, offset 0) and marks it", () => {
    const r = read(patched16(DNS_V4, Ipv4Field.FLG_OFF, 0x2000), "raw");
    expect(r.status).toBe(S.OK);
    expect(r.t).toMatchObject({ sport: 45827, dport: 53, isFragment: true });
  });

  it("reports a non-first IPv6 fragment with the fragment's next header", () => {
    const frag = FRAG_FIRST_V6.slice(); // the ports bytes are now mid-datagram data
    writeU16(frag, 40 + 16 + 2, (185 << 3) | 1);
    const { status: s, t } = read(frag, "raw");
    expect(s).toBe(S.NON_FIRST_FRAGMENT);
    expect(t).toMatchObject({ family: 6, protocol: 17, sport: 0, dport: 0, l4Offset: 64, isFragment: true });
  });
});

describe("every failure has its code", () => {
  const cases: [string, Uint8Array, LinkType, string][] = [
    ["13-byte frame", SYN_FRAME.subarray(0, 13), "ethernet", "truncated-ethernet"],
    ["tagged frame of 17 bytes", VLAN_FRAME.subarray(0, 17), "ethernet", "truncated-ethernet"],
    ["ARP", patched16(SYN_FRAME, EthernetField.ETHERTYPE, EtherType.ARP), "ethernet", "unsupported-ethertype"],
    ["QinQ", patched16(VLAN_FRAME, EthernetField.VLAN_ETHERTYPE, EtherType.VLAN), "ethernet", "unsupported-ethertype"],
    ["IPv4 of 19 bytes", SYN_FRAME.subarray(0, 14 + 19), "ethernet", "truncated-ipv4"],
    ["version 5", patched(SYN_FRAME, 14, 0x55), "ethernet", "bad-ipv4-version"],
    ["raw version 7", patched(DNS_V4, 0, 0x75), "raw", "bad-ipv4-version"],
    ["IHL 4", patched(SYN_FRAME, 14, 0x44), "ethernet", "bad-ipv4-ihl"],
    ["IHL past the bytes", patched(DNS_V4.subarray(0, 40), 0, 0x4f), "raw", "bad-ipv4-ihl"],
    ["total length past", patched16(SYN_FRAME, 14 + Ipv4Field.LENGTH, 61), "ethernet", "bad-ipv4-total-length"],
    ["total length < IHL", patched16(SYN_FRAME, 14 + Ipv4Field.LENGTH, 19), "ethernet", "bad-ipv4-total-length"],
    ["IPv6 of 39 bytes", DNS_V6.subarray(0, 39), "raw", "truncated-ipv6"],
    [
      "IPv6 ether type, version 4",
      ethernet.emit({ dst: new Uint8Array(6), src: new Uint8Array(6), vlan: null, etherType: 0x86dd, payload: DNS_V4 }),
      "ethernet",
      "bad-ipv6-version",
    ],
    ["payload length past", patched16(DNS_V6, 4, 38), "raw", "bad-ipv6-payload-length"],
    ["jumbogram", patched16(FRAG_FIRST_V6, 4, 0), "raw", "bad-ipv6-payload-length"],
    ["Hop-by-Hop past the payload", patched(FRAG_FIRST_V6, 41, 4), "raw", "bad-ipv6-extension"],
    ["Fragment header cut", patched16(FRAG_FIRST_V6.subarray(0, 60), 4, 20), "raw", "bad-ipv6-extension"],
    [
      "TCP of 19 bytes",
      patched16(DNS_V4.subarray(0, 39), 2, 39).map((b, i) => (i === 9 ? 6 : b)),
      "raw",
      "truncated-tcp",
    ],
    ["data offset 4", patched(SYN_FRAME, 34 + TcpField.DATA_OFF, 0x40), "ethernet", "bad-tcp-data-offset"],
    ["data offset past", patched(SYN_FRAME, 34 + TcpField.DATA_OFF, 0xf0), "ethernet", "bad-tcp-data-offset"],
    ["UDP of 7 bytes", patched16(DNS_V4.subarray(0, 27), 2, 27), "raw", "truncated-udp"],
    ["UDP length 7", patched16(DNS_V4, 20 + UdpField.LENGTH, 7), "raw", "bad-udp-length"],
    ["UDP length past", patched16(DNS_V4, 20 + UdpField.LENGTH, 38), "raw", "bad-udp-length"],
    ["ICMP of 7 bytes", patched16(ECHO_V4.subarray(0, 27), 2, 27), "raw", "truncated-icmp"],
    ["ICMPv6 of 7 bytes", patched16(ECHO_V6.subarray(0, 47), 4, 7), "raw", "truncated-icmp"],
  ];
  it.each(cases)("%s", (_name, bytes, link, expected) => {
    expect(status(bytes, link)).toBe(expected);
  });

  it("rejects spans outside the DataView or not integers", () => {
    expect(status(SYN_FRAME, "ethernet", -1, 10)).toBe("bad-span");
    expect(status(SYN_FRAME, "ethernet", 0, SYN_FRAME.length + 1)).toBe("bad-span");
    expect(status(SYN_FRAME, "ethernet", 0.5, 20)).toBe("bad-span");
    expect(status(SYN_FRAME, "ethernet", 0, Number.NaN)).toBe("bad-span");
    expect(status(SYN_FRAME, "ethernet", 1, SYN_FRAME.length)).toBe("bad-span");
    expect(status(new Uint8Array(0), "raw")).toBe("truncated-ipv4");
  });

  it("sees a DataView grow after its first use (a new view over a larger buffer)", () => {
    const t = new FiveTuple();
    const short = dataViewOf(SYN_FRAME.subarray(0, 40));
    expect(readFiveTuple(short, 0, SYN_FRAME.length, "ethernet", t)).toBe(S.BAD_SPAN);
    expect(readFiveTuple(dataViewOf(SYN_FRAME), 0, SYN_FRAME.length, "ethernet", t)).toBe(S.OK);
    expect(readFiveTuple(short, 0, SYN_FRAME.length, "ethernet", t)).toBe(S.BAD_SPAN);
  });

  it("names statuses", () => {
    expect(fiveTupleStatusName(S.OK)).toBe("ok");
    expect(fiveTupleStatusName(S.BAD_UDP_LENGTH)).toBe("bad-udp-length");
    expect(fiveTupleStatusName(99)).toBe("status-99");
  });
});

describe("the success path's literal constants", () => {
  it("equal the field tables they copy", () => {
    expect([EthHot.TYPE, EthHot.HEADER_LEN, EthHot.IPV4]).toEqual([
      EthernetField.ETHERTYPE,
      ETHERNET_HEADER_LEN,
      EtherType.IPV4,
    ]);
    expect([V4Hot.VER_IHL, V4Hot.LENGTH, V4Hot.FLG_OFF, V4Hot.PROTOCOL, V4Hot.SRC, V4Hot.DST]).toEqual([
      Ipv4Field.VER_IHL,
      Ipv4Field.LENGTH,
      Ipv4Field.FLG_OFF,
      Ipv4Field.PROTOCOL,
      Ipv4Field.SRC,
      Ipv4Field.DST,
    ]);
    expect([V4Hot.MIN, V4Hot.VERSION, V4Hot.FRAME_MIN]).toEqual([
      IPV4_HEADER_LEN,
      ipv4.IPV4_VERSION,
      ETHERNET_HEADER_LEN + IPV4_HEADER_LEN,
    ]);
    expect([L4Hot.PORTS, L4Hot.TCP_DATA_OFF, L4Hot.TCP_MIN, L4Hot.UDP_LENGTH, L4Hot.UDP_MIN]).toEqual([
      TcpField.SRC_PORT,
      TcpField.DATA_OFF,
      TCP_HEADER_LEN,
      UdpField.LENGTH,
      UDP_HEADER_LEN,
    ]);
    expect([L4Hot.TCP, L4Hot.UDP, UdpField.SRC_PORT, Hot.OK]).toEqual([IpProtocol.TCP, IpProtocol.UDP, 0, S.OK]);
  });

  it("describe the 32-bit words the success path reads", () => {
    // Ether type, then version/IHL, then TOS: version sits 12 bits up, IHL 8.
    const typeWord = (EtherType.IPV4 << 16) | (0x46 << 8) | 0x10;
    expect(typeWord >>> Hot.TYPE_WORD_VERSION_SHIFT).toBe(EthHot.IPV4_AND_VERSION);
    expect(EthHot.IPV4_AND_VERSION).toBe((EtherType.IPV4 << 4) | ipv4.IPV4_VERSION);
    expect((typeWord >>> Hot.TYPE_WORD_IHL_SHIFT) & Hot.IHL_MASK).toBe(6);
    // Flags/offset, TTL, protocol: the protocol is the word's low byte, MF and the offset its top 14 bits.
    expect(V4Hot.PROTOCOL).toBe(V4Hot.FLG_OFF + 3);
    expect(V4Hot.MF_OFFSET_IN_WORD >>> 16).toBe(0x3fff);
    // The data offset nibble is the top of the 16-bit word at TCP_DATA_OFF.
    expect(0x5010 >>> TcpHot.DATA_OFF_IN_WORD_SHIFT).toBe(5);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Properties: packets built with the emitters agree with the repr parsers; any bytes agree with the views.

const MAC = new Uint8Array(6);
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const addr6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
/** Extension data fills whole 8-byte units with the 2 header bytes (4-byte units for AH). */
const extData = (unit: number): fc.Arbitrary<Uint8Array> =>
  fc.integer({ min: 0, max: 3 }).chain((k) => fc.uint8Array({ minLength: 6 + unit * k, maxLength: 6 + unit * k }));

const tcpOption: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: "nop" }),
  u16.map((value): TcpOption => ({ kind: "mss", value })),
  fc.constant<TcpOption>({ kind: "sack-permitted" }),
  fc.tuple(u32, u32).map(([tsval, tsecr]): TcpOption => ({ kind: "timestamps", tsval, tsecr })),
);

type L4 = {
  kind: "tcp" | "udp" | "echo" | "other";
  sport: number;
  dport: number;
  payload: Uint8Array;
  echoReply: boolean;
};
const l4Arb: fc.Arbitrary<L4> = fc.record({
  kind: fc.constantFrom("tcp", "udp", "echo", "other"),
  sport: u16,
  dport: u16,
  payload: bytes(40),
  echoReply: fc.boolean(),
});
const tcpOptions = fc.array(tcpOption, { maxLength: 4 });

const ipv6Ext: fc.Arbitrary<Ipv6Extension> = fc.oneof(
  fc
    .tuple(fc.constantFrom("hop-by-hop", "routing", "destination" as const), extData(8))
    .map(([kind, data]): Ipv6Extension => ({ kind, data })),
  extData(4).map((data): Ipv6Extension => ({ kind: "auth", data })),
  fc.tuple(u32, fc.boolean()).map(([ident, m]): Ipv6Extension => ({
    kind: "fragment",
    reserved: 0,
    reservedBits: 0,
    fragmentOffset: 0,
    moreFragments: m,
    ident,
  })),
);

interface Built {
  frame: Uint8Array;
  link: LinkType;
}

const built: fc.Arbitrary<Built> = fc
  .record({
    v6: fc.boolean(),
    link: fc.constantFrom<LinkType>("ethernet", "raw"),
    vlan: fc.option(fc.integer({ min: 0, max: 4095 })),
    l4: l4Arb,
    options: tcpOptions,
    src4: u32,
    dst4: u32,
    src6: addr6,
    dst6: addr6,
    ipOptions: fc.integer({ min: 0, max: 10 }).chain((w) => fc.uint8Array({ minLength: 4 * w, maxLength: 4 * w })),
    mf: fc.boolean(),
    fragOffset: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0x1fff })),
    exts: fc.array(ipv6Ext, { maxLength: 3 }),
    padding: bytes(8),
  })
  .map((r): Built => {
    const pseudo = r.v6
      ? ({ family: 6, src: r.src6, dst: r.dst6 } as const)
      : ({ family: 4, src: r.src4, dst: r.dst4 } as const);
    const { kind, sport, dport, payload } = r.l4;
    let protocol: number;
    let segment: Uint8Array;
    if (kind === "tcp") {
      protocol = IpProtocol.TCP;
      const repr = { srcPort: sport, dstPort: dport, seq: 1, ack: 2, flags: 0x18, window: 9, checksum: 0, urgent: 0 };
      segment = tcp.emit({ ...repr, options: r.options, payload }, pseudo);
    } else if (kind === "udp") {
      protocol = IpProtocol.UDP;
      segment = udp.emit({ srcPort: sport, dstPort: dport, checksum: 0, payload }, pseudo);
    } else if (kind === "echo") {
      const echoKind = r.l4.echoReply ? "echo-reply" : "echo-request";
      const echo = { kind: echoKind, code: 0, checksum: 0, id: sport, seq: dport, data: payload } as const;
      protocol = r.v6 ? IpProtocol.ICMPV6 : IpProtocol.ICMP;
      segment = r.v6 ? icmpv6.emit(echo, pseudo) : icmpv4.emit(echo);
    } else {
      protocol = IpProtocol.GRE;
      segment = payload;
    }
    const packet = r.v6
      ? ipv6.emit({
          trafficClass: 0,
          flowLabel: 0,
          hopLimit: 64,
          src: r.src6,
          dst: r.dst6,
          // RFC 8200 §4.1: Hop-by-Hop only first, so the chain is one a receiver accepts.
          extensions: r.exts.filter((e, i) => e.kind !== "hop-by-hop" || i === 0),
          nextHeader: protocol,
          payload: segment,
        })
      : ipv4.emit({
          dscp: 0,
          ecn: 0,
          ident: 7,
          reservedFlag: false,
          dontFragment: false,
          moreFragments: r.mf,
          fragmentOffset: r.fragOffset,
          ttl: 64,
          protocol,
          checksum: 0,
          src: r.src4,
          dst: r.dst4,
          options: r.ipOptions,
          payload: segment,
        });
    if (r.link === "raw") return { frame: packet, link: "raw" };
    const vlan = r.vlan === null ? null : { pcp: 0, dei: false, vid: r.vlan };
    const etherType = r.v6 ? EtherType.IPV6 : EtherType.IPV4;
    const frame = ethernet.emit({ dst: MAC, src: MAC, vlan, etherType, payload: packet });
    // Ethernet padding after the packet belongs to the link and must not change the tuple.
    const padded = new Uint8Array(frame.length + r.padding.length);
    padded.set(frame);
    padded.set(r.padding, frame.length);
    return { frame: padded, link: "ethernet" };
  });

/** The tuple from the repr parsers (the slow path), or the status they imply. */
function viaReprs(frame: Uint8Array, link: LinkType): { status: number; t?: Partial<FiveTuple>; src6?: number[] } {
  let ipBytes = frame;
  if (link === "ethernet") {
    const eth = ethernet.parse(frame);
    if (!eth.ok) throw new Error(eth.error.message);
    ipBytes = eth.value.payload;
  }
  const l3Offset = ipBytes.byteOffset - frame.byteOffset;
  const abs = (sub: Uint8Array): number => sub.byteOffset - frame.byteOffset;
  let protocol: number;
  let payload: Uint8Array;
  let base: Partial<FiveTuple>;
  let words: number[] | undefined;
  if (ipBytes[0] >>> 4 === 6) {
    const ip = ipv6.parse(ipBytes);
    if (!ip.ok) throw new Error(ip.error.message);
    protocol = ip.value.nextHeader;
    payload = ip.value.payload;
    words = [0, 4, 8, 12].map((i) => readU32(ip.value.src, i));
    base = { family: 6, protocol, l3Offset, l4Offset: abs(payload), end: abs(payload) + payload.length };
    base.isFragment = ip.value.extensions.some((e) => e.kind === "fragment");
  } else {
    const ip = ipv4.parse(ipBytes);
    if (!ip.ok) throw new Error(ip.error.message);
    protocol = ip.value.protocol;
    payload = ip.value.payload;
    base = { family: 4, src: ip.value.src, dst: ip.value.dst, protocol, l3Offset, l4Offset: abs(payload) };
    base.end = abs(payload) + payload.length;
    base.isFragment = ip.value.moreFragments || ip.value.fragmentOffset !== 0;
    if (ip.value.fragmentOffset !== 0) return { status: S.NON_FIRST_FRAGMENT, t: { ...base, sport: 0, dport: 0 } };
  }
  const family = base.family;
  if (protocol === IpProtocol.TCP) {
    const seg = tcp.parse(payload);
    if (!seg.ok) return { status: S.TRUNCATED_TCP };
    return { status: S.OK, t: { ...base, sport: seg.value.srcPort, dport: seg.value.dstPort }, src6: words };
  }
  if (protocol === IpProtocol.UDP) {
    const dg = udp.parse(payload);
    if (!dg.ok) return { status: S.TRUNCATED_UDP };
    return { status: S.OK, t: { ...base, sport: dg.value.srcPort, dport: dg.value.dstPort }, src6: words };
  }
  if ((family === 4 && protocol === IpProtocol.ICMP) || (family === 6 && protocol === IpProtocol.ICMPV6)) {
    const m = family === 4 ? icmpv4.parse(payload) : icmpv6.parse(payload);
    if (!m.ok) return { status: S.TRUNCATED_ICMP };
    const echo = m.value.kind === "echo-request" || m.value.kind === "echo-reply";
    const sport = echo && "id" in m.value ? m.value.id : 0;
    return { status: S.OK, t: { ...base, sport, dport: readU16(payload, 0) }, src6: words };
  }
  return { status: S.OK, t: { ...base, sport: 0, dport: 0 }, src6: words };
}

/**
 * What the views' `check()` (and `upperLayer`) accept, field by field: "ok" with the tuple, "fragment", or
 * "rejected". readFiveTuple must never succeed where this rejects, and must succeed where it accepts.
 */
const ethView = new EthernetView();
const v4View = new Ipv4View();
const v6View = new Ipv6View();
const tcpView = new TcpView();
const udpView = new UdpView();
const icmp4View = new Icmpv4View();
const icmp6View = new Icmpv6View();
const chain = new Ipv6UpperLayer();

function viaViews(b: Uint8Array, at: number, len: number, link: LinkType): "rejected" | "fragment" | number[] {
  let ip = at;
  let v6: boolean;
  if (link === "ethernet") {
    if (ethView.wrap(b, at, len).check() !== null) return "rejected";
    const type = ethView.etherType;
    if (type !== EtherType.IPV4 && type !== EtherType.IPV6) return "rejected";
    v6 = type === EtherType.IPV6;
    ip = ethView.payloadOffset;
  } else v6 = len > 0 && b[at] >>> 4 === 6;
  const ipLen = at + len - ip;
  let l4: number;
  let l4Len: number;
  let protocol: number;
  if (v6) {
    if (v6View.wrap(b, ip, ipLen).check() !== null) return "rejected";
    const p = upperLayer(b, ip, ipLen, chain);
    if (chain.malformed) return "rejected";
    if (chain.isFragment && chain.fragmentOffset !== 0) return "fragment";
    protocol = chain.nextHeader;
    if (p < 0) return [protocol, 0, 0];
    l4 = p;
    l4Len = chain.end - p;
  } else {
    if (v4View.wrap(b, ip, ipLen).check() !== null) return "rejected";
    if (v4View.fragmentOffset !== 0) return "fragment";
    protocol = v4View.protocol;
    l4 = v4View.payloadOffset;
    l4Len = v4View.payloadLength;
  }
  if (protocol === IpProtocol.TCP) {
    if (tcpView.wrap(b, l4, l4Len).check() !== null) return "rejected";
    return [protocol, tcpView.srcPort, tcpView.dstPort];
  }
  if (protocol === IpProtocol.UDP) {
    if (udpView.wrap(b, l4, l4Len).check() !== null) return "rejected";
    return [protocol, udpView.srcPort, udpView.dstPort];
  }
  if (!v6 && protocol === IpProtocol.ICMP) {
    if (icmp4View.wrap(b, l4, l4Len).check() !== null) return "rejected";
    const echo = icmp4View.type === 8 || icmp4View.type === 0;
    return [protocol, echo ? icmp4View.id : 0, (icmp4View.type << 8) | icmp4View.code];
  }
  if (v6 && protocol === IpProtocol.ICMPV6) {
    if (icmp6View.wrap(b, l4, l4Len).check() !== null) return "rejected";
    const echo = icmp6View.type === 128 || icmp6View.type === 129;
    return [protocol, echo ? icmp6View.id : 0, (icmp6View.type << 8) | icmp6View.code];
  }
  return [protocol, 0, 0];
}

/** Valid frames, then the same with bytes overwritten, cut short, or read through a shifted span. */
const mutated: fc.Arbitrary<{ b: Uint8Array; at: number; len: number; link: LinkType }> = fc
  .tuple(
    built,
    fc.array(fc.tuple(fc.nat(), u8), { maxLength: 4 }),
    fc.nat(),
    fc.integer({ min: -2, max: 2 }),
    fc.integer({ min: -2, max: 2 }),
  )
  .map(([{ frame, link }, writes, cut, dAt, dLen]) => {
    const b = frame.slice();
    for (const [i, v] of writes) b[i % Math.max(b.length, 1)] = v;
    const len0 = cut % (b.length + 1);
    const at = Math.max(0, dAt);
    return { b, at, len: len0 - at + dLen, link };
  });
const arbitrary = fc.record({
  b: fc.uint8Array({ maxLength: 120 }),
  at: fc.integer({ min: -1, max: 8 }),
  len: fc.integer({ min: -1, max: 130 }),
  link: fc.constantFrom<LinkType>("ethernet", "raw"),
});

describe("properties", () => {
  fcTest.prop([built], { numRuns: 3000 })("agrees with the repr parsers on emitted packets", ({ frame, link }) => {
    const { status: s, t } = read(frame, link);
    const expected = viaReprs(frame, link);
    expect(fiveTupleStatusName(s)).toBe(fiveTupleStatusName(expected.status));
    expect(t).toMatchObject(expected.t ?? {});
    if (expected.src6 !== undefined) expect([...t.src6]).toEqual(expected.src6);
  });

  fcTest.prop([fc.oneof(mutated, arbitrary)], { numRuns: 20000 })(
    "never throws, and succeeds exactly where the views' check() accept",
    ({ b, at, len, link }) => {
      const t = new FiveTuple();
      const s = readFiveTuple(dataViewOf(b), at, len, link, t);
      const inSpan = Number.isInteger(at) && at >= 0 && len >= 0 && at + len <= b.length;
      const views = inSpan ? viaViews(b, at, len, link) : "rejected";
      if (views === "rejected") {
        expect(s).not.toBe(S.OK);
        expect(s).not.toBe(S.NON_FIRST_FRAGMENT);
      } else if (views === "fragment") {
        expect(s).toBe(S.NON_FIRST_FRAGMENT);
      } else {
        expect(fiveTupleStatusName(s)).toBe("ok");
        expect([t.protocol, t.sport, t.dport]).toEqual(views);
        expect(t.end).toBeLessThanOrEqual(at + len);
        expect(t.l4Offset).toBeLessThanOrEqual(t.end);
      }
    },
  );
});
