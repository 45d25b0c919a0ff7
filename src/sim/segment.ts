// A segment is one broadcast domain: a LAN or a point-to-point link. It carries an L3 packet from the interface
// that transmits it to the attached interface that owns the next-hop address, after the segment's delay, as a
// fresh copy (each hop owns its bytes, since the next datapath rewrites them in place). ARP is not modelled: the
// owner of the next hop is found directly, which is what a successful resolution amounts to (ARP is not IP, so no
// nftables ip/ip6/inet chain can stop it); a next hop nobody owns is lost, as a packet whose ARP request goes
// unanswered (the kernel's later ICMP host-unreachable is not modelled). IPv6 neighbour discovery IS filtered by the
// nodes' rulesets, so before the first IPv6 packet between two ports their NS/NA exchange runs through both
// datapaths (neighbour-discovery.ts; recorded as steps, not captured) and its result is kept like a neighbour cache
// entry. On a link with exactly two ends the other end receives every packet. Every packet put on the segment is
// captured for its pcapng file.

import type { Family } from "../engine/index.js";
import type { EventClock } from "./clock.js";
import { resolveNeighbour } from "./neighbour-discovery.js";
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
  private readonly inFlightFrom: SegmentPort[] = [];
  private readonly inFlightRecord: (CaptureRecord | null)[] = [];
  private inFlightHead = 0;
  private readonly deliverHead = (): void => {
    const i = this.inFlightHead++;
    const bytes = this.inFlightBytes[i];
    const to = this.inFlightTo[i];
    const from = this.inFlightFrom[i];
    const record = this.inFlightRecord[i];
    if (this.inFlightHead === this.inFlightBytes.length) {
      this.inFlightHead = 0;
      this.inFlightBytes.length = 0;
      this.inFlightTo.length = 0;
      this.inFlightFrom.length = 0;
      this.inFlightRecord.length = 0;
    }
    // Resolution runs here, from the clock, never inside a node's walk (datapaths are not re-entrant).
    if (bytes[0] >>> IP_VERSION_SHIFT === 6 && !this.ndResolves(from, to, record)) return;
    to.node.receive(bytes, to.ifIndex, record);
  };
  /** IPv4 next hop → the port whose node owns it (null: nobody), filled on first use; addresses are fixed. */
  private readonly owners4 = new Map<number, SegmentPort | null>();
  /** IPv6 neighbour cache per (sender port, receiver port): 0 unknown, 1 resolves, 2 does not. */
  private ndCache = new Uint8Array(0);

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
    this.ndCache = new Uint8Array(this.ports.length * this.ports.length);
  }

  /**
   * Whether `from` resolves `to`'s IPv6 address on this link through both nodes' filters (cached per port pair);
   * a failed exchange is recorded as a step of the node that stopped it and noted on the packet's capture.
   */
  private ndResolves(from: SegmentPort, to: SegmentPort, record: CaptureRecord | null): boolean {
    const i = this.ports.indexOf(from) * this.ports.length + this.ports.indexOf(to);
    if (this.ndCache[i] === 0) {
      const own = ipv6AddressOn(from);
      const target = ipv6AddressOn(to);
      // Without IPv6 addresses of their own on the link the nodes would use link-local ones, which the twin does
      // not model: resolution is assumed.
      if (own === undefined || target === undefined) this.ndCache[i] = 1;
      else {
        from.node.clearTrace();
        to.node.clearTrace();
        const r = resolveNeighbour(
          from.node.datapath,
          from.ifIndex,
          own.address,
          to.node.datapath,
          to.ifIndex,
          target.address,
          this.clock.now,
        );
        this.ndCache[i] = r.resolved ? 1 : 2;
        if (!r.resolved) (r.at === "neighbour" ? to : from).node.noteStep(r.direction, r.packet, r.disposition);
      }
    }
    if (this.ndCache[i] === 1) return true;
    if (record !== null) record.comment += "; IPv6 neighbour discovery is dropped by a filter (lost)";
    return false;
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
    this.inFlightFrom.push(from);
    this.inFlightRecord.push(record);
    this.clock.after(this.delayMs, this.deliverHead);
  }
}

/** The first IPv6 address a port's node has on the port's interface (what it solicits from, or answers for). */
function ipv6AddressOn(p: SegmentPort): { readonly address: Uint32Array } | undefined {
  return p.node.datapath.fib.interfaceAddresses().find((a) => a.family === 6 && a.oif === p.ifIndex);
}
