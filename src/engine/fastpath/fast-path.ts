// The established-packet fast path in WebAssembly (assembly/established.ts): one node's receive ring, conntrack
// records and hash index live in one WebAssembly memory, so the compiled path reads the packet and the entry where
// the JavaScript engine keeps them, and a segment it forwards costs no crossing of data. Used only when a node is
// built with DatapathOptions.fastPath (a forwarder fed through a receive ring, as W1 is); the memory is sized for
// the table's maximum up front and never grows, so the views handed out stay valid.
//
// Layout (bytes): [0, 64 KiB) the module's own; the out area (results, read-ahead scratch); the burst's ring
// offsets; the ring; the plan table (the interface each plan number was made for); the hash index; the records.
import { R } from "../conntrack/entry-layout.js";
import { ESTABLISHED_WASM_BASE64 } from "./established-wasm.js";

const PAGE = 65536;
/** A 32-bit WebAssembly memory: 65,536 pages. */
const MAX_MEMORY = PAGE * PAGE;
const MODULE_BYTES = PAGE;
/** The most packets one read-ahead covers. */
export const MAX_BURST = 256;
const OUT_BYTES = 16 + MAX_BURST * 4;
/** A staged burst: ring offsets, lengths and interfaces (i32 each), then three result words a packet. */
const BURST_WORDS = MAX_BURST * 6;
/** Plan numbers are 16-bit (flow-cache.ts). */
const PLAN_SLOTS = 0x10000;

/** The parts of the WebAssembly JS API used here (the project's libs declare no WebAssembly globals). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
  Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | null = null;

function fastPathModule(): object {
  if (compiled === null) {
    const text = atob(ESTABLISHED_WASM_BASE64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    compiled = new Wasm.Module(bytes);
  }
  return compiled;
}

/** What the compiled path needs to know of the node's conntrack table, fixed for the table's life. */
export interface FastPathTable {
  readonly seed: number;
  readonly slotCount: number;
  readonly homeScale: number;
  readonly nodeBits: number;
  readonly nodeMask: number;
  readonly tagMask: number;
  readonly maxRetrans: number;
  readonly establishedMs: number;
  readonly retransMs: number;
  readonly unackMs: number;
}

interface Exports {
  init(...args: number[]): void;
  established(l3: number, length: number, iif: number, now: number, epoch: number, verify: number): number;
  readAhead(offsets: number, count: number): number;
  burst(
    offsets: number,
    lengths: number,
    iifs: number,
    from: number,
    count: number,
    now: number,
    epoch: number,
    verify: number,
    results: number,
  ): number;
}

const align = (n: number, to: number): number => Math.ceil(n / to) * to;

export class FastPath {
  /** The receive ring: packets placed here (at any offset) may take the compiled path. */
  readonly ring: Uint8Array;
  /** The conntrack records and hash index, for Conntrack's `arena`. */
  readonly rec: Uint32Array;
  readonly slots: Int32Array;
  /** Per plan number, the interface its flow direction arrives by (-1: none). */
  readonly planIif: Int32Array;
  private readonly out: Uint32Array;
  /** The staged burst (see BURST_WORDS): offsets, lengths, interfaces, results. */
  private readonly staged: Int32Array;
  private readonly offsets: Int32Array;
  private readonly offsetsAt: number;
  private readonly ringAt: number;
  private readonly exports: Exports;
  private readonly recAt: number;
  private readonly slotsAt: number;
  private readonly planAt: number;
  private readonly outAt: number;

