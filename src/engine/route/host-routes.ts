// Exact-match table of host routes (/32 IPv4, /128 IPv6) on integer keys: the FIB's `local` table holds only the
// node's own addresses and subnet broadcasts (fib_frontend.c fib_add_ifaddr adds them as host routes), so its
// longest-prefix match is an exact match. A forwarded packet asks it twice (the route's local-table step and
// rp_filter's local-source check); one hashed probe replaces a trie walk of up to 8 (IPv4) or 32 (IPv6) levels.
//
// Open addressing with linear probing, load ≤ 1/2; the key words live in a Uint32Array, the route ids in an
// Int32Array. Nothing is ever removed (the FIB has no route deletion), so there are no tombstones.

import type { Family } from "../packet-meta.js";
import { NONE } from "../packet-meta.js";
import type { Route } from "./fib.js";

/** Key words per family: IPv4 in word 0, IPv6 as four big-endian words. */
const V4_WORDS = 1;
const V6_WORDS = 4;
const MIN_BITS = 3;
/** Odd multipliers for the multiplicative hash (Knuth's golden ratio and two other 32-bit odd constants). */
const MIX_0 = 0x9e3779b1;
const MIX_1 = 0x85ebca6b;
const MIX_2 = 0xc2b2ae35;
const MIX_3 = 0x27d4eb2f;
const WORD_BITS = 32;

export class HostRouteTable {
  private readonly words: number;
  private bits = MIN_BITS;
  private keys: Uint32Array;
  private slots: Int32Array;
  private readonly routes: Route[] = [];

  constructor(family: Family) {
    this.words = family === 4 ? V4_WORDS : V6_WORDS;
    this.keys = new Uint32Array((1 << MIN_BITS) * this.words);
    this.slots = new Int32Array(1 << MIN_BITS).fill(NONE);
  }

  /** Number of addresses held. */
  get size(): number {
    return this.routes.length;
  }

  /** The route of exactly `addr`, or null. Never allocates. */
  get(addr: ArrayLike<number>): Route | null {
    if (this.routes.length === 0) return null;
    const slots = this.slots;
    const keys = this.keys;
    const mask = slots.length - 1;
    if (this.words === V4_WORDS) {
      const a = addr[0] >>> 0;
      let i = Math.imul(a, MIX_0) >>> (WORD_BITS - this.bits);
      for (;;) {
        const id = slots[i];
        if (id === NONE) return null;
        if (keys[i] === a) return this.routes[id];
        i = (i + 1) & mask;
      }
    }
    const a0 = addr[0] >>> 0;
    const a1 = addr[1] >>> 0;
    const a2 = addr[2] >>> 0;
    const a3 = addr[3] >>> 0;
    let i = this.home(a0, a1, a2, a3);
    for (;;) {
      const id = slots[i];
      if (id === NONE) return null;
      const k = i * V6_WORDS;
      if (keys[k] === a0 && keys[k + 1] === a1 && keys[k + 2] === a2 && keys[k + 3] === a3) return this.routes[id];
      i = (i + 1) & mask;
    }
  }

  /** Makes `route` the answer for `addr`, replacing what was there (a better metric for the same address). */
  set(addr: ArrayLike<number>, route: Route): void {
    const at = this.find(addr);
    if (at !== NONE) {
      this.routes[this.slots[at]] = route;
      return;
    }
    this.routes.push(route);
    if (this.routes.length * 2 > this.slots.length) this.grow();
    this.place(addr, this.routes.length - 1);
  }

  private home(a0: number, a1: number, a2: number, a3: number): number {
    const h = Math.imul(a0, MIX_0) ^ Math.imul(a1, MIX_1) ^ Math.imul(a2, MIX_2) ^ Math.imul(a3, MIX_3);
    return Math.imul(h ^ (h >>> 16), MIX_0) >>> (WORD_BITS - this.bits);
  }

  private homeOf(addr: ArrayLike<number>): number {
    if (this.words === V4_WORDS) return Math.imul(addr[0] >>> 0, MIX_0) >>> (WORD_BITS - this.bits);
    return this.home(addr[0] >>> 0, addr[1] >>> 0, addr[2] >>> 0, addr[3] >>> 0);
  }

  private keyEquals(slot: number, addr: ArrayLike<number>): boolean {
    const k = slot * this.words;
    for (let w = 0; w < this.words; w++) if (this.keys[k + w] !== addr[w] >>> 0) return false;
    return true;
  }

  /** The slot holding `addr`, or NONE. */
  private find(addr: ArrayLike<number>): number {
    const mask = this.slots.length - 1;
    for (let i = this.homeOf(addr); ; i = (i + 1) & mask) {
      if (this.slots[i] === NONE) return NONE;
      if (this.keyEquals(i, addr)) return i;
    }
  }

  private place(addr: ArrayLike<number>, id: number): void {
    const mask = this.slots.length - 1;
    let i = this.homeOf(addr);
    while (this.slots[i] !== NONE) i = (i + 1) & mask;
    this.slots[i] = id;
    for (let w = 0; w < this.words; w++) this.keys[i * this.words + w] = addr[w] >>> 0;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldSlots = this.slots;
    this.bits++;
    this.keys = new Uint32Array((1 << this.bits) * this.words);
    this.slots = new Int32Array(1 << this.bits).fill(NONE);
    for (let s = 0; s < oldSlots.length; s++) {
      const id = oldSlots[s];
      if (id !== NONE) this.place(oldKeys.subarray(s * this.words, (s + 1) * this.words), id);
    }
  }
}
