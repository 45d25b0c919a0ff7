// Wire-layer hot paths (PERFORMANCE.md "What JavaScript can do"): the 5-tuple read through the views, a full repr
// parse for contrast, checksums over full-size packets and the RFC 1624 update NAT does per rewrite. Every measure
// times a batch over preloaded typed arrays with one clock read either side, and consumes an accumulator so V8
// cannot drop the work. Setups check the work is right (same tuple both ways, checksums that verify).
import { SeededRng } from "../src/engine/rng.js";
import { readU16, readU32, writeU16, writeU32 } from "../src/wire/bytes.js";
import { internetChecksum, updateChecksum16, updateChecksum32 } from "../src/wire/checksum.js";
import * as ethernet from "../src/wire/ethernet.js";
import { EtherType, EthernetField, EthernetView, ETHERNET_HEADER_LEN } from "../src/wire/ethernet.js";
import { dataViewOf, FiveTuple, FiveTupleStatus, readFiveTuple } from "../src/wire/five-tuple.js";
import * as ipv4 from "../src/wire/ipv4.js";
import { IpProtocol, Ipv4Field, Ipv4View } from "../src/wire/ipv4.js";
import * as tcp from "../src/wire/tcp.js";
import { TcpField, TcpFlags, TcpView, type TcpOption } from "../src/wire/tcp.js";
import * as udp from "../src/wire/udp.js";
import { UdpField, UdpView } from "../src/wire/udp.js";
import { defineSuite, nsPerOp } from "./harness.js";

const MTU = 1500;
/** 2 MiB of distinct full-size packets: larger than L2, so the checksum reads memory as a router would. */
const CHECKSUM_PACKETS = 1400;
const CHECKSUM_OPS = 40_000;

const REWRITES = 1 << 16;
const REWRITE_OPS = 4_000_000;

let mtuPackets = new Uint8Array(0);

function buildMtuPackets(): void {
  const rng = new SeededRng(1500);
  mtuPackets = new Uint8Array(CHECKSUM_PACKETS * MTU);
  for (let i = 0; i < mtuPackets.length; i += 4) {
    const r = rng.nextU32();
    mtuPackets[i] = r & 0xff;
    mtuPackets[i + 1] = (r >>> 8) & 0xff;
    mtuPackets[i + 2] = (r >>> 16) & 0xff;
    mtuPackets[i + 3] = r >>> 24;
  }
}

function checksumBatch(): number {
  let acc = 0;
  for (let k = 0, p = 0; k < CHECKSUM_OPS; k++) {
    acc += internetChecksum(mtuPackets, p * MTU, MTU);
    if (++p === CHECKSUM_PACKETS) p = 0;
  }
  return acc;
}

/**
 * One NAT rewrite's worth of checksum work, as a SNAT of a TCP packet does it (nf_nat_proto.c): the IPv4 header
 * checksum follows the source address; the TCP checksum follows the address (pseudo-header) and the port.
 */
const rewrite = {
  ipChecksum: new Uint16Array(0),
  l4Checksum: new Uint16Array(0),
  oldAddr: new Uint32Array(0),
  newAddr: new Uint32Array(0),
  oldPort: new Uint16Array(0),
  newPort: new Uint16Array(0),
};

function buildRewrites(): void {
  const rng = new SeededRng(1624);
  rewrite.ipChecksum = new Uint16Array(REWRITES);
  rewrite.l4Checksum = new Uint16Array(REWRITES);
  rewrite.oldAddr = new Uint32Array(REWRITES);
  rewrite.newAddr = new Uint32Array(REWRITES);
  rewrite.oldPort = new Uint16Array(REWRITES);
  rewrite.newPort = new Uint16Array(REWRITES);
  for (let i = 0; i < REWRITES; i++) {
    rewrite.ipChecksum[i] = rng.nextU32() & 0xffff;
    rewrite.l4Checksum[i] = rng.nextU32() & 0xffff;
    rewrite.oldAddr[i] = rng.nextU32();
    rewrite.newAddr[i] = rng.nextU32();
    rewrite.oldPort[i] = rng.nextU32() & 0xffff;
    rewrite.newPort[i] = rng.nextU32() & 0xffff;
  }
  assertIncrementalMatchesFull();
}

