// One simulated node: the engine's datapath plus its own host stack (routers have one too, for traffic addressed
// to them). Packets the stack writes wait in an outbox while a datapath walk is under way (the datapath's packet
// metadata is single-use, so a walk never starts inside another) and are sent as soon as the walk ends.

import type { Datapath, DatapathEvent, DatapathSink, Disposition, Rng } from "../engine/index.js";
import { PacketMeta, describeEndpoints, fillPacketMeta } from "../engine/index.js";
import { describeDisposition, describeEvents } from "./capture-comment.js";
import type { EventClock } from "./clock.js";
import { HostStack } from "./host-stack.js";
import type { IsnChooser, ServiceSpec } from "./host-stack.js";
import type { CaptureRecord, Segment, SegmentPort } from "./segment.js";

export type NodeKind = "router" | "host";

/** One walk of one packet through one node, for the step log (`simulate --trace`). */
export interface SimStep {
  readonly timeMs: number;
  readonly node: string;
  readonly direction: "receive" | "send";
  /** `src:sport > dst:dport` as the packet arrived or was written. */
  readonly packet: string;
  readonly disposition: Disposition;
  readonly summary: string;
  readonly events: readonly DatapathEvent[];
}

export class SimNode implements DatapathSink {
  readonly stack: HostStack;
  /** Segment port per interface index (null while the interface is not connected). */
  readonly ports: (SegmentPort | null)[];
  private readonly segments: (Segment | null)[];
  private readonly outbox: Uint8Array[] = [];
  private busy = false;
  private readonly events: DatapathEvent[] = [];

  constructor(
    readonly name: string,
    readonly kind: NodeKind,
    readonly datapath: Datapath,
    private readonly clock: EventClock,
    readonly rng: Rng,
    services: readonly ServiceSpec[],
    isn: IsnChooser | null,
    /** Collects datapath events for capture comments and the step log (costs allocations; off for benchmarks). */
    private readonly traced: boolean,
    private readonly steps: SimStep[] | null,
  ) {
    this.ports = datapath.interfaces.map(() => null);
    this.segments = datapath.interfaces.map(() => null);
    this.stack = new HostStack(
      {
        now: () => this.clock.now,
        after: (delay, fn) => {
          this.clock.after(delay, fn);
        },
        rng,
        fib: datapath.fib,
        output: (bytes) => {
          this.output(bytes);
        },
      },
      services,
      isn,
    );
    if (traced) datapath.trace = (e) => this.events.push(e);
  }

  plug(ifIndex: number, segment: Segment): SegmentPort {
    const port: SegmentPort = { node: this, ifIndex };
    this.ports[ifIndex] = port;
    this.segments[ifIndex] = segment;
    segment.attach(port);
    return port;
  }

  /** A packet arrives from a segment on interface `iif`; `record` is its capture, to note what happened here. */
  receive(bytes: Uint8Array, iif: number, record: CaptureRecord | null): void {
    this.busy = true;
    this.events.length = 0;
    const packet = this.traced ? describePacketBytes(bytes) : "";
    const d = this.datapath.receive(bytes, 0, bytes.length, iif, this.clock.now, this);
    if (this.traced) {
      const summary = this.summarise(d);
      if (record !== null) record.comment += `; ${summary}`;
      this.log("receive", packet, d, summary);
    }
    this.busy = false;
    this.flush();
  }

  /** Sends a packet this node wrote (its stack, a raw socket) through OUTPUT and POSTROUTING. */
  output(bytes: Uint8Array): void {
    this.outbox.push(bytes);
    if (!this.busy) this.flush();
  }

  // DatapathSink
  transmit(oif: number, bytes: Uint8Array, l3: number, length: number, nextHop: Uint32Array): void {
    const segment = this.segments[oif];
    const port = this.ports[oif];
    if (segment === null || port === null) return; // an interface with no link: the packet goes nowhere
    const comment = this.traced ? this.summarise(null) : "";
    segment.carry(port, bytes, l3, length, nextHop, comment);
  }

  deliver(meta: PacketMeta): void {
    this.stack.deliver(meta);
  }

  /** Forgets the trace events gathered so far, before this node's datapath handles a packet outside a walk. */
  clearTrace(): void {
    this.events.length = 0;
  }

  /**
   * Records a packet this node's datapath handled outside a segment delivery (IPv6 neighbour discovery), with the
   * trace events gathered since `clearTrace`; returns the one-line summary for capture comments.
   */
  noteStep(direction: "receive" | "send", bytes: Uint8Array, d: Disposition): string {
    if (!this.traced) return "";
    const summary = this.summarise(d);
    this.log(direction, describePacketBytes(bytes), d, summary);
    return summary;
  }

  private flush(): void {
    this.busy = true;
    for (let i = 0; i < this.outbox.length; i++) {
      const bytes = this.outbox[i];
      this.events.length = 0;
      const packet = this.traced ? describePacketBytes(bytes) : "";
      const d = this.datapath.send(bytes, 0, bytes.length, this.clock.now, this);
      if (this.traced) this.log("send", packet, d, this.summarise(d));
    }
    this.outbox.length = 0;
    this.busy = false;
  }

  private summarise(d: Disposition | null): string {
    const parts = describeEvents(this.events);
    if (d !== null) parts.push(describeDisposition(d, this.datapath.interfaces));
    return `${this.name}: ${parts.length > 0 ? parts.join(", ") : "sent"}`;
  }

  private log(direction: "receive" | "send", packet: string, d: Disposition, summary: string): void {
    this.steps?.push({
      timeMs: this.clock.now,
      node: this.name,
      direction,
      packet,
      disposition: d,
      summary,
      events: this.events.slice(),
    });
  }
}

const scratch = new PacketMeta();

/** `src:sport > dst:dport` of raw bytes (traces only). */
export function describePacketBytes(bytes: Uint8Array): string {
  scratch.reset();
  if (fillPacketMeta(bytes, 0, bytes.length, scratch) !== null) return `malformed packet of ${bytes.length} bytes`;
  return describeEndpoints(scratch);
}
