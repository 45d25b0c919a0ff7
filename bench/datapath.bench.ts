// W1 of PERFORMANCE.md: established TCP packets forwarded through the seed router (masquerade + `ct state` filter,
// the whole receive path: parse, conntrack, NAT, routing, forward and postrouting hooks, confirm, transmit) with
// 100k concurrent flows and 30% of packets in the reply direction. The flows are opened by real handshakes first;
// then the 1M timed packets lie in a capture in arrival order (PERFORMANCE.md: the engine and the kernel are fed
// "the same capture"), and each is copied from it into the next buffer of a small receive ring (as a NIC writes
// each frame into the next descriptor's buffer) before it is sent, because NAT rewrites in place and forwarding
// decrements the TTL. W1 itself runs the node as a forwarder is built for volume: its ring is the
// compiled fast path's (DatapathOptions.fastPath) and packets arrive in bursts of BURST (Datapath.receiveBurst: the
// burst's table accesses read ahead, then runs of packets through the compiled path in one call); `-js` measures
// the JavaScript early path, packet by packet, as before. `engine.bytes-per-flow` lives in conntrack.bench.ts.
import type { DatapathSink, Disposition } from "../src/engine/datapath.js";
import { LAN, WAN, seedRouter, seedRuleset, tcpPacket } from "../src/engine/datapath.fixture.js";
import type { Datapath } from "../src/engine/datapath.js";
import { TcpFlag } from "../src/engine/packet-meta.js";
import { SeededRng } from "../src/engine/rng.js";
import { R } from "../src/engine/conntrack/entry-layout.js";
import { defineSuite, nsPerOp } from "./harness.js";

/** W1's flow count; the companion measure runs the same path with few enough flows that all stay in cache. */
const FLOWS = 100_000;
const CACHED_FLOWS = 200;
const OPS = 1_000_000;
const REPLY_PERCENT = 30;
/** 200 LAN hosts × 500 source ports; each host talks to its own server so masquerade preserves every port. */
const HOSTS = 200;
const HOST_BASE = 2;
const PORT_BASE = 10_000;
const SERVER_PORT = 443;
const CLIENT_ISN = 1000;
const SERVER_ISN = 50_000;
/** IPv4 (20) + TCP (20) without options: the ACK segments of the timed loop. */
const SEGMENT = 40;
const SEGMENT_WORDS = SEGMENT / 4;
/** The receive ring: packet k lands in buffer k % RING, so every packet starts from fresh, unmodified bytes. */
const RING = 256;
/** Packets per burst (a NAPI poll's budget is 64; 32 read ahead best here, BENCHMARKS.md). */
const BURST = 32;

const host = (i: number): string => `192.168.1.${HOST_BASE + (i % HOSTS)}`;
const server = (i: number): string => `203.0.113.${1 + (i % HOSTS)}`;
const port = (i: number): number => PORT_BASE + Math.floor(i / HOSTS);

/** A router with `flows` established connections and the capture of the timed packets. */
interface Workload {
  readonly router: Datapath;
  /** The receive ring packets are copied into (the compiled path's, or an array of its own), and its words. */
  readonly ring: Uint8Array;
  readonly ring32: Uint32Array;
  /** Whether packets arrive in bursts read ahead (the compiled path's way) or one by one. */
  readonly bursts: boolean;
  /** The timed packets in arrival order, SEGMENT bytes each, as words. */
  readonly capture32: Uint32Array;
  /** Buffer slot (flow * 2 + direction) of every timed packet, and whether it is a reply (arrives on wan). */
  readonly slots: Int32Array;
}

/** Copies the capture's packet `k` into ring buffer `buf`, word by word (no view allocated). */
function restore(ring32: Uint32Array, capture32: Uint32Array, k: number, buf: number): void {
  const from = k * SEGMENT_WORDS;
  const to = buf * SEGMENT_WORDS;
  for (let j = 0; j < SEGMENT_WORDS; j++) ring32[to + j] = capture32[from + j];
}

let transmitted = 0;
const countingSink: DatapathSink = {
  transmit(): void {
    transmitted++;
  },
  deliver(): void {
    throw new Error("no packet of the workload is addressed to the router");
  },
};

function expectForwarded(what: string, d: { kind: string }): void {
  if (d.kind !== "forwarded") throw new Error(`${what} was ${d.kind}, not forwarded`);
}

