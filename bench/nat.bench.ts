// NAT and routing hot paths (PERFORMANCE.md W1): the per-packet SNAT rewrite of an established flow (conntrack's
// tuples read, addresses/port/checksums rewritten in place) and a FIB longest-prefix lookup. Setups build real
// flows through the NAT engine and check the rewritten bytes before anything is timed.
import { CtState, PacketMeta } from "../src/engine/packet-meta.js";
import { SeededRng } from "../src/engine/rng.js";
import { Fib } from "../src/engine/route/index.js";
import { Manip } from "../src/engine/nat/index.js";
import { LAN, TestRouter } from "../src/engine/nat/nat.fixture.js";
import { badChecksums, udpPacket } from "../src/engine/nat/packets.fixture.js";
import { defineSuite, nsPerOp } from "./harness.js";

const FLOWS = 10_000;
const REWRITE_OPS = 2_000_000;
const ROUTES = 1_000;
const PROBES = 1 << 16;
const LOOKUP_OPS = 2_000_000;

let router: TestRouter | null = null;
let pristine: Uint8Array[] = [];
let work: Uint8Array[] = [];
let entries = new Int32Array(0);
const meta = new PacketMeta();

function setupRewrite(): void {
  const r = new TestRouter({}, {}, FLOWS * 2);
  pristine = [];
  work = [];
  entries = new Int32Array(FLOWS);
  for (let i = 0; i < FLOWS; i++) {
    const host = `192.168.${1 + (i >>> 8)}.${i & 255}`;
    const p = udpPacket(host, 10_000 + (i % 50_000), "203.0.113.66", 443, new Uint8Array(18));
    const first = r.receive(p.slice(), LAN);
    if (first.kind !== "forwarded") throw new Error(`flow ${i} was not forwarded: ${first.kind}`);
    entries[i] = first.meta.ctEntry;
    pristine.push(p);
    work.push(p.slice());
  }
  // Check the timed path on one packet: translate must give what the first packet got, with valid checksums.
  const check = work[0];
  check.set(pristine[0]);
  prepare(0);
  r.nat.translate(meta, Manip.SRC);
  if (badChecksums(check).length !== 0 || check[12] !== 198) throw new Error("rewrite check failed");
  router = r;
}

function prepare(i: number): void {
  const p = work[i];
  meta.bytes = p;
  meta.l3 = 0;
  meta.l4 = 20;
  meta.length = p.length;
  meta.family = 4;
  meta.proto = 17;
  meta.ctEntry = entries[i];
  meta.ctDir = 0;
  meta.ctState = CtState.ESTABLISHED;
}

function rewriteBatch(withNat: boolean): number {
  const nat = router!.nat;
  let acc = 0;
  for (let k = 0; k < REWRITE_OPS; k++) {
    const i = k % FLOWS;
    work[i].set(pristine[i]);
    prepare(i);
    if (withNat) nat.translate(meta, Manip.SRC);
    acc += work[i][11];
  }
  return acc;
}

let fib = new Fib();
const probes = new Uint32Array(PROBES);

function setupFib(): void {
  const rng = new SeededRng(4242);
  fib = new Fib();
  fib.addAddress(1, 4, [0xc0a80101], 24);
  fib.addAddress(2, 4, [0xc6336402], 24);
  fib.addRoute({ family: 4, prefix: [0], prefixLength: 0, oif: 2, gateway: [0xc6336401] });
  for (let i = 0; i < ROUTES; i++) {
    fib.addRoute({ family: 4, prefix: [rng.nextU32()], prefixLength: 8 + (rng.nextU32() % 25), oif: 1 + (i % 2) });
  }
  for (let i = 0; i < PROBES; i++) probes[i] = rng.nextU32();
}

const addr = new Uint32Array(4);

function lookupBatch(): number {
  let acc = 0;
  for (let k = 0; k < LOOKUP_OPS; k++) {
    addr[0] = probes[k & (PROBES - 1)];
    const r = fib.lookup(4, addr);
    acc += r === null ? 0 : r.prefixLength;
  }
  return acc;
}

export default defineSuite("nat", [
  {
    id: "engine.nat-rewrite-ns",
    unit: "ns/packet",
    lowerIsBetter: true,
    setup: setupRewrite,
    // The packet is restored from a pristine copy before each rewrite; that copy loop is timed alone and subtracted.
    run: () => nsPerOp(REWRITE_OPS, () => rewriteBatch(true)) - nsPerOp(REWRITE_OPS, () => rewriteBatch(false)),
  },
  {
    id: "engine.fib-lookup-ns",
    unit: "ns/lookup",
    lowerIsBetter: true,
    setup: setupFib,
    run: () => nsPerOp(LOOKUP_OPS, lookupBatch),
  },
]);
