// THE ALL-KINDS TEST: one pcapng holding a packet of every kind the project emits, each BUILT BY OUR OWN WIRE
// EMITTERS (src/wire) and commented, decoded by tshark with checksum validation on. tshark is the referee: no
// malformed packet, no bad checksum, and every field it prints equals what we put in.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseIpv4, parseIpv6 } from "../wire/address.js";
import * as dns from "../wire/dns.js";
import * as ethernet from "../wire/ethernet.js";
import * as icmpv4 from "../wire/icmpv4.js";
import * as icmpv6 from "../wire/icmpv6.js";
import * as ipv4 from "../wire/ipv4.js";
import * as ipv6 from "../wire/ipv6.js";
import type { PseudoHeader } from "../wire/pseudo-header.js";
import type { Result } from "../wire/result.js";
import * as stun from "../wire/stun.js";
import * as tcp from "../wire/tcp.js";
import * as udp from "../wire/udp.js";
import { LinkType } from "./capture.js";
import { writeCaptureFile } from "./file.js";
import { parseCapture } from "./reader.js";
import { readFileSync } from "node:fs";

function hasTshark(): boolean {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function v4(s: string): number {
  const a = parseIpv4(s);
  if (a === null) throw new Error(`bad IPv4 literal ${s}`);
  return a;
}
function v6(s: string): Uint8Array {
  const a = parseIpv6(s);
  if (a === null) throw new Error(`bad IPv6 literal ${s}`);
  return a;
}
function unwrap<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`${r.error.protocol} ${r.error.field}: ${r.error.message}`);
  return r.value;
}
function mac(s: string): Uint8Array {
  return Uint8Array.from(s.split(":").map((x) => parseInt(x, 16)));
}
const bytesOf = (s: string) => new TextEncoder().encode(s);

const HOST_MAC = "02:00:00:00:00:0a";
const ROUTER_MAC = "02:00:00:00:00:01";
const HOST4 = "192.168.1.10";
const SERVER4 = "203.0.113.5";
const ROUTER4 = "192.168.1.1";
const RESOLVER4 = "198.51.100.53";
const HOST6 = "2001:db8:1::a";
const SERVER6 = "2001:db8:ffff::5";
const ROUTER6_LL = "fe80::1";