/**
 * The measured arithmetic must be what a correct SNAT does, or the figure means nothing: apply it to real emitted
 * IPv4+TCP packets (new source address and port) and check both checksums verify afterwards.
 */
function assertIncrementalMatchesFull(): void {
  const rng = new SeededRng(7);
  for (let trial = 0; trial < 256; trial++) {
    const packet = buildIpv4Tcp(rng, trial);
    const ipAt = 0;
    const tcpAt = (packet[Ipv4Field.VER_IHL] & 0x0f) * 4;
    const oldAddr = readU32(packet, ipAt + Ipv4Field.SRC);
    const oldPort = readU16(packet, tcpAt + TcpField.SRC_PORT);
    const newAddr = rng.nextU32();
    const newPort = rng.nextU32() & 0xffff;
    const ip = updateChecksum32(readU16(packet, ipAt + Ipv4Field.CHECKSUM), oldAddr, newAddr);
    const l4 = updateChecksum16(
      updateChecksum32(readU16(packet, tcpAt + TcpField.CHECKSUM), oldAddr, newAddr),
      oldPort,
      newPort,
    );
    writeU32(packet, ipAt + Ipv4Field.SRC, newAddr);
    writeU16(packet, tcpAt + TcpField.SRC_PORT, newPort);
    writeU16(packet, ipAt + Ipv4Field.CHECKSUM, ip);
    writeU16(packet, tcpAt + TcpField.CHECKSUM, l4);
    const pseudo = { family: 4, src: newAddr, dst: readU32(packet, ipAt + Ipv4Field.DST) } as const;
    if (!ipv4.verifyChecksum(packet, ipAt) || !tcp.verifyChecksum(packet, tcpAt, packet.length - tcpAt, pseudo)) {
      throw new Error(`RFC 1624 update left a wrong checksum in rewritten packet ${trial}`);
    }
  }
}

