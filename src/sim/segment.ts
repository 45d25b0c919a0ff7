// A segment is one broadcast domain: a LAN or a point-to-point link. It carries an L3 packet from the interface
// that transmits it to the attached interface that owns the next-hop address, after the segment's delay, as a
// fresh copy (each hop owns its bytes, since the next datapath rewrites them in place). ARP/NDP is not modelled:
// the owner of the next hop is found directly, which is what a successful neighbour resolution amounts to; a next
// hop nobody owns is lost, as a packet whose ARP request goes unanswered (the kernel's later ICMP host-unreachable
// is not modelled). On a link with exactly two ends the other end receives every packet (no neighbour resolution
// on point-to-point links). Every packet put on the segment is captured for its pcapng file.

import type { Family } from "../engine/index.js";
import type { EventClock } from "./clock.js";
import type { SimNode } from "./node.js";

/** One packet seen on a segment: when it was put on the wire, its bytes, and what the nodes at both ends did. */
export interface CaptureRecord {
  readonly timeMs: number;
  readonly bytes: Uint8Array;
  comment: string;
}

/** Where a node's interface plugs into a segment. */
export interface SegmentPort {
  readonly node: SimNode;
  readonly ifIndex: number;
}

const IP_VERSION_SHIFT = 4;

export class Segment {
  readonly ports: SegmentPort[] = [];
  readonly captures: CaptureRecord[] = [];
  // Packets in flight, first in first out: every packet waits the same delay and the clock keeps insertion order
  // at equal times, so one shared callback per delivery can take the head (no closure per packet).
  private readonly inFlightBytes: Uint8Array[] = [];
  private readonly inFlightTo: SegmentPort[] = [];
  private readonly inFlightRecord: (CaptureRecord | null)[] = [];
  private inFlightHead = 0;
  private readonly deliverHead = (): void => {
    const i = this.inFlightHead++;
    const bytes = this.inFlightBytes[i];
    const to = this.inFlightTo[i];
    const record = this.inFlightRecord[i];
    if (this.inFlightHead === this.inFlightBytes.length) {
      this.inFlightHead = 0;
      this.inFlightBytes.length = 0;
      this.inFlightTo.length = 0;
      this.inFlightRecord.length = 0;
    }
    to.node.receive(bytes, to.ifIndex, record);
  };
  /** IPv4 next hop → the port whose node owns it (null: nobody), filled on first use; addresses are fixed. */
  private readonly owners4 = new Map<number, SegmentPort | null>();

  constructor(
    readonly name: string,
    readonly delayMs: number,
    private readonly clock: EventClock,
    /** Whether packets are recorded (off for benchmarks). */
    readonly capture: boolean,
  ) {}

  attach(port: SegmentPort): void {
    this.ports.push(port);
    this.owners4.clear();
  }

  /** The port that receives a packet sent by `from` toward `nextHop`, or null when nobody answers for it. */
  neighbour(from: SegmentPort, family: Family, nextHop: Uint32Array): SegmentPort | null {
    let owner: SegmentPort | null | undefined;
    if (family === 4) {
      owner = this.owners4.get(nextHop[0]);
      if (owner === undefined) {
        owner = this.owner(family, nextHop);
        this.owners4.set(nextHop[0], owner);
      }
    } else {
      owner = this.owner(family, nextHop);
    }
    if (owner !== null && owner !== from) return owner;
    if (this.ports.length === 2) return this.ports[0] === from ? this.ports[1] : this.ports[0];
    return null;
  }

  private owner(family: Family, address: Uint32Array): SegmentPort | null {
    for (const p of this.ports) if (p.node.datapath.fib.isLocalAddress(family, address)) return p;
    return null;
  }

  /** Puts a copy of bytes[l3..l3+length) on the segment; `comment` says what the sending node did. */
  carry(from: SegmentPort, bytes: Uint8Array, l3: number, length: number, nextHop: Uint32Array, comment: string): void {
    const copy = bytes.slice(l3, l3 + length);
    const family: Family = copy[0] >>> IP_VERSION_SHIFT === 6 ? 6 : 4;
    const to = this.neighbour(from, family, nextHop);
    let record: CaptureRecord | null = null;
    if (this.capture) {
      record = { timeMs: this.clock.now, bytes: copy.slice(), comment };
      this.captures.push(record);
    }
    if (to === null) {
      if (record !== null) record.comment += "; no neighbour answers for the next hop (lost)";
      return;
    }
    this.inFlightBytes.push(copy);
    this.inFlightTo.push(to);
    this.inFlightRecord.push(record);
    this.clock.after(this.delayMs, this.deliverHead);
  }
}