function eth(
  etherType: number,
  payload: Uint8Array,
  vlan: ethernet.VlanTag | null = null,
  src = HOST_MAC,
  dst = ROUTER_MAC,
) {
  return ethernet.emit({ dst: mac(dst), src: mac(src), vlan, etherType, payload });
}
function ip4(src: string, dst: string, protocol: number, payload: Uint8Array, ttl = 64, ident = 0x1234): Uint8Array {
  return ipv4.emit({
    dscp: 0,
    ecn: 0,
    ident,
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
function ip6(
  src: string,
  dst: string,
  nextHeader: number,
  payload: Uint8Array,
  hopLimit = 64,
  extensions: ipv6.Ipv6Extension[] = [],
) {
  return ipv6.emit({
    trafficClass: 0,
    flowLabel: 0x12345,
    hopLimit,
    src: v6(src),
    dst: v6(dst),
    extensions,
    nextHeader,
    payload,
  });
}
function pseudo4(src: string, dst: string): PseudoHeader {
  return { family: 4, src: v4(src), dst: v4(dst) };
}
function pseudo6(src: string, dst: string): PseudoHeader {
  return { family: 6, src: v6(src), dst: v6(dst) };
}
const SYN_OPTIONS: tcp.TcpOption[] = [
  { kind: "mss", value: 1460 },
  { kind: "sack-permitted" },
  { kind: "timestamps", tsval: 123456, tsecr: 0 },
  { kind: "nop" },
  { kind: "window-scale", shift: 7 },
];
function tcpSeg(
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  options: tcp.TcpOption[],
  payload: Uint8Array,
  p: PseudoHeader,
) {
  return tcp.emit(
    { srcPort: sport, dstPort: dport, seq, ack, flags, window: 64240, checksum: 0, urgent: 0, options, payload },
    p,
  );
}
function udpDgram(sport: number, dport: number, payload: Uint8Array, p: PseudoHeader) {
  return udp.emit({ srcPort: sport, dstPort: dport, checksum: 0, payload }, p);
}

/** A packet of the capture, with its comment and the fields tshark must print for it (arrays: every occurrence). */
interface Case {
  readonly comment: string;
  readonly linkType: number;
  readonly data: Uint8Array;
  readonly fields: Readonly<Record<string, readonly string[]>>;
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  const add = (comment: string, linkType: number, data: Uint8Array, fields: Record<string, string[]>) => {
    cases.push({ comment, linkType, data, fields });
  };
  const { TcpFlags } = tcp;

  // IPv4 + TCP SYN with MSS, SACK-permitted, timestamps, NOP, window scale.
  const p4 = pseudo4(HOST4, SERVER4);
  const syn = tcpSeg(51000, 443, 0x11223344, 0, TcpFlags.SYN, SYN_OPTIONS, new Uint8Array(0), p4);
  const synPacket = ip4(HOST4, SERVER4, ipv4.IpProtocol.TCP, syn);
  add("IPv4 TCP SYN with options", LinkType.ETHERNET, eth(ethernet.EtherType.IPV4, synPacket), {
    "eth.src": [HOST_MAC],
    "ip.src": [HOST4],
    "ip.dst": [SERVER4],
    "tcp.srcport": ["51000"],
    "tcp.dstport": ["443"],
    "tcp.seq_raw": [String(0x11223344)],
    "tcp.flags": ["0x0002"],
    "tcp.options.mss_val": ["1460"],
    "tcp.options.wscale.shift": ["7"],
    "tcp.options.timestamp.tsval": ["123456"],
  });

  // IPv4 + UDP with a payload.
  const udp4 = udpDgram(40000, 9999, bytesOf("hello over udp"), pseudo4(HOST4, SERVER4));
  const udp4Packet = ip4(HOST4, SERVER4, ipv4.IpProtocol.UDP, udp4, 64, 0x2222);
  add("IPv4 UDP", LinkType.ETHERNET, eth(ethernet.EtherType.IPV4, udp4Packet), {
    "ip.dst": [SERVER4],
    "udp.srcport": ["40000"],
    "udp.dstport": ["9999"],
    "udp.length": [String(8 + 14)],
  });

  // ICMPv4 echo request.
  const echo4 = icmpv4.emit({
    kind: "echo-request",
    code: 0,
    checksum: 0,
    id: 0x77,
    seq: 3,
    data: bytesOf("ping-data-0123456789"),
  });
  add(
    "ICMPv4 echo request",
    LinkType.ETHERNET,
    eth(ethernet.EtherType.IPV4, ip4(HOST4, SERVER4, ipv4.IpProtocol.ICMP, echo4)),
    {
      "icmp.type": ["8"],
      "icmp.code": ["0"],
      "icmp.ident": ["119"],
      "icmp.seq": ["3"],
    },
  );

  // ICMPv4 port unreachable (3/3) from the server, embedding the IPv4 header and first 8 bytes of the UDP datagram.
  const unreach4 = icmpv4.emit({
    kind: "dest-unreachable",
    code: icmpv4.Icmpv4UnreachableCode.PORT,
    checksum: 0,
    unused: 0,
    length: 0,
    nextHopMtu: 0,
    embedded: udp4Packet.subarray(0, 20 + 8),
  });
  add(
    "ICMPv4 port unreachable embedding the UDP header",
    LinkType.ETHERNET,
    eth(ethernet.EtherType.IPV4, ip4(SERVER4, HOST4, ipv4.IpProtocol.ICMP, unreach4), null, ROUTER_MAC, HOST_MAC),
    {
      "icmp.type": ["3"],
      "icmp.code": ["3"],
      "ip.src": [SERVER4, HOST4],
      "ip.dst": [HOST4, SERVER4],
      "udp.srcport": ["40000"],
      "udp.dstport": ["9999"],
    },
  );

  // ICMPv4 time exceeded (11/0) from the router, embedding the TCP SYN's IP header and 8 bytes of TCP.
  const ttl4 = icmpv4.emit({
    kind: "time-exceeded",
    code: 0,
    checksum: 0,
    length: 0,
    unused: 0,
    embedded: synPacket.subarray(0, 28),
  });
  add(
    "ICMPv4 time exceeded embedding the TCP SYN",
    LinkType.ETHERNET,
    eth(ethernet.EtherType.IPV4, ip4(ROUTER4, HOST4, ipv4.IpProtocol.ICMP, ttl4), null, ROUTER_MAC, HOST_MAC),
    {
      "icmp.type": ["11"],
      "icmp.code": ["0"],
      "ip.src": [ROUTER4, HOST4],
      "ip.dst": [HOST4, SERVER4],
      "tcp.srcport": ["51000"],
      "tcp.dstport": ["443"],
    },
  );

  // IPv6 + TCP SYN-ACK with options.
  const p6 = pseudo6(SERVER6, HOST6);
  const synAck6 = tcpSeg(
    443,
    51001,
    0xa0b0c0d0,
    0x01020305,
    TcpFlags.SYN | TcpFlags.ACK,
    SYN_OPTIONS,
    new Uint8Array(0),
    p6,
  );
  add(
    "IPv6 TCP SYN-ACK",
    LinkType.ETHERNET,
    eth(ethernet.EtherType.IPV6, ip6(SERVER6, HOST6, 6, synAck6), null, ROUTER_MAC, HOST_MAC),
    {
      "ipv6.src": [SERVER6],
      "ipv6.dst": [HOST6],
      "ipv6.flow": ["0x012345"],
      "tcp.flags": ["0x0012"],
      "tcp.seq_raw": [String(0xa0b0c0d0)],
      "tcp.ack_raw": [String(0x01020305)],
      "tcp.options.mss_val": ["1460"],
    },
  );

  // IPv6 + UDP.
  const udp6 = udpDgram(50000, 7777, bytesOf("v6 datagram"), pseudo6(HOST6, SERVER6));
  const udp6Packet = ip6(HOST6, SERVER6, 17, udp6);
  add("IPv6 UDP", LinkType.ETHERNET, eth(ethernet.EtherType.IPV6, udp6Packet), {
    "ipv6.src": [HOST6],
    "udp.srcport": ["50000"],
    "udp.dstport": ["7777"],
  });

  // ICMPv6 echo request.
  const echo6 = icmpv6.emit(
    { kind: "echo-request", code: 0, checksum: 0, id: 0x4242, seq: 9, data: bytesOf("ping6") },
    pseudo6(HOST6, SERVER6),
  );
  add("ICMPv6 echo request", LinkType.ETHERNET, eth(ethernet.EtherType.IPV6, ip6(HOST6, SERVER6, 58, echo6)), {
    "icmpv6.type": ["128"],
    "icmpv6.code": ["0"],
    "icmpv6.echo.identifier": ["0x4242"],
    "icmpv6.echo.sequence_number": ["9"],
  });

  // ICMPv6 port unreachable (1/4) embedding the whole IPv6+UDP packet.
  const unreach6 = icmpv6.emit(
    {
      kind: "dest-unreachable",
      code: icmpv6.Icmpv6UnreachableCode.PORT,
      checksum: 0,
      length: 0,
      unused: 0,
      embedded: udp6Packet,
    },
    pseudo6(SERVER6, HOST6),
  );
  add(
    "ICMPv6 port unreachable embedding the UDP packet",
    LinkType.ETHERNET,
    eth(ethernet.EtherType.IPV6, ip6(SERVER6, HOST6, 58, unreach6), null, ROUTER_MAC, HOST_MAC),
    {
      "icmpv6.type": ["1"],
      "icmpv6.code": ["4"],
      "ipv6.src": [SERVER6, HOST6],
      "udp.dstport": ["7777"],
    },
  );

  // NDP neighbor solicitation for the router's address, to its solicited-node multicast group.
  const target = "2001:db8:1::1";
  const solicited = "ff02::1:ff00:1";
  const ns = icmpv6.emit(
    {
      kind: "neighbor-solicitation",
      code: 0,
      checksum: 0,
      reserved: 0,
      target: v6(target),
      options: [{ kind: "source-link-addr", addr: mac(HOST_MAC) }],
    },
    pseudo6(HOST6, solicited),
  );
  add(
    "NDP neighbor solicitation",
    LinkType.ETHERNET,
    eth(ethernet.EtherType.IPV6, ip6(HOST6, solicited, 58, ns, 255), null, HOST_MAC, "33:33:ff:00:00:01"),
    {
      "icmpv6.type": ["135"],
      "icmpv6.nd.ns.target_address": [target],
      "icmpv6.opt.linkaddr": [HOST_MAC],
    },
  );

  // NDP router advertisement with prefix information, MTU and source link-layer address.
  const ra = icmpv6.emit(
    {
      kind: "router-advertisement",
      code: 0,
      checksum: 0,
      curHopLimit: 64,
      flags: icmpv6.RaFlags.OTHER,
      routerLifetime: 1800,
      reachableTime: 0,
      retransTimer: 0,
      options: [
        { kind: "source-link-addr", addr: mac(ROUTER_MAC) },
        { kind: "mtu", reserved: 0, mtu: 1492 },
        {
          kind: "prefix-info",
          prefixLength: 64,
          flags: icmpv6.PrefixFlags.ON_LINK | icmpv6.PrefixFlags.AUTONOMOUS,
          validLifetime: 86400,
          preferredLifetime: 14400,
          reserved: 0,
          prefix: v6("2001:db8:1::"),
        },
      ],
    },
    pseudo6(ROUTER6_LL, "ff02::1"),
  );
  add(
    "NDP router advertisement",
    LinkType.ETHERNET,
    eth(ethernet.EtherType.IPV6, ip6(ROUTER6_LL, "ff02::1", 58, ra, 255), null, ROUTER_MAC, "33:33:00:00:00:01"),
    {
      "icmpv6.type": ["134"],
      "icmpv6.nd.ra.cur_hop_limit": ["64"],
      "icmpv6.nd.ra.router_lifetime": ["1800"],
      "icmpv6.opt.mtu": ["1492"],
      "icmpv6.opt.prefix": ["2001:db8:1::"],
      "icmpv6.opt.prefix.length": ["64"],
    },
  );

  // IPv6 with a hop-by-hop header (PadN) and a destination-options header (PadN) before UDP.
  const padN = Uint8Array.of(1, 4, 0, 0, 0, 0);
  const udpExt = udpDgram(1234, 5678, bytesOf("behind extension headers"), pseudo6(HOST6, SERVER6));
  const extPacket = ip6(HOST6, SERVER6, 17, udpExt, 64, [
    { kind: "hop-by-hop", data: padN },
    { kind: "destination", data: padN },
  ]);
  add("IPv6 with hop-by-hop and destination options", LinkType.ETHERNET, eth(ethernet.EtherType.IPV6, extPacket), {
    "ipv6.nxt": ["0"],
    "ipv6.hopopts.nxt": ["60"],
    "ipv6.dstopts.nxt": ["17"],
    "udp.srcport": ["1234"],
    "udp.dstport": ["5678"],
  });

  // DNS query and answer (CNAME, A, AAAA) over UDP/IPv4.
  const q = unwrap(dns.query(0xbeef, "www.example.com", dns.DnsType.A));
  const qPacket = ip4(
    HOST4,
    RESOLVER4,
    ipv4.IpProtocol.UDP,
    udpDgram(53000, 53, dns.emit(q), pseudo4(HOST4, RESOLVER4)),
  );
  add("DNS query", LinkType.ETHERNET, eth(ethernet.EtherType.IPV4, qPacket), {
    "dns.id": ["0xbeef"],
    "dns.flags.response": ["0"],
    "dns.qry.name": ["www.example.com"],
    "dns.qry.type": ["1"],
  });
  const a = unwrap(
    dns.answer(q, [
      dns.cnameRecord("www.example.com", "edge.example.net", 300),
      dns.aRecord("edge.example.net", v4("203.0.113.80"), 60),
      dns.aaaaRecord("edge.example.net", v6("2001:db8:80::1"), 60),
    ]),
  );
  const aPacket = ip4(
    RESOLVER4,
    HOST4,
    ipv4.IpProtocol.UDP,
    udpDgram(53, 53000, dns.emit(a), pseudo4(RESOLVER4, HOST4)),
  );
  add(
    "DNS answer with CNAME, A and AAAA",
    LinkType.ETHERNET,
    eth(ethernet.EtherType.IPV4, aPacket, null, ROUTER_MAC, HOST_MAC),
    {
      "dns.id": ["0xbeef"],
      "dns.flags.response": ["1"],
      "dns.count.answers": ["3"],
      "dns.cname": ["edge.example.net"],
      "dns.a": ["203.0.113.80"],
      "dns.aaaa": ["2001:db8:80::1"],
      "dns.resp.ttl": ["300", "60", "60"],
    },
  );

  // STUN binding request and success response with XOR-MAPPED-ADDRESS (the NAT's public mapping).
  const txid = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i);
  const STUN_SERVER = "198.51.100.3";
  const stunReq = stun.emit(stun.bindingRequest(txid));
  add(
    "STUN binding request",
    LinkType.ETHERNET,
    eth(
      ethernet.EtherType.IPV4,
      ip4(HOST4, STUN_SERVER, ipv4.IpProtocol.UDP, udpDgram(54321, 3478, stunReq, pseudo4(HOST4, STUN_SERVER))),
    ),
    { "stun.type": ["0x0001"], "stun.id": ["a0a1a2a3a4a5a6a7a8a9aaab"] },
  );
  const stunResp = stun.emit(stun.bindingSuccess(txid, { family: 4, port: 62000, address: v4("203.0.113.77") }));
  add(
    "STUN binding success with XOR-MAPPED-ADDRESS",
    LinkType.ETHERNET,
    eth(
      ethernet.EtherType.IPV4,
      ip4(STUN_SERVER, HOST4, ipv4.IpProtocol.UDP, udpDgram(3478, 54321, stunResp, pseudo4(STUN_SERVER, HOST4))),
      null,
      ROUTER_MAC,
      HOST_MAC,
    ),
    { "stun.type": ["0x0101"], "stun.att.ipv4": ["203.0.113.77"], "stun.att.port": ["62000"] },
  );

  // 802.1Q-tagged frame.
  add(
    "VLAN 42, priority 5",
    LinkType.ETHERNET,
    eth(ethernet.EtherType.IPV4, udp4Packet, { pcp: 5, dei: false, vid: 42 }),
    { "vlan.id": ["42"], "vlan.priority": ["5"], "vlan.etype": ["0x0800"], "udp.dstport": ["9999"] },
  );

  // LINKTYPE_RAW: IPv4 TCP and IPv6 ICMPv6 with no link-layer header.
  const rst = tcpSeg(
    443,
    51000,
    1,
    0x11223345,
    TcpFlags.RST | TcpFlags.ACK,
    [],
    new Uint8Array(0),
    pseudo4(SERVER4, HOST4),
  );
  add("raw IPv4 TCP RST", LinkType.RAW, ip4(SERVER4, HOST4, ipv4.IpProtocol.TCP, rst), {
    "ip.src": [SERVER4],
    "tcp.flags": ["0x0014"],
    "tcp.ack_raw": [String(0x11223345)],
  });
  const reply6 = icmpv6.emit(
    { kind: "echo-reply", code: 0, checksum: 0, id: 0x4242, seq: 9, data: bytesOf("ping6") },
    pseudo6(SERVER6, HOST6),
  );
  add("raw IPv6 ICMPv6 echo reply", LinkType.RAW, ip6(SERVER6, HOST6, 58, reply6), {
    "ipv6.src": [SERVER6],
    "icmpv6.type": ["129"],
    "icmpv6.echo.sequence_number": ["9"],
  });
  return cases;
}

const CHECKSUM_PREFS = ["ip.check_checksum:TRUE", "tcp.check_checksum:TRUE", "udp.check_checksum:TRUE"];
/** Fields tshark prints as "0" bad / "1" good / "2" unverified; ICMP and ICMPv6 checksums are always checked. */
const CHECKSUM_STATUS = [
  "ip.checksum.status",
  "tcp.checksum.status",
  "udp.checksum.status",
  "icmp.checksum.status",
  "icmpv6.checksum.status",
];

/** epan/proto.h PI_WARN; PI_ERROR is above it. */
const EXPERT_WARNING = 0x00600000;

interface TsharkPacket {
  _source: { layers: Record<string, string[] | undefined> };
}

describe.skipIf(!hasTshark())("all kinds of packet, built by src/wire, decoded by tshark (needs tshark)", () => {
  it("every packet decodes with valid checksums, no malformed or bad-checksum expert info, and the fields we emitted", () => {
    const cases = buildCases();
    const dir = mkdtempSync(join(tmpdir(), "mallory-allkinds-"));
    try {
      const path = join(dir, "all-kinds.pcapng");
      const start = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z
      writeCaptureFile(
        path,
        cases.map((c, i) => ({
          interfaceId: c.linkType === LinkType.RAW ? 1 : 0,
          linkType: c.linkType,
          timestampNs: start + BigInt(i) * 1_000_001n,
          data: c.data,
          originalLength: c.data.length,
          comment: c.comment,
        })),
        {
          interfaces: [
            { linkType: LinkType.ETHERNET, name: "lan" },
            { linkType: LinkType.RAW, name: "wan" },
          ],
        },
      );
      const fieldNames = [...new Set(cases.flatMap((c) => Object.keys(c.fields)))];
      const wanted = [
        "frame.comment",
        "frame.time_epoch",
        "frame.len",
        "frame.protocols",
        "_ws.malformed",
        "_ws.expert.message",
        "_ws.expert.severity",
        ...CHECKSUM_STATUS,
        ...fieldNames,
      ];
      const out = execFileSync(
        "tshark",
        ["-r", path, "-T", "json", ...CHECKSUM_PREFS.flatMap((p) => ["-o", p]), ...wanted.flatMap((f) => ["-e", f])],
        { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] },
      );
      const packets = JSON.parse(out) as TsharkPacket[];
      expect(packets).toHaveLength(cases.length);
      packets.forEach((p, i) => {
        const c = cases[i];
        const layers = p._source.layers;
        const label = `packet ${i + 1} (${c.comment}) ${layers["frame.protocols"]?.join("") ?? ""}`;
        expect(layers["frame.comment"], label).toEqual([c.comment]);
        expect(layers["frame.len"], label).toEqual([String(c.data.length)]);
        const ns = start + BigInt(i) * 1_000_001n;
        expect(layers["frame.time_epoch"], label).toEqual([
          `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, "0")}`,
        ]);
        expect(layers["_ws.malformed"], label).toBeUndefined();
        const messages = layers["_ws.expert.message"] ?? [];
        const severities = layers["_ws.expert.severity"] ?? [];
        expect(
          messages.filter((m) => /checksum|malformed|bogus|invalid/i.test(m)),
          label,
        ).toEqual([]);
        // Nothing at error level; the only warning allowed is the one Wireshark attaches to every RST.
        const serious = messages.filter(
          (m, k) => Number(severities[k]) >= EXPERT_WARNING && m !== "Connection reset (RST)",
        );
        expect(serious, label).toEqual([]);
        // Inside an ICMP error only 8 bytes of the transport header travel, so tshark cannot verify that checksum
        // ("2", unverified); everything else must verify ("1"), and nothing may be bad ("0").
        const inError = /icmp(v6)?:ip(v6)?:/.test(layers["frame.protocols"]?.join("") ?? "");
        for (const status of CHECKSUM_STATUS) {
          for (const v of layers[status] ?? []) expect(`${status}=${v}`, label).toMatch(inError ? /=[12]$/ : /=1$/);
        }
        for (const [field, values] of Object.entries(c.fields))
          expect([field, layers[field]], label).toEqual([field, values]);
      });
      // And our own reader gets the same packets back.
      const back = parseCapture(readFileSync(path));
      expect(back.ok && back.value.records.map((r) => [r.comment, r.data.length])).toEqual(
        cases.map((c) => [c.comment, c.data.length]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