/** `compiled`: the router has the WebAssembly fast path and packets arrive in its ring, in bursts read ahead. */
function buildWorkload(flows: number, compiled: boolean): Workload {
  const fastPath = compiled ? { fastPath: { ringBytes: RING * SEGMENT } } : {};
  const router = seedRouter(seedRuleset(), { conntrack: { maxEntries: 1 << 18 }, ...fastPath });
  const ring = router.receiveRing ?? new Uint8Array(RING * SEGMENT);
  const pristine = new Uint8Array(flows * 2 * SEGMENT);
  const sink: DatapathSink = {
    transmit(): void {},
    deliver(): void {},
  };
  for (let i = 0; i < flows; i++) {
    const h = host(i);
    const s = server(i);
    const p = port(i);
    const syn = tcpPacket(h, p, s, SERVER_PORT, { flags: TcpFlag.SYN, seq: CLIENT_ISN });
    expectForwarded(`flow ${i} SYN`, router.receive(syn, 0, syn.length, LAN, 0, sink));
    const synAck = tcpPacket(s, SERVER_PORT, "198.51.100.2", p, {
      flags: TcpFlag.SYN | TcpFlag.ACK,
      seq: SERVER_ISN,
      ack: CLIENT_ISN + 1,
    });
    expectForwarded(`flow ${i} SYN/ACK`, router.receive(synAck, 0, synAck.length, WAN, 0, sink));
    const out = tcpPacket(h, p, s, SERVER_PORT, { flags: TcpFlag.ACK, seq: CLIENT_ISN + 1, ack: SERVER_ISN + 1 });
    const back = tcpPacket(s, SERVER_PORT, "198.51.100.2", p, {
      flags: TcpFlag.ACK,
      seq: SERVER_ISN + 1,
      ack: CLIENT_ISN + 1,
    });
    if (out.length !== SEGMENT || back.length !== SEGMENT) throw new Error("unexpected segment size");
    pristine.set(out, 2 * i * SEGMENT);
    pristine.set(back, (2 * i + 1) * SEGMENT);
    const ack = out.slice();
    expectForwarded(`flow ${i} ACK`, router.receive(ack, 0, ack.length, LAN, 0, sink));
  }
  if (router.conntrack.count() !== flows)
    throw new Error(`expected ${flows} entries, have ${router.conntrack.count()}`);
  const rng = new SeededRng(1);
  const slots = new Int32Array(OPS);
  for (let k = 0; k < OPS; k++) {
    const flow = rng.nextU32() % flows;
    const reply = rng.nextU32() % 100 < REPLY_PERCENT ? 1 : 0;
    slots[k] = flow * 2 + reply;
  }
  const ring32 = new Uint32Array(ring.buffer, ring.byteOffset, ring.length / 4);
  const capture = new Uint8Array(OPS * SEGMENT);
  for (let k = 0; k < OPS; k++)
    capture.set(pristine.subarray(slots[k] * SEGMENT, (slots[k] + 1) * SEGMENT), k * SEGMENT);
  return { router, ring, ring32, bursts: compiled, capture32: new Uint32Array(capture.buffer), slots };
}

const burstL3 = new Int32Array(BURST);
const burstLengths = new Int32Array(BURST).fill(SEGMENT);
const burstIifs = new Int32Array(BURST);
const burstOut: Disposition[] = [];

/**
 * One batch: copy each packet's bytes into the ring (40 bytes) and send it through the router — a burst at a time
 * (Datapath.receiveBurst), or one by one.
 */
function forwardBatch(w: Workload): number {
  const { router, ring, ring32, capture32, slots } = w;
  transmitted = 0;
  let established = 0;
  for (let k0 = 0; k0 < OPS; k0 += BURST) {
    if (w.bursts) {
      for (let j = 0; j < BURST; j++) {
        const buf = (k0 + j) & (RING - 1);
        restore(ring32, capture32, k0 + j, buf);
        burstL3[j] = buf * SEGMENT;
        burstIifs[j] = (slots[k0 + j] & 1) === 1 ? WAN : LAN;
      }
      router.receiveBurst(ring, burstL3, burstLengths, burstIifs, BURST, 1000, countingSink, burstOut);
      for (let j = 0; j < BURST; j++) if (burstOut[j].kind === "forwarded") established++;
      continue;
    }
    for (let k = k0; k < k0 + BURST; k++) {
      const buf = k & (RING - 1);
      restore(ring32, capture32, k, buf);
      const d = router.receive(ring, buf * SEGMENT, SEGMENT, (slots[k] & 1) === 1 ? WAN : LAN, 1000, countingSink);
      if (d.kind === "forwarded") established++;
    }
  }
  if (established !== OPS || transmitted !== OPS) throw new Error(`only ${established}/${OPS} packets were forwarded`);
  return established;
}

/** The restore alone, to separate it from the datapath's own cost. */
function restoreBatch(w: Workload): number {
  let acc = 0;
  for (let k = 0; k < OPS; k++) {
    const buf = k & (RING - 1);
    restore(w.ring32, w.capture32, k, buf);
    acc += w.ring[buf * SEGMENT + 9];
  }
  return acc;
}

/**
 * W1's memory traffic without the engine: per packet the capture's next packet copied into the ring, then a hash-index
 * slot read at the flow direction's place and the conntrack record it names read (tuple, status, plans, expiry,
 * the TCP words) and written (expiry and four TCP words) — in arrays of the sizes the engine's table has at 100k
 * flows (R.STRIDE words per entry, entries in allocation order, the index at conntrack.ts' load of 0.75), in W1's
 * packet order. What the machine charges at this moment for those accesses, which W1 cannot go below.
 */
