// IPv6 neighbour resolution as the filters see it. The simulator does not put NDP packets on segments, but on
// Linux a sender reaches an IPv6 neighbour only if the neighbour's input hook accepts the sender's Neighbour
// Solicitation and its Neighbour Advertisement crosses the neighbour's output hook and the sender's input hook. NDP
// is never tracked (nf_conntrack_proto_icmpv6.c noct_valid_new), so `ct state established,related accept` does not
// let it in: a node whose input policy is drop and which does not accept ICMPv6 ND cannot be reached over IPv6 at
// all (the kernel lab showed it: `lab verify` on homelab, ipv6-no-nat). This runs that exchange through both
// datapaths with real packets and says where it stopped.

import type { Datapath, DatapathSink, Disposition, PacketMeta } from "../engine/index.js";
import { wordsToIpv6 } from "../wire/address.js";
import * as icmpv6 from "../wire/icmpv6.js";
import * as ipv6 from "../wire/ipv6.js";

/** RFC 4861 §7.1: NDP messages are sent with hop limit 255 and receivers drop anything else. */
const NDP_HOP_LIMIT = 255;
/** RFC 4861 §4.4: the Solicited and Override flags of an answer to a solicitation. */
const NA_SOLICITED_OVERRIDE = 0x60;

export type NeighbourResolution =
  | { readonly resolved: true }
  | {
      readonly resolved: false;
      /** Which end's datapath stopped the exchange, in which direction, with which packet. */
      readonly at: "neighbour" | "sender";
      readonly direction: "receive" | "send";
      readonly packet: Uint8Array;
      readonly disposition: Disposition;
    };

/** Records what a datapath did with one packet, without handing it to a host stack or a segment. */
class RecordingSink implements DatapathSink {
  delivered = false;
  sent: Uint8Array | null = null;
  transmit(_oif: number, bytes: Uint8Array, l3: number, length: number): void {
    this.sent = bytes.slice(l3, l3 + length);
  }
  deliver(_meta: PacketMeta): void {
    this.delivered = true;
  }
}

function addressBytes(words: Uint32Array): Uint8Array {
  const b = new Uint8Array(16);
  wordsToIpv6(words, b, 0);
  return b;
}

function ndpPacket(src: Uint8Array, dst: Uint8Array, body: icmpv6.Icmpv6Repr): Uint8Array {
  return ipv6.emit({
    trafficClass: 0,
    flowLabel: 0,
    hopLimit: NDP_HOP_LIMIT,
    src,
    dst,
    extensions: [],
    nextHeader: icmpv6.ICMPV6_PROTOCOL,
    payload: icmpv6.emit(body, { family: 6, src, dst }),
  });
}

/**
 * Whether `sender` (interface `senderIf`, its address `senderAddr` on the link) resolves `target` (owned by
 * `neighbour` on `neighbourIf`): a unicast NS (RFC 4861 §7.2.2, as NUD probes send it) through the neighbour's
 * input, the NA through the neighbour's output and the sender's input, at virtual time `now`.
 */
export function resolveNeighbour(
  sender: Datapath,
  senderIf: number,
  senderAddr: Uint32Array,
  neighbour: Datapath,
  neighbourIf: number,
  target: Uint32Array,
  now: number,
): NeighbourResolution {
  const src = addressBytes(senderAddr);
  const tgt = addressBytes(target);
  const ns = ndpPacket(src, tgt, {
    kind: "neighbor-solicitation",
    code: 0,
    checksum: 0,
    reserved: 0,
    target: tgt,
    options: [],
  });
  const atNeighbour = new RecordingSink();
  const inbound = neighbour.receive(ns, 0, ns.length, neighbourIf, now, atNeighbour);
  if (!atNeighbour.delivered)
    return { resolved: false, at: "neighbour", direction: "receive", packet: ns, disposition: inbound };
  const na = ndpPacket(tgt, src, {
    kind: "neighbor-advertisement",
    code: 0,
    checksum: 0,
    flags: NA_SOLICITED_OVERRIDE,
    reserved: 0,
    target: tgt,
    options: [],
  });
  const leaving = new RecordingSink();
  const outbound = neighbour.send(na, 0, na.length, now, leaving);
  if (leaving.sent === null)
    return { resolved: false, at: "neighbour", direction: "send", packet: na, disposition: outbound };
  const atSender = new RecordingSink();
  const answer = sender.receive(leaving.sent, 0, leaving.sent.length, senderIf, now, atSender);
  if (!atSender.delivered)
    return { resolved: false, at: "sender", direction: "receive", packet: leaving.sent, disposition: answer };
  return { resolved: true };
}
