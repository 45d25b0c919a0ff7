// `mallory pcap-summary`: one line per captured packet, decoded with the wire parsers, in the spirit of
// `tcpdump -n -r` (address.port > address.port, then the transport summary). Decoding is not a hot path, so it
// uses the plain reprs; an undecodable layer is printed with the wire error instead of stopping the listing.
import { LinkType, openCapture, type CaptureRecord } from "../pcap/index.js";
import { formatIpv4, formatIpv6 } from "../wire/address.js";
import * as ethernet from "../wire/ethernet.js";
import { EtherType } from "../wire/ethernet.js";
import * as icmpv4 from "../wire/icmpv4.js";
import { Icmpv4Type } from "../wire/icmpv4.js";
import * as icmpv6 from "../wire/icmpv6.js";
import { Icmpv6Type } from "../wire/icmpv6.js";
import * as ipv4 from "../wire/ipv4.js";
import { IpProtocol, protocolName } from "../wire/ipv4.js";
import * as ipv6 from "../wire/ipv6.js";
import { formatWireError, type WireError } from "../wire/result.js";
import * as tcp from "../wire/tcp.js";
import * as udp from "../wire/udp.js";

export interface PacketSummary {
  /** 1-based, as tcpdump and Wireshark number packets. */
  readonly index: number;
  /** UTC, nanosecond precision: 2024-05-01T12:00:00.000000001Z. */
  readonly time: string;
  /** Exact nanoseconds since the epoch, as a decimal string (JSON has no 64-bit integers). */
  readonly timestampNs: string;
  /** Length on the wire. */
  readonly length: number;
  /** Bytes captured (smaller than `length` when the capture's snaplen cut the packet). */
  readonly captured: number;
  readonly summary: string;
  readonly comment: string | null;
}

const FRACTION_DIGITS = 9;

export function formatTimestamp(ns: bigint): string {
  const seconds = ns / 1_000_000_000n - (ns < 0n && ns % 1_000_000_000n !== 0n ? 1n : 0n);
  const fraction = ns - seconds * 1_000_000_000n;
  const iso = new Date(Number(seconds * 1000n)).toISOString();
  return `${iso.slice(0, iso.indexOf("."))}.${fraction.toString().padStart(FRACTION_DIGITS, "0")}Z`;
}

const ICMPV4_NAMES = new Map<number, string>([
  [Icmpv4Type.ECHO_REPLY, "echo reply"],
  [Icmpv4Type.DEST_UNREACHABLE, "unreachable"],
  [Icmpv4Type.ECHO_REQUEST, "echo request"],
  [Icmpv4Type.TIME_EXCEEDED, "time exceeded"],
  [Icmpv4Type.PARAMETER_PROBLEM, "parameter problem"],
]);

const ICMPV6_NAMES = new Map<number, string>([
  [Icmpv6Type.DEST_UNREACHABLE, "unreachable"],
  [Icmpv6Type.PACKET_TOO_BIG, "packet too big"],
  [Icmpv6Type.TIME_EXCEEDED, "time exceeded"],
  [Icmpv6Type.ECHO_REQUEST, "echo request"],
  [Icmpv6Type.ECHO_REPLY, "echo reply"],
  [Icmpv6Type.ROUTER_SOLICITATION, "router solicitation"],
  [Icmpv6Type.ROUTER_ADVERTISEMENT, "router advertisement"],
  [Icmpv6Type.NEIGHBOR_SOLICITATION, "neighbor solicitation"],
  [Icmpv6Type.NEIGHBOR_ADVERTISEMENT, "neighbor advertisement"],
]);

function malformed(e: WireError): string {
  return `[malformed ${formatWireError(e)}]`;
}

/** tcpdump's flag letters: S F P R U E W, and "." for ACK. */
function tcpFlags(flags: number): string {
  const F = tcp.TcpFlags;
  const letters: [number, string][] = [
    [F.SYN, "S"],
    [F.FIN, "F"],
    [F.PSH, "P"],
    [F.RST, "R"],
    [F.URG, "U"],
    [F.ECE, "E"],
    [F.CWR, "W"],
    [F.ACK, "."],
  ];
  return letters.map(([bit, letter]) => ((flags & bit) !== 0 ? letter : "")).join("") || "none";
}

