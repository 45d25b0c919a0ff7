// Mallory's STUN server (RFC 8489 §6.3: a Binding request is answered with the request's source transport address
// in XOR-MAPPED-ADDRESS) doubling as the rendezvous of a hole punch (RFC 8445 §2: peers swap the candidates they
// learned through a channel of their own). Datagrams on its port that are not STUN are kept, with their source,
// for the attack to judge from: a candidate announcement, or the answer of software behind a NAT.

import type { HostStack, UdpDatagram } from "../../sim/index.js";
import { formatIpv4 } from "../../wire/address.js";
import * as stun from "../../wire/stun.js";
import type { StunAddress } from "../../wire/stun.js";

/** The IANA port of STUN over UDP (RFC 8489 §18.6). */
export const STUN_PORT = 3478;

/** A datagram seen by the server, with its IPv4 source as text. */
export interface SeenDatagram {
  readonly from: string;
  readonly sport: number;
  readonly payload: Uint8Array;
  readonly at: number;
}

/** A Binding request answered: who asked and what it was told. */
export interface BindingAnswered {
  readonly from: string;
  readonly sport: number;
  readonly mapped: StunAddress;
  readonly at: number;
}

export class StunServer {
  readonly bindings: BindingAnswered[] = [];
  /** Everything that was not a STUN message, in arrival order. */
  readonly other: SeenDatagram[] = [];

  constructor(
    private readonly stack: Pick<HostStack, "bindUdp" | "sendUdp">,
    private readonly now: () => number,
    readonly port: number = STUN_PORT,
  ) {
    stack.bindUdp(port, (d) => this.handle(d));
  }

  /** Sends a datagram from the server's own port (the transport address the NAT has seen). */
  send(dst: Uint32Array, dport: number, payload: Uint8Array): boolean {
    return this.stack.sendUdp(4, dst, dport, this.port, payload);
  }

  /** One datagram at the server's port; returns the answer the socket sends back (null for none). */
  handle(d: UdpDatagram): Uint8Array | null {
    if (d.family !== 4) return null;
    const from = formatIpv4(d.src[0]);
    const parsed = stun.parse(d.payload);
    if (!parsed.ok) {
      this.other.push({ from, sport: d.sport, payload: d.payload, at: this.now() });
      return null;
    }
    const m = parsed.value;
    // RFC 8489 §6.3.1: only requests are answered; indications and responses are silently ignored.
    if (m.class !== stun.StunClass.REQUEST || m.method !== stun.StunMethod.BINDING) return null;
    const mapped: StunAddress = { family: 4, port: d.sport, address: d.src[0] };
    this.bindings.push({ from, sport: d.sport, mapped, at: this.now() });
    return stun.emit(stun.bindingSuccess(m.transactionId, mapped));
  }
}