  /** A memory for a table of `entries` records and `slotCount` index slots, and a ring of `ringBytes`. */
  constructor(entries: number, slotCount: number, ringBytes: number) {
    const outAt = MODULE_BYTES;
    this.offsetsAt = outAt + OUT_BYTES;
    this.ringAt = align(this.offsetsAt + BURST_WORDS * 4, 64);
    const planAt = align(this.ringAt + ringBytes, 64);
    const slotsAt = align(planAt + PLAN_SLOTS * 4, 64);
    const recAt = align(slotsAt + slotCount * 4, 64);
    const end = recAt + entries * R.STRIDE * 4;
    if (!Number.isInteger(ringBytes) || ringBytes <= 0) throw new Error(`fastPath: ringBytes ${String(ringBytes)}`);
    if (end > MAX_MEMORY)
      throw new Error(
        `fastPath: a table of ${String(entries)} entries and a ring of ${String(ringBytes)} bytes need ` +
          `${String(end)} bytes, more than a WebAssembly memory holds (${String(MAX_MEMORY)})`,
      );
    const pages = Math.ceil(end / PAGE);
    const memory = new Wasm.Memory({ initial: pages, maximum: pages });
    const instance = new Wasm.Instance(fastPathModule(), { env: { memory } });
    this.exports = instance.exports as Exports;
    const buffer = memory.buffer;
    this.out = new Uint32Array(buffer, outAt, 4);
    this.staged = new Int32Array(buffer, this.offsetsAt, BURST_WORDS);
    this.offsets = this.staged.subarray(0, MAX_BURST);
    this.ring = new Uint8Array(buffer, this.ringAt, ringBytes);
    this.planIif = new Int32Array(buffer, planAt, PLAN_SLOTS).fill(-1);
    this.slots = new Int32Array(buffer, slotsAt, slotCount);
    this.rec = new Uint32Array(buffer, recAt, entries * R.STRIDE);
    this.recAt = recAt;
    this.slotsAt = slotsAt;
    this.planAt = planAt;
    this.outAt = outAt;
  }

  /** Hands the compiled path the table's shape (once the table exists on this memory). */
  bind(t: FastPathTable): void {
    this.exports.init(
      this.recAt,
      this.slotsAt,
      this.planAt,
      this.outAt,
      t.slotCount,
      t.homeScale,
      t.nodeBits,
      t.nodeMask,
      t.tagMask,
      t.seed,
      t.maxRetrans,
      t.establishedMs,
      t.retransMs,
      t.unackMs,
    );
  }

  /**
   * The compiled path on the ring's packet at `l3` (`length` bytes): the node it forwarded, or -1 when the packet is
   * not its case (nothing was changed). After a forward, `total` and `destination` describe the packet as it left.
   */
  established(l3: number, length: number, iif: number, now: number, epoch: number, verify: boolean): number {
    return this.exports.established(this.ringAt + l3, length, iif, now, epoch, verify ? 1 : 0);
  }

  /** The IP total length of the packet last forwarded. */
  get total(): number {
    return this.out[0];
  }

  /** Its destination address after NAT (the next hop on a link route). */
  get destination(): number {
    return this.out[1];
  }

  /**
   * Stages a burst of `count` (at most MAX_BURST) ring packets — offsets, lengths, arrival interfaces — for
   * `readAheadStaged` and `burst`.
   */
  stage(l3s: Int32Array, lengths: Int32Array, iifs: Int32Array, count: number): void {
    const s = this.staged;
    for (let i = 0; i < count; i++) {
      s[i] = this.ringAt + l3s[i];
      s[MAX_BURST + i] = lengths[i];
      s[2 * MAX_BURST + i] = iifs[i];
    }
  }

  /** readAhead on the staged burst. */
  readAheadStaged(count: number): void {
    this.exports.readAhead(this.offsetsAt, count);
  }

  /**
   * The compiled path on the staged packets from `from` on, in order, until one is not its case: that one's index
   * (nothing of it done), or `count`. Packet k's node, total and destination are then `forwarded(k)`… .
   */
  burst(from: number, count: number, now: number, epoch: number, verify: boolean): number {
    const a = this.offsetsAt;
    return this.exports.burst(
      a,
      a + MAX_BURST * 4,
      a + 2 * MAX_BURST * 4,
      from,
      count,
      now,
      epoch,
      verify ? 1 : 0,
      a + 3 * MAX_BURST * 4,
    );
  }

  /** The node staged packet `k` was forwarded as (after `burst`). */
  forwardedNode(k: number): number {
    return this.staged[3 * MAX_BURST + 3 * k];
  }

  /** Its IP total length. */
  forwardedTotal(k: number): number {
    return this.staged[3 * MAX_BURST + 3 * k + 1];
  }

  /** Its destination after NAT. */
  forwardedDestination(k: number): number {
    return this.staged[3 * MAX_BURST + 3 * k + 2] >>> 0;
  }
}