/** `src` and `dst` already formatted (IPv6 in brackets when a port follows). */
function transport(protocol: number, payload: Uint8Array, src: string, dst: string, v6: boolean): string {
  const host = (a: string) => (v6 ? `[${a}]` : a);
  if (protocol === IpProtocol.TCP) {
    const r = tcp.parse(payload);
    if (!r.ok) return `${src} > ${dst} TCP ${malformed(r.error)}`;
    const t = r.value;
    const ack = (t.flags & tcp.TcpFlags.ACK) !== 0 ? ` ack ${t.ack}` : "";
    return (
      `${host(src)}:${t.srcPort} > ${host(dst)}:${t.dstPort} TCP [${tcpFlags(t.flags)}] seq ${t.seq}${ack}` +
      ` win ${t.window} len ${t.payload.length}`
    );
  }
  if (protocol === IpProtocol.UDP) {
    const r = udp.parse(payload);
    if (!r.ok) return `${src} > ${dst} UDP ${malformed(r.error)}`;
    return `${host(src)}:${r.value.srcPort} > ${host(dst)}:${r.value.dstPort} UDP len ${r.value.payload.length}`;
  }
  if (protocol === IpProtocol.ICMP || protocol === IpProtocol.ICMPV6) {
    const view =
      protocol === IpProtocol.ICMP ? new icmpv4.Icmpv4View().wrap(payload) : new icmpv6.Icmpv6View().wrap(payload);
    const e = view.check();
    const label = protocol === IpProtocol.ICMP ? "ICMP" : "ICMPv6";
    if (e !== null) return `${src} > ${dst} ${label} ${malformed(e)}`;
    const names = protocol === IpProtocol.ICMP ? ICMPV4_NAMES : ICMPV6_NAMES;
    const name = names.get(view.type) ?? `type ${view.type}`;
    return `${src} > ${dst} ${label} ${name} code ${view.code} len ${payload.length}`;
  }
  return `${src} > ${dst} ${protocolName(protocol)} len ${payload.length}`;
}

function describeIp(data: Uint8Array, version: number): string {
  if (version === ipv4.IPV4_VERSION) {
    const r = ipv4.parse(data);
    if (!r.ok) return `IPv4 ${malformed(r.error)}`;
    const p = r.value;
    const src = formatIpv4(p.src);
    const dst = formatIpv4(p.dst);
    if (p.fragmentOffset !== 0)
      return `${src} > ${dst} ${protocolName(p.protocol)} fragment offset ${p.fragmentOffset * 8}`;
    return transport(p.protocol, p.payload, src, dst, false);
  }
  if (version === ipv6.IPV6_VERSION) {
    const r = ipv6.parse(data);
    if (!r.ok) return `IPv6 ${malformed(r.error)}`;
    const p = r.value;
    const src = formatIpv6(p.src);
    const dst = formatIpv6(p.dst);
    const nonFirstFragment = p.extensions.some((x) => x.kind === "fragment" && x.fragmentOffset !== 0);
    if (nonFirstFragment) return `${src} > ${dst} ${protocolName(p.nextHeader)} fragment`;
    return transport(p.nextHeader, p.payload, src, dst, true);
  }
  return `IP version ${version} len ${data.length}`;
}

const ETHERTYPE_NAMES = new Map<number, string>([[EtherType.ARP, "ARP"]]);

/** One-line decode of a packet's bytes for its link type (Ethernet, raw IP, IPv4, IPv6; others by number). */
export function describePacket(linkType: number, data: Uint8Array): string {
  const version = data.length > 0 ? data[0] >>> 4 : 0;
  switch (linkType) {
    case LinkType.RAW:
      return data.length === 0 ? "empty" : describeIp(data, version);
    case LinkType.IPV4:
      return describeIp(data, ipv4.IPV4_VERSION);
    case LinkType.IPV6:
      return describeIp(data, ipv6.IPV6_VERSION);
    case LinkType.ETHERNET: {
      const r = ethernet.parse(data);
      if (!r.ok) return `Ethernet ${malformed(r.error)}`;
      const f = r.value;
      const vlan = f.vlan ? `vlan ${f.vlan.vid} ` : "";
      if (f.etherType === EtherType.IPV4) return vlan + describeIp(f.payload, ipv4.IPV4_VERSION);
      if (f.etherType === EtherType.IPV6) return vlan + describeIp(f.payload, ipv6.IPV6_VERSION);
      const name = ETHERTYPE_NAMES.get(f.etherType) ?? `ethertype 0x${f.etherType.toString(16).padStart(4, "0")}`;
      return `${vlan}${name} len ${f.payload.length}`;
    }
    default:
      return `linktype ${linkType} len ${data.length}`;
  }
}

export function summarizeRecord(index: number, record: CaptureRecord): PacketSummary {
  return {
    index,
    time: formatTimestamp(record.timestampNs),
    timestampNs: record.timestampNs.toString(),
    length: record.originalLength,
    captured: record.data.length,
    summary: describePacket(record.linkType, record.data),
    comment: record.comment ?? null,
  };
}

/** Streams a capture file's packets as summaries; throws the reader's CaptureError or fs error on a bad file. */
export async function* summarizeCapture(path: string): AsyncGenerator<PacketSummary, void, undefined> {
  let index = 0;
  for await (const record of openCapture(path)) yield summarizeRecord(++index, record);
}

/** `TIME LENGTH SUMMARY`, then `# comment` when the packet carries one (pcapng opt_comment). */
export function formatSummaryLine(s: PacketSummary): string {
  const length = s.captured < s.length ? `${s.length} (${s.captured} captured)` : String(s.length);
  const comment = s.comment === null ? "" : ` # ${s.comment.replace(/\n/g, " | ")}`;
  return `${s.time} ${length} ${s.summary}${comment}`;
}