interface MemoryFloor {
  readonly records: Uint32Array;
  /** Open-addressed, linear probing: a flow direction (flow * 2 + reply) from its hash's home slot on. */
  readonly index: Int32Array;
}

const INDEX_LOAD = 0.75;
/** The record words an established packet reads besides its tuple: status, plans, expiry and the TCP state. */
const RECORD_READ_FROM = R.STATUS;
const TCP_WRITES = 4;

/** A flow direction's home slot: a multiplicative hash (the engine hashes the tuple; what matters is the scatter). */
function homeSlot(node: number, slots: number): number {
  return (Math.imul(node + 1, 0x9e3779b1) >>> 0) % slots;
}

function buildMemoryFloor(flows: number): MemoryFloor {
  const records = new Uint32Array(flows * R.STRIDE);
  const index = new Int32Array(Math.ceil((flows * 2) / INDEX_LOAD)).fill(-1);
  for (let node = 0; node < flows * 2; node++) {
    let at = homeSlot(node, index.length);
    while (index[at] !== -1) at = at + 1 === index.length ? 0 : at + 1;
    index[at] = node;
  }
  return { records, index };
}

function memoryFloorBatch(w: Workload, m: MemoryFloor): number {
  const { capture32, slots } = w;
  const { records, index } = m;
  let acc = 0;
  for (let k = 0; k < OPS; k++) {
    const slot = slots[k];
    const buf = k & (RING - 1);
    restore(w.ring32, capture32, k, buf);
    let at = homeSlot(slot, index.length);
    while (index[at] !== slot) at = at + 1 === index.length ? 0 : at + 1;
    const node = index[at];
    const r = (node >> 1) * R.STRIDE;
    const t = r + (node & 1) * R.TUPLE_WORDS;
    acc ^= records[t] ^ records[t + 1] ^ records[t + 2] ^ w.ring32[buf * SEGMENT_WORDS + 3];
    for (let i: number = RECORD_READ_FROM; i < R.STRIDE; i++) acc ^= records[r + i];
    records[r + R.EXPIRES] = k;
    for (let i = 0; i < TCP_WRITES; i++) records[r + R.TCP + i] = acc;
  }
  return acc;
}

let w1: Workload | null = null;
let floor: MemoryFloor | null = null;
let cached: Workload | null = null;

export default defineSuite("datapath", [
  {
    id: "engine.established-ns-per-packet",
    unit: "ns/packet",
    setup: () => {
      w1 = buildWorkload(FLOWS, true);
    },
    run: () => nsPerOp(OPS, () => forwardBatch(w1!)),
    runs: 5,
    lowerIsBetter: true,
  },
  {
    id: "engine.established-restore-ns-per-packet",
    unit: "ns/packet",
    setup: () => {
      w1 ??= buildWorkload(FLOWS, true);
    },
    run: () => nsPerOp(OPS, () => restoreBatch(w1!)),
    runs: 5,
    lowerIsBetter: true,
  },
  {
    id: "engine.established-memory-floor-ns-per-packet",
    unit: "ns/packet",
    setup: () => {
      w1 ??= buildWorkload(FLOWS, true);
      floor = buildMemoryFloor(FLOWS);
    },
    run: () => nsPerOp(OPS, () => memoryFloorBatch(w1!, floor!)),
    runs: 5,
    lowerIsBetter: true,
  },
  {
    // W1's path and packet mix with 200 flows, whose records all stay in cache: the CPU work alone, steady from run
    // to run, where the 100k-flow figure moves with this shared machine's memory latency.
    id: "engine.established-ns-per-packet-200-flows",
    unit: "ns/packet",
    setup: () => {
      w1 = null;
      floor = null;
      cached = buildWorkload(CACHED_FLOWS, true);
    },
    run: () => nsPerOp(OPS, () => forwardBatch(cached!)),
    runs: 5,
    lowerIsBetter: true,
  },
  {
    // W1 on the JavaScript early path, packet by packet (the node without DatapathOptions.fastPath).
    id: "engine.established-ns-per-packet-js",
    unit: "ns/packet",
    setup: () => {
      cached = null;
      w1 = buildWorkload(FLOWS, false);
    },
    run: () => nsPerOp(OPS, () => forwardBatch(w1!)),
    runs: 5,
    lowerIsBetter: true,
  },
  {
    id: "engine.established-ns-per-packet-js-200-flows",
    unit: "ns/packet",
    setup: () => {
      w1 = null;
      cached = buildWorkload(CACHED_FLOWS, false);
    },
    run: () => nsPerOp(OPS, () => forwardBatch(cached!)),
    runs: 5,
    lowerIsBetter: true,
  },
]);
