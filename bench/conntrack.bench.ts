// Conntrack hot path (PERFORMANCE.md W1): one track() of an ESTABLISHED TCP packet with 100k live flows, in a
// random flow order so the table is read as a router under load would read it, and the memory the table's typed
// arrays take per flow (the kernel spends 256 bytes; the target is 64).
import { Conntrack } from "../src/engine/conntrack/index.js";
import { CtState, PacketMeta, Proto, TcpFlag } from "../src/engine/packet-meta.js";
import { SeededRng } from "../src/engine/rng.js";
import { defineSuite, nsPerOp } from "./harness.js";

const FLOWS = 100_000;
const OPS = 1_000_000;
const DATA = 100;
const CLIENT_BASE = 0x0a000000; // 10.0.0.0/8 clients
const SERVER = 0xcb007142; // 203.0.113.66
const SERVER_PORT = 443;
const CLIENT_ISN = 1000;
const SERVER_ISN = 5000;

let ct = new Conntrack({ maxEntries: FLOWS, profile: "linux" });
const meta = new PacketMeta();
const clientSeq = new Uint32Array(FLOWS);
const order = new Uint32Array(OPS);

function segment(
  src: number,
  sport: number,
  dst: number,
  dport: number,
  flags: number,
  seq: number,
  ack: number,
): void {
  meta.family = 4;
  meta.proto = Proto.TCP;
  meta.saddr[0] = src;
  meta.daddr[0] = dst;
  meta.sport = sport;
  meta.dport = dport;
  meta.tcpFlags = flags;
  meta.seq = seq;
  meta.ack = ack;
  meta.window = 65535;
  meta.payloadLength = flags & TcpFlag.PSH ? DATA : 0;
  meta.notrack = false;
}

const clientAddr = (i: number): number => (CLIENT_BASE + (i >>> 6)) >>> 0;
const clientPort = (i: number): number => 1024 + (i & 63);

function establish(): void {
  ct = new Conntrack({ maxEntries: FLOWS, profile: "linux" });
  for (let i = 0; i < FLOWS; i++) {
    const a = clientAddr(i);
    const p = clientPort(i);
    segment(a, p, SERVER, SERVER_PORT, TcpFlag.SYN, CLIENT_ISN, 0);
    ct.track(meta, 0);
    ct.confirm(meta, 0);
    segment(SERVER, SERVER_PORT, a, p, TcpFlag.SYN | TcpFlag.ACK, SERVER_ISN, CLIENT_ISN + 1);
    ct.track(meta, 0);
    segment(a, p, SERVER, SERVER_PORT, TcpFlag.ACK, CLIENT_ISN + 1, SERVER_ISN + 1);
    ct.track(meta, 0);
    if (meta.ctState !== CtState.ESTABLISHED) throw new Error(`flow ${i} did not establish`);
    clientSeq[i] = CLIENT_ISN + 1;
  }
  if (ct.count() !== FLOWS) throw new Error(`expected ${FLOWS} flows, have ${ct.count()}`);
  const rng = new SeededRng(100_000);
  for (let k = 0; k < OPS; k++) order[k] = rng.nextU32() % FLOWS;
}

function establishedBatch(): number {
  let acc = 0;
  for (let k = 0; k < OPS; k++) {
    const i = order[k];
    segment(clientAddr(i), clientPort(i), SERVER, SERVER_PORT, TcpFlag.ACK | TcpFlag.PSH, clientSeq[i], SERVER_ISN + 1);
    clientSeq[i] += DATA;
    ct.track(meta, 1);
    acc += meta.ctState;
  }
  if (acc !== OPS * CtState.ESTABLISHED) throw new Error("a packet of an established flow was not ESTABLISHED");
  return acc;
}

export default defineSuite("conntrack", [
  {
    id: "engine.conntrack-established-lookup-ns",
    unit: "ns/packet",
    run: () => {
      // Reset the flows' sequence space so every run sends in-window data (the server never ACKs in this loop).
      establish();
      return nsPerOp(OPS, establishedBatch);
    },
    runs: 5,
    lowerIsBetter: true,
  },
  {
    id: "engine.bytes-per-flow",
    unit: "bytes/flow",
    run: () => {
      establish();
      return ct.tableBytes() / ct.count();
    },
    runs: 1,
    lowerIsBetter: true,
  },
]);