function rewriteBatch(): number {
  const { ipChecksum, l4Checksum, oldAddr, newAddr, oldPort, newPort } = rewrite;
  let acc = 0;
  for (let k = 0; k < REWRITE_OPS; k++) {
    const i = k & (REWRITES - 1);
    const ip = updateChecksum32(ipChecksum[i], oldAddr[i], newAddr[i]);
    const l4 = updateChecksum16(updateChecksum32(l4Checksum[i], oldAddr[i], newAddr[i]), oldPort[i], newPort[i]);
    acc = (acc + ip + l4) | 0;
  }
  return acc;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing: the 5-tuple through the views (the datapath's path) and a full repr parse (the slow path).

const FRAMES = 16_384;
const PARSE_OPS = 4_000_000;
/** The parse loops reach their steady state only on the third call (OSR code first; measured: ~12, ~11.5, then ~9). */
const PARSE_WARMUPS = 3;
const REPR_OPS = 400_000;
/** 192.0.2.0/24 and 198.51.100.0/24 (RFC 5737): documentation addresses only. */
const TEST_NET_1 = 0xc0000200;
const TEST_NET_2 = 0xc6336400;
const MAC_A = new Uint8Array([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
const MAC_B = new Uint8Array([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]);

/** Real-looking TCP options: a SYN's MSS/SACK-permitted/timestamps/window-scale, or a data segment's timestamps. */
function tcpOptions(rng: SeededRng, syn: boolean): TcpOption[] {
  const timestamps: TcpOption = { kind: "timestamps", tsval: rng.nextU32(), tsecr: syn ? 0 : rng.nextU32() };
  return syn
    ? [
        { kind: "mss", value: 1460 },
        { kind: "sack-permitted" },
        timestamps,
        { kind: "nop" },
        { kind: "window-scale", shift: 7 },
      ]
    : [{ kind: "nop" }, { kind: "nop" }, timestamps];
}

function ipv4Repr(rng: SeededRng, protocol: number, payload: Uint8Array): ipv4.Ipv4Repr {
  return {
    dscp: 0,
    ecn: 0,
    ident: rng.nextU32() & 0xffff,
    reservedFlag: false,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol,
    checksum: 0,
    src: (TEST_NET_1 | (rng.nextU32() & 0xff)) >>> 0,
    dst: (TEST_NET_2 | (rng.nextU32() & 0xff)) >>> 0,
    options: new Uint8Array(0),
    payload,
  };
}

/** An IPv4+TCP packet with options and 0–63 payload bytes, emitted by the wire modules (correct checksums). */
function buildIpv4Tcp(rng: SeededRng, i: number): Uint8Array {
  const syn = i % 4 === 0;
  const data = new Uint8Array(syn ? 0 : rng.nextU32() & 0x3f);
  const header = ipv4Repr(rng, IpProtocol.TCP, new Uint8Array(0));
  const segment = tcp.emit(
    {
      srcPort: 1024 + (rng.nextU32() % 64_000),
      dstPort: [22, 80, 443, 8080][i & 3],
      seq: rng.nextU32(),
      ack: syn ? 0 : rng.nextU32(),
      flags: syn ? TcpFlags.SYN : TcpFlags.ACK | TcpFlags.PSH,
      window: 64_240,
      checksum: 0,
      urgent: 0,
      options: tcpOptions(rng, syn),
      payload: data,
    },
    { family: 4, src: header.src, dst: header.dst },
  );
  return ipv4.emit({ ...header, payload: segment });
}

function buildIpv4Udp(rng: SeededRng): Uint8Array {
  const header = ipv4Repr(rng, IpProtocol.UDP, new Uint8Array(0));
  const datagram = udp.emit(
    {
      srcPort: 1024 + (rng.nextU32() % 64_000),
      dstPort: [53, 123, 443, 3478][rng.nextU32() & 3],
      checksum: 0,
      payload: new Uint8Array(rng.nextU32() & 0x7f),
    },
    { family: 4, src: header.src, dst: header.dst },
  );
  return ipv4.emit({ ...header, payload: datagram });
}

/** Frames (or bare IPv4 packets) laid end to end in one buffer, with their offsets and lengths. */
interface PacketBuffer {
  bytes: Uint8Array;
  offsets: Int32Array;
  lengths: Int32Array;
}

function packPackets(packets: readonly Uint8Array[]): PacketBuffer {
  const offsets = new Int32Array(packets.length);
  const lengths = new Int32Array(packets.length);
  let total = 0;
  packets.forEach((p, i) => {
    offsets[i] = total;
    lengths[i] = p.length;
    total += p.length;
  });
  const bytes = new Uint8Array(total);
  packets.forEach((p, i) => {
    bytes.set(p, offsets[i]);
  });
  return { bytes, offsets, lengths };
}

const EMPTY: PacketBuffer = { bytes: new Uint8Array(0), offsets: new Int32Array(0), lengths: new Int32Array(0) };
let frames = EMPTY;
let framesView: DataView = new DataView(new ArrayBuffer(0));
/** The parse loop reads offsets and lengths from module bindings: destructuring them from `frames` in the batch
 * function cost ~1.4 ns per packet (measured). */
let frameOffsets: Int32Array = new Int32Array(0);
let frameLengths: Int32Array = new Int32Array(0);
let tcpPackets = EMPTY;

/** 16,384 distinct Ethernet/IPv4 frames, 3/4 TCP (with options) and 1/4 UDP, in random order. */
function buildFrames(): void {
  if (frames !== EMPTY) return;
  const rng = new SeededRng(5);
  const list: Uint8Array[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const packet = rng.nextU32() % 4 === 0 ? buildIpv4Udp(rng) : buildIpv4Tcp(rng, i);
    list.push(ethernet.emit({ dst: MAC_B, src: MAC_A, vlan: null, etherType: EtherType.IPV4, payload: packet }));
  }
  frames = packPackets(list);
  framesView = dataViewOf(frames.bytes);
  frameOffsets = frames.offsets;
  frameLengths = frames.lengths;
  assertFiveTupleAgrees();
}

function buildTcpPackets(): void {
  if (tcpPackets !== EMPTY) return;
  const rng = new SeededRng(6);
  const list: Uint8Array[] = [];
  for (let i = 0; i < FRAMES; i++) list.push(buildIpv4Tcp(rng, i));
  tcpPackets = packPackets(list);
}

const ethView = new EthernetView();
const ipView = new Ipv4View();
const tcpView = new TcpView();
const udpView = new UdpView();

/**
 * The datapath's first step: validate Ethernet, IPv4 and the transport header once, then read the 5-tuple
 * through the view getters. Returns a hash of the tuple (0 when the frame does not carry one).
 */
function fiveTupleViaViews(bytes: Uint8Array, at: number, len: number): number {
  if (ethView.wrap(bytes, at, len).check() !== null || ethView.etherType !== EtherType.IPV4) return 0;
  const ipAt = ethView.payloadOffset;
  if (ipView.wrap(bytes, ipAt, at + len - ipAt).check() !== null || ipView.fragmentOffset !== 0) return 0;
  const protocol = ipView.protocol;
  let ports: number;
  if (protocol === IpProtocol.TCP) {
    if (tcpView.wrap(bytes, ipView.payloadOffset, ipView.payloadLength).check() !== null) return 0;
    ports = (tcpView.srcPort << 16) | tcpView.dstPort;
  } else if (protocol === IpProtocol.UDP) {
    if (udpView.wrap(bytes, ipView.payloadOffset, ipView.payloadLength).check() !== null) return 0;
    ports = (udpView.srcPort << 16) | udpView.dstPort;
  } else return 0;
  return (Math.imul(ipView.src, 0x9e3779b1) ^ ipView.dst ^ protocol ^ ports) | 0;
}

/**
 * The same validation and reads written inline over the named field offsets, without views: the floor the
 * views are measured against.
 */
function fiveTupleRaw(b: Uint8Array, at: number, len: number): number {
  if (len < ETHERNET_HEADER_LEN || readU16(b, at + EthernetField.ETHERTYPE) !== EtherType.IPV4) return 0;
  const ip = at + ETHERNET_HEADER_LEN;
  const ipLen = len - ETHERNET_HEADER_LEN;
  if (ipLen < ipv4.IPV4_HEADER_LEN || b[ip + Ipv4Field.VER_IHL] >>> 4 !== ipv4.IPV4_VERSION) return 0;
  const hl = (b[ip + Ipv4Field.VER_IHL] & 0x0f) * 4;
  const total = readU16(b, ip + Ipv4Field.LENGTH);
  if (hl < ipv4.IPV4_HEADER_LEN || total < hl || total > ipLen) return 0;
  if ((readU16(b, ip + Ipv4Field.FLG_OFF) & 0x1fff) !== 0) return 0;
  const protocol = b[ip + Ipv4Field.PROTOCOL];
  const l4 = ip + hl;
  const l4Len = total - hl;
  if (protocol === IpProtocol.TCP) {
    if (l4Len < tcp.TCP_HEADER_LEN) return 0;
    const thl = (b[l4 + TcpField.DATA_OFF] >>> 4) * 4;
    if (thl < tcp.TCP_HEADER_LEN || thl > l4Len) return 0;
  } else if (protocol === IpProtocol.UDP) {
    if (l4Len < udp.UDP_HEADER_LEN) return 0;
    const ulen = readU16(b, l4 + UdpField.LENGTH);
    if (ulen < udp.UDP_HEADER_LEN || ulen > l4Len) return 0;
  } else return 0;
  // TCP and UDP both start with source port, destination port.
  const ports = readU32(b, l4 + TcpField.SRC_PORT);
  return (
    (Math.imul(readU32(b, ip + Ipv4Field.SRC), 0x9e3779b1) ^ readU32(b, ip + Ipv4Field.DST) ^ protocol ^ ports) | 0
  );
}

const tuple = new FiveTuple();
/** A module constant: reading `FiveTupleStatus.OK` through the import costs a load and a check per packet. */
const TUPLE_OK = FiveTupleStatus.OK;

/** The hot path's reader (src/wire/five-tuple.ts): the same checks over a DataView, into a reused FiveTuple. */
function fiveTupleViaDataView(view: DataView, at: number, len: number): number {
  if (readFiveTuple(view, at, len, "ethernet", tuple) !== TUPLE_OK) return 0;
  const ports = (tuple.sport << 16) | tuple.dport;
  return (Math.imul(tuple.src, 0x9e3779b1) ^ tuple.dst ^ tuple.protocol ^ ports) | 0;
}

/** All three 5-tuple readers must see every frame's tuple, and see the same one. */
function assertFiveTupleAgrees(): void {
  for (let i = 0; i < FRAMES; i++) {
    const viaViews = fiveTupleViaViews(frames.bytes, frames.offsets[i], frames.lengths[i]);
    const raw = fiveTupleRaw(frames.bytes, frames.offsets[i], frames.lengths[i]);
    const fast = fiveTupleViaDataView(framesView, frames.offsets[i], frames.lengths[i]);
    if (viaViews === 0 || viaViews !== raw || viaViews !== fast) {
      throw new Error(`frame ${i}: 5-tuple via views ${viaViews}, raw ${raw}, readFiveTuple ${fast}`);
    }
  }
}

// Three loops written out rather than one taking the reader as an argument: a shared call site would see several
// targets, stay polymorphic and not inline any, and the figure would measure the call, not the parse.
function fiveTupleBatch(): number {
  const offsets = frameOffsets;
  const lengths = frameLengths;
  const view = framesView;
  let acc = 0;
  for (let k = 0; k < PARSE_OPS; k++) {
    const i = k & (FRAMES - 1);
    acc = (acc + fiveTupleViaDataView(view, offsets[i], lengths[i])) | 0;
  }
  return acc;
}

function fiveTupleViewsBatch(): number {
  const { bytes, offsets, lengths } = frames;
  let acc = 0;
  for (let k = 0; k < PARSE_OPS; k++) {
    const i = k & (FRAMES - 1);
    acc = (acc + fiveTupleViaViews(bytes, offsets[i], lengths[i])) | 0;
  }
  return acc;
}

function fiveTupleRawBatch(): number {
  const { bytes, offsets, lengths } = frames;
  let acc = 0;
  for (let k = 0; k < PARSE_OPS; k++) {
    const i = k & (FRAMES - 1);
    acc = (acc + fiveTupleRaw(bytes, offsets[i], lengths[i])) | 0;
  }
  return acc;
}

function reprBatch(): number {
  const { bytes, offsets, lengths } = tcpPackets;
  let acc = 0;
  for (let k = 0; k < REPR_OPS; k++) {
    const i = k & (FRAMES - 1);
    const ip = ipv4.parse(bytes, offsets[i], lengths[i]);
    if (!ip.ok) throw new Error(`packet ${i}: ${ip.error.message}`);
    const payload = ip.value.payload;
    const seg = tcp.parse(payload, 0, payload.length);
    if (!seg.ok) throw new Error(`packet ${i}: ${seg.error.message}`);
    acc = (acc + ip.value.src + seg.value.srcPort + seg.value.options.length) | 0;
  }
  return acc;
}

export default defineSuite("wire", [
  {
    id: "wire.parse-5tuple",
    unit: "ns/packet",
    lowerIsBetter: true,
    warmups: PARSE_WARMUPS,
    setup: buildFrames,
    run: () => nsPerOp(PARSE_OPS, fiveTupleBatch),
  },
  {
    id: "wire.parse-5tuple-views",
    unit: "ns/packet",
    lowerIsBetter: true,
    warmups: PARSE_WARMUPS,
    setup: buildFrames,
    run: () => nsPerOp(PARSE_OPS, fiveTupleViewsBatch),
  },
  {
    id: "wire.parse-5tuple-raw",
    unit: "ns/packet",
    lowerIsBetter: true,
    warmups: PARSE_WARMUPS,
    setup: buildFrames,
    run: () => nsPerOp(PARSE_OPS, fiveTupleRawBatch),
  },
  {
    id: "wire.parse-repr-tcp",
    unit: "ns/packet",
    lowerIsBetter: true,
    setup: buildTcpPackets,
    run: () => nsPerOp(REPR_OPS, reprBatch),
  },
  {
    id: "wire.checksum-1500",
    unit: "ns/packet",
    lowerIsBetter: true,
    setup: buildMtuPackets,
    run: () => nsPerOp(CHECKSUM_OPS, checksumBatch),
  },
  {
    id: "wire.checksum-1500-gbps",
    unit: "GB/s",
    setup: buildMtuPackets,
    // bytes per ns is GB/s.
    run: () => MTU / nsPerOp(CHECKSUM_OPS, checksumBatch),
  },
  {
    id: "wire.checksum-incremental",
    unit: "ns/rewrite",
    lowerIsBetter: true,
    setup: buildRewrites,
    run: () => nsPerOp(REWRITE_OPS, rewriteBatch),
  },
]);
